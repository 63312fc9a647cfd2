// One peer as the data plane sees it: its protocol state machine (Tunn), its
// endpoint as a ready sockaddr, its sticky local source (dossier 4.8) and
// what of it the shared stats show. Roaming (the endpoint following the
// last authenticated packet, whitepaper §6.5) and the source bookkeeping
// live here, so every path that authenticates a packet updates a peer the
// same way.
import { sockaddrFamilyAt, sockaddrIpOffset, sockaddrLength, sockaddrPortAt, writeSockaddrIn, writeSockaddrIn6 } from "../sys/layout.ts";
import { clearLocalSource, copyLocalSource, newLocalSource, sameLocalSource, type LocalSource } from "../sys/udp.ts";
import type { Tunn } from "../wireguard/peer.ts";
import type { IoMemory } from "./io.ts";
import type { SharedStats } from "./shared-stats.ts";

/** SOCKADDR_STORAGE_BYTES holds either sockaddr (16 or 28 bytes), 8-aligned. */
const SOCKADDR_STORAGE_BYTES = 32;

export interface PlanePeer {
  tunn: Tunn;
  /** slot is the peer's place in the shared stats. */
  readonly slot: number;
  readonly keyHex: string;
  /** The endpoint as a ready sockaddr in a long-lived buffer (epFamily 0: none yet). */
  epFamily: 0 | 4 | 6;
  readonly epSockaddr: Uint8Array;
  readonly epAddr: number;
  epLen: number;
  epPort: number;
  readonly epIp: Uint8Array;
  /** Sticky local source replies to this peer leave from (family 0: routing decides). */
  readonly src: LocalSource;
  /** Whether a non-empty src is what the stats slot shows (the sender may clear src behind our back). */
  srcPublished: boolean;
  /** The turn (epoch) that last queued this peer for draining. */
  touched: number;
  /** Traffic of the Tunns this peer had before a key change rebuilt it. */
  txBase: number;
  rxBase: number;
  txPacketsBase: number;
  rxPacketsBase: number;
  /** Times roam() moved the endpoint (published as the peer's endpoint roams). */
  roams: number;
  /** The last handshake time already counted and published. */
  lastHs: number;
}

export function newPlanePeer(tunn: Tunn, slot: number, keyHex: string, memory: IoMemory): PlanePeer {
  const epSockaddr = new Uint8Array(SOCKADDR_STORAGE_BYTES);
  // Touch .buffer before taking the address: JSC moves a small typed
  // array's storage out of line the first time its buffer is used.
  void epSockaddr.buffer;
  return {
    tunn,
    slot,
    keyHex,
    epFamily: 0,
    epSockaddr,
    epAddr: memory.addressOf(epSockaddr),
    epLen: 0,
    epPort: 0,
    epIp: new Uint8Array(16),
    src: newLocalSource(),
    srcPublished: false,
    touched: 0,
    txBase: 0,
    rxBase: 0,
    txPacketsBase: 0,
    rxPacketsBase: 0,
    roams: 0,
    lastHs: 0,
  };
}

/** setEndpoint points peer at a configured endpoint; routing picks our address until its next packet. */
export function setEndpoint(stats: SharedStats, peer: PlanePeer, addr: Uint8Array, port: number): void {
  const v = new DataView(peer.epSockaddr.buffer);
  if (addr.length === 4) {
    peer.epLen = writeSockaddrIn(v, 0, addr, port);
    peer.epFamily = 4;
  } else {
    peer.epLen = writeSockaddrIn6(v, 0, addr, port);
    peer.epFamily = 6;
  }
  peer.epIp.fill(0);
  peer.epIp.set(addr);
  peer.epPort = port;
  stats.writeEndpoint(peer.slot, peer.epFamily, peer.epIp, port);
  clearSource(stats, peer);
}

/**
 * roam points peer at the sockaddr at names[off] when it differs, and
 * records src (the local end the packet arrived on) as its sticky source
 * when that differs. A packet of the other family brings its own source, so
 * a family change never keeps a stale one.
 */
export function roam(stats: SharedStats, peer: PlanePeer, names: Uint8Array, off: number, src: LocalSource): void {
  const family = sockaddrFamilyAt(names, off);
  if (family === 0) return;
  if (!sameLocalSource(peer.src, src)) {
    if (src.family === family) copyLocalSource(peer.src, src);
    else clearLocalSource(peer.src);
    publishSource(stats, peer);
  }
  const port = sockaddrPortAt(names, off);
  const ipOff = off + sockaddrIpOffset(family);
  const ipLen = family === 4 ? 4 : 16;
  if (peer.epFamily === family && peer.epPort === port && sameIp(peer.epIp, names, ipOff, ipLen)) return;
  const len = sockaddrLength(family);
  for (let i = 0; i < len; i++) peer.epSockaddr[i] = names[off + i]!;
  peer.epLen = len;
  peer.epFamily = family;
  peer.epPort = port;
  peer.epIp.fill(0);
  for (let i = 0; i < ipLen; i++) peer.epIp[i] = names[ipOff + i]!;
  peer.roams++;
  stats.writeEndpoint(peer.slot, family, peer.epIp, port);
}

function sameIp(ip: Uint8Array, names: Uint8Array, off: number, len: number): boolean {
  for (let i = 0; i < len; i++) if (ip[i] !== names[off + i]) return false;
  return true;
}

/** publishPeer writes peer's traffic, last handshake and roams to the shared stats. */
export function publishPeer(stats: SharedStats, peer: PlanePeer): void {
  const t = peer.tunn;
  stats.writePeer(
    peer.slot,
    peer.txBase + t.txBytes,
    peer.rxBase + t.rxBytes,
    t.lastHandshakeWallMs,
    peer.txPacketsBase + t.txPackets,
    peer.rxPacketsBase + t.rxPackets,
    peer.roams,
  );
  // The sender clears a source the kernel refused without telling us.
  if (peer.srcPublished && peer.src.family === 0) publishSource(stats, peer);
}

export function publishSource(stats: SharedStats, peer: PlanePeer): void {
  stats.writeSource(peer.slot, peer.src.family, peer.src.addr, peer.src.ifindex);
  peer.srcPublished = peer.src.family !== 0;
}

/** clearSource forgets peer's sticky source: routing picks our address until the peer's next packet. */
export function clearSource(stats: SharedStats, peer: PlanePeer): void {
  if (peer.src.family === 0 && !peer.srcPublished) return;
  clearLocalSource(peer.src);
  publishSource(stats, peer);
}

/** rebaseTraffic folds the Tunn's counters into the peer's bases before the Tunn is replaced. */
export function rebaseTraffic(peer: PlanePeer): void {
  peer.txBase += peer.tunn.txBytes;
  peer.rxBase += peer.tunn.rxBytes;
  peer.txPacketsBase += peer.tunn.txPackets;
  peer.rxPacketsBase += peer.tunn.rxPackets;
}
