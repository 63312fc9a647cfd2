// The memory soak (--soak N): one saturating single-stream iperf3 run of N
// seconds through `tunnel`, reading both daemons' VmRSS once a second. It
// answers "does memory stay bounded under sustained load", which a 10 s run
// cannot: a leak of a few hundred bytes per packet only shows over time.
import { iperf3, peakRssMB, rssMB, waitForPath } from "./measure.ts";
import { setUp, type Impl, type Keys } from "./topology.ts";

/** LIMIT_MB is the budget issue 6 sets for one tunnel process. */
export const LIMIT_MB = 150;

export interface SoakProcess {
  side: "A" | "B";
  firstMB: number;
  lastMB: number;
  /** VmHWM at the end: the true peak, including between our samples. */
  peakMB: number;
  /** growthMB is last minus the sample after warm-up (see flatness below). */
  growthMB: number;
  flat: boolean;
  samplesMB: number[];
}

export interface SoakResult {
  seconds: number;
  gbps: number;
  limitMB: number;
  processes: SoakProcess[];
  pass: boolean;
}

export async function soak(impl: Impl, seconds: number, seq: number, keys: Keys): Promise<SoakResult> {
  const s = await setUp(impl, seq, keys);
  try {
    await waitForPath(s.a, s.target);
    const samples: number[][] = s.daemons.map(() => []);
    const take = () => {
      s.daemons.forEach((d, i) => {
        samples[i]!.push(rssMB(d.pid));
      });
    };
    take();
    const timer = setInterval(() => {
      take();
      const n = samples[0]!.length - 1;
      if (n % 10 === 0) process.stderr.write(`  soak ${n} s: RSS ${samples.map((x) => x.at(-1)!.toFixed(0)).join(" / ")} MB\n`);
    }, 1000);
    let r: Awaited<ReturnType<typeof iperf3>>;
    try {
      r = await iperf3(s.a, s.b, s.target, { seconds });
    } finally {
      clearInterval(timer);
    }
    take();
    // The first seconds fill buffer pools and JIT caches, which is growth by
    // design; a leak is growth after that. Compare against the sample at
    // min(10 s, a quarter of the run), with a fixed 3 MB tolerance: a 10 %
    // allowance (~7 MB) let a real leak of ~0.2 MB/s pass a 60 s soak, while
    // the fixed build stays within ±1 MB after warm-up (2026-11-25 runs).
    const warm = Math.min(10, Math.floor(seconds / 4));
    const processes = s.daemons.map((d, i): SoakProcess => {
      const xs = samples[i]!;
      const ref = xs[Math.min(warm, xs.length - 1)]!;
      const last = xs.at(-1)!;
      const growth = last - ref;
      return {
        side: i === 0 ? "A" : "B",
        firstMB: xs[0]!,
        lastMB: last,
        peakMB: peakRssMB(d.pid),
        growthMB: growth,
        flat: growth <= FLAT_TOLERANCE_MB,
        samplesMB: xs.map((x) => Math.round(x * 10) / 10),
      };
    });
    return {
      seconds,
      gbps: r.bitsPerSecond / 1e9,
      limitMB: LIMIT_MB,
      processes,
      pass: processes.every((p) => p.peakMB <= LIMIT_MB && p.flat),
    };
  } finally {
    await s.close();
  }
}

/** FLAT_TOLERANCE_MB is how much RSS may grow after warm-up and still count as flat. */
const FLAT_TOLERANCE_MB = 3;

/** signed shows growth as +1.2 / -0.4, and a rounding-level change as 0.0 (not "-0.0"). */
function signed(x: number): string {
  const r = Math.round(x * 10) / 10;
  return r > 0 ? `+${r.toFixed(1)}` : r < 0 ? r.toFixed(1) : "0.0";
}

export function soakMarkdown(impl: string, r: SoakResult): string {
  const lines = [
    `### Memory soak: ${impl}, ${r.seconds} s single-stream TCP at ${r.gbps.toFixed(2)} Gb/s`,
    "",
    `| process | first MB | last MB | peak MB (VmHWM) | growth after warm-up MB | ≤ ${r.limitMB} MB | flat |`,
    "|---|---|---|---|---|---|---|",
    ...r.processes.map(
      (p) =>
        `| ${p.side} | ${p.firstMB.toFixed(1)} | ${p.lastMB.toFixed(1)} | ${p.peakMB.toFixed(1)} | ${signed(p.growthMB)} | ${p.peakMB <= r.limitMB ? "yes" : "NO"} | ${p.flat ? "yes" : "NO"} |`,
    ),
    "",
    `Soak verdict: ${r.pass ? "PASS" : "FAIL"} (peak ≤ ${r.limitMB} MB and no growth beyond ${FLAT_TOLERANCE_MB} MB after warm-up).`,
  ];
  return `${lines.join("\n")}\n`;
}
