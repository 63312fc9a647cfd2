// The TUN bridge benchmark (issue 3): the same bridge in three modes, in one
// run, each pushing single-stream TCP with iperf3 through two namespaces.
//   simpletun  the dossier's section 2 program: no vnet header, one thread
//           polling both TUNs, one packet per read and write
//   novnet  no vnet header, one worker per direction (same threading as split)
//   split   vnet header, split + coalesce with the offload engine (our path)
//   pass    vnet header passed through unchanged (the ceiling for a TUN pair)
// Reports Gb/s, TCP retransmits and bridge CPU seconds per GB, median of RUNS.
//
//   bun bench/bridge.ts [--seconds 10] [--runs 3] [--modes novnet,split,pass] [--json out.json]
import { startBridge } from "../test/bridge/harness.ts";
import { BRIDGE_ADDRESSES, type BridgeMode } from "../test/bridge/bridge.ts";
import { iperf3 } from "../test/support/netns.ts";

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

const SECONDS = Number(flag("seconds", "10"));
const RUNS = Number(flag("runs", "3"));
const MODES = flag("modes", "simpletun,novnet,split,pass").split(",") as BridgeMode[];

interface Sample {
  gbps: number;
  retransmits: number;
  cpuSecondsPerGB: number;
  segmentsPerSuperPacket: number;
  writesPerRead: number;
}

async function measure(mode: BridgeMode): Promise<Sample> {
  const bridge = await startBridge(mode);
  try {
    const cpu0 = bridge.cpuSeconds();
    const s0 = await bridge.stats();
    const r = await iperf3(bridge.nsA, bridge.nsB, BRIDGE_ADDRESSES.b.v4, { seconds: SECONDS });
    const s1 = await bridge.stats();
    const cpu = bridge.cpuSeconds() - cpu0;
    const reads = s1.aToB.reads - s0.aToB.reads;
    const superPackets = s1.aToB.superPackets - s0.aToB.superPackets;
    const segments = s1.aToB.segments - s0.aToB.segments;
    return {
      gbps: r.bitsPerSecond / 1e9,
      retransmits: r.retransmits,
      cpuSecondsPerGB: cpu / (r.bytes / 1e9),
      segmentsPerSuperPacket: superPackets > 0 ? segments / reads : 1,
      writesPerRead: (s1.aToB.writes - s0.aToB.writes) / Math.max(1, reads),
    };
  } finally {
    await bridge.stop();
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const samples: Record<BridgeMode, Sample[]> = { simpletun: [], novnet: [], split: [], pass: [] };
// Alternate modes run by run so machine drift hits all alike.
for (let run = 0; run < RUNS; run++) {
  for (const mode of MODES) {
    const s = await measure(mode);
    samples[mode].push(s);
    process.stderr.write(`run ${run + 1}/${RUNS} ${mode}: ${s.gbps.toFixed(2)} Gb/s, ${s.retransmits} retransmits, ${s.cpuSecondsPerGB.toFixed(2)} CPU-s/GB\n`);
  }
}

const summary = MODES.map((mode) => {
  const xs = samples[mode];
  return {
    mode,
    gbps: median(xs.map((s) => s.gbps)),
    gbpsMin: Math.min(...xs.map((s) => s.gbps)),
    gbpsMax: Math.max(...xs.map((s) => s.gbps)),
    retransmits: median(xs.map((s) => s.retransmits)),
    cpuSecondsPerGB: median(xs.map((s) => s.cpuSecondsPerGB)),
    segmentsPerRead: median(xs.map((s) => s.segmentsPerSuperPacket)),
  };
});
const simpletun = summary.find((s) => s.mode === "simpletun")?.gbps ?? NaN;
const novnet = summary.find((s) => s.mode === "novnet")?.gbps ?? NaN;
const lines = [
  `TUN bridge, single-stream TCP (iperf3 ${SECONDS} s × ${RUNS} runs, median), ${new Date().toISOString().slice(0, 10)}, ${process.arch}, kernel ${Bun.spawnSync(["uname", "-r"]).stdout.toString().trim()}`,
  "",
  "| mode | Gb/s (min–max) | × simpletun | × novnet | retransmits | bridge CPU-s/GB | segments per read |",
  "|---|---|---|---|---|---|---|",
  ...summary.map(
    (s) =>
      `| ${s.mode} | ${s.gbps.toFixed(2)} (${s.gbpsMin.toFixed(2)}–${s.gbpsMax.toFixed(2)}) | ${(s.gbps / simpletun).toFixed(1)}× | ${(s.gbps / novnet).toFixed(1)}× | ${s.retransmits} | ${s.cpuSecondsPerGB.toFixed(2)} | ${s.segmentsPerRead.toFixed(1)} |`,
  ),
];
process.stdout.write(`${lines.join("\n")}\n`);
const jsonPath = flag("json", "");
if (jsonPath) await Bun.write(jsonPath, JSON.stringify({ seconds: SECONDS, runs: RUNS, summary, samples }, null, 2));
