// The TUN bridge: a test fixture and benchmark subject, not a product command.
// It creates two TUNs, moves one into each of two existing namespaces,
// addresses them (198.18.0.1/24 + fd00:18::1/64 and .2/::2), brings them up,
// runs the GRO probe, and starts one worker per direction.
//
//   bun test/bridge/bridge.ts MODE NS_A NS_B
//
// Prints one JSON line {"ready":true,...} when traffic can flow; afterwards
// each line "stats" on stdin is answered with one JSON line of counters.
// Exits when stdin closes or on SIGTERM; deleting the TUNs (by deleting the
// namespaces) also stops the workers.
import { KILL_SWITCHES, TunDevice } from "../../src/device/tun-device.ts";
import { COUNTER_NAMES, readCounters } from "./counters.ts";
import type { BridgeWorkerInit } from "./bridge.worker.ts";
import { onStdinLines } from "../support/stdin-lines.ts";

export type BridgeMode = BridgeWorkerInit["mode"];

export const BRIDGE_ADDRESSES = {
  a: { v4: "198.18.0.1", v6: "fd00:18::1" },
  b: { v4: "198.18.0.2", v6: "fd00:18::2" },
} as const;

function ip(...args: string[]): void {
  const p = Bun.spawnSync(["ip", ...args], { stdout: "ignore", stderr: "pipe" });
  if (p.exitCode !== 0) throw new Error(`ip ${args.join(" ")}: ${p.stderr.toString().trim()}`);
}

/** placeInNamespace moves a TUN into ns, addresses it and brings it up. */
function placeInNamespace(dev: TunDevice, ns: string, side: "a" | "b"): void {
  const addr = BRIDGE_ADDRESSES[side];
  ip("link", "set", dev.name, "netns", ns);
  ip("-n", ns, "addr", "add", `${addr.v4}/24`, "dev", dev.name);
  ip("-n", ns, "-6", "addr", "add", `${addr.v6}/64`, "dev", dev.name, "nodad");
  ip("-n", ns, "link", "set", dev.name, "mtu", "1500", "up");
}

function main(): void {
  const [mode, nsA, nsB] = process.argv.slice(2) as [BridgeMode, string, string];
  if (!["split", "pass", "novnet", "simpletun"].includes(mode) || !nsA || !nsB) {
    throw new Error("usage: bridge.ts split|pass|novnet|simpletun NS_A NS_B");
  }
  const env = mode === "novnet" || mode === "simpletun" ? { [KILL_SWITCHES.vnetHeader]: "1" } : process.env;
  const tag = String(process.pid % 1000000);
  const a = TunDevice.open(`tb${tag}a`, { env });
  const b = TunDevice.open(`tb${tag}b`, { env });
  placeInNamespace(a, nsA, "a");
  placeInNamespace(b, nsB, "b");
  a.probeGro();
  b.probeGro();

  const counters = new SharedArrayBuffer(2 * 16 * 8);
  // simpletun is one thread for both directions; the other modes get a worker per direction.
  const directions =
    mode === "simpletun"
      ? [{ from: a, to: b, offset: 0 }]
      : [
          { from: a, to: b, offset: 0 },
          { from: b, to: a, offset: 16 * 8 },
        ];
  for (const d of directions) {
    const worker = new Worker(new URL("./bridge.worker.ts", import.meta.url).href);
    const init: BridgeWorkerInit = {
      mode,
      readFd: d.from.fd,
      writeFd: d.to.fd,
      tcpGro: d.to.offloads.tcpGro,
      udpGro: d.to.offloads.udpGro,
      counters,
      counterOffset: d.offset,
    };
    worker.postMessage(init);
  }

  const snapshot = () => ({
    aToB: readCounters(new Float64Array(counters, 0, COUNTER_NAMES.length)),
    bToA: readCounters(new Float64Array(counters, 16 * 8, COUNTER_NAMES.length)),
  });
  process.stdout.write(`${JSON.stringify({ ready: true, mode, a: a.describe(), b: b.describe() })}\n`);

  const stop = () => process.exit(0);
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  onStdinLines((line) => {
    if (line === "stats") process.stdout.write(`${JSON.stringify(snapshot())}\n`);
  });
  process.stdin.on("end", stop);
}

if (import.meta.main) main();
