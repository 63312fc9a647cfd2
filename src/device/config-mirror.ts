// The configuration as the UAPI sees it, kept on the main thread with
// MemoryDevice's semantics (uapi/model.ts): the private key, port, fwmark
// and the peers with their keys, endpoints, keepalives and allowed IPs. The
// worker holds the same state as protocol objects, but a `wg show` must not
// wait for it, so this mirror answers get= by itself and hands the worker
// whole desired states, never diffs. What only the worker learns
// (handshakes, traffic, roamed endpoints, sticky sources) it publishes into
// the shared stats, and the mirror reads it from there by the peer's slot.
import { pickX25519 } from "../crypto/x25519-select.ts";
import { AllowedIps, formatAddr } from "../wireguard/allowed-ips.ts";
import type { ToWorker, WorkerPeerConfig } from "./dataplane-messages.ts";
import { MAX_PEER_SLOTS, type SharedStats } from "./shared-stats.ts";
import type { DeviceChange, DeviceSnapshot, PeerChange } from "./uapi/model.ts";
import { formatKeyHex, type Endpoint } from "./uapi/values.ts";

interface MirrorPeer {
  publicKey: Uint8Array;
  presharedKey: Uint8Array | null;
  endpoint: Endpoint | null;
  persistentKeepaliveInterval: number;
  slot: number;
  /** SAB endpoint version already folded into `endpoint`. */
  endpointVersion: number;
}

/** ConfigMessage is the whole desired state the worker gets after every change. */
export type ConfigMessage = Extract<ToWorker, { type: "config" }>;

function clamp(key: Uint8Array): Uint8Array {
  const out = new Uint8Array(key);
  out[0] = out[0]! & 248;
  out[31] = (out[31]! & 127) | 64;
  return out;
}

export class ConfigMirror {
  private privateKey: Uint8Array | null = null;
  private publicKey: Uint8Array | null = null;
  private port = 0;
  private mark = 0;
  private readonly peers = new Map<string, MirrorPeer>();
  private readonly allowedIps = new AllowedIps<MirrorPeer>();
  private readonly freeSlots: number[] = [];
  private nextSlot = 0;

  constructor(
    private readonly stats: SharedStats,
    private readonly log: { warn(message: string): void },
  ) {}

  /** configuredPort is the listen port last asked for (0: any). */
  get configuredPort(): number {
    return this.port;
  }

  get fwmark(): number {
    return this.mark;
  }

  /**
   * apply changes the mirror in model.ts order (fwmark is the new mark, the
   * caller having already applied it to the sockets) and returns the state
   * to hand the data plane, with each peer's one-shot actions.
   */
  apply(change: DeviceChange, fwmark: number): ConfigMessage {
    if (change.privateKey !== undefined) this.setPrivateKey(change.privateKey);
    if (change.listenPort !== undefined) this.port = change.listenPort;
    this.mark = fwmark;
    if (change.replacePeers) for (const id of [...this.peers.keys()]) this.removePeer(id);
    const endpointSet = new Set<MirrorPeer>();
    const keepaliveNow = new Set<MirrorPeer>();
    for (const pc of change.peers) this.applyPeer(pc, endpointSet, keepaliveNow);
    return { type: "config", privateKey: this.privateKey, peers: [...this.peers.values()].map((p) => this.workerPeer(p, endpointSet, keepaliveNow)) };
  }

  /** snapshot is the UAPI get= view, with what the worker published folded in. */
  snapshot(listenPort: number): DeviceSnapshot {
    return {
      privateKey: this.privateKey,
      listenPort,
      fwmark: this.mark,
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

  /** peerPackets reads the peer's message counts and roams as the worker published them. */
  peerPackets(publicKey: Uint8Array): { txPackets: number; rxPackets: number; endpointRoams: number } {
    const peer = this.peers.get(formatKeyHex(publicKey));
    if (peer === undefined) return { txPackets: 0, rxPackets: 0, endpointRoams: 0 };
    const t = this.stats.readPeer(peer.slot);
    return { txPackets: t.txPackets, rxPackets: t.rxPackets, endpointRoams: t.endpointRoams };
  }

  /** localSource reads the peer's sticky source as the worker published it. */
  localSource(publicKey: Uint8Array): { address: string; ifindex: number } | null {
    const peer = this.peers.get(formatKeyHex(publicKey));
    const src = peer === undefined ? null : this.stats.readSource(peer.slot);
    return src === null ? null : { address: formatAddr(src.addr), ifindex: src.ifindex };
  }

  /** peerHandshakes lists each peer's latest handshake, Unix ms (0 = never). */
  peerHandshakes(): number[] {
    return [...this.peers.values()].map((p) => this.stats.readPeer(p.slot).lastHandshakeWallMs);
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
        this.log.warn(`peer limit (${MAX_PEER_SLOTS}) reached; ignoring peer ${id.slice(0, 8)}…`);
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
}
