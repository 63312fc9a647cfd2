// One measurement: a fresh setup, the idle ping first (so no queue left by
// iperf3 inflates it), then one iperf3 run with the daemons' CPU and the
// namespaces' counters read right around it (single-stream runs also ping
// through the saturated tunnel: the latency a user feels during a big
// transfer), then peak RSS before teardown.
import { run } from "../../test/support/netns.ts";
import { cpuSeconds, diffCounters, iperf3, netCounters, peakRssMB, pingTimes, tunDrops, waitForPath } from "./measure.ts";
import { median } from "./stats.ts";
import { setUp, type Impl, type Keys } from "./topology.ts";

export type Mode = "single" | "p4" | "reverse";

export interface Sample {
  impl: string;
  mode: Mode;
  round: number;
  gbps: number;
  /** bytes the receiver got. */
  bytes: number;
  /** TCP retransmits: TcpRetransSegs of the sending namespace (right for -R and -P too). */
  retransmits: number;
  /** iperf3's own retransmit count, kept to cross-check the one above. */
  iperfRetransmits: number;
  /** utime+stime of both daemons during the iperf3 run; null for the underlay. */
  cpuSeconds: number | null;
  cpuSecondsPerGB: number | null;
  /** VmHWM of A's and B's daemon in MB; null for the underlay. */
  peakRssMB: [number, number] | null;
  /** median RTT of the idle ping; null if no reply came. */
  pingMs: number | null;
  pingReplies: number;
  /** median RTT of pings sent while iperf3 saturates the tunnel (single-stream runs); null if none came back. */
  loadedPingMs: number | null;
  loadedPingReplies: number;
  /** UDP datagrams the kernel dropped for a full socket receive buffer (both namespaces). */
  udpRcvbufErrors: number;
  udpInErrors: number;
  /** packets both TUN interfaces dropped (queue full); null for the underlay. */
  tunDrops: number | null;
  /** what `tunnel status --json` said after the run (our daemon only): offloads at work. */
  status?: unknown[];
}

export interface SampleOptions {
  seconds: number;
  pings: number;
  tunnelBin: string;
}

export async function measureOnce(impl: Impl, mode: Mode, round: number, seq: number, keys: Keys, o: SampleOptions): Promise<Sample> {
  const s = await setUp(impl, seq, keys);
  try {
    await waitForPath(s.a, s.target);
    const rtts = await pingTimes(s.a, s.target, o.pings, 0.01);
    const sender = mode === "reverse" ? s.b : s.a;
    const net0 = { a: netCounters(s.a), b: netCounters(s.b), sender: netCounters(sender) };
    const tunNs = [s.a, s.b];
    const readTunDrops = () => s.daemons.reduce((sum, d, i) => sum + tunDrops(tunNs[i]!, d.ifname), 0);
    const tun0 = readTunDrops();
    const cpu0 = s.daemons.map((d) => cpuSeconds(d.pid));
    const transfer = iperf3(s.a, s.b, s.target, { seconds: o.seconds, reverse: mode === "reverse", parallel: mode === "p4" ? 4 : 1 });
    const loaded = mode === "single" ? pingUnderLoad(s.a, s.target, o.seconds) : Promise.resolve([]);
    const [r, loadedRtts] = await Promise.all([transfer, loaded]);
    const cpu1 = s.daemons.map((d) => cpuSeconds(d.pid));
    const tunDropped = readTunDrops() - tun0;
    const dA = diffCounters(net0.a, netCounters(s.a));
    const dB = diffCounters(net0.b, netCounters(s.b));
    const dSender = diffCounters(net0.sender, netCounters(sender));
    const hasDaemons = s.daemons.length === 2;
    const cpu = hasDaemons ? cpu1.reduce((x, y) => x + y, 0) - cpu0.reduce((x, y) => x + y, 0) : null;
    const sample: Sample = {
      impl: impl.id,
      mode,
      round,
      gbps: r.bitsPerSecond / 1e9,
      bytes: r.bytes,
      retransmits: dSender.tcpRetransSegs,
      iperfRetransmits: r.retransmits,
      cpuSeconds: cpu,
      cpuSecondsPerGB: cpu === null ? null : cpu / (r.bytes / 1e9),
      peakRssMB: hasDaemons ? [peakRssMB(s.daemons[0]!.pid), peakRssMB(s.daemons[1]!.pid)] : null,
      pingMs: rtts.length > 0 ? median(rtts) : null,
      pingReplies: rtts.length,
      loadedPingMs: loadedRtts.length > 0 ? median(loadedRtts) : null,
      loadedPingReplies: loadedRtts.length,
      udpRcvbufErrors: dA.udpRcvbufErrors + dB.udpRcvbufErrors,
      udpInErrors: dA.udpInErrors + dB.udpInErrors,
      tunDrops: hasDaemons ? tunDropped : null,
    };
    if (impl.ours) sample.status = s.daemons.map((d) => ourStatus(o.tunnelBin, d.ifname));
    return sample;
  } finally {
    await s.close();
  }
}

/** LOADED_PING_INTERVAL_SEC spaces the pings under load (5 a second: a probe, not load of its own). */
const LOADED_PING_INTERVAL_SEC = 0.2;

/** pingUnderLoad pings during an iperf3 run of seconds, from 1 s in (once the window has opened) to 1 s before its end. */
async function pingUnderLoad(ns: Parameters<typeof pingTimes>[0], target: string, seconds: number): Promise<number[]> {
  const span = seconds - 2;
  if (span <= 0) return [];
  await Bun.sleep(1000);
  return pingTimes(ns, target, Math.max(1, Math.floor(span / LOADED_PING_INTERVAL_SEC)), LOADED_PING_INTERVAL_SEC);
}

/** ourStatus keeps the part of `tunnel status --json` that shows whether the offloads worked. */
function ourStatus(bin: string, ifname: string): unknown {
  try {
    const st = JSON.parse(run([bin, "status", ifname, "--json"])) as { offloads?: { description?: string[] }; derived?: unknown; drops?: unknown };
    return { interface: ifname, offloads: st.offloads?.description, derived: st.derived, drops: st.drops };
  } catch (e) {
    return { interface: ifname, error: (e as Error).message };
  }
}
