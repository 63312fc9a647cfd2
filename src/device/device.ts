// Device: the working WireGuard interface the daemon runs, and the UapiDevice
// the UAPI server configures. Threading (details in dataplane.ts):
//   main thread   this class: the configuration (a mirror with MemoryDevice's
//                 semantics), socket binding (so apply() can fail cleanly and
//                 synchronously), link/MTU watching, snapshot() and status().
//                 Neither ever waits for the worker: they read the
//                 SharedArrayBuffer it publishes into (shared-stats.ts).
//   data plane    one Worker (dataplane.worker.ts) running an epoll loop over
//                 the TUN, both UDP sockets and a wake eventfd, with every
//                 Tunn inside it. Config changes reach it as whole desired
//                 states over a MessagePort + eventfd wake-up.
// The worker is loaded with new URL("./dataplane.worker.ts", import.meta.url);
// checked in a `bun build --compile` binary laid out as build.ts does (entry
// in src/, every src/**/*.worker.ts as an extra entry point): the worker
// starts, runs and stops by message. An entry outside src/ breaks that path.
// Usage by the daemon:
//   const dev = await Device.create({ interfaceName, env: process.env, log, tunFd? });
//   for (const line of dev.startupReport()) log.info(line);
//   const uapi = await startUapiServer({ interfaceName: dev.name, device: dev, ... });
//   dev.onClosed((reason) => shutdown(reason));   // TUN deleted
//   ... `ip addr add`, `ip link set up` (linkUp() is detected, or call it) ...
//   await dev.close();
import { selectBackend } from "../crypto/select.ts";
import { IFF_UP } from "../sys/constants.ts";
import { EFD_CLOEXEC, EFD_NONBLOCK } from "../sys/constants.ts";
import { SyscallError } from "../sys/errno.ts";
import { close, eventfd, rawLibc } from "../sys/libc.ts";
import { getLinkFlags, getMtu } from "../sys/tun.ts";
import { AllowedIps, formatAddr } from "../wireguard/allowed-ips.ts";
import { pickX25519 } from "../crypto/x25519-select.ts";
import type { FromWorker, ToWorker, WorkerInit, WorkerPeerConfig } from "./dataplane-messages.ts";
import { HeapDebug } from "./debug-heap.ts";
import { C, type Counters, MAX_PEER_SLOTS, SharedStats } from "./shared-stats.ts";
import { closeSocketPair, openSocketPair, setFwmark, type SocketPair } from "./sockets.ts";
import { DEFAULT_TUN_MTU, offloadFlagNames, TunDevice, type OffloadState } from "./tun-device.ts";
import { workerUrl } from "./worker-url.ts";
import { UapiErrno } from "./uapi/errors.ts";
import type { DeviceChange, DeviceSnapshot, PeerChange, UapiDevice, UapiResult } from "./uapi/model.ts";
import { formatEndpoint, formatKeyHex, type Endpoint } from "./uapi/values.ts";
import { traceStartup } from "./startup-trace.ts";

export interface DeviceLogger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  debug?(message: string): void;
}

export interface DeviceOptions {
  interfaceName: string;
  env: Record<string, string | undefined>;
  log: DeviceLogger;
  /** An inherited, already-open TUN fd (re-exec like wireguard-go's WG_TUN_FD); interfaceName is then informational. */
  tunFd?: number;
  /** MTU to set on a TUN we create (default DEFAULT_TUN_MTU; `tunnel up` then sets the config's with `ip`). */
  mtu?: number;
  /** How often the main thread checks link state and MTU (ms); default 250. */
  linkPollMs?: number;
}

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
  /** Who serves it: added by the daemon behind the status socket (the run directories are shared by every namespace). */
  daemon?: { pid: number; netns: string | null };
}

interface MirrorPeer {
  publicKey: Uint8Array;
  presharedKey: Uint8Array | null;
  endpoint: Endpoint | null;
  persistentKeepaliveInterval: number;
  slot: number;
  /** SAB endpoint version already folded into `endpoint`. */
  endpointVersion: number;
}

const STOP_TIMEOUT_MS = 2000;

function clamp(key: Uint8Array): Uint8Array {
  const out = new Uint8Array(key);
  out[0] = out[0]! & 248;
  out[31] = (out[31]! & 127) | 64;
  return out;
}

function ratio(a: number, b: number): number {
  return b === 0 ? 0 : Math.round((a / b) * 100) / 100;
}

export class Device implements UapiDevice {
  private privateKey: Uint8Array | null = null;
  private publicKey: Uint8Array | null = null;
  private configuredPort = 0;
  private fwmark = 0;
  private readonly peers = new Map<string, MirrorPeer>();
  private readonly allowedIps = new AllowedIps<MirrorPeer>();
  private readonly freeSlots: number[] = [];
  private nextSlot = 0;

  private readonly closedCallbacks: ((reason: string) => void)[] = [];
  private closedReason: string | null = null;
  private closing: Promise<void> | null = null;
  private linkTimer: ReturnType<typeof setInterval> | null = null;
  private heapDebug: HeapDebug | null = null;
  private linkIsUp = false;
  private lastMtu = 0;
  private stopped: (() => void) | null = null;
  private workerStopped = false;
  private readonly wakeBytes = new BigUint64Array([1n]);

  private constructor(
    private readonly opts: DeviceOptions,
    readonly tun: TunDevice,
    private sockets: SocketPair,
    private readonly cryptoName: string,
    private readonly cryptoWarning: string | undefined,
    private readonly stats: SharedStats,
    private readonly mailbox: Int32Array,
    private readonly wakeFd: number,
    private readonly worker: Worker,
    private readonly port: MessagePort,
  ) {}

  /** name is the kernel's interface name (what the UAPI socket must be called). */
  get name(): string {
    return this.tun.name;
  }

  static async create(opts: DeviceOptions): Promise<Device> {
    const env = opts.env;
    const { backend, warning } = selectBackend(env);
    const tun = opts.tunFd !== undefined ? TunDevice.adopt(opts.tunFd, { env, mtu: opts.mtu }) : TunDevice.open(opts.interfaceName, { env, mtu: opts.mtu ?? DEFAULT_TUN_MTU });
    let sockets: SocketPair | null = null;
    let wakeFd = -1;
    try {
      sockets = openSocketPair(0, 0, env);
      wakeFd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
      const stats = SharedStats.allocate();
      const mailboxBuf = new SharedArrayBuffer(16);
      traceStartup("device: tun and sockets open");
      const worker = new Worker(workerUrl("device/dataplane.worker.ts", import.meta.url, "device/device.ts"));
      const { port1, port2 } = new MessageChannel();
      let mtu = 0;
      try {
        mtu = tun.mtu();
      } catch {
        mtu = opts.mtu ?? DEFAULT_TUN_MTU;
      }
      const init: WorkerInit = {
        tunFd: tun.fd,
        vnetHeader: tun.offloads.vnetHeader,
        tcpGro: tun.offloads.tcpGro,
        udpGro: tun.offloads.udpGro,
        mtu,
        env: { ...env },
        stats: stats.buffer,
        mailbox: mailboxBuf,
        wakeFd,
        port: port2,
      };
      const dev = new Device(opts, tun, sockets, backend.name, warning, stats, new Int32Array(mailboxBuf), wakeFd, worker, port1);
      dev.lastMtu = mtu;
      await dev.start(init);
      traceStartup("device: data-plane worker ready");
      return dev;
    } catch (e) {
      if (sockets !== null) closeSocketPair(sockets);
      if (wakeFd >= 0) close(wakeFd);
      tun.close();
      throw e;
    }
  }

  private start(init: WorkerInit): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let ready = false;
      this.port.onmessage = (event: { data: unknown }) => {
        const m = event.data as FromWorker;
        switch (m.type) {
          case "ready":
            ready = true;
            resolve();
            return;
          case "log":
            this.opts.log.warn(m.message);
            return;
          case "gso": {
            const s = m.family === 4 ? this.sockets.v4 : this.sockets.v6;
            if (s !== null) s.gso = m.enabled;
            return;
          }
          case "closed":
            if (!ready) reject(new Error(m.reason));
            this.fireClosed(m.reason);
            return;
          case "stopped":
            // The worker also stops by itself when the TUN goes away, which
            // can be before close() is called: remember it, or close() would
            // wait out STOP_TIMEOUT_MS for a message that already came.
            this.workerStopped = true;
            this.stopped?.();
            return;
        }
      };
      this.worker.onerror = (e) => {
        const reason = `data-plane worker failed: ${e.message}`;
        if (!ready) reject(new Error(reason));
        this.fireClosed(reason);
      };
      this.worker.postMessage(init, [init.port]);
      this.send({ type: "sockets", v4: this.sockets.v4, v6: this.sockets.v6 });
      this.heapDebug = HeapDebug.from(this.opts.env, "main");
      this.linkTimer = setInterval(() => this.pollLink(), this.opts.linkPollMs ?? 250);
      (this.linkTimer as { unref?: () => void }).unref?.();
    });
  }

  private send(m: ToWorker): void {
    this.port.postMessage(m);
    Atomics.add(this.mailbox, 0, 1);
    rawLibc().write(this.wakeFd, this.wakeBytes, 8);
  }

  private fireClosed(reason: string): void {
    if (this.closedReason !== null) return;
    this.closedReason = reason;
    for (const cb of this.closedCallbacks) cb(reason);
  }

  /** onClosed registers cb for when the TUN disappears (or the data plane dies); the daemon should exit. */
  onClosed(cb: (reason: string) => void): void {
    if (this.closedReason !== null) cb(this.closedReason);
    else this.closedCallbacks.push(cb);
  }

  private pollLink(): void {
    if (this.heapDebug !== null) this.heapDebug.maybe(performance.now());
    try {
      const up = (getLinkFlags(this.tun.name) & IFF_UP) !== 0;
      if (up && !this.linkIsUp) this.linkUp();
      this.linkIsUp = up;
      const mtu = getMtu(this.tun.name);
      if (mtu !== this.lastMtu) {
        this.lastMtu = mtu;
        this.send({ type: "mtu", mtu });
      }
    } catch {
      // The interface is gone or moved away; the worker reports the TUN's fate.
    }
  }

  /**
   * linkUp runs the GRO write probe once the link is up (the CLI may call it
   * right after `ip link set up`; otherwise the link poller does) and tells
   * the data plane what it may coalesce.
   */
  linkUp(): void {
    if (this.linkIsUp) return;
    this.linkIsUp = true;
    const before = this.tun.offloads.reasons.length;
    this.tun.probeGro();
    for (const r of this.tun.offloads.reasons.slice(before)) this.opts.log.warn(`${this.tun.name}: ${r}`);
    this.send({ type: "offloads", tcpGro: this.tun.offloads.tcpGro, udpGro: this.tun.offloads.udpGro });
  }

  /** startupReport: one line each for TUN offloads, UDP GSO/GRO, crypto backend. */
  startupReport(): string[] {
    const o = this.tun.offloads;
    const onOff = (b: boolean) => (b ? "on" : "off");
    let off = `${this.tun.name}: offloads vnet header ${onOff(o.vnetHeader)}, TUNSETOFFLOAD ${offloadFlagNames(o.offloadFlags)}, split TCP ${onOff(o.tso)} UDP ${onOff(o.uso)}, coalesce TCP ${onOff(o.tcpGro)} UDP ${onOff(o.udpGro)}`;
    if (o.reasons.length > 0) off += ` (${o.reasons.join("; ")})`;
    const s = this.sockets;
    const fam = (x: { gso: boolean; gro: boolean } | null, v: number) => (x === null ? `IPv${v} off` : `IPv${v} GSO ${onOff(x.gso)} GRO ${onOff(x.gro)}`);
    let udp = `${this.tun.name}: UDP port ${s.port}, ${fam(s.v4, 4)}, ${fam(s.v6, 6)}`;
    if (s.notes.length > 0) udp += ` (${s.notes.join("; ")})`;
    let crypto = `${this.tun.name}: crypto backend ${this.cryptoName}`;
    if (this.cryptoWarning) crypto += ` — WARNING: ${this.cryptoWarning}`;
    return [off, udp, crypto];
  }

  // ------------------------------------------------------------ UapiDevice

  snapshot(): DeviceSnapshot {
    return {
      privateKey: this.privateKey,
      listenPort: this.sockets.port,
      fwmark: this.fwmark,
      peers: [...this.peers.values()].map((p) => {
        const s = this.stats.readPeer(p.slot);
        const hs = s.lastHandshakeWallMs;
        return {
          publicKey: p.publicKey,
          presharedKey: p.presharedKey,
          endpoint: this.currentEndpoint(p),
          lastHandshakeTimeSec: hs === 0 ? 0 : Math.floor(hs / 1000),
          lastHandshakeTimeNsec: hs === 0 ? 0 : Math.floor((hs % 1000) * 1e6),
          txBytes: s.txBytes,
          rxBytes: s.rxBytes,
          persistentKeepaliveInterval: p.persistentKeepaliveInterval,
          allowedIps: this.allowedIps.entries(p),
        };
      }),
    };
  }

  /** currentEndpoint folds a roamed endpoint published by the worker into the mirror. */
  private currentEndpoint(p: MirrorPeer): Endpoint | null {
    if (this.stats.endpointVersion(p.slot) !== p.endpointVersion) {
      const { endpoint, version } = this.stats.readEndpoint(p.slot);
      p.endpointVersion = version;
      if (endpoint !== null) p.endpoint = endpoint;
    }
    return p.endpoint;
  }

  apply(change: DeviceChange): UapiResult {
    if (this.closing !== null) return { errno: UapiErrno.io };
    const newMark = change.fwmark ?? this.fwmark;
    // 1. Everything that can fail, before anything changes.
    let newPair: SocketPair | null = null;
    if (change.listenPort !== undefined && change.listenPort !== this.configuredPort) {
      try {
        newPair = openSocketPair(change.listenPort, newMark, this.opts.env);
      } catch (e) {
        this.opts.log.warn(`listen port ${change.listenPort}: ${(e as Error).message}`);
        return { errno: e instanceof SyscallError ? UapiErrno.addressInUse : UapiErrno.unknown };
      }
    } else if (newMark !== this.fwmark) {
      try {
        setFwmark(this.sockets, newMark);
      } catch (e) {
        this.opts.log.warn(`fwmark ${newMark}: ${(e as Error).message}`);
        try {
          setFwmark(this.sockets, this.fwmark);
        } catch {
          // best effort restore
        }
        return { errno: UapiErrno.addressInUse };
      }
    }
    // 2. Apply to the mirror (model.ts order), collecting per-peer one-shot actions.
    if (change.privateKey !== undefined) this.setPrivateKey(change.privateKey);
    if (change.listenPort !== undefined) this.configuredPort = change.listenPort;
    this.fwmark = newMark;
    if (change.replacePeers) for (const id of [...this.peers.keys()]) this.removePeer(id);
    const endpointSet = new Set<MirrorPeer>();
    const keepaliveNow = new Set<MirrorPeer>();
    for (const pc of change.peers) this.applyPeer(pc, endpointSet, keepaliveNow);
    // 3. Hand the new state to the data plane.
    if (newPair !== null) {
      this.sockets = newPair; // the worker closes the old fds once it has switched
      this.send({ type: "sockets", v4: newPair.v4, v6: newPair.v6 });
    }
    this.send({ type: "config", privateKey: this.privateKey, peers: [...this.peers.values()].map((p) => this.workerPeer(p, endpointSet, keepaliveNow)) });
    return { errno: UapiErrno.ok };
  }

  private workerPeer(p: MirrorPeer, endpointSet: Set<MirrorPeer>, keepaliveNow: Set<MirrorPeer>): WorkerPeerConfig {
    const wp: WorkerPeerConfig = {
      publicKey: p.publicKey,
      presharedKey: p.presharedKey,
      persistentKeepaliveSec: p.persistentKeepaliveInterval,
      allowedIps: this.allowedIps.entries(p),
      slot: p.slot,
      keepaliveNow: keepaliveNow.has(p),
    };
    if (endpointSet.has(p) && p.endpoint !== null) wp.endpoint = { addr: p.endpoint.addr, port: p.endpoint.port };
    return wp;
  }

  private setPrivateKey(privateKey: Uint8Array | null): void {
    if (privateKey === null) {
      this.privateKey = null;
      this.publicKey = null;
      return;
    }
    this.privateKey = clamp(privateKey);
    const publicKey = new Uint8Array(32);
    pickX25519().base(this.privateKey, publicKey);
    this.publicKey = publicKey;
    this.removePeer(formatKeyHex(publicKey)); // a peer may not be ourselves
  }

  private applyPeer(change: PeerChange, endpointSet: Set<MirrorPeer>, keepaliveNow: Set<MirrorPeer>): void {
    const id = formatKeyHex(change.publicKey);
    if (this.publicKey !== null && id === formatKeyHex(this.publicKey)) return;
    if (change.remove) {
      this.removePeer(id);
      return;
    }
    let peer = this.peers.get(id);
    if (peer === undefined) {
      if (change.updateOnly) return;
      const slot = this.allocSlot();
      if (slot < 0) {
        this.opts.log.warn(`peer limit (${MAX_PEER_SLOTS}) reached; ignoring peer ${id.slice(0, 8)}…`);
        return;
      }
      peer = {
        publicKey: change.publicKey.slice(),
        presharedKey: null,
        endpoint: null,
        persistentKeepaliveInterval: 0,
        slot,
        endpointVersion: this.stats.endpointVersion(slot),
      };
      this.peers.set(id, peer);
    }
    if (change.presharedKey !== undefined) peer.presharedKey = change.presharedKey;
    if (change.endpoint !== undefined) {
      peer.endpoint = change.endpoint;
      // Ignore roaming the worker published before this change.
      peer.endpointVersion = this.stats.endpointVersion(peer.slot);
      endpointSet.add(peer);
    }
    if (change.persistentKeepaliveInterval !== undefined) {
      if (peer.persistentKeepaliveInterval === 0 && change.persistentKeepaliveInterval !== 0) keepaliveNow.add(peer);
      peer.persistentKeepaliveInterval = change.persistentKeepaliveInterval;
    }
    if (change.replaceAllowedIps) this.allowedIps.removeByValue(peer);
    for (const { prefix, remove } of change.allowedIps) {
      if (remove) this.allowedIps.remove(prefix.addr, prefix.cidr, peer);
      else this.allowedIps.insert(prefix.addr, prefix.cidr, peer);
    }
  }

  private removePeer(id: string): void {
    const peer = this.peers.get(id);
    if (peer === undefined) return;
    this.allowedIps.removeByValue(peer);
    this.peers.delete(id);
    this.freeSlots.push(peer.slot);
  }

  private allocSlot(): number {
    const s = this.freeSlots.pop();
    if (s !== undefined) return s;
    if (this.nextSlot >= MAX_PEER_SLOTS) return -1;
    return this.nextSlot++;
  }

  // --------------------------------------------------------------- status

  status(): DeviceStatus {
    const c = this.stats.readCounters();
    const drops: Record<string, number> = {};
    for (const [k, v] of Object.entries(c)) if (k.startsWith("drop") || k === "handshakeQueueDrops" || k === "tunWriteErrors" || k === "sendErrors") drops[k] = v;
    const snap = this.snapshot();
    return {
      interfaceName: this.tun.name,
      listenPort: this.sockets.port,
      crypto: this.cryptoName,
      offloads: { ...this.tun.offloads, reasons: [...this.tun.offloads.reasons], description: this.tun.describe() },
      udp: {
        v4: this.sockets.v4 === null ? null : { gso: this.sockets.v4.gso, gro: this.sockets.v4.gro },
        v6: this.sockets.v6 === null ? null : { gso: this.sockets.v6.gso, gro: this.sockets.v6.gro },
        notes: [...this.sockets.notes],
      },
      counters: c,
      derived: {
        segmentsPerSuperPacket: ratio(c.segments, c.tunReads),
        datagramsPerGsoBatch: ratio(c.gsoDatagrams, c.gsoBatches),
        datagramsPerGroMessage: ratio(c.groDatagrams, c.groMessages),
        coalesceRatio: ratio(c.coalesceIn, c.coalesceOut),
      },
      drops,
      peers: snap.peers.map((p) => ({
        publicKey: Buffer.from(p.publicKey).toString("base64"),
        endpoint: p.endpoint === null ? null : formatEndpoint(p.endpoint),
        latestHandshakeMs: p.lastHandshakeTimeSec * 1000 + Math.floor(p.lastHandshakeTimeNsec / 1e6),
        txBytes: Number(p.txBytes),
        rxBytes: Number(p.rxBytes),
        ...this.peerPackets(p.publicKey),
        persistentKeepaliveInterval: p.persistentKeepaliveInterval,
        allowedIps: p.allowedIps.map((a) => `${formatAddr(a.addr)}/${a.cidr}`),
        localSource: this.localSource(p.publicKey),
      })),
    };
  }

  /** peerPackets reads the peer's message counts and roams as the worker published them. */
  private peerPackets(publicKey: Uint8Array): Pick<PeerStatus, "txPackets" | "rxPackets" | "endpointRoams"> {
    const peer = this.peers.get(formatKeyHex(publicKey));
    if (peer === undefined) return { txPackets: 0, rxPackets: 0, endpointRoams: 0 };
    const t = this.stats.readPeer(peer.slot);
    return { txPackets: t.txPackets, rxPackets: t.rxPackets, endpointRoams: t.endpointRoams };
  }

  /** localSource reads the peer's sticky source as the worker published it. */
  private localSource(publicKey: Uint8Array): PeerStatus["localSource"] {
    const peer = this.peers.get(formatKeyHex(publicKey));
    const src = peer === undefined ? null : this.stats.readSource(peer.slot);
    return src === null ? null : { address: formatAddr(src.addr), ifindex: src.ifindex };
  }

  /** loopIterations advances while the data-plane loop turns (at least once a second when idle). */
  loopIterations(): number {
    return this.stats.counters[C.loopIterations]!;
  }

  /** peerHandshakes lists each peer's latest handshake, Unix ms (0 = never). */
  peerHandshakes(): number[] {
    return [...this.peers.values()].map((p) => this.stats.readPeer(p.slot).lastHandshakeWallMs);
  }

  /** wedgeDataPlaneForTest blocks the data-plane worker forever; only the watchdog test uses it. */
  wedgeDataPlaneForTest(): void {
    this.send({ type: "wedgeForTest" });
  }

  /** counter reads one counter (cheap; for tests and `tunnel status`). */
  counter(name: keyof typeof C): number {
    return this.stats.counters[C[name]]!;
  }

  // ---------------------------------------------------------------- close

  /** close stops the data plane (by message; terminate() only as a fallback) and closes every fd. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.linkTimer !== null) clearInterval(this.linkTimer);
      const stopped = new Promise<boolean>((resolve) => {
        if (this.workerStopped) return resolve(true);
        this.stopped = () => resolve(true);
        setTimeout(() => resolve(false), STOP_TIMEOUT_MS);
      });
      this.send({ type: "stop" });
      const clean = await stopped;
      if (!clean) {
        this.opts.log.warn("data-plane worker did not stop in time; terminating it");
        this.worker.terminate();
      }
      this.port.close();
      closeSocketPair(this.sockets);
      try {
        close(this.wakeFd);
      } catch {
        // ignore
      }
      this.tun.close();
    })();
    return this.closing;
  }
}
