// Two-peer harness for protocol tests: devices A and B in one process, a
// fake clock (plain numbers), and IPv4 packet builders.
import type { CryptoBackend } from "../../src/crypto/types.ts";
import type { SourceAddr } from "../../src/wireguard/cookie.ts";
import { DeviceState } from "../../src/wireguard/device-state.ts";
import type { PeerOptions, Tunn } from "../../src/wireguard/peer.ts";
import type { TunnResult } from "../../src/wireguard/results.ts";
import { detachResult } from "../../src/wireguard/results.ts";
import { nobleBackend } from "./noble-backend.ts";

export const SRC_A: SourceAddr = { ip: Uint8Array.of(192, 0, 2, 1), port: 51820 };
export const SRC_B: SourceAddr = { ip: Uint8Array.of(192, 0, 2, 2), port: 51821 };
export const IP_A = Uint8Array.of(10, 0, 0, 1);
export const IP_B = Uint8Array.of(10, 0, 0, 2);

export interface Pair {
  crypto: CryptoBackend;
  a: DeviceState;
  b: DeviceState;
  /** peerB is A's view of B; peerA is B's view of A. */
  peerB: Tunn;
  peerA: Tunn;
}

function key(seed: number): Uint8Array {
  const k = new Uint8Array(32);
  for (let i = 0; i < 32; i++) k[i] = (seed * 31 + i * 7) & 0xff;
  return k;
}

/** makePair builds A (10.0.0.1) and B (10.0.0.2), each knowing the other. */
export function makePair(opts: { seed?: number; pskA?: Uint8Array; pskB?: Uint8Array; crypto?: CryptoBackend; peer?: PeerOptions } = {}): Pair {
  const crypto = opts.crypto ?? nobleBackend(opts.seed ?? 1);
  const a = new DeviceState(crypto, key(1), { wallClockOffsetMs: 1_700_000_000_000 });
  const b = new DeviceState(crypto, key(2), { wallClockOffsetMs: 1_700_000_000_000 });
  const peerB = a.addPeer(b.publicKey, { ...opts.peer, presharedKey: opts.pskA ?? null });
  const peerA = b.addPeer(a.publicKey, { ...opts.peer, presharedKey: opts.pskB ?? null });
  if (typeof peerB === "string" || typeof peerA === "string") throw new Error("addPeer failed");
  a.allowedIps.insert(IP_B, 32, peerB);
  b.allowedIps.insert(IP_A, 32, peerA);
  return { crypto, a, b, peerB, peerA };
}

/** ipv4Packet builds a UDP-ish IPv4 packet src→dst with `payloadLen` bytes, at offset 16 of a buffer with tailroom. */
export function ipv4Packet(src: Uint8Array, dst: Uint8Array, payloadLen: number, fill = 0xab): { buf: Uint8Array; len: number } {
  const len = 20 + payloadLen;
  const buf = new Uint8Array(16 + len + 32);
  const p = 16;
  buf[p] = 0x45;
  buf[p + 2] = len >>> 8;
  buf[p + 3] = len & 0xff;
  buf[p + 8] = 64;
  buf[p + 9] = 17;
  buf.set(src, p + 12);
  buf.set(dst, p + 16);
  buf.fill(fill, p + 20, p + len);
  return { buf, len };
}

/** copyOut detaches a network result's bytes into a fresh datagram. */
export function datagram(r: TunnResult): Uint8Array {
  if (r.kind !== "network") throw new Error(`expected network, got ${r.kind}${r.kind === "error" ? ` (${r.code})` : ""}`);
  return r.buf.slice(r.off, r.off + r.len);
}

/** deliver hands a datagram to a device and returns a detached result. */
export function deliver(dev: DeviceState, now: number, src: SourceAddr, dgram: Uint8Array, underLoad = false): TunnResult {
  return detachResult(dev.decapsulate(now, src, dgram, 0, dgram.length, underLoad));
}

/** drainAll collects every pending outbound message of a peer. */
export function drainAll(peer: Tunn, now: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let r = peer.drain(now); r.kind !== "done"; r = peer.drain(now)) out.push(datagram(r));
  return out;
}

/** msgType reads a datagram's type byte. */
export function msgType(d: Uint8Array): number {
  return d[0]!;
}

/**
 * finishHandshake delivers A's initiation to B, B's response to A, and A's
 * confirmation (keepalive, or the staged packets) to B. Returns the messages
 * and what B produced for each confirmation.
 */
export function finishHandshake(p: Pair, now: number, init: Uint8Array): { resp: Uint8Array; confirm: Uint8Array[]; atB: TunnResult[] } {
  const resp = datagram(deliver(p.b, now, SRC_A, init));
  const r = deliver(p.a, now, SRC_B, resp);
  const confirm = r.kind === "network" ? [datagram(r)] : [];
  if (r.kind !== "network" && r.kind !== "done") throw new Error(`response rejected: ${r.kind === "error" ? r.code : r.kind}`);
  confirm.push(...drainAll(p.peerB, now));
  const atB = confirm.map((c) => deliver(p.b, now, SRC_A, c));
  return { resp, confirm, atB };
}

/** startHandshake makes A want a handshake (as if a packet were queued) and returns its initiation. */
export function startHandshake(p: Pair, now: number): Uint8Array {
  const { buf, len } = ipv4Packet(IP_A, IP_B, 8);
  return datagram(detachResult(p.peerB.encapsulate(now, buf, 0, len)));
}
