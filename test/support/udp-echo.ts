// A ping without a ping binary (a fresh machine may lack iputils): UDP echo.
//   bun udp-echo.ts serve ADDRESS PORT          echoes datagrams until killed
//   bun udp-echo.ts probe ADDRESS PORT COUNT    prints RTTs in ms as JSON
// udpEchoRtts runs both in two namespaces.
import { createSocket } from "node:dgram";
import type { Netns } from "./netns.ts";

const ECHO_PORT = 7777;
const PROBE_TIMEOUT_MS = 3000;

/** udpEchoRtts measures count round trips from client to an echo server on address in server. */
export async function udpEchoRtts(client: Netns, server: Netns, address: string, count: number): Promise<number[]> {
  const self = new URL(import.meta.url).pathname;
  const echo = server.spawn([process.execPath, self, "serve", address, String(ECHO_PORT)]);
  try {
    await echo.stderr.getReader().read(); // "listening"
    return JSON.parse(client.exec([process.execPath, self, "probe", address, String(ECHO_PORT), String(count)])) as number[];
  } finally {
    echo.kill();
    await echo.exited;
  }
}

async function serve(address: string, port: number): Promise<void> {
  const sock = createSocket(address.includes(":") ? "udp6" : "udp4");
  sock.on("message", (msg, from) => sock.send(msg, from.port, from.address));
  sock.bind(port, address, () => process.stderr.write("listening\n"));
}

async function probe(address: string, port: number, count: number): Promise<void> {
  const sock = createSocket(address.includes(":") ? "udp6" : "udp4");
  const rtts: number[] = [];
  for (let i = 0; i < count; i++) {
    const sent = performance.now();
    const reply = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no echo from ${address} within ${PROBE_TIMEOUT_MS} ms`)), PROBE_TIMEOUT_MS);
      sock.once("message", () => {
        clearTimeout(timer);
        resolve();
      });
    });
    sock.send(Buffer.from(`probe ${i}`), port, address);
    await reply;
    rtts.push(performance.now() - sent);
    await Bun.sleep(100);
  }
  sock.close();
  process.stdout.write(`${JSON.stringify(rtts)}\n`);
}

if (import.meta.main) {
  const [mode, address = "", port = "0", count = "3"] = process.argv.slice(2);
  if (mode === "serve") await serve(address, Number(port));
  else if (mode === "probe") await probe(address, Number(port), Number(count));
  else {
    process.stderr.write("usage: udp-echo.ts serve|probe ADDRESS PORT [COUNT]\n");
    process.exitCode = 64;
  }
}
