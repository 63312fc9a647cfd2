// bun bench/flood.ts [--rates 20000,max] [--seconds 14] [--kind mac1-init] [--only ID,...]
//
// The handshake-flood side-by-side (issue 11 §1): for each implementation
// (dist/tunnel, Debian's wireguard-go, anything in BENCH_IMPLS) and each
// flood rate, an established tunnel A ↔ B, a third namespace C flooding B's
// listen port with valid-mac1 initiations (test/reliability/flood/), and a
// fourth, D, a legitimate peer of B that starts its first handshake during
// the flood:
//
//   A 198.18.0.1 ──veth── B 198.18.0.2 (udp 51821) ──veth── C attacker 198.19.1.3
//                            └──veth── D fresh peer 198.18.0.4 (198.19.2.4)
//
// Reported per row: the established session's ping loss and median RTT
// under the flood, iperf3 throughput under the flood as a share of the same
// setup unflooded, how long D's first handshake took (first reply of a
// 10 Hz ping), the cookie replies the attacker got back, and B's peak RSS.
// The control column repeats the same sender at the same rate against a
// port nobody listens on: on a two-core machine the attacker's own process
// takes a core, and what the tunnel keeps of the control figure is the cost
// of the defence itself rather than of sharing the machine with the sender.
// Targets (issue 11): loss ≤ 1 %, ≥ 50 % throughput, handshake ≤ 6 s,
// cookie replies > 0, RSS ≤ 150 MB.
import { copyFileSync, existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { Netns, run } from "../test/support/netns.ts";
import { describeMachine } from "./side-by-side/machine.ts";
import { iperf3, peakRssMB, pingTimes, rssMB } from "./side-by-side/measure.ts";
import { removeOnExit, spawnIn, stop } from "./side-by-side/procs.ts";
import { type Impl, makeKeys, setUp, startDaemon, stopDaemon } from "./side-by-side/topology.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const FLOOD = join(ROOT, "test/reliability/flood/flood.ts");
const B_FLOOD_SIDE = "198.19.1.2";
const B_PEER_SIDE = "198.19.2.2";
const B_PORT = 51821;

interface Options {
  rates: (number | "max")[];
  seconds: number;
  /** kind is the generator's --kind: mac1-init (the attack of issue 11), bad-mac1-init, garbage, transport. */
  kind: string;
  only: string[] | null;
}

export interface FloodRow {
  impl: string;
  kind: string;
  rate: number | "max";
  attackerSentPerSecond: number;
  cookieReplies: number;
  pingLossPercent: number;
  pingMedianMs: number | null;
  unfloodedGbps: number;
  /** controlGbps: throughput while the same sender floods a closed port on B (the attacker's CPU, no WireGuard work). */
  controlGbps: number;
  controlShare: number;
  floodedGbps: number;
  throughputShare: number;
  freshHandshakeSeconds: number | null;
  peakRssMB: number;
  rssAfterMB: number;
}

function parseOptions(argv: string[]): Options {
  const o: Options = { rates: [20000, "max"], seconds: 14, kind: "mac1-init", only: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const v = argv[++i];
    if (v === undefined) throw new Error(`${a} needs a value`);
    if (a === "--rates") o.rates = v.split(",").map((r) => (r === "max" ? "max" : Number(r)));
    else if (a === "--seconds") o.seconds = Number(v);
    else if (a === "--only") o.only = v.split(",");
    else if (a === "--kind") o.kind = v;
    else throw new Error(`unknown option ${a}; usage: bun bench/flood.ts [--rates 20000,max] [--seconds 14] [--only ID,...]`);
  }
  if (o.rates.some((r) => r !== "max" && !(r > 0)) || !(o.seconds >= 10)) throw new Error("--rates are positive numbers or max; --seconds ≥ 10");
  return o;
}

function implementations(o: Options, tunnelCopy: string): Impl[] {
  const impls: Impl[] = [
    { id: "tunnel", bin: tunnelCopy, ours: true },
    { id: "wireguard-go", bin: Bun.which("wireguard-go")! },
  ];
  for (const path of (process.env.BENCH_IMPLS ?? "").split(/\s+/).filter(Boolean)) {
    if (!existsSync(path) || !(statSync(path).mode & 0o111)) throw new Error(`BENCH_IMPLS: ${path} is not an executable file`);
    impls.push({ id: impls.some((i) => i.id === basename(path)) ? path : basename(path), bin: path });
  }
  return o.only === null ? impls : impls.filter((i) => o.only!.includes(i.id));
}

/**
 * firstReplySeconds pings at 10 Hz from ns and returns how long after the
 * first ping the first reply arrived (the first packet waits for the
 * handshake, and its late reply still counts).
 */
async function firstReplySeconds(ns: Netns, address: string, timeoutSec: number): Promise<number | null> {
  const p = spawnIn(ns, ["ping", "-n", "-i", "0.1", "-W", String(timeoutSec), "-w", String(timeoutSec), address]);
  const t0 = performance.now();
  while (p.proc.exitCode === null) {
    if (p.stdout().includes("bytes from")) {
      const seconds = (performance.now() - t0) / 1000;
      await stop(p.proc, 200);
      return seconds;
    }
    await Bun.sleep(10);
  }
  return null;
}

async function measureRow(impl: Impl, kind: string, rate: number | "max", seconds: number, seq: number, keyDir: string): Promise<FloodRow> {
  const keys = makeKeys(keyDir);
  const dKey = makeKeys(mkdtempSync(join(keyDir, "d-"))).a;
  const setup = await setUp(impl, seq, keys);
  const c = Netns.create("bfld", `${seq}c`);
  const d = Netns.create("bfld", `${seq}d`);
  let dDaemon: Awaited<ReturnType<typeof startDaemon>> | null = null;
  try {
    const b = setup.b;
    const bDaemon = setup.daemons[1]!;
    c.vethTo(b, "vc", "198.19.1.3/24", "vbc", `${B_FLOOD_SIDE}/24`);
    d.vethTo(b, "vd", "198.19.2.4/24", "vbd", `${B_PEER_SIDE}/24`);
    b.exec(["wg", "set", bDaemon.ifname, "peer", dKey.pub, "allowed-ips", "198.18.0.4/32"]);
    const dIf = `bf${process.pid}d`;
    dDaemon = await startDaemon(impl, d, dIf);
    d.exec(["wg", "set", dIf, "private-key", dKey.file, "peer", keys.b.pub, "allowed-ips", "198.18.0.2/32", "endpoint", `${B_PEER_SIDE}:${B_PORT}`]);
    d.ip("addr", "add", "198.18.0.4/24", "dev", dIf);
    d.ip("link", "set", dIf, "mtu", "1420", "up");

    await pingTimes(setup.a, setup.target, 3, 0.2); // A ↔ B handshake before anything is measured
    const unflooded = await iperf3(setup.a, b, setup.target, { seconds: 3 });
    // The same flood from C, at B's tunnel port or at a closed one (the control: what the load alone costs).
    const floodAt = (port: number, forSeconds: number) =>
      spawnIn(c, [
        process.execPath,
        FLOOD,
        "--target",
        `${B_FLOOD_SIDE}:${port}`,
        "--kind",
        kind,
        "--pubkey",
        keys.b.pub,
        "--rate",
        String(rate),
        "--seconds",
        String(forSeconds),
        "--json",
        "--quiet",
      ]);
    const control = floodAt(9, 5);
    await Bun.sleep(1000);
    const controlled = await iperf3(setup.a, b, setup.target, { seconds: 3 }).catch(() => ({ bitsPerSecond: 0 }));
    await control.finished;

    const flood = floodAt(B_PORT, seconds);
    await Bun.sleep(1000);
    const [pings, fresh] = await Promise.all([pingTimes(setup.a, setup.target, 400, 0.01), firstReplySeconds(d, "198.18.0.2", 8)]);
    const flooded = await iperf3(setup.a, b, setup.target, { seconds: 3 }).catch(() => ({ bitsPerSecond: 0 }));
    const peak = peakRssMB(bDaemon.pid);
    const code = await flood.finished;
    if (code !== 0) throw new Error(`flood generator exited ${code}: ${flood.output().slice(-400)}`);
    const attack = JSON.parse(flood.stdout().trim().split("\n").pop()!) as { sentPerSecond: number; cookieReplies: number };
    const sorted = [...pings].sort((x, y) => x - y);
    return {
      impl: impl.id,
      kind,
      rate,
      attackerSentPerSecond: Math.round(attack.sentPerSecond),
      cookieReplies: attack.cookieReplies,
      pingLossPercent: Math.round((1 - pings.length / 400) * 1000) / 10,
      pingMedianMs: sorted.length === 0 ? null : sorted[sorted.length >> 1]!,
      unfloodedGbps: unflooded.bitsPerSecond / 1e9,
      floodedGbps: flooded.bitsPerSecond / 1e9,
      throughputShare: flooded.bitsPerSecond / unflooded.bitsPerSecond,
      controlGbps: controlled.bitsPerSecond / 1e9,
      controlShare: flooded.bitsPerSecond / controlled.bitsPerSecond,
      freshHandshakeSeconds: fresh,
      peakRssMB: Math.max(peak, peakRssMB(bDaemon.pid)),
      rssAfterMB: rssMB(bDaemon.pid),
    };
  } finally {
    if (dDaemon !== null) await stopDaemon(dDaemon);
    c.delete();
    d.delete();
    await setup.close();
  }
}

function markdown(rows: FloodRow[]): string {
  const lines = [
    "| implementation | flood rate (sent/s) | ping loss | ping median ms | throughput under flood | vs. sender at a closed port | fresh handshake s | cookie replies | peak RSS MB |",
    "|---|---|---|---|---|---|---|---|---|",
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.impl} | ${r.rate === "max" ? `max (${r.attackerSentPerSecond})` : r.attackerSentPerSecond} | ${r.pingLossPercent} % | ${r.pingMedianMs?.toFixed(3) ?? "none"} | ` +
        `${r.floodedGbps.toFixed(2)} of ${r.unfloodedGbps.toFixed(2)} Gb/s (${Math.round(r.throughputShare * 100)} %) | ${Math.round(r.controlShare * 100)} % of ${r.controlGbps.toFixed(2)} | ${r.freshHandshakeSeconds?.toFixed(1) ?? "none in 8 s"} | ${r.cookieReplies} | ${r.peakRssMB.toFixed(0)} |`,
    );
  }
  return lines.join("\n");
}

if (import.meta.main) {
  const o = parseOptions(process.argv.slice(2));
  const tunnel = join(ROOT, "dist/tunnel");
  if (!existsSync(tunnel)) throw new Error("dist/tunnel is missing: run npm run build first");
  const keyDir = mkdtempSync(join(tmpdir(), "bench-flood-"));
  removeOnExit(keyDir);
  // A private copy: a rebuild during the run cannot change what is measured.
  const copy = join(keyDir, "tunnel");
  copyFileSync(tunnel, copy);
  const machine = describeMachine(ROOT);
  const rows: FloodRow[] = [];
  let seq = 0;
  for (const rate of o.rates) {
    for (const impl of implementations(o, copy)) {
      process.stderr.write(`${impl.id} under a ${rate}/s ${o.kind} flood…\n`);
      const row = await measureRow(impl, o.kind, rate, o.seconds, seq++, keyDir);
      process.stderr.write(`  ${JSON.stringify(row)}\n`);
      rows.push(row);
    }
  }
  console.log(
    `${o.kind} flood side-by-side, ${machine.date}, commit ${machine.gitCommit}${machine.gitDirty ? " (dirty)" : ""}, ${machine.cpuModel}, ${machine.cores} cores, ${machine.wireguardGo}\n`,
  );
  console.log(markdown(rows));
  const out = join(ROOT, "bench/results", `flood-${Date.now()}.json`);
  run(["mkdir", "-p", join(ROOT, "bench/results")]);
  writeFileSync(out, JSON.stringify({ machine, rows }, null, 2));
  rmSync(keyDir, { recursive: true, force: true });
}
