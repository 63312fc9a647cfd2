// TEST HARNESS: runs one product Device plus its UAPI server in the current
// network namespace (start it with `ip netns exec NS bun run-device.ts IFNAME`),
// so tests can configure it with the real `wg set` and drive it with `ip`.
//
// stdout: one JSON line {"ready":true,"name":…,"report":[…],"port":N} when
// the UAPI socket listens; afterwards one JSON line per stdin command:
//   status   → {"status":DeviceStatus,"ms":<time status() took>}
//   snapshot → {"ms":<time snapshot() took>,"peers":N}
//   linkup   → {"ok":true} after device.linkUp()
// Exits (closing the device) on SIGTERM/SIGINT, stdin EOF, or when the TUN
// disappears (prints {"closed":reason} first).
import { Device } from "../../src/device/device.ts";
import { startUapiServer } from "../../src/device/uapi/server.ts";
import { onStdinLines } from "../support/stdin-lines.ts";

async function main(): Promise<void> {
  const ifname = process.argv[2];
  if (!ifname) throw new Error("usage: run-device.ts IFNAME");
  const log = {
    info: (m: string) => process.stderr.write(`info: ${m}\n`),
    warn: (m: string) => process.stderr.write(`warn: ${m}\n`),
    error: (m: string) => process.stderr.write(`error: ${m}\n`),
  };
  const device = await Device.create({ interfaceName: ifname, env: process.env, log });
  const uapi = await startUapiServer({ interfaceName: device.name, device, log: (m) => log.info(m) });
  let exiting = false;
  const exit = async (code: number) => {
    if (exiting) return;
    exiting = true;
    await uapi.close();
    await device.close();
    process.exitCode = code;
    // Streams and the UAPI server are closed; nothing keeps the loop alive but stdin.
    process.stdin.destroy();
  };
  device.onClosed((reason) => {
    process.stdout.write(`${JSON.stringify({ closed: reason })}\n`);
    void exit(0);
  });
  process.on("SIGTERM", () => void exit(0));
  process.on("SIGINT", () => void exit(0));
  process.stdout.write(`${JSON.stringify({ ready: true, name: device.name, report: device.startupReport(), port: device.status().listenPort })}\n`);

  onStdinLines((line) => {
    if (line === "status") {
      const t = performance.now();
      const status = device.status();
      process.stdout.write(`${JSON.stringify({ status, ms: performance.now() - t })}\n`);
    } else if (line === "snapshot") {
      const t = performance.now();
      const snap = device.snapshot();
      process.stdout.write(`${JSON.stringify({ ms: performance.now() - t, peers: snap.peers.length })}\n`);
    } else if (line === "linkup") {
      device.linkUp();
      process.stdout.write(`${JSON.stringify({ ok: true })}\n`);
    }
  });
  process.stdin.on("end", () => void exit(0));
}

main().catch((e) => {
  process.stderr.write(`run-device: ${(e as Error)?.stack ?? String(e)}\n`);
  process.exitCode = 1;
});
