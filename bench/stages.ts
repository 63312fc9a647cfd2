// bun bench/stages.ts [--micro | --e2e] [--seconds N] — where the data
// plane's time goes.
//   --micro  the real data plane, in process (bench/pipeline.ts): two
//            DataPlanes over the in-memory I/O, A's outbound turns and B's
//            inbound turns timed apart, ns per 1420-byte packet. The parts'
//            own costs are in bench/offload.ts (split, coalesce, checksums)
//            and bench/crypto.ts (the AEAD), and per function under real
//            traffic in bench/profile.ts.
//   --e2e    the product between two namespaces (test/device/run-device.ts
//            in each, configured with the real `wg set`), iperf3
//            single-stream TCP for N s (default 10): Gb/s, retransmits,
//            CPU-s/GB of both daemons together (/proc/PID/stat utime+stime)
//            and their peak RSS. Needs root.
// Without flags both parts run.

import { readFileSync } from "node:fs";
import { cpuSeconds, iperf3 } from "../test/support/netns.ts";
import { startDaemonPair } from "../test/support/daemon-pair.ts";
import { measurePipeline } from "./pipeline.ts";

const args = process.argv.slice(2);
const doMicro = !args.includes("--e2e");
const doE2e = !args.includes("--micro");
const secIdx = args.indexOf("--seconds");
const E2E_SECONDS = secIdx >= 0 ? Number(args[secIdx + 1]) : 10;
const PACKET_BITS = 1420 * 8;

async function printMicro(): Promise<void> {
  const r = await measurePipeline(5);
  console.log(`\nThe data plane in process (bench/pipeline.ts), ns per 1420-byte packet, Gb/s/core = 1420×8/ns:`);
  console.log(`  outbound (read, split, route, seal, send)     ${r.outboundNs.toFixed(0).padStart(6)}  ${(PACKET_BITS / r.outboundNs).toFixed(2).padStart(6)}`);
  console.log(`  inbound (receive, open, coalesce, write)      ${r.inboundNs.toFixed(0).padStart(6)}  ${(PACKET_BITS / r.inboundNs).toFixed(2).padStart(6)}`);
  console.log(
    `  both on one core                              ${(r.outboundNs + r.inboundNs).toFixed(0).padStart(6)}  ${r.pipelineGbps.toFixed(2).padStart(6)}`,
  );
  console.log(`  heap objects left per packet: ${r.heapObjectsPerPacket.toFixed(3)}`);
}

// -------------------------------------------------------------------- e2e

interface E2e {
  gbps: number;
  retransmits: number;
  cpuSecPerGB: number;
  cpuA: number;
  cpuB: number;
  rssMB: number;
}

function vmHwmMB(pid: number): number {
  const s = readFileSync(`/proc/${pid}/status`, "utf8");
  const m = /VmHWM:\s+(\d+) kB/.exec(s);
  return m ? Number(m[1]) / 1024 : 0;
}

async function e2e(seconds: number): Promise<E2e> {
  const pair = await startDaemonPair({ prefix: "tstg", subnet: 7, port: 51901 });
  try {
    const c0A = cpuSeconds(pair.pidA);
    const c0B = cpuSeconds(pair.pidB);
    const r = await iperf3(pair.nsA, pair.nsB, pair.innerB, { seconds, port: 5299 });
    const cA = cpuSeconds(pair.pidA) - c0A;
    const cB = cpuSeconds(pair.pidB) - c0B;
    const rss = Math.max(vmHwmMB(pair.pidA), vmHwmMB(pair.pidB));
    return { gbps: r.bitsPerSecond / 1e9, retransmits: r.retransmits, cpuA: cA, cpuB: cB, cpuSecPerGB: (cA + cB) / (r.bytes / 1e9), rssMB: rss };
  } finally {
    await pair.stop();
  }
}

if (doMicro) await printMicro();
if (doE2e) {
  const r = await e2e(E2E_SECONDS);
  console.log(`\nEnd to end (two run-device.ts daemons in namespaces over veth, iperf3 -t ${E2E_SECONDS} single-stream TCP):`);
  console.log(
    `  ${r.gbps.toFixed(2)} Gb/s, ${r.retransmits} retransmits, ${r.cpuSecPerGB.toFixed(2)} CPU-s/GB (sender ${r.cpuA.toFixed(1)} s + receiver ${r.cpuB.toFixed(1)} s), peak RSS ${r.rssMB.toFixed(0)} MB`,
  );
}
process.exit(0);
