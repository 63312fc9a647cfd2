// Turns the samples into per-implementation summaries, the Markdown table
// for stdout, and the JSON kept in bench/results/ for comparing commits.
import type { Machine } from "./machine.ts";
import type { Mode, Sample } from "./sample.ts";
import { pairedRatio, spread, type Spread } from "./stats.ts";
import type { Impl } from "./topology.ts";

/** DEBIAN_WIREGUARD_GO is the row of Debian's wireguard-go (the 2022 build, without offloads). */
export const DEBIAN_WIREGUARD_GO = "wireguard-go (Debian)";

/** Failure is a run that threw (after its one retry); it is reported, not hidden. */
export interface Failure {
  impl: string;
  mode: Mode;
  round: number;
  error: string;
}

export interface Summary {
  impl: string;
  bin: string | null;
  env: Record<string, string>;
  single: {
    runs: number;
    gbps: Spread | null;
    gbpsRatio: number | null;
    retransmits: Spread | null;
    cpuSecondsPerGB: Spread | null;
    cpuRatio: number | null;
    pingMs: Spread | null;
    loadedPingMs: Spread | null;
    udpRcvbufErrors: Spread | null;
    tunDrops: Spread | null;
  };
  /** peak RSS of A's and B's daemon: the highest VmHWM over every run of this row. */
  peakRssMB: [number, number] | null;
  p4: { gbps: number; ratio: number | null } | null;
  reverse: { gbps: number; ratio: number | null } | null;
  failures: Omit<Failure, "impl">[];
}

/** summarize computes each row; ratios are against the row named baseline, run by run. */
export function summarize(impls: Impl[], samples: Sample[], failures: Failure[], baseline: string): Summary[] {
  const of = (id: string, mode: Mode) => samples.filter((s) => s.impl === id && s.mode === mode);
  return impls.map((impl) => {
    const single = of(impl.id, "single");
    const base = of(baseline, "single");
    const rss = samples.filter((s) => s.impl === impl.id && s.peakRssMB !== null).map((s) => s.peakRssMB!);
    const one = (mode: Mode) => {
      const s = of(impl.id, mode)[0];
      if (!s) return null;
      return { gbps: s.gbps, ratio: pairedRatio([s], of(baseline, mode), (x) => x.gbps) };
    };
    return {
      impl: impl.id,
      bin: impl.bin ?? null,
      env: impl.env ?? {},
      single: {
        runs: single.length,
        gbps: spread(single.map((s) => s.gbps)),
        gbpsRatio: pairedRatio(single, base, (s) => s.gbps),
        retransmits: spread(single.map((s) => s.retransmits)),
        cpuSecondsPerGB: spread(single.map((s) => s.cpuSecondsPerGB)),
        cpuRatio: pairedRatio(single, base, (s) => s.cpuSecondsPerGB),
        pingMs: spread(single.map((s) => s.pingMs)),
        loadedPingMs: spread(single.map((s) => s.loadedPingMs)),
        udpRcvbufErrors: spread(single.map((s) => s.udpRcvbufErrors)),
        tunDrops: spread(single.map((s) => s.tunDrops)),
      },
      peakRssMB: rss.length > 0 ? [Math.max(...rss.map((r) => r[0])), Math.max(...rss.map((r) => r[1]))] : null,
      p4: one("p4"),
      reverse: one("reverse"),
      failures: failures.filter((f) => f.impl === impl.id).map(({ mode, round, error }) => ({ mode, round, error })),
    };
  });
}

const NA = "n/a";
const f2 = (x: number) => x.toFixed(2);
const ratio = (r: number | null) => (r === null ? NA : `${r.toFixed(2)}×`);
const range = (s: Spread | null, fmt: (x: number) => string) =>
  s === null ? NA : s.n === 1 ? fmt(s.median) : `${fmt(s.median)} (${fmt(s.min)}–${fmt(s.max)})`;

export function markdown(m: Machine, opts: { seconds: number; runs: number; extras: boolean }, rows: Summary[], baseline: string): string {
  const lines = [
    `### tunnel vs wireguard-go, side by side — ${m.date.slice(0, 16).replace("T", " ")} UTC`,
    "",
    `Machine: Linux ${m.kernel} (${m.arch}), ${m.cpuModel}, ${m.cores} cores; commit ${m.gitCommit}${m.gitDirty ? " (dirty tree)" : ""}; ${m.wireguardGo}; ${m.iperf3}; bun ${m.bun}.`,
    `Two namespaces over veth (MTU 1500), tunnel MTU 1420, iperf3 TCP ${opts.seconds} s, single stream × ${opts.runs} run${opts.runs === 1 ? "" : "s"} (median, min–max)` +
      (opts.extras ? ", plus one -P 4 and one -R run" : "") +
      `. Ratios are against ${baseline}, run by run. CPU is both daemons' utime+stime per GB received; drops are per single-stream run, both sides together.` +
      ` Load average (1 min) ${m.loadAverageStart[0]} at start, ${m.loadAverageEnd?.[0] ?? "?"} at end.`,
    "",
    `| configuration | Gb/s | × ${baseline} | retransmits | CPU-s/GB | CPU × ${baseline} | peak RSS MB (A / B) | idle ping ms | loaded ping ms | -P4 Gb/s | -R Gb/s | UDP rcvbuf drops | TUN drops |`,
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
  ];
  for (const r of rows) {
    const s = r.single;
    const extra = (x: Summary["p4"]) => (x === null ? "—" : `${f2(x.gbps)}${x.ratio !== null && r.impl !== baseline ? ` (${x.ratio.toFixed(2)}×)` : ""}`);
    const gbps = s.gbps === null ? `failed (${r.failures.length})` : range(s.gbps, f2);
    lines.push(
      `| ${r.impl} | ${gbps} | ${ratio(s.gbpsRatio)} | ${range(s.retransmits, (x) => x.toFixed(0))} | ${range(s.cpuSecondsPerGB, f2)} | ${ratio(s.cpuRatio)} | ` +
        `${r.peakRssMB === null ? NA : `${r.peakRssMB[0].toFixed(0)} / ${r.peakRssMB[1].toFixed(0)}`} | ${range(s.pingMs, (x) => x.toFixed(3))} | ${range(s.loadedPingMs, (x) => x.toFixed(2))} | ` +
        `${extra(r.p4)} | ${extra(r.reverse)} | ${range(s.udpRcvbufErrors, (x) => x.toFixed(0))} | ${range(s.tunDrops, (x) => x.toFixed(0))} |`,
    );
  }
  const failed = rows.flatMap((r) => r.failures.map((f) => `- ${r.impl} ${f.mode} round ${f.round + 1}: ${f.error.split("\n")[0]}`));
  if (failed.length > 0) lines.push("", "Failed runs:", ...failed);
  return `${lines.join("\n")}\n`;
}
