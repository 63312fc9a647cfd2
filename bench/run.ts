// Issue 6's benchmark: `tunnel` side by side with Debian's wireguard-go (and
// any daemon in BENCH_IMPLS), the bare veth underlay as the ceiling, and
// `tunnel` with its offloads switched off (the "before" picture), all in one
// run. Every measurement gets fresh namespaces and fresh daemons; the
// configurations alternate run by run (A B C A B C …) so drift on the VM hits
// them alike. Markdown on stdout, progress on stderr, JSON in bench/results/.
//
//   sudo npm run bench                  full spec (~6–8 min)
//   sudo bun bench/run.ts --quick       3 s × 1 run, no -P 4 / -R
//   sudo bun bench/run.ts --soak 60     also a 60 s memory soak through tunnel
//   BENCH_IMPLS="/opt/wg-go-new/wireguard-go" sudo npm run bench
//
// The pieces live in bench/side-by-side/: topology (namespaces, daemons, wg
// set), measure (iperf3, ping, /proc), sample (one measurement), report, soak.
import "./side-by-side/procs.ts"; // first: its SIGINT handler must run before netns.ts's
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { basename, join } from "node:path";
import { removeStale } from "../test/support/netns.ts";
import { describeMachine } from "./side-by-side/machine.ts";
import { parseOptions, type Options } from "./side-by-side/options.ts";
import { forget, removeOnExit } from "./side-by-side/procs.ts";
import { DEBIAN_WIREGUARD_GO, markdown, summarize, type Failure } from "./side-by-side/report.ts";
import { measureOnce, type Mode, type Sample } from "./side-by-side/sample.ts";
import { soak, soakMarkdown, type SoakResult } from "./side-by-side/soak.ts";
import { makeKeys, PREFIX, type Impl, type Keys } from "./side-by-side/topology.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const TUNNEL_BIN = join(ROOT, "dist/tunnel");
/** The kill switches that take `tunnel` back to one packet per syscall (see src/device/). */
const OFFLOADS_OFF = { TUNNEL_DISABLE_VNET_HDR: "1", TUNNEL_DISABLE_UDP_GSO: "1", TUNNEL_DISABLE_UDP_GRO_SOCKET: "1" };

const log = (line: string) => process.stderr.write(`${line}\n`);

function checkPrerequisites(): void {
  if (process.getuid?.() !== 0) throw new Error("the benchmark needs root (network namespaces, TUN devices): run it with sudo");
  for (const cmd of ["ip", "wg", "iperf3", "ping", "nstat", "ss", "wireguard-go"]) {
    if (Bun.which(cmd) === null) throw new Error(`the benchmark needs '${cmd}' on PATH`);
  }
  if (!existsSync("/dev/net/tun")) throw new Error("the benchmark needs /dev/net/tun");
}

/** ensureTunnel builds dist/tunnel if it is missing (the bench measures the shipped binary, not bun src/). */
function ensureTunnel(): void {
  if (existsSync(TUNNEL_BIN)) return;
  log("dist/tunnel is missing: building it (bun build.ts)");
  const p = Bun.spawnSync([process.execPath, "build.ts"], { cwd: ROOT, stdout: "inherit", stderr: "inherit" });
  if (p.exitCode !== 0 || !existsSync(TUNNEL_BIN)) throw new Error("bun build.ts failed");
}

function implementations(o: Options): Impl[] {
  const impls: Impl[] = [
    { id: "underlay (veth)" },
    { id: DEBIAN_WIREGUARD_GO, bin: Bun.which("wireguard-go")! },
    { id: "tunnel", bin: TUNNEL_BIN, ours: true },
    { id: "tunnel (offloads off)", bin: TUNNEL_BIN, env: OFFLOADS_OFF, ours: true },
    ...o.workers.map((w) => ({ id: `tunnel (${w} workers)`, bin: TUNNEL_BIN, env: { TUNNEL_WORKERS: String(w) }, ours: true })),
  ];
  for (const path of (process.env.BENCH_IMPLS ?? "").split(/\s+/).filter((p) => p !== "")) {
    if (!existsSync(path) || !(statSync(path).mode & 0o111)) throw new Error(`BENCH_IMPLS: ${path} is not an executable file`);
    let id = basename(path);
    // Two builds of the same program are usually both called wireguard-go.
    if (impls.some((i) => i.id === id)) id = path;
    impls.push({ id, bin: path });
  }
  if (o.only === null) return impls;
  const unknown = o.only.filter((id) => !impls.some((i) => i.id === id));
  if (unknown.length > 0) throw new Error(`--only: unknown ${unknown.join(", ")}; known: ${impls.map((i) => i.id).join(", ")}`);
  return impls.filter((i) => i.id === baselineOf(impls) || i.id === DEBIAN_WIREGUARD_GO || o.only!.includes(i.id));
}

/**
 * baselineOf is the row ratios are taken against: the first binary in
 * BENCH_IMPLS (current upstream wireguard-go, built by hand, is the measure
 * the project holds itself to), else Debian's wireguard-go.
 */
function baselineOf(impls: Impl[]): string {
  return impls.find((i) => i.bin !== undefined && !i.ours && i.id !== DEBIAN_WIREGUARD_GO)?.id ?? DEBIAN_WIREGUARD_GO;
}

function describeSample(s: Sample): string {
  const parts = [`${s.gbps.toFixed(2)} Gb/s`, `${s.retransmits} retr`];
  if (s.cpuSecondsPerGB !== null) parts.push(`${s.cpuSecondsPerGB.toFixed(2)} CPU-s/GB`);
  if (s.peakRssMB !== null) parts.push(`RSS ${s.peakRssMB.map((x) => x.toFixed(0)).join("/")} MB`);
  parts.push(`ping ${s.pingMs === null ? "none" : `${s.pingMs.toFixed(3)} ms`}`);
  if (s.mode === "single") parts.push(`loaded ping ${s.loadedPingMs === null ? "none" : `${s.loadedPingMs.toFixed(2)} ms`}`);
  if (s.udpRcvbufErrors > 0) parts.push(`${s.udpRcvbufErrors} UDP rcvbuf drops`);
  if (s.tunDrops) parts.push(`${s.tunDrops} TUN drops`);
  return parts.join(", ");
}

/** setup errors (bad flags, missing tools) are one line, not a stack trace. */
function orExit<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    log(`bench: ${(e as Error).message}`);
    process.exit(2);
  }
}

const o = orExit(() => parseOptions(process.argv.slice(2)));
orExit(checkPrerequisites);
orExit(ensureTunnel);
removeStale(PREFIX);
const impls = orExit(() => implementations(o));
const machine = describeMachine(ROOT);
const keyDir = mkdtempSync(join(tmpdir(), "bench-sbs-"));
removeOnExit(keyDir);
// Others rebuild dist/tunnel while they work; measuring a private copy keeps
// every row of this run on the same build (its mtime goes into the JSON).
const tunnelBuild = statSync(TUNNEL_BIN).mtime.toISOString();
const tunnelCopy = join(keyDir, "tunnel");
copyFileSync(TUNNEL_BIN, tunnelCopy);
chmodSync(tunnelCopy, 0o755);
for (const impl of impls) if (impl.ours) impl.bin = tunnelCopy;
const started = performance.now();
const elapsed = () => {
  const s = Math.round((performance.now() - started) / 1000);
  return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
};

try {
  const keys: Keys = makeKeys(keyDir);
  const samples: Sample[] = [];
  const failures: Failure[] = [];
  let seq = 0;

  const plan: { mode: Mode; round: number; label: string }[] = [];
  if (!o.soakOnly) {
    for (let r = 0; r < o.runs; r++) plan.push({ mode: "single", round: r, label: `round ${r + 1}/${o.runs}` });
    if (o.extras) plan.push({ mode: "p4", round: 0, label: "-P 4" }, { mode: "reverse", round: 0, label: "-R" });
  }
  const total = plan.length * impls.length;
  if (total > 0) {
    const estimate = Math.round((total * (o.seconds + 4) + o.soak) / 60);
    log(
      `bench: ${impls.map((i) => i.id).join(", ")}; ${o.seconds} s × ${o.runs} run(s)${o.extras ? " + -P 4 + -R" : ""}; ${total} measurements, about ${estimate} min`,
    );
  }
  let done = 0;
  for (const step of plan) {
    for (const impl of impls) {
      done++;
      const what = `[${done}/${total} ${elapsed()}] ${step.label} ${impl.id}`;
      // One retry with a fresh setup: a single flaky start should not void a
      // row, but a daemon that keeps failing is reported, not retried forever.
      for (let attempt = 1; attempt <= 2; attempt++) {
        try {
          const s = await measureOnce(impl, step.mode, step.round, seq++, keys, { seconds: o.seconds, pings: o.pings, tunnelBin: tunnelCopy });
          samples.push(s);
          log(`${what}: ${describeSample(s)}`);
          break;
        } catch (e) {
          const error = (e as Error).message;
          log(`${what}: attempt ${attempt} FAILED: ${error}`);
          if (attempt === 2) failures.push({ impl: impl.id, mode: step.mode, round: step.round, error });
        }
      }
    }
  }

  let soakResult: SoakResult | null = null;
  if (o.soak > 0) {
    log(`[${elapsed()}] soak: ${o.soak} s through tunnel, RSS every second`);
    soakResult = await soak({ id: "tunnel", bin: tunnelCopy, ours: true }, o.soak, seq++, keys);
  }

  // Other work on the machine skews everything; the load average at the end says whether there was any.
  machine.loadAverageEnd = loadavg().map((x) => Math.round(x * 100) / 100);
  const baseline = baselineOf(impls);
  const summaries = summarize(impls, samples, failures, baseline);
  const out: string[] = [];
  if (plan.length > 0) out.push(markdown(machine, o, summaries, baseline));
  if (soakResult) out.push(soakMarkdown("tunnel", soakResult));
  mkdirSync(join(ROOT, "bench/results"), { recursive: true });
  const stamp = machine.date.replace(/:/g, "-").replace(/\.\d+Z$/, "Z");
  const jsonPath = o.json ?? join(ROOT, "bench/results", `bench-${stamp}.json`);
  await Bun.write(
    jsonPath,
    `${JSON.stringify(
      {
        machine,
        tunnel: { source: TUNNEL_BIN, built: tunnelBuild, measuredCopy: tunnelCopy },
        options: o,
        implementations: impls,
        summaries,
        samples,
        failures,
        soak: soakResult,
      },
      null,
      2,
    )}\n`,
  );
  out.push(`JSON: ${jsonPath}`);
  process.stdout.write(`${out.join("\n")}\n`);
  log(`bench: done in ${elapsed()}`);
  if (failures.length > 0 || (soakResult && !soakResult.pass)) process.exitCode = 1;
} finally {
  rmSync(keyDir, { recursive: true, force: true });
  forget(keyDir);
}
