// `npm run soak -- --minutes N`: capped-rate TCP through two daemons for N
// minutes, long enough to cross rekeys (REKEY_AFTER_TIME is 120 s and has no
// test hook: the soak simply runs that long). Each implementation gets fresh
// namespaces and the same topology as the benchmark (bench/side-by-side/
// topology.ts); tunnel first, then Debian's wireguard-go when installed, one
// after the other so they do not share the two cores.
//
// Reports per implementation: the minimum and median per-second throughput
// (a stall at a rekey shows as a low second), seconds below half the cap,
// TCP retransmits, handshakes seen on each side (changes of wg's
// latest-handshake), and RSS: first, after warm-up, last, peak, and the drift
// (last − after warm-up).
//
//   sudo npm run soak -- --minutes 3 [--rate 200M] [--only tunnel|wireguard-go] [--json PATH]
import "./side-by-side/procs.ts"; // first: its SIGINT handler must run before netns.ts's
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { removeStale, run, type Netns } from "../test/support/netns.ts";
import { peakRssMB, rssMB, waitForPath } from "./side-by-side/measure.ts";
import { spawnIn, stop } from "./side-by-side/procs.ts";
import { makeKeys, PREFIX, setUp, type Impl, type Keys } from "./side-by-side/topology.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const TUNNEL_BIN = join(ROOT, "dist/tunnel");
/** WARM_UP_S: buffer pools and JIT caches fill first; drift is measured from here. */
const WARM_UP_S = 10;
const log = (line: string) => process.stderr.write(`${line}\n`);

export interface SoakFigures {
  impl: string;
  seconds: number;
  capBitsPerSecond: number;
  minMbps: number;
  medianMbps: number;
  secondsBelowHalfCap: number;
  retransmits: number;
  handshakes: { a: number; b: number };
  /** rekeyAtSeconds: when a new handshake (after the first) was first seen, on either side */
  rekeyAtSeconds: number[];
  /** minMbpsAtRekey: the lowest second within ±2 s of a rekey (null without one) */
  minMbpsAtRekey: number | null;
  rssMB: { side: "A" | "B"; first: number; afterWarmUp: number; last: number; peak: number; drift: number }[];
}

function parseRate(text: string): number {
  const m = /^(\d+(?:\.\d+)?)([KMG]?)$/i.exec(text);
  if (!m) throw new Error(`--rate must look like 200M, not ${text}`);
  return Number(m[1]) * ({ "": 1, K: 1e3, M: 1e6, G: 1e9 } as Record<string, number>)[m[2]!.toUpperCase()]!;
}

/** latestHandshake is wg's unix time of the peer's last handshake on ifname (0 = none yet). */
function latestHandshake(ns: Netns, ifname: string): number {
  const out = ns.exec(["wg", "show", ifname, "latest-handshakes"], { allowFail: true });
  return Number(out.trim().split(/\s+/)[1] ?? 0);
}

interface IperfInterval {
  sum: { bits_per_second: number };
}

async function soakOne(impl: Impl, seconds: number, rate: string, seq: number, keys: Keys): Promise<SoakFigures> {
  const s = await setUp(impl, seq, keys);
  try {
    await waitForPath(s.a, s.target);
    const names = s.daemons.map((d) => d.ifname);
    const nsOf = [s.a, s.b];
    const rss: number[][] = s.daemons.map(() => []);
    const seen: Set<number>[] = s.daemons.map(() => new Set());
    const rekeys: number[] = [];
    let t0 = 0;
    const sample = () => {
      s.daemons.forEach((d, i) => {
        rss[i]!.push(rssMB(d.pid));
        const t = latestHandshake(nsOf[i]!, names[i]!);
        if (t > 0 && !seen[i]!.has(t)) {
          seen[i]!.add(t);
          const at = Math.round((performance.now() - t0) / 1000);
          if (seen[i]!.size > 1 && !rekeys.some((r) => Math.abs(r - at) <= 2)) rekeys.push(at);
        }
      });
    };
    const srv = spawnIn(s.b, ["iperf3", "-s", "-1", "-p", "5201", "-B", s.target]);
    try {
      for (let i = 0; i < 200 && s.b.exec(["ss", "-Htln", "sport = :5201"], { allowFail: true }).trim() === ""; i++) await Bun.sleep(20);
      t0 = performance.now();
      sample();
      const cli = spawnIn(s.a, ["iperf3", "-c", s.target, "-p", "5201", "-t", String(seconds), "-b", rate, "-i", "1", "-J"]);
      const timer = setInterval(() => {
        sample();
        const n = rss[0]!.length - 1;
        if (n % 30 === 0)
          log(`  ${impl.id} ${n} s: RSS ${rss.map((x) => x.at(-1)!.toFixed(0)).join(" / ")} MB, handshakes seen ${seen.map((x) => x.size).join(" / ")}`);
      }, 1000);
      const killer = setTimeout(() => cli.proc.kill("SIGKILL"), (seconds + 30) * 1000);
      const code = await cli.finished;
      clearInterval(timer);
      clearTimeout(killer);
      sample();
      const report = JSON.parse(cli.stdout() || "{}") as { error?: string; intervals?: IperfInterval[]; end?: { sum_sent?: { retransmits?: number } } };
      if (code !== 0 || report.error || !report.intervals) throw new Error(`iperf3 failed (exit ${code}): ${report.error ?? cli.output().slice(-300)}`);
      const mbps = report.intervals.map((i) => i.sum.bits_per_second / 1e6);
      const sorted = [...mbps].sort((a, b) => a - b);
      const cap = parseRate(rate);
      // Interval i covers seconds [i, i+1) of the run.
      const nearRekey = mbps.filter((_, i) => rekeys.some((r) => Math.abs(i - r) <= 2));
      return {
        impl: impl.id,
        seconds,
        capBitsPerSecond: cap,
        minMbps: sorted[0] ?? 0,
        medianMbps: sorted[Math.floor(sorted.length / 2)] ?? 0,
        secondsBelowHalfCap: mbps.filter((m) => m * 1e6 < cap / 2).length,
        retransmits: report.end?.sum_sent?.retransmits ?? 0,
        handshakes: { a: seen[0]!.size, b: seen[1]!.size },
        rekeyAtSeconds: rekeys,
        minMbpsAtRekey: nearRekey.length === 0 ? null : Math.min(...nearRekey),
        rssMB: s.daemons.map((d, i) => {
          const xs = rss[i]!;
          const warm = xs[Math.min(WARM_UP_S, xs.length - 1)]!;
          const last = xs.at(-1)!;
          return { side: i === 0 ? "A" : "B", first: xs[0]!, afterWarmUp: warm, last, peak: peakRssMB(d.pid), drift: last - warm };
        }),
      };
    } finally {
      await stop(srv.proc, 500);
    }
  } finally {
    await s.close();
  }
}

function markdown(results: SoakFigures[], rate: string): string {
  const f = (x: number) => x.toFixed(1);
  const lines = [
    `### Soak: ${results[0]?.seconds ?? 0} s of TCP capped at ${rate}bit/s (iperf3 -b), rekeys every 120 s`,
    "",
    "| implementation | min Mb/s (1 s) | min Mb/s ±2 s of a rekey | median Mb/s | seconds < half cap | retransmits | handshakes seen A / B (rekeys at s) | RSS A first / warm / last / peak MB | drift A MB | RSS B first / warm / last / peak MB | drift B MB |",
    "|---|---|---|---|---|---|---|---|---|---|---|",
    ...results.map((r) => {
      const [a, b] = r.rssMB;
      const mem = (m: NonNullable<typeof a>) => `${f(m.first)} / ${f(m.afterWarmUp)} / ${f(m.last)} / ${f(m.peak)}`;
      return `| ${r.impl} | ${f(r.minMbps)} | ${r.minMbpsAtRekey === null ? "-" : f(r.minMbpsAtRekey)} | ${f(r.medianMbps)} | ${r.secondsBelowHalfCap} | ${r.retransmits} | ${r.handshakes.a} / ${r.handshakes.b} (${r.rekeyAtSeconds.join(", ") || "none"}) | ${mem(a!)} | ${f(a!.drift)} | ${mem(b!)} | ${f(b!.drift)} |`;
    }),
  ];
  return `${lines.join("\n")}\n`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: { minutes: { type: "string", default: "3" }, rate: { type: "string", default: "200M" }, only: { type: "string" }, json: { type: "string" } },
    strict: true,
  });
  const minutes = Number(values.minutes);
  if (!(minutes > 0)) throw new Error(`--minutes must be a positive number, not ${values.minutes}`);
  parseRate(values.rate);
  if (process.getuid?.() !== 0) throw new Error("the soak needs root (network namespaces, TUN devices)");
  if (!existsSync(TUNNEL_BIN)) {
    log("dist/tunnel is missing: building it (bun build.ts)");
    if (Bun.spawnSync([process.execPath, "build.ts"], { cwd: ROOT, stdout: "inherit", stderr: "inherit" }).exitCode !== 0)
      throw new Error("bun build.ts failed");
  }
  const impls: Impl[] = [{ id: "tunnel", bin: TUNNEL_BIN, ours: true }];
  const wgGo = Bun.which("wireguard-go");
  if (wgGo) impls.push({ id: "wireguard-go", bin: wgGo });
  else log("wireguard-go is not installed: soaking tunnel alone (apt-get install wireguard-go to compare)");
  const chosen = values.only ? impls.filter((i) => i.id === values.only) : impls;
  if (chosen.length === 0) throw new Error(`--only: unknown ${values.only}; known: ${impls.map((i) => i.id).join(", ")}`);
  removeStale(PREFIX);
  const dir = mkdtempSync(join(tmpdir(), "tunnel-soak-"));
  try {
    const keys = makeKeys(dir);
    const seconds = Math.round(minutes * 60);
    const results: SoakFigures[] = [];
    let seq = 0;
    for (const impl of chosen) {
      log(`soak: ${impl.id}, ${seconds} s at ${values.rate}bit/s`);
      results.push(await soakOne(impl, seconds, values.rate, seq++, keys));
    }
    process.stdout.write(`${run(["uname", "-r"]).trim()}, ${navigator.hardwareConcurrency} CPUs\n\n${markdown(results, values.rate)}`);
    if (values.json) writeFileSync(values.json, `${JSON.stringify(results, null, 2)}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  main().catch((e) => {
    log(`soak: ${(e as Error).message}`);
    process.exit(1);
  });
}
