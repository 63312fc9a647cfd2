// The measuring instruments: iperf3 (one-shot server per run), ping, and
// /proc readings of a daemon. A copy of test/support's iperf3() with the
// changes this bench needs: its processes are tracked (so SIGINT stops
// them), a hung client is killed, and -P/-R come back with the totals.
import { readFileSync } from "node:fs";
import type { Netns } from "../../test/support/netns.ts";
import { spawnIn, stop } from "./procs.ts";

export { cpuSeconds } from "../../test/support/netns.ts";

export interface IperfOutcome {
  bitsPerSecond: number;
  /** bytes the receiver got (what CPU-s/GB divides by). */
  bytes: number;
  seconds: number;
  /** retransmits as iperf3 itself reports them (the sender's count). */
  retransmits: number;
}

export async function iperf3(
  client: Netns,
  server: Netns,
  address: string,
  opts: { seconds: number; reverse?: boolean; parallel?: number; port?: number },
): Promise<IperfOutcome> {
  const port = String(opts.port ?? 5201);
  // -1: the server serves exactly this run and exits, so no state carries over.
  const srv = spawnIn(server, ["iperf3", "-s", "-1", "-p", port, "-B", address]);
  try {
    await waitForListen(server, port);
    const args = ["iperf3", "-c", address, "-p", port, "-t", String(opts.seconds), "-J"];
    if (opts.reverse) args.push("-R");
    if (opts.parallel && opts.parallel > 1) args.push("-P", String(opts.parallel));
    const cli = spawnIn(client, args);
    // A tunnel that stops forwarding mid-run would leave iperf3 waiting forever.
    const timer = setTimeout(() => cli.proc.kill("SIGKILL"), (opts.seconds + 30) * 1000);
    const code = await cli.finished;
    clearTimeout(timer);
    const out = cli.stdout();
    let report: {
      error?: string;
      end?: {
        sum_received?: { bits_per_second: number; bytes: number; seconds: number };
        sum_sent?: { retransmits?: number };
      };
    } = {};
    try {
      report = JSON.parse(out || "{}");
    } catch {
      throw new Error(`iperf3 printed no JSON (exit ${code}): ${cli.output().slice(-300)}`);
    }
    if (code !== 0 || report.error) throw new Error(`iperf3 client failed (exit ${code}): ${report.error ?? cli.output().slice(-300)}`);
    const received = report.end?.sum_received;
    if (!received) throw new Error("iperf3 reported no receiver totals");
    return {
      bitsPerSecond: received.bits_per_second,
      bytes: received.bytes,
      seconds: received.seconds,
      retransmits: report.end?.sum_sent?.retransmits ?? 0,
    };
  } finally {
    await stop(srv.proc, 500);
  }
}

async function waitForListen(ns: Netns, port: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const out = ns.exec(["ss", "-Htln", `sport = :${port}`], { allowFail: true });
    if (out.trim().length > 0) return;
    await Bun.sleep(20);
  }
  throw new Error(`nothing listens on port ${port} in ${ns.name}`);
}

/** pingTimes sends count pings at intervalSec and returns each reply's RTT in ms. */
export async function pingTimes(ns: Netns, address: string, count: number, intervalSec: number): Promise<number[]> {
  // -w bounds the whole run, so a dead tunnel cannot hang the bench.
  const deadline = Math.ceil(count * intervalSec) + 5;
  const p = spawnIn(ns, ["ping", "-n", "-c", String(count), "-i", String(intervalSec), "-W", "1", "-w", String(deadline), address]);
  await p.finished;
  return [...p.stdout().matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]));
}

/** waitForPath pings until one reply comes back (the handshake is done), or throws. */
export async function waitForPath(ns: Netns, address: string, timeoutMs = 10_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if ((await pingTimes(ns, address, 1, 0.2)).length > 0) return;
  }
  throw new Error(`no ping reply from ${address} within ${timeoutMs / 1000} s`);
}

function statusField(pid: number, field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** peakRssMB is VmHWM: the highest resident set the process has had since it started. */
export const peakRssMB = (pid: number): number => statusField(pid, "VmHWM");

/** rssMB is VmRSS: the resident set now. */
export const rssMB = (pid: number): number => statusField(pid, "VmRSS");

/** Counters from nstat that tell whether the network itself lost or retransmitted. */
export interface NetCounters {
  tcpRetransSegs: number;
  udpRcvbufErrors: number;
  udpInErrors: number;
}

export function netCounters(ns: Netns): NetCounters {
  const c = ns.nstat();
  const get = (k: string) => c[k] ?? 0;
  return {
    tcpRetransSegs: get("TcpRetransSegs"),
    udpRcvbufErrors: get("UdpRcvbufErrors") + get("Udp6RcvbufErrors"),
    udpInErrors: get("UdpInErrors") + get("Udp6InErrors"),
  };
}

export function diffCounters(a: NetCounters, b: NetCounters): NetCounters {
  return {
    tcpRetransSegs: b.tcpRetransSegs - a.tcpRetransSegs,
    udpRcvbufErrors: b.udpRcvbufErrors - a.udpRcvbufErrors,
    udpInErrors: b.udpInErrors - a.udpInErrors,
  };
}

/**
 * tunDrops is what the TUN interface itself dropped (rx+tx "dropped"): with
 * a daemon that reads too slowly, the kernel drops at the TUN's queue rather
 * than at the UDP socket, and these are where that loss shows.
 */
export function tunDrops(ns: Netns, ifname: string): number {
  const [link] = JSON.parse(ns.ip("-j", "-s", "link", "show", "dev", ifname)) as { stats64?: { rx: { dropped: number }; tx: { dropped: number } } }[];
  return (link?.stats64?.rx.dropped ?? 0) + (link?.stats64?.tx.dropped ?? 0);
}
