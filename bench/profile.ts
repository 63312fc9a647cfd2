// bun bench/profile.ts [--seconds N] [--reverse] [--json PATH] [--keep] — where
// the CPU goes in the REAL daemons under load, by component and by function.
//
// Same set-up as `bun bench/stages.ts --e2e` (test/support/daemon-pair.ts): two
// test/device/run-device.ts daemons in network namespaces over veth, configured with the real `wg set`,
// one iperf3 single-stream TCP flow through the tunnel. While the flow runs,
// `perf record -a` samples every CPU (system-wide, so the kernel work the
// daemons cause, iperf3 and idle time are in the same picture), and
// JavaScriptCore writes a jitdump (BUN_JSC_useJITDump) naming every piece of
// JIT code it emits. Samples are then attributed:
//
//   daemon samples → libcrypto (unnamed code = the ChaCha20/Poly1305 asm and
//                    static provider code, named = EVP/OSSL_PARAM glue),
//                    kernel (by symbol), JS (jitdump name, tiers merged per
//                    function), libc (by symbol), bun.exe runtime, other DSOs
//   other samples  → iperf3, idle (swapper), other (by command name)
//
// The sender daemon (encrypts the data, decrypts ACKs) and the receiver daemon
// are kept apart by pid. Costs are also given as ns of CPU per 1420-byte wire
// packet of the flow, counted from the sender TUN's byte counter over the
// sampled window.
//
// `perf inject --jit` cannot be used: it looks for jit-<pid>.dump, JSC names
// its files jit-<n>-<pid>.dump. The jitdump format is simple, so it is parsed
// here (bench/profile/perf-data.ts).
//
// Needs root (namespaces, TUN, perf -a) and perf, iperf3, wg. Namespaces,
// daemons and temp dirs are removed even on failure; perf data and jitdumps
// are kept only with --keep. The host is shared: keep runs short.

import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { cpuSeconds, iperf3, run, type IperfResult, type Netns } from "../test/support/netns.ts";
import { startDaemonPair } from "../test/support/daemon-pair.ts";
import { loadJitMaps, readSamples, type JitMap, type Sample } from "./profile/perf-data.ts";

// ------------------------------------------------------------------ options

const argv = process.argv.slice(2);
function opt(name: string): string | undefined {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
}
const SECONDS = Number(opt("--seconds") ?? 5);
const REVERSE = argv.includes("--reverse");
const JSON_PATH = opt("--json");
const KEEP = argv.includes("--keep");
if (!(SECONDS > 0)) throw new Error("--seconds needs a positive number");

// iperf3 runs LEAD s longer on each side of the perf window, so the window
// sees neither slow start nor the final teardown.
const LEAD = 1.5;
// cpu-clock with a fixed period (not perf's default frequency mode), so every
// sample is exactly PERIOD_NS of CPU time and samples convert to seconds.
const PERIOD_NS = 250_000; // 4 kHz per CPU
// Wire packets: the TUN sees mostly GSO super-packets (one 52-byte IPv4+TCP
// header with timestamps per up-to-64 KiB), each segment of which leaves as
// one 1420-byte packet carrying MSS = 1368 bytes of payload.
const MTU = 1420;
const HDR = 52;
const MSS = MTU - HDR;

// ------------------------------------------------------------ preconditions

function which(cmd: string): string | null {
  const out = run(["sh", "-c", `command -v ${cmd}`], { allowFail: true }).trim();
  return out === "" ? null : out;
}
if (process.getuid?.() !== 0) {
  console.error("bench/profile.ts must run as root (network namespaces, TUN devices, perf record -a)");
  process.exit(1);
}
for (const tool of ["perf", "iperf3", "wg", "ip"]) {
  if (which(tool) === null) {
    console.error(`bench/profile.ts needs ${tool} on PATH${tool === "perf" ? " (Debian: apt-get install linux-perf)" : ""}`);
    process.exit(1);
  }
}

// ------------------------------------------------------------------ measure

interface Window {
  /** seconds between the two counter snapshots around perf record */
  seconds: number;
  /** sender TUN counters over that interval (kernel → daemon direction) */
  tunBytes: number;
  tunPackets: number;
  /** /proc utime+stime over that interval */
  cpuSender: number;
  cpuReceiver: number;
}

interface Measured {
  iperf: IperfResult;
  senderPid: number;
  receiverPid: number;
  window: Window;
}

interface TunStats {
  bytes: number;
  packets: number;
}

/** tunTx reads how much the kernel handed to the daemon through the TUN. */
function tunTx(ns: Netns, ifname: string): TunStats {
  const j = JSON.parse(ns.ip("-j", "-s", "link", "show", "dev", ifname)) as { stats64: { tx: { bytes: number; packets: number } } }[];
  const tx = j[0]!.stats64.tx;
  return { bytes: tx.bytes, packets: tx.packets };
}

/**
 * measure starts the two daemons (test/support/daemon-pair.ts) with the
 * jitdump enabled, runs iperf3 and records perf into workDir during the
 * middle of the flow.
 */
async function measure(workDir: string): Promise<Measured> {
  // `ip netns exec` keeps the environment and execs the command, so the env
  // reaches bun and the spawned pid is the daemon's own pid.
  const pair = await startDaemonPair({
    prefix: "tprf",
    subnet: 9,
    port: 51911,
    mtu: MTU,
    env: { BUN_JSC_useJITDump: "1", BUN_JSC_jitDumpDirectory: workDir },
  });
  try {
    const { nsA, nsB, ifA, ifB } = pair;
    // iperf3's client is in A; with -R the server in B sends the data.
    const [sender, receiver] = REVERSE ? [pair.pidB, pair.pidA] : [pair.pidA, pair.pidB];
    const [senderNs, senderIf] = REVERSE ? [nsB, ifB] : [nsA, ifA];
    const flow = iperf3(nsA, nsB, pair.innerB, { seconds: Math.ceil(SECONDS + 2 * LEAD), reverse: REVERSE, port: 5298 });
    flow.catch(() => {}); // awaited below; don't let an early failure go unhandled meanwhile
    await Bun.sleep(LEAD * 1000);

    const t0 = performance.now();
    const tun0 = tunTx(senderNs, senderIf);
    const cs0 = cpuSeconds(sender);
    const cr0 = cpuSeconds(receiver);
    // -k 1: CLOCK_MONOTONIC sample times, the clock JSC stamps jitdump records
    // with, so a sample can be matched to the code loaded at that moment.
    const perf = Bun.spawn(
      ["perf", "record", "-q", "-a", "-k", "1", "-e", "cpu-clock", "-c", String(PERIOD_NS), "-o", join(workDir, "perf.data"), "--", "sleep", String(SECONDS)],
      { stdout: "ignore", stderr: "pipe" },
    );
    const [perfErr, perfCode] = await Promise.all([new Response(perf.stderr).text(), perf.exited]);
    const tun1 = tunTx(senderNs, senderIf);
    const window: Window = {
      seconds: (performance.now() - t0) / 1000,
      tunBytes: tun1.bytes - tun0.bytes,
      tunPackets: tun1.packets - tun0.packets,
      cpuSender: cpuSeconds(sender) - cs0,
      cpuReceiver: cpuSeconds(receiver) - cr0,
    };
    if (perfCode !== 0) throw new Error(`perf record exited ${perfCode}: ${perfErr.trim()}`);
    const iperf = await flow;
    return { iperf, senderPid: sender, receiverPid: receiver, window };
  } finally {
    // Also kills an iperf3 client still running on a failure (Netns.delete).
    await pair.stop();
  }
}

// --------------------------------------------------------------- attribute

const C = {
  cipher: "libcrypto (unnamed: cipher/poly1305 asm and static provider code)",
  cipherNamed: "libcrypto cipher (named ChaCha/Poly symbols)",
  glue: "libcrypto EVP/provider glue",
  kernel: "kernel (in the daemon's threads)",
  js: "JS (JIT code, jitdump)",
  jitUnknown: "unresolved JIT/anonymous code",
  libc: "libc",
  bun: "bun.exe runtime (JSC interpreter, GC, FFI, …)",
  otherLib: "other libraries",
  iperf3: "iperf3 (user + kernel)",
  idle: "idle (swapper)",
  other: "other processes (by command below)",
} as const;
type Component = (typeof C)[keyof typeof C];
type Who = "sender" | "receiver" | "rest";

interface Attributed {
  who: Who;
  component: Component;
  /** function or symbol within the component, when it has one */
  detail: string;
  tier?: string;
}

function base(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

const UNKNOWN = (sym: string) => sym === "" || sym === "[unknown]";

function attribute(s: Sample, m: Measured, jit: Map<number, JitMap>): Attributed {
  const who: Who = s.pid === m.senderPid ? "sender" : s.pid === m.receiverPid ? "receiver" : "rest";
  if (who === "rest") {
    if (s.pid === 0) return { who, component: C.idle, detail: s.sym };
    if (s.comm === "iperf3") return { who, component: C.iperf3, detail: s.sym };
    // The host is shared: say which of the rest is this script itself.
    if (s.pid === process.pid) return { who, component: C.other, detail: "bench/profile.ts (this script)" };
    // comm names like ksoftirqd/1 or kworker/0:1-events: strip the CPU suffix
    return { who, component: C.other, detail: s.comm.replace(/\/.*$/, "") };
  }
  const dso = base(s.dso);
  if (s.dso.startsWith("[kernel") || s.ip >= 0xffff_8000_0000_0000) return { who, component: C.kernel, detail: s.sym };
  if (dso.startsWith("libcrypto")) {
    if (UNKNOWN(s.sym)) return { who, component: C.cipher, detail: "(unnamed)" };
    if (/chacha|poly1305/i.test(s.sym)) return { who, component: C.cipherNamed, detail: s.sym };
    return { who, component: C.glue, detail: s.sym };
  }
  if (dso.startsWith("libc.so") || dso.startsWith("libc-")) return { who, component: C.libc, detail: s.sym };
  // bun.exe ships with almost no symbol table: most of its code stays unnamed.
  if (dso.startsWith("bun")) return { who, component: C.bun, detail: UNKNOWN(s.sym) ? "(unnamed: bun.exe has no symbol table)" : s.sym };
  // JIT code lives in anonymous executable memory: perf shows it as
  // [unknown] or /tmp/perf-<pid>.map. Ask the jitdump.
  const code = jit.get(s.pid)?.lookup(s.ip, s.timeNs);
  if (code) return { who, component: C.js, detail: code.fn, tier: code.tier };
  if (s.dso === "[unknown]" || s.dso.startsWith("/tmp/perf-") || s.dso.startsWith("//anon")) return { who, component: C.jitUnknown, detail: s.sym };
  return { who, component: C.otherLib, detail: `${dso}${UNKNOWN(s.sym) ? "" : `: ${s.sym}`}` };
}

// ------------------------------------------------------------------ report

interface Row {
  name: string;
  sender: number;
  receiver: number;
  rest: number;
  tiers?: string[];
}

function tally(list: Attributed[], key: (a: Attributed) => string): Row[] {
  const rows = new Map<string, Row & { tierSet: Set<string> }>();
  for (const a of list) {
    const k = key(a);
    let r = rows.get(k);
    if (!r) {
      r = { name: k, sender: 0, receiver: 0, rest: 0, tierSet: new Set() };
      rows.set(k, r);
    }
    r[a.who]++;
    if (a.tier) r.tierSet.add(a.tier);
  }
  return [...rows.values()]
    .map(({ tierSet, ...r }) => (tierSet.size ? { ...r, tiers: [...tierSet].sort() } : r))
    .sort((x, y) => y.sender + y.receiver + y.rest - (x.sender + x.receiver + x.rest));
}

async function main(): Promise<void> {
  const workDir = mkdtempSync(join(tmpdir(), "tprf-"));
  try {
    const m = await measure(workDir);

    const jit = loadJitMaps(workDir);
    const samples = readSamples(join(workDir, "perf.data"));
    if (samples.length === 0) throw new Error("perf recorded no samples");
    const attributed = samples.map((s) => attribute(s, m, jit));

    // Scale the counter interval (which includes perf's start-up and exit) to
    // the span the samples actually cover.
    let tMin = Infinity;
    let tMax = -Infinity;
    for (const s of samples) {
      tMin = Math.min(tMin, s.timeNs);
      tMax = Math.max(tMax, s.timeNs);
    }
    const sampled = (tMax - tMin) / 1e9;
    const scale = sampled / m.window.seconds;
    const wirePackets = ((m.window.tunBytes - HDR * m.window.tunPackets) / MSS) * scale;
    const sec = (n: number) => (n * PERIOD_NS) / 1e9;
    const nsPerPkt = (n: number) => (n * PERIOD_NS) / wirePackets;
    const total = samples.length;
    const pct = (n: number) => ((100 * n) / total).toFixed(1);

    const count = (who: Who) => attributed.filter((a) => a.who === who).length;
    const nSender = count("sender");
    const nReceiver = count("receiver");
    const ncpu = cpus().length;
    const gb = (m.window.tunBytes * scale) / 1e9;

    const out: string[] = [];
    const p = (s = "") => out.push(s);
    p(`# Profile: tunnel daemons under iperf3 single-stream TCP${REVERSE ? " (-R)" : ""}`);
    p();
    p(
      `Two run-device.ts daemons in namespaces over veth, MTU ${MTU}; perf record -a, cpu-clock every ${PERIOD_NS / 1000} µs on ${ncpu} CPUs, ${sampled.toFixed(2)} s sampled in the middle of a ${m.iperf.seconds.toFixed(1)} s flow.`,
    );
    p();
    p(`| | |`);
    p(`| --- | --- |`);
    p(`| throughput (whole iperf3 run) | ${(m.iperf.bitsPerSecond / 1e9).toFixed(2)} Gb/s, ${m.iperf.retransmits} retransmits |`);
    p(
      `| throughput (sampled window, sender TUN bytes) | ${((gb * 8) / sampled).toFixed(2)} Gb/s, ≈ ${Math.round(wirePackets)} wire packets (${(m.window.tunBytes / Math.max(1, m.window.tunPackets) / 1024).toFixed(1)} KiB per TUN read) |`,
    );
    p(
      `| daemon CPU, /proc (${m.window.seconds.toFixed(2)} s around perf) | sender ${m.window.cpuSender.toFixed(2)} s, receiver ${m.window.cpuReceiver.toFixed(2)} s → ${((m.window.cpuSender + m.window.cpuReceiver) / (m.window.tunBytes / 1e9)).toFixed(2)} CPU-s/GB |`,
    );
    p(
      `| daemon CPU, perf samples | sender ${sec(nSender).toFixed(2)} s, receiver ${sec(nReceiver).toFixed(2)} s → ${(sec(nSender + nReceiver) / gb).toFixed(2)} CPU-s/GB |`,
    );
    // A tickless idle CPU takes fewer cpu-clock samples than it should; the
    // coverage says how much of the CPUs' time the samples account for.
    const expected = (sampled * ncpu * 1e9) / PERIOD_NS;
    p(
      `| samples | ${total} = ${((100 * total) / expected).toFixed(0)}% of ${ncpu} CPUs × ${sampled.toFixed(2)} s (missing ones are mostly idle time); sender pid ${m.senderPid}: ${nSender}, receiver pid ${m.receiverPid}: ${nReceiver} |`,
    );
    const jitCodes = [...jit.values()].reduce((s, j) => s + j.size, 0);
    p(`| jitdump | ${jit.size} files, ${jitCodes} code loads |`);
    p();

    p(`## CPU by component`);
    p();
    p(`% of all samples; ns of CPU per 1420-byte wire packet.`);
    p();
    p(`| component | sender % | receiver % | all % | sender ns/pkt | receiver ns/pkt | all ns/pkt |`);
    p(`| --- | ---: | ---: | ---: | ---: | ---: | ---: |`);
    const comps = tally(attributed, (a) => a.component);
    for (const r of comps) {
      const all = r.sender + r.receiver + r.rest;
      p(
        `| ${r.name} | ${pct(r.sender)} | ${pct(r.receiver)} | ${pct(all)} | ${nsPerPkt(r.sender).toFixed(0)} | ${nsPerPkt(r.receiver).toFixed(0)} | ${nsPerPkt(all).toFixed(0)} |`,
      );
    }
    p(
      `| **daemons total** | ${pct(nSender)} | ${pct(nReceiver)} | ${pct(nSender + nReceiver)} | ${nsPerPkt(nSender).toFixed(0)} | ${nsPerPkt(nReceiver).toFixed(0)} | ${nsPerPkt(nSender + nReceiver).toFixed(0)} |`,
    );
    p();

    const detail = (title: string, comp: Component | Component[], top: number, withTiers = false): Row[] => {
      const set = new Set<Component>(Array.isArray(comp) ? comp : [comp]);
      const rows = tally(
        attributed.filter((a) => set.has(a.component)),
        (a) => a.detail || "[unknown]",
      );
      if (rows.length === 0) return rows;
      p(`## ${title}`);
      p();
      p(`| ${withTiers ? "function | tiers" : "symbol"} | sender % | receiver % | all % | ns/pkt |`);
      p(`| --- |${withTiers ? " --- |" : ""} ---: | ---: | ---: | ---: |`);
      for (const r of rows.slice(0, top)) {
        const all = r.sender + r.receiver + r.rest;
        const name = r.name.replace(/\|/g, "\\|");
        p(
          `| ${name}${withTiers ? ` | ${(r.tiers ?? []).join(", ")}` : ""} | ${pct(r.sender)} | ${pct(r.receiver)} | ${pct(all)} | ${nsPerPkt(all).toFixed(0)} |`,
        );
      }
      if (rows.length > top) {
        const rest = rows.slice(top).reduce((s, r) => s + r.sender + r.receiver + r.rest, 0);
        p(`| (${rows.length - top} more)${withTiers ? " |" : ""} | | | ${pct(rest)} | ${nsPerPkt(rest).toFixed(0)} |`);
      }
      p();
      return rows;
    };
    const jsRows = detail("JS functions in the daemons (tiers merged)", C.js, 20, true);
    const kernelRows = detail("Kernel symbols in the daemons' threads", C.kernel, 10);
    if (kernelRows.length > 0) {
      // cpu-clock samples come from a timer interrupt (not an NMI), so time
      // spent with interrupts off is charged to where they come back on.
      p(
        `cpu-clock samples come from a timer interrupt: time with interrupts off (the softirq network work that sendmmsg/TUN writes trigger: veth, UDP, TCP) is charged to where interrupts are re-enabled, e.g. handle_softirqs and _raw_spin_unlock_irqrestore.`,
      );
      p();
    }
    const libcRows = detail("libc symbols in the daemons", C.libc, 10);
    const glueRows = detail("libcrypto named symbols in the daemons", [C.glue, C.cipherNamed], 10);
    const bunRows = detail("bun.exe symbols in the daemons", C.bun, 10);
    const otherLibRows = detail("Other libraries in the daemons", C.otherLib, 10);
    const otherRows = detail("Other processes (by command)", C.other, 10);

    // Which daemon threads burn the CPU: the data-plane Worker, the main
    // thread, JIT compiler and GC helper threads.
    const threads = tally(
      samples.map((s, i) => ({ ...attributed[i]!, detail: `${s.comm} (tid ${s.tid})` })).filter((a) => a.who !== "rest"),
      (a) => `${a.who}: ${a.detail}`,
    );
    p(`## Daemon threads`);
    p();
    p(`| thread | % of all | ns/pkt |`);
    p(`| --- | ---: | ---: |`);
    for (const r of threads.slice(0, 12)) p(`| ${r.name} | ${pct(r.sender + r.receiver)} | ${nsPerPkt(r.sender + r.receiver).toFixed(0)} |`);
    p();
    console.log(out.join("\n"));

    if (JSON_PATH) {
      const json = {
        seconds: SECONDS,
        reverse: REVERSE,
        periodNs: PERIOD_NS,
        sampledSeconds: sampled,
        iperf: m.iperf,
        window: { ...m.window, wirePackets, scale },
        pids: { sender: m.senderPid, receiver: m.receiverPid },
        samples: { total, sender: nSender, receiver: nReceiver },
        components: comps,
        js: jsRows,
        kernel: kernelRows,
        libc: libcRows,
        libcrypto: glueRows,
        bun: bunRows,
        otherLibraries: otherLibRows,
        otherProcesses: otherRows,
        threads,
      };
      writeFileSync(JSON_PATH, `${JSON.stringify(json, null, 2)}\n`);
    }
    if (KEEP) console.error(`kept perf data and jitdumps in ${workDir} (perf report -i ${join(workDir, "perf.data")})`);
  } finally {
    if (!KEEP && existsSync(workDir)) rmSync(workDir, { recursive: true, force: true });
  }
}

await main();
process.exit(0);
