// The peer table: the one place where configuration meets protocol state.
// A config message (from UAPI or `tunnel up`) is reconciled here: a new
// private key rebuilds the protocol state (keeping endpoints and traffic
// counts), a peer keeps its Tunn (and so its sessions) unless its key or
// stats slot changed, allowed IPs are replaced, a configured endpoint is
// set, a newly enabled persistent keepalive is sent at once (as
// wireguard-go does), and removed peers leave the protocol.
import { DeviceState } from "../wireguard/device-state.ts";
import type { WorkerPeerConfig } from "./dataplane-messages.ts";
import type { PlaneContext } from "./plane-context.ts";
import { newPlanePeer, publishPeer, rebaseTraffic, setEndpoint, type PlanePeer } from "./plane-peer.ts";
import type { Transmitter } from "./transmit.ts";

/** KEEPALIVE_BUFFER_BYTES holds an empty transport message (32 bytes) with room to spare. */
const KEEPALIVE_BUFFER_BYTES = 64;

function hex(k: Uint8Array): string {
  let s = "";
  for (let i = 0; i < k.length; i++) s += k[i]!.toString(16).padStart(2, "0");
  return s;
}

function sameBytes(a: Uint8Array | null, b: Uint8Array | null): boolean {
  if (a === null || b === null) return a === b;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export class PeerTable {
  private readonly byKey = new Map<string, PlanePeer>();
  private privateKey: Uint8Array | null = null;
  private readonly keepaliveBuf = new Uint8Array(KEEPALIVE_BUFFER_BYTES);

  constructor(
    private readonly ctx: PlaneContext,
    private readonly tx: Transmitter,
  ) {}

  apply(privateKey: Uint8Array | null, peers: WorkerPeerConfig[]): void {
    const ctx = this.ctx;
    const now = ctx.clock.now();
    if (!sameBytes(privateKey, this.privateKey)) this.rebuildIdentity(privateKey);
    const device = ctx.device;
    const wanted = new Set<string>();
    for (const p of peers) {
      const key = hex(p.publicKey);
      wanted.add(key);
      if (device === null) continue;
      const peer = this.reconcile(device, key, p);
      if (peer === null) continue;
      const tunn = peer.tunn;
      device.allowedIps.removeByValue(tunn);
      for (const a of p.allowedIps) device.allowedIps.insert(a.addr, a.cidr, tunn);
      if (p.endpoint !== undefined) setEndpoint(ctx.stats, peer, p.endpoint.addr, p.endpoint.port);
      if (p.keepaliveNow) {
        this.tx.sendResult(tunn.encapsulate(now, this.keepaliveBuf, 0, 0), peer);
        this.tx.drainPeer(now, peer);
      }
    }
    for (const [key, peer] of this.byKey) {
      if (wanted.has(key)) continue;
      this.byKey.delete(key);
      ctx.peers.delete(peer.tunn);
      if (device !== null && peer.tunn.device === device) device.removePeer(peer.tunn);
    }
    this.publishAll();
  }

  publishAll(): void {
    for (const peer of this.ctx.peers.values()) publishPeer(this.ctx.stats, peer);
  }

  /** rebuildIdentity: a new identity invalidates every handshake and session; learned endpoints and counts stay. */
  private rebuildIdentity(privateKey: Uint8Array | null): void {
    const ctx = this.ctx;
    if (ctx.device !== null) {
      for (const peer of ctx.peers.values()) {
        rebaseTraffic(peer);
        ctx.device.removePeer(peer.tunn);
      }
    }
    ctx.peers.clear();
    this.privateKey = privateKey === null ? null : privateKey.slice();
    ctx.device = privateKey === null ? null : new DeviceState(ctx.crypto, privateKey, { wallClockOffsetMs: ctx.clock.wallNow() - ctx.clock.now() });
  }

  /** reconcile returns the peer for p, creating its Tunn when it has none in this device; null if the protocol refused it. */
  private reconcile(device: DeviceState, key: string, p: WorkerPeerConfig): PlanePeer | null {
    const ctx = this.ctx;
    let peer = this.byKey.get(key);
    if (peer !== undefined && peer.slot !== p.slot) {
      // A new stats slot (the main thread removed and re-added the peer): new
      // bookkeeping from zero; addPeer hands back the same Tunn if it lives.
      this.byKey.delete(key);
      peer = undefined;
    }
    if (peer !== undefined && ctx.peers.has(peer.tunn) && peer.tunn.device === device) {
      peer.tunn.setPresharedKey(p.presharedKey);
      peer.tunn.timers.persistentKeepaliveIntervalMs = p.persistentKeepaliveSec * 1000;
      return peer;
    }
    const t = device.addPeer(p.publicKey, { presharedKey: p.presharedKey, persistentKeepaliveMs: p.persistentKeepaliveSec * 1000, mtu: ctx.mtu });
    if (typeof t === "string") {
      ctx.log(`peer ${key.slice(0, 8)}…: ${t}`);
      return null;
    }
    if (peer === undefined) {
      peer = newPlanePeer(t, p.slot, key, ctx.memory);
      ctx.stats.resetSlot(p.slot);
      this.byKey.set(key, peer);
    } else {
      peer.tunn = t;
    }
    ctx.peers.set(t, peer);
    return peer;
  }
}
