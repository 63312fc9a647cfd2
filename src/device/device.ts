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
// This file opens and closes what the interface owns (TUN, sockets, wake
// eventfd), watches the link and rebinds sockets; the mirror is
// config-mirror.ts, the worker's end dataplane-handle.ts, and what the
// device reports device-status.ts.
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
import { close, eventfd } from "../sys/libc.ts";
import { getLinkFlags, getMtu } from "../sys/tun.ts";
import { ConfigMirror } from "./config-mirror.ts";
import { DataPlaneHandle } from "./dataplane-handle.ts";
import type { WorkerInit } from "./dataplane-messages.ts";
import { HeapDebug } from "./debug-heap.ts";
import { type DeviceStatus, deviceStatus, startupReport } from "./device-status.ts";
import { C, SharedStats } from "./shared-stats.ts";
import { closeSocketPair, openSocketPair, setFwmark, type SocketPair } from "./sockets.ts";
import { DEFAULT_TUN_MTU, TunDevice } from "./tun-device.ts";
import { UapiErrno } from "./uapi/errors.ts";
import { traceStartup } from "./startup-trace.ts";
import { resolveWorkers, type WorkersSetting } from "./workers.ts";
import { availableParallelism } from "node:os";
import type { DeviceChange, DeviceSnapshot, UapiDevice, UapiResult } from "./uapi/model.ts";

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
  /** Data-plane threads at start ("auto" for the machine's cores; setWorkers changes it later). Default "auto". */
  workers?: WorkersSetting;
  /**
   * Return as soon as the TUN and sockets are open, while the data-plane
   * worker is still starting (~0.8 s in an emulated guest): the daemon sets up
   * its sockets and applies the config meanwhile, and awaits dataPlaneReady
   * before it declares itself ready. Control messages queue until the worker
   * reads them; a worker that fails to start closes the device (onClosed).
   */
  deferDataPlaneReady?: boolean;
}

/** DeviceWorkers is the thread setting and what it resolved to on this machine. */
export interface DeviceWorkers {
  setting: WorkersSetting;
  /** count: threads in use, the data plane's included. */
  count: number;
  /** cores the process may run on (what "auto" chose for). */
  cores: number;
}

export class Device implements UapiDevice {
  private readonly mirror: ConfigMirror;
  private readonly closedCallbacks: ((reason: string) => void)[] = [];
  private closedReason: string | null = null;
  private closing: Promise<void> | null = null;
  private linkTimer: ReturnType<typeof setInterval> | null = null;
  private heapDebug: HeapDebug | null = null;
  private linkIsUp = false;
  /** dataPlaneReady settles when the data-plane worker runs (at once unless deferDataPlaneReady). */
  dataPlaneReady: Promise<void> = Promise.resolve();
  private lastMtu = 0;
  private workerSetting: DeviceWorkers;

  private constructor(
    private readonly opts: DeviceOptions,
    readonly tun: TunDevice,
    private sockets: SocketPair,
    private readonly cryptoName: string,
    private readonly cryptoWarning: string | undefined,
    private readonly stats: SharedStats,
    private readonly wakeFd: number,
    private readonly plane: DataPlaneHandle,
  ) {
    this.mirror = new ConfigMirror(stats, opts.log);
    const cores = availableParallelism();
    const setting = opts.workers ?? "auto";
    this.workerSetting = { setting, count: resolveWorkers(setting, cores), cores };
  }

  /** name is the kernel's interface name (what the UAPI socket must be called). */
  get name(): string {
    return this.tun.name;
  }

  static async create(opts: DeviceOptions): Promise<Device> {
    const env = opts.env;
    const { backend, warning } = selectBackend(env);
    const tun =
      opts.tunFd !== undefined
        ? TunDevice.adopt(opts.tunFd, { env, mtu: opts.mtu })
        : TunDevice.open(opts.interfaceName, { env, mtu: opts.mtu ?? DEFAULT_TUN_MTU });
    let sockets: SocketPair | null = null;
    let wakeFd = -1;
    try {
      sockets = openSocketPair(0, 0, env);
      wakeFd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
      const stats = SharedStats.allocate();
      traceStartup("device: tun and sockets open");
      const plane = new DataPlaneHandle(wakeFd, opts.log);
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
        workers: 1, // corrected below, once the device knows the setting
        env: { ...env },
        stats: stats.buffer,
        mailbox: plane.mailboxBuffer,
        wakeFd,
        port: plane.workerPort,
      };
      const dev = new Device(opts, tun, sockets, backend.name, warning, stats, wakeFd, plane);
      dev.lastMtu = mtu;
      init.workers = dev.workerSetting.count;
      dev.dataPlaneReady = dev.start(init).then(() => traceStartup("device: data-plane worker ready"));
      if (opts.deferDataPlaneReady)
        dev.dataPlaneReady.catch(() => {}); // reported through onClosed as well
      else await dev.dataPlaneReady;
      return dev;
    } catch (e) {
      if (sockets !== null) closeSocketPair(sockets);
      if (wakeFd >= 0) close(wakeFd);
      tun.close();
      throw e;
    }
  }

  private start(init: WorkerInit): Promise<void> {
    const ready = this.plane.start(init, {
      gso: (family, enabled) => {
        const s = family === 4 ? this.sockets.v4 : this.sockets.v6;
        if (s !== null) s.gso = enabled;
      },
      closed: (reason) => this.fireClosed(reason),
    });
    this.plane.send({ type: "sockets", v4: this.sockets.v4, v6: this.sockets.v6 });
    this.heapDebug = HeapDebug.from(this.opts.env, "main");
    this.linkTimer = setInterval(() => this.pollLink(), this.opts.linkPollMs ?? 250);
    (this.linkTimer as { unref?: () => void }).unref?.();
    return ready;
  }

  private fireClosed(reason: string): void {
    if (this.closedReason !== null) return;
    this.closedReason = reason;
    for (const cb of this.closedCallbacks) cb(reason);
  }

  /** linkState is the link's admin state (IFF_UP) and MTU as the kernel has them now. */
  linkState(): { up: boolean; mtu: number } {
    return { up: (getLinkFlags(this.tun.name) & IFF_UP) !== 0, mtu: getMtu(this.tun.name) };
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
        this.plane.send({ type: "mtu", mtu });
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
    this.plane.send({ type: "offloads", tcpGro: this.tun.offloads.tcpGro, udpGro: this.tun.offloads.udpGro });
  }

  /** startupReport: one line each for TUN offloads, UDP GSO/GRO, crypto backend and threads. */
  startupReport(): string[] {
    return startupReport(this.tun, this.sockets, this.cryptoName, this.cryptoWarning, this.workerSetting);
  }

  /** workers is the thread setting in effect. */
  get workers(): DeviceWorkers {
    return { ...this.workerSetting };
  }

  /** setWorkers changes the data plane's threads while it runs (crypto helpers start or stop; nothing is interrupted). */
  setWorkers(setting: WorkersSetting): DeviceWorkers {
    const count = resolveWorkers(setting, this.workerSetting.cores);
    this.workerSetting = { ...this.workerSetting, setting, count };
    this.plane.send({ type: "workers", workers: count });
    return this.workers;
  }

  // ------------------------------------------------------------ UapiDevice

  snapshot(): DeviceSnapshot {
    return this.mirror.snapshot(this.sockets.port);
  }

  apply(change: DeviceChange): UapiResult {
    if (this.closing !== null) return { errno: UapiErrno.io };
    const mirror = this.mirror;
    const newMark = change.fwmark ?? mirror.fwmark;
    // 1. Everything that can fail, before anything changes.
    let newPair: SocketPair | null = null;
    if (change.listenPort !== undefined && change.listenPort !== mirror.configuredPort) {
      try {
        newPair = openSocketPair(change.listenPort, newMark, this.opts.env);
      } catch (e) {
        this.opts.log.warn(`listen port ${change.listenPort}: ${(e as Error).message}`);
        return { errno: e instanceof SyscallError ? UapiErrno.addressInUse : UapiErrno.unknown };
      }
    } else if (newMark !== mirror.fwmark) {
      try {
        setFwmark(this.sockets, newMark);
      } catch (e) {
        this.opts.log.warn(`fwmark ${newMark}: ${(e as Error).message}`);
        try {
          setFwmark(this.sockets, mirror.fwmark);
        } catch {
          // best effort restore
        }
        return { errno: UapiErrno.addressInUse };
      }
    }
    // 2. Apply to the mirror (model.ts order), collecting per-peer one-shot actions.
    const config = mirror.apply(change, newMark);
    // 3. Hand the new state to the data plane.
    if (newPair !== null) {
      this.sockets = newPair; // the worker closes the old fds once it has switched
      this.plane.send({ type: "sockets", v4: newPair.v4, v6: newPair.v6 });
    }
    this.plane.send(config);
    return { errno: UapiErrno.ok };
  }

  // --------------------------------------------------------------- status

  status(): DeviceStatus {
    return deviceStatus({
      tun: this.tun,
      sockets: this.sockets,
      cryptoName: this.cryptoName,
      stats: this.stats,
      mirror: this.mirror,
      workers: this.workerSetting,
    });
  }

  /** loopIterations advances while the data-plane loop turns (at least once a second when idle). */
  loopIterations(): number {
    return this.stats.counters[C.loopIterations]!;
  }

  /** peerHandshakes lists each peer's latest handshake, Unix ms (0 = never). */
  peerHandshakes(): number[] {
    return this.mirror.peerHandshakes();
  }

  /** wedgeDataPlaneForTest blocks the data-plane worker forever; only the watchdog test uses it. */
  wedgeDataPlaneForTest(): void {
    this.plane.send({ type: "wedgeForTest" });
  }

  /** counter reads one counter (cheap; for tests and `tunnel status`). */
  counter(name: keyof typeof C): number {
    return this.stats.counters[C[name]]!;
  }

  // ---------------------------------------------------------------- close

  /** close stops the data plane and closes every fd. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.linkTimer !== null) clearInterval(this.linkTimer);
      await this.plane.stop();
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
