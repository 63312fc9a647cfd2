// Sends UDP super-packets with UDP_SEGMENT (GSO) so the kernel hands a TUN
// real USO packets: `bun udp-gso-send.ts ADDRESS PORT SENDS` sends SENDS
// messages of 20 × 1200-byte datagrams each (pattern-filled), then prints
// {"datagrams": n}. Used by the bridge test; runs inside a namespace.
import { MmsgBatch } from "../../src/sys/msgvec.ts";
import { openUdp, prepareSend, sendBatch } from "../../src/sys/udp.ts";

const [address = "", portText = "0", sendsText = "100"] = process.argv.slice(2);
const SEGMENT = 1200;
const PER_SEND = 20;
const v6 = address.includes(":");
const addr = v6 ? ipv6Bytes(address) : new Uint8Array(address.split(".").map(Number));
const sock = openUdp({ family: v6 ? 6 : 4 });
const batch = new MmsgBatch({ count: 1, bufSize: SEGMENT * PER_SEND });
for (let i = 0; i < SEGMENT * PER_SEND; i++) batch.bufs[0]![i] = (i % SEGMENT) % 251;

let datagrams = 0;
for (let s = 0; s < Number(sendsText); s++) {
  prepareSend(batch, 0, SEGMENT * PER_SEND, { family: v6 ? 6 : 4, addr, port: Number(portText) } as never, SEGMENT);
  sendBatch(sock.fd, batch, 1);
  datagrams += PER_SEND;
  if (s % 10 === 9) await Bun.sleep(1); // let the receiver keep up: this checks integrity, not speed
}
process.stdout.write(`${JSON.stringify({ datagrams })}\n`);

function ipv6Bytes(text: string): Uint8Array {
  const [head = "", tail = ""] = text.split("::");
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const groups = [...h, ...Array(8 - h.length - t.length).fill("0"), ...t];
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    const v = parseInt(g, 16);
    out[2 * i] = v >> 8;
    out[2 * i + 1] = v & 0xff;
  });
  return out;
}
