// What a running interface says about itself: the startup report the daemon
// logs once, and the status `tunnel status`, the doctor and the metrics
// read. Both are built on the main thread from what it already has (the
// TUN's offload state, the sockets, the configuration mirror) and from the
// counters the worker publishes into shared memory, so asking never waits
// for the data plane.
import { formatAddr } from "../wireguard/allowed-ips.ts";
import type { ConfigMirror } from "./config-mirror.ts";
import type { Counters, SharedStats } from "./shared-stats.ts";
import type { SocketPair } from "./sockets.ts";
import { offloadFlagNames, type OffloadState, type TunDevice } from "./tun-device.ts";
import { formatEndpoint } from "./uapi/values.ts";
import type { WorkersSetting } from "./workers.ts";

export interface PeerStatus {
  publicKey: string;
  endpoint: string | null;
  /** Unix ms of the latest handshake, 0 = never. */
  latestHandshakeMs: number;
  txBytes: number;
  rxBytes: number;
  /** Transport messages (keepalives included) sent and received. */
  txPackets: number;
  rxPackets: number;
  /** Times an authenticated packet from a new address moved the endpoint (roaming). */
  endpointRoams: number;
  persistentKeepaliveInterval: number;
  allowedIps: string[];
  /**
   * The sticky local source: the address (and interface index) of ours the
   * peer's last authenticated packet arrived on, which everything we send it
   * leaves from; null when routing picks (no packet yet, endpoint just
   * configured, or the address went away).
   */
  localSource: { address: string; ifindex: number } | null;
  /** The host name (and port) the endpoint was configured as, when it was one; added by the CLI's endpoint follower. */
  endpointName?: string;
}

export interface DeviceStatus {
  interfaceName: string;
  listenPort: number;
  crypto: string;
  offloads: OffloadState & { description: string[] };
  udp: { v4: { gso: boolean; gro: boolean } | null; v6: { gso: boolean; gro: boolean } | null; notes: string[] };
  counters: Counters;
  /** Ratios that explain the offloads (0 when nothing happened yet). */
  derived: {
    segmentsPerSuperPacket: number;
    datagramsPerGsoBatch: number;
    datagramsPerGroMessage: number;
    coalesceRatio: number;
  };
  drops: Record<string, number>;
  peers: PeerStatus[];
  /**
   * The data plane's threads: the setting, the count it gives on this
   * machine's cores, and the crypto helpers taking work now (count − 1
   * unless a helper was given up on or is still starting).
   */
  workers?: { setting: WorkersSetting; count: number; cores: number; helpersUp: number };
  /** Who serves it: added by the daemon behind the status socket (the run directories are shared by every namespace). */
  daemon?: { pid: number; netns: string | null };
}

/** StatusSources are the parts of a running Device the status is read from. */
export interface StatusSources {
  tun: TunDevice;
  sockets: SocketPair;
  cryptoName: string;
  stats: SharedStats;
  mirror: ConfigMirror;
  workers: { setting: WorkersSetting; count: number; cores: number };
}

function ratio(a: number, b: number): number {
  return b === 0 ? 0 : Math.round((a / b) * 100) / 100;
}

/** deviceStatus reads the status; the peers' figures come from the mirror and what the worker published. */
export function deviceStatus(d: StatusSources): DeviceStatus {
  const c = d.stats.readCounters();
  const drops: Record<string, number> = {};
  for (const [k, v] of Object.entries(c)) if (k.startsWith("drop") || k === "handshakeQueueDrops" || k === "tunWriteErrors" || k === "sendErrors") drops[k] = v;
  const snap = d.mirror.snapshot(d.sockets.port);
  return {
    interfaceName: d.tun.name,
    listenPort: d.sockets.port,
    crypto: d.cryptoName,
    offloads: { ...d.tun.offloads, reasons: [...d.tun.offloads.reasons], description: d.tun.describe() },
    udp: {
      v4: d.sockets.v4 === null ? null : { gso: d.sockets.v4.gso, gro: d.sockets.v4.gro },
      v6: d.sockets.v6 === null ? null : { gso: d.sockets.v6.gso, gro: d.sockets.v6.gro },
      notes: [...d.sockets.notes],
    },
    counters: c,
    derived: {
      segmentsPerSuperPacket: ratio(c.segments, c.tunReads),
      datagramsPerGsoBatch: ratio(c.gsoDatagrams, c.gsoBatches),
      datagramsPerGroMessage: ratio(c.groDatagrams, c.groMessages),
      coalesceRatio: ratio(c.coalesceIn, c.coalesceOut),
    },
    drops,
    workers: { ...d.workers, helpersUp: c.cryptoHelpersUp },
    peers: snap.peers.map((p) => ({
      publicKey: Buffer.from(p.publicKey).toString("base64"),
      endpoint: p.endpoint === null ? null : formatEndpoint(p.endpoint),
      latestHandshakeMs: p.lastHandshakeTimeSec * 1000 + Math.floor(p.lastHandshakeTimeNsec / 1e6),
      txBytes: Number(p.txBytes),
      rxBytes: Number(p.rxBytes),
      ...d.mirror.peerPackets(p.publicKey),
      persistentKeepaliveInterval: p.persistentKeepaliveInterval,
      allowedIps: p.allowedIps.map((a) => `${formatAddr(a.addr)}/${a.cidr}`),
      localSource: d.mirror.localSource(p.publicKey),
    })),
  };
}

/** startupReport: one line each for TUN offloads, UDP GSO/GRO, crypto backend and threads. */
export function startupReport(
  tun: TunDevice,
  sockets: SocketPair,
  cryptoName: string,
  cryptoWarning: string | undefined,
  workers: { setting: WorkersSetting; count: number; cores: number },
): string[] {
  const o = tun.offloads;
  const onOff = (b: boolean) => (b ? "on" : "off");
  let off = `${tun.name}: offloads vnet header ${onOff(o.vnetHeader)}, TUNSETOFFLOAD ${offloadFlagNames(o.offloadFlags)}, split TCP ${onOff(o.tso)} UDP ${onOff(o.uso)}, coalesce TCP ${onOff(o.tcpGro)} UDP ${onOff(o.udpGro)}`;
  if (o.reasons.length > 0) off += ` (${o.reasons.join("; ")})`;
  const s = sockets;
  const fam = (x: { gso: boolean; gro: boolean } | null, v: number) => (x === null ? `IPv${v} off` : `IPv${v} GSO ${onOff(x.gso)} GRO ${onOff(x.gro)}`);
  let udp = `${tun.name}: UDP port ${s.port}, ${fam(s.v4, 4)}, ${fam(s.v6, 6)}`;
  if (s.notes.length > 0) udp += ` (${s.notes.join("; ")})`;
  let crypto = `${tun.name}: crypto backend ${cryptoName}`;
  if (cryptoWarning) crypto += ` — WARNING: ${cryptoWarning}`;
  return [off, udp, crypto, `${tun.name}: ${describeWorkers(workers)}`];
}

/** describeWorkers says how many threads the data plane runs on and why. */
export function describeWorkers(w: { setting: WorkersSetting; count: number; cores: number }): string {
  const why = w.setting === "auto" ? `auto for ${w.cores} core${w.cores === 1 ? "" : "s"}` : "set";
  const helpers = w.count - 1;
  return `workers ${w.count} (${why}): the data plane${helpers === 0 ? " alone" : ` + ${helpers} crypto helper${helpers === 1 ? "" : "s"}`}`;
}
