// Receives UDP datagrams for a fixed time and checks each one's pattern:
// `bun udp-count-recv.ts ADDRESS PORT SECONDS` prints {"datagrams","bytes","corrupt"}.
import { createSocket } from "node:dgram";

const [address = "", portText = "0", secondsText = "3"] = process.argv.slice(2);
const sock = createSocket({ type: address.includes(":") ? "udp6" : "udp4", recvBufferSize: 8 << 20 });
let datagrams = 0;
let bytes = 0;
let corrupt = 0;
sock.on("message", (msg: Buffer) => {
  datagrams++;
  bytes += msg.length;
  for (let i = 0; i < msg.length; i += 61) if (msg[i] !== (i % 1200) % 251) corrupt++;
});
sock.bind(Number(portText), address, () => process.stderr.write("listening\n"));
setTimeout(() => {
  process.stdout.write(`${JSON.stringify({ datagrams, bytes, corrupt })}\n`);
  sock.close();
}, Number(secondsText) * 1000);
