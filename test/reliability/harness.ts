// The reliability suite's set-up: two `tunnel up` daemons (the compiled
// binary) with an established session, an attacker namespace wired to the
// responder, and the measurements the tests assert on (ping loss, the flood
// generator's counts, the daemon's memory, its drop counters).
//
//   ns a: A 198.18.S.1/24 (peer B)      C 198.18.S+1.3/24 (peer B; brought up on demand)
//         veth 198.19.S.1 ───────────── veth 198.19.S.2   ns b: B 198.18.S.2/24 + 198.18.S+1.2/24
//                                       veth 198.19.S+1.2 ── veth 198.19.S+1.1   ns f (attacker)
//
// B listens on the wildcard, so the attacker reaches it at 198.19.S+1.2.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DeviceStatus } from "../../src/device/device-status.ts";
import { tunnelBinary } from "../support/binary.ts";
import { Netns, pingUntil, removeStale, run } from "../support/netns.ts";
import { down, keyPair, status, TAG, tomlConfig, up, writeConfig, type KeyPair } from "../e2e/harness.ts";
import type { FloodResult } from "./flood/sender.ts";

const FLOOD = new URL("./flood/flood.ts", import.meta.url).pathname;

export interface Topology {
  bin: string;
  dir: string;
  nsA: Netns;
  nsB: Netns;
  nsF: Netns;
  names: { a: string; b: string; c: string };
  keys: { a: KeyPair; b: KeyPair; c: KeyPair };
  ports: { a: number; b: number; c: number };
  inner: { a: string; b: string; c: string; bForC: string };
  /** bOuterForF is B's underlay address as the attacker sees it. */
  bOuterForF: string;
  configs: { a: string; b: string; c: string };
  stop(): void;
}

/** startTopology brings up A and B (session established) and the attacker namespace; C is configured, not up. */
export async function startTopology(prefix: string, subnet: number, basePort: number): Promise<Topology> {
  const bin = tunnelBinary();
  removeStale(prefix);
  const dir = mkdtempSync(join(tmpdir(), `tunnel-${prefix}-`));
  const nsA = Netns.create(prefix, "a");
  const nsB = Netns.create(prefix, "b");
  const nsF = Netns.create(prefix, "f");
  const names = { a: `${prefix}a${TAG}`, b: `${prefix}b${TAG}`, c: `${prefix}c${TAG}` };
  const t: Topology = {
    bin,
    dir,
    nsA,
    nsB,
    nsF,
    names,
    keys: { a: keyPair(), b: keyPair(), c: keyPair() },
    ports: { a: basePort, b: basePort + 1, c: basePort + 2 },
    inner: { a: `198.18.${subnet}.1`, b: `198.18.${subnet}.2`, c: `198.18.${subnet + 1}.3`, bForC: `198.18.${subnet + 1}.2` },
    bOuterForF: `198.19.${subnet + 1}.2`,
    configs: { a: "", b: "", c: "" },
    stop: () => {
      for (const [ns, name] of [
        [nsA, names.a],
        [nsA, names.c],
        [nsB, names.b],
      ] as const)
        down(bin, ns, name);
      for (const ns of [nsA, nsB, nsF]) ns.delete();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    nsA.vethTo(nsB, "va", `198.19.${subnet}.1/24`, "vb", `198.19.${subnet}.2/24`);
    nsF.vethTo(nsB, "vatk", `198.19.${subnet + 1}.1/24`, "vbatk", `${t.bOuterForF}/24`);
    const bUnderlay = `198.19.${subnet}.2`;
    t.configs.b = writeConfig(
      dir,
      names.b,
      tomlConfig(
        names.b,
        t.keys.b.priv,
        t.ports.b,
        [`${t.inner.b}/24`, `${t.inner.bForC}/24`],
        [
          { pub: t.keys.a.pub, allowed: [`${t.inner.a}/32`], endpoint: `198.19.${subnet}.1:${t.ports.a}` },
          { pub: t.keys.c.pub, allowed: [`${t.inner.c}/32`] },
        ],
      ),
    );
    t.configs.a = writeConfig(
      dir,
      names.a,
      tomlConfig(
        names.a,
        t.keys.a.priv,
        t.ports.a,
        [`${t.inner.a}/24`],
        [{ pub: t.keys.b.pub, allowed: [`${t.inner.b}/32`], endpoint: `${bUnderlay}:${t.ports.b}` }],
      ),
    );
    t.configs.c = writeConfig(
      dir,
      names.c,
      tomlConfig(
        names.c,
        t.keys.c.priv,
        t.ports.c,
        [`${t.inner.c}/24`],
        [{ pub: t.keys.b.pub, allowed: [`${t.inner.bForC}/32`], endpoint: `${bUnderlay}:${t.ports.b}` }],
      ),
    );
    up(bin, nsB, t.configs.b);
    up(bin, nsA, t.configs.a);
    await pingUntil(nsA, t.inner.b, 30);
    return t;
  } catch (e) {
    t.stop();
    throw e;
  }
}

/**
 * flood runs the generator inside ns with the given CLI arguments and returns
 * its JSON totals. It runs at a raised priority: a real attacker brings its own
 * CPU, here it shares two cores with the daemon it floods and must not be the
 * one that falls behind.
 */
export async function flood(ns: Netns, args: string[]): Promise<FloodResult> {
  const p = ns.spawn(["nice", "-n", "-10", process.execPath, FLOOD, "--json", "--quiet", ...args]);
  const killer = setTimeout(() => p.kill("SIGKILL"), 120_000);
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  clearTimeout(killer);
  if (code !== 0) throw new Error(`flood ${args.join(" ")} exited ${code}: ${err}`);
  return JSON.parse(out) as FloodResult;
}

export interface PingStats {
  sent: number;
  received: number;
  lossPercent: number;
  avgMs: number | null;
}

/** pingStats runs `ping -c count -i interval` from ns and parses its summary. */
export async function pingStats(ns: Netns, address: string, count: number, intervalSeconds: number): Promise<PingStats> {
  const p = ns.spawn(["ping", "-q", "-c", String(count), "-i", String(intervalSeconds), "-W", "1", address]);
  const out = await new Response(p.stdout).text();
  await p.exited;
  const m = /(\d+) packets transmitted, (\d+) received/.exec(out);
  if (!m) throw new Error(`ping printed no summary: ${out}`);
  const sent = Number(m[1]);
  const received = Number(m[2]);
  const avg = /= [\d.]+\/([\d.]+)\//.exec(out);
  return { sent, received, lossPercent: sent === 0 ? 100 : ((sent - received) / sent) * 100, avgMs: avg ? Number(avg[1]) : null };
}

/** daemonPid is the one `tunnel` daemon serving ifname inside ns (`tunnel up` daemonizes, so we look it up). */
export function daemonPid(ns: Netns, ifname: string): number {
  for (const pid of run(["ip", "netns", "pids", ns.name], { allowFail: true }).split("\n").filter(Boolean)) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
      if (cmd.includes(ifname)) return Number(pid);
    } catch {
      // exited meanwhile
    }
  }
  throw new Error(`no daemon for ${ifname} in ${ns.name}`);
}

/** memoryMB reads VmRSS and VmHWM (peak) of pid. */
export function memoryMB(pid: number): { rss: number; peak: number } {
  const s = readFileSync(`/proc/${pid}/status`, "utf8");
  const field = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, "m").exec(s)?.[1] ?? NaN) / 1024;
  return { rss: field("VmRSS"), peak: field("VmHWM") };
}

/** alive reports whether pid still runs (and is not a zombie). */
export function alive(pid: number): boolean {
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8"));
  } catch {
    return false;
  }
}

/** drops reads the daemon's counted drops by reason (`tunnel status NAME --json`). */
export function drops(bin: string, ifname: string): Record<string, number> {
  return (status(bin, ifname) as DeviceStatus).drops;
}

/** dropDelta is after − before for every reason that moved. */
export function dropDelta(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) if (v - (before[k] ?? 0) !== 0) out[k] = v - (before[k] ?? 0);
  return out;
}

/** udpRcvbufErrors is the namespace's kernel count of datagrams dropped at a full socket buffer. */
export function udpRcvbufErrors(ns: Netns): number {
  return ns.nstat().UdpRcvbufErrors ?? 0;
}

export { up, down, status };
