// What every part of the data plane shares (the context of the kernel's
// struct wg_device): the I/O seam, the counters the main thread reads, the
// protocol state, the peers by Tunn, the outer sockets, and the slab
// geometry. The parts (outbound.ts, inbound.ts, handshakes.ts, peer-table.ts,
// plane-timers.ts) each hold this context and never each other's state.
import type { CryptoBackend } from "../crypto/types.ts";
import type { DeviceState } from "../wireguard/device-state.ts";
import type { Tunn } from "../wireguard/peer.ts";
import type { FromWorker } from "./dataplane-messages.ts";
import type { DataPlaneIo, DatagramSocket, IoClock, IoMemory } from "./io.ts";
import type { PlanePeer } from "./plane-peer.ts";
import { SharedStats } from "./shared-stats.ts";

/** SLOTS is the segment capacity of the TX and RX slabs (wireguard-go's 128). */
export const SLOTS = 128;
/** STRIDE lets an RX head slot grow to a full 64 KiB super-packet. */
export const STRIDE = 65535;
/** HEADROOM in front of every slot: room for the transport header (TX) or the virtio-net header (RX). */
export const HEADROOM = 16;
/** LOGGED_MESSAGES_MAX bounds the log lines a data plane sends the main thread in its life. */
const LOGGED_MESSAGES_MAX = 100;

/** PlaneEvents is how the data plane reports to whoever runs it (the worker shell posts to the main thread). */
export interface PlaneEvents {
  post(m: FromWorker): void;
}

export class PlaneContext {
  readonly memory: IoMemory;
  readonly clock: IoClock;
  readonly stats: SharedStats;
  /** c is stats.counters, indexed by C (shared-stats.ts). */
  readonly c: Float64Array;
  readonly vnet: boolean;
  mtu: number;
  /** The protocol state; null while the device has no private key. */
  device: DeviceState | null = null;
  /** Every configured peer, by its Tunn (the protocol names peers by Tunn). */
  readonly peers = new Map<Tunn, PlanePeer>();
  v4: DatagramSocket | null = null;
  v6: DatagramSocket | null = null;
  /** Traffic since the last timer pass: publish and tick soon even when idle. */
  dirty = false;
  /** The TUN is gone: the loop stops reading it and reports once. */
  closed = false;
  private logged = 0;

  constructor(
    readonly io: DataPlaneIo,
    readonly crypto: CryptoBackend,
    stats: SharedArrayBuffer,
    mtu: number,
    private readonly events: PlaneEvents,
  ) {
    this.memory = io.memory;
    this.clock = io.clock;
    this.stats = new SharedStats(stats);
    this.c = this.stats.counters;
    this.vnet = io.tun.vnetHeader;
    this.mtu = mtu;
  }

  /** socketFor returns the socket that reaches family 4 or 6, or null. */
  socketFor(family: 0 | 4 | 6): DatagramSocket | null {
    return family === 4 ? this.v4 : family === 6 ? this.v6 : null;
  }

  post(m: FromWorker): void {
    this.events.post(m);
  }

  /** log sends a line to the main thread's log, at most LOGGED_MESSAGES_MAX in the plane's life. */
  log(message: string): void {
    if (this.logged >= LOGGED_MESSAGES_MAX) return;
    this.logged++;
    this.post({ type: "log", message });
  }

  tunGone(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.post({ type: "closed", reason });
  }
}
