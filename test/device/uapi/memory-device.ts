// MemoryDevice: a complete UapiDevice that keeps its state in maps and the
// real allowed-IPs trie. It is what the server tests (and real wg) talk to;
// its semantics follow model.ts, so it doubles as the reference the daemon's
// device must match.
import { x25519BaseNoble } from "../../../src/crypto/x25519.ts";
import { UapiErrno } from "../../../src/device/uapi/errors.ts";
import type { DeviceChange, DeviceSnapshot, PeerChange, UapiDevice, UapiResult } from "../../../src/device/uapi/model.ts";
import { formatKeyHex } from "../../../src/device/uapi/values.ts";
import type { Endpoint } from "../../../src/device/uapi/values.ts";
import { AllowedIps } from "../../../src/wireguard/allowed-ips.ts";

export interface MemoryPeer {
  publicKey: Uint8Array;
  presharedKey: Uint8Array | null;
  endpoint: Endpoint | null;
  persistentKeepaliveInterval: number;
  lastHandshakeTimeSec: number;
  lastHandshakeTimeNsec: number;
  txBytes: bigint;
  rxBytes: bigint;
  /** Keepalives sent because persistent keepalive was just turned on. */
  immediateKeepalives: number;
}

export class MemoryDevice implements UapiDevice {
  privateKey: Uint8Array | null = null;
  publicKey: Uint8Array | null = null;
  listenPort = 0;
  fwmark = 0;
  /** Keyed by lowercase hex public key; Map keeps creation order for get. */
  readonly peers = new Map<string, MemoryPeer>();
  readonly allowedIps = new AllowedIps<MemoryPeer>();
  /** Ports "another process" holds: choosing one fails the whole set with EADDRINUSE. */
  readonly portsInUse = new Set<number>();

  snapshot(): DeviceSnapshot {
    return {
      privateKey: this.privateKey,
      listenPort: this.listenPort,
      fwmark: this.fwmark,
      peers: [...this.peers.values()].map((peer) => ({
        publicKey: peer.publicKey,
        presharedKey: peer.presharedKey,
        endpoint: peer.endpoint,
        lastHandshakeTimeSec: peer.lastHandshakeTimeSec,
        lastHandshakeTimeNsec: peer.lastHandshakeTimeNsec,
        txBytes: peer.txBytes,
        rxBytes: peer.rxBytes,
        persistentKeepaliveInterval: peer.persistentKeepaliveInterval,
        allowedIps: this.allowedIps.entries(peer),
      })),
    };
  }

  apply(change: DeviceChange): UapiResult {
    // Everything that can fail is checked before anything changes.
    if (change.listenPort !== undefined && change.listenPort !== this.listenPort && this.portsInUse.has(change.listenPort)) {
      return { errno: UapiErrno.addressInUse };
    }
    if (change.privateKey !== undefined) this.setPrivateKey(change.privateKey);
    if (change.listenPort !== undefined) this.listenPort = change.listenPort;
    if (change.fwmark !== undefined) this.fwmark = change.fwmark;
    if (change.replacePeers) {
      this.peers.clear();
      this.allowedIps.clear();
    }
    for (const peerChange of change.peers) this.applyPeer(peerChange);
    return { errno: UapiErrno.ok };
  }

  private setPrivateKey(privateKey: Uint8Array | null): void {
    if (privateKey === null) {
      this.privateKey = null;
      this.publicKey = null;
      return;
    }
    this.privateKey = clamp(privateKey);
    const publicKey = new Uint8Array(32);
    x25519BaseNoble(privateKey, publicKey);
    this.publicKey = publicKey;
    this.removePeer(formatKeyHex(publicKey)); // a peer may not be ourselves
  }

  private applyPeer(change: PeerChange): void {
    const id = formatKeyHex(change.publicKey);
    if (this.publicKey !== null && id === formatKeyHex(this.publicKey)) return;
    if (change.remove) {
      this.removePeer(id);
      return;
    }
    let peer = this.peers.get(id);
    if (peer === undefined) {
      if (change.updateOnly) return;
      peer = newPeer(change.publicKey);
      this.peers.set(id, peer);
    }
    if (change.presharedKey !== undefined) peer.presharedKey = change.presharedKey;
    if (change.endpoint !== undefined) peer.endpoint = change.endpoint;
    if (change.persistentKeepaliveInterval !== undefined) {
      if (peer.persistentKeepaliveInterval === 0 && change.persistentKeepaliveInterval !== 0) peer.immediateKeepalives++;
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
  }
}

/** clamp applies RFC 7748's scalar clamping, as wireguard-go's SetPrivateKey does. */
function clamp(key: Uint8Array): Uint8Array {
  const out = new Uint8Array(key);
  out[0] = out[0]! & 248;
  out[31] = (out[31]! & 127) | 64;
  return out;
}

function newPeer(publicKey: Uint8Array): MemoryPeer {
  return {
    publicKey,
    presharedKey: null,
    endpoint: null,
    persistentKeepaliveInterval: 0,
    lastHandshakeTimeSec: 0,
    lastHandshakeTimeNsec: 0,
    txBytes: 0n,
    rxBytes: 0n,
    immediateKeepalives: 0,
  };
}
