// Device-level protocol state: our static identity, the peers (by public
// key), the index table that routes every inbound message to its handshake or
// keypair by receiver_index, the cookie checker and the handshake rate
// limiter (WG-KMOD device.c/receive.c/peerlookup.c, WG-GO device/device.go,
// receive.go, indextable.go). Inbound flow of decapsulate():
//   1. classify by header and exact size (messages.ts)
//   2. handshake types: mac1 (cheap, before any DH); under load, a valid mac2
//      and the per-source rate limiter, else a cookie reply / drop
//   3. initiation: Noise consume (finds the peer by its static key) → response;
//      response/cookie reply/data: the index table gives the peer (and keypair)
//   4. data: Tunn.onData authenticates, then replay, timers, source check
import type { CryptoBackend } from "../crypto/types.ts";
import { AllowedIps } from "./allowed-ips.ts";
import {
  INITIATION_MIN_INTERVAL_MS,
  MAX_PEERS,
  MESSAGE_COOKIE_REPLY_SIZE,
  MESSAGE_COOKIE_REPLY_TYPE,
  MESSAGE_INITIATION_OFFSET_MAC1,
  MESSAGE_INITIATION_OFFSET_MAC2,
  MESSAGE_INITIATION_TYPE,
  MESSAGE_RESPONSE_OFFSET_MAC1,
  MESSAGE_RESPONSE_OFFSET_MAC2,
} from "./constants.ts";
import { CookieChecker, type SourceAddr } from "./cookie.ts";
import type { WireGuardErrorCode } from "./errors.ts";
import { Kdf } from "./kdf.ts";
import type { Keypair } from "./keypair.ts";
import { decodeCookieReply, decodeInitiation, decodeResponse, messageType, transportReceiver } from "./messages.ts";
import { consumeInitiation, type Handshake, StaticIdentity } from "./noise.ts";
import { type PeerOptions, Tunn } from "./peer.ts";
import { HandshakeRateLimiter } from "./ratelimiter.ts";
import { ResultSlots, type TunnResult } from "./results.ts";

/**
 * IndexEntry is what a receiver_index names: a peer's in-progress handshake
 * (keypair null) or one of its keypairs.
 */
export interface IndexEntry {
  readonly peer: Tunn;
  keypair: Keypair | null;
}

/** DeviceOptions tunes a DeviceState; all optional. */
export interface DeviceOptions {
  rateLimiter?: HandshakeRateLimiter;
  /** wallClockOffsetMs: unix ms = now + offset; used only for TAI64N and last-handshake times. */
  wallClockOffsetMs?: number;
}

function keyId(publicKey: Uint8Array): string {
  let s = "";
  for (let i = 0; i < publicKey.length; i++) s += publicKey[i]!.toString(16).padStart(2, "0");
  return s;
}

/** DeviceState is the protocol side of one interface. Not shared across workers. */
export class DeviceState {
  readonly kdf: Kdf;
  readonly identity: StaticIdentity;
  readonly cookieChecker: CookieChecker;
  readonly rateLimiter: HandshakeRateLimiter;
  /** allowedIps maps inner addresses to peers: destination for TX routing, source check on RX. */
  readonly allowedIps = new AllowedIps<Tunn>();
  readonly indexTable = new Map<number, IndexEntry>();
  private readonly peers = new Map<string, Tunn>();
  /**
   * wallClockOffsetMs converts the monotonic `now` the caller passes into
   * unix ms for TAI64N. The protocol never reads a clock; the I/O layer sets
   * this (wall clock minus monotonic now) at start and may refresh it.
   */
  wallClockOffsetMs: number;
  private readonly slots = new ResultSlots(null);
  private readonly replyBuf = new Uint8Array(MESSAGE_COOKIE_REPLY_SIZE);
  private readonly rand4 = new Uint8Array(4);

  constructor(
    readonly crypto: CryptoBackend,
    privateKey: Uint8Array,
    opts: DeviceOptions = {},
  ) {
    this.kdf = new Kdf(crypto);
    this.identity = new StaticIdentity(this.kdf, privateKey);
    this.cookieChecker = new CookieChecker(crypto, this.identity.publicKey);
    this.rateLimiter = opts.rateLimiter ?? new HandshakeRateLimiter();
    this.wallClockOffsetMs = opts.wallClockOffsetMs ?? 0;
  }

  /** publicKey is our static public key. */
  get publicKey(): Uint8Array {
    return this.identity.publicKey;
  }

  /** peerCount is the number of configured peers. */
  get peerCount(): number {
    return this.peers.size;
  }

  /** addPeer creates the peer for publicKey, or returns the existing one. */
  addPeer(publicKey: Uint8Array, opts: PeerOptions = {}): Tunn | WireGuardErrorCode {
    const id = keyId(publicKey);
    const existing = this.peers.get(id);
    if (existing) return existing;
    if (this.peers.size >= MAX_PEERS) return "index-exhausted";
    const peer = new Tunn(this, publicKey, opts);
    this.peers.set(id, peer);
    return peer;
  }

  /** lookupPeer finds a peer by static public key. */
  lookupPeer(publicKey: Uint8Array): Tunn | undefined {
    return this.peers.get(keyId(publicKey));
  }

  /** removePeer zeroes the peer's keys and forgets its indices and allowed IPs. */
  removePeer(peer: Tunn): void {
    if (this.peers.get(keyId(peer.publicKey)) !== peer) return;
    this.peers.delete(keyId(peer.publicKey));
    peer.destroy();
    this.allowedIps.removeByValue(peer);
    for (const [idx, e] of this.indexTable) if (e.peer === peer) this.indexTable.delete(idx);
  }

  /** peerList returns the peers in insertion order. */
  peerList(): Tunn[] {
    return [...this.peers.values()];
  }

  /**
   * reserveIndex picks a random unused non-zero u32 for peer's next handshake
   * (0 is reserved to mean "none" in Handshake.localIndex). undefined when
   * the random draws keep colliding, which needs a nearly full table.
   */
  reserveIndex(peer: Tunn): number | undefined {
    for (let tries = 0; tries < 64; tries++) {
      this.crypto.randomBytes(this.rand4);
      const i = (this.rand4[0]! | (this.rand4[1]! << 8) | (this.rand4[2]! << 16) | (this.rand4[3]! << 24)) >>> 0;
      if (i === 0 || this.indexTable.has(i)) continue;
      this.indexTable.set(i, { peer, keypair: null });
      return i;
    }
    return undefined;
  }

  /** bindKeypair hands a handshake's index over to the keypair derived from it. */
  bindKeypair(index: number, peer: Tunn, kp: Keypair): void {
    this.indexTable.set(index, { peer, keypair: kp });
  }

  /** releaseIndex frees index if it still names that peer's handshake (kp null) or that keypair. */
  releaseIndex(index: number, peer: Tunn, kp: Keypair | null): void {
    const e = this.indexTable.get(index);
    if (e !== undefined && e.peer === peer && e.keypair === kp) this.indexTable.delete(index);
  }

  /** tick does device-wide housekeeping (rate-limiter GC); call about once a second. */
  tick(now: number): void {
    this.rateLimiter.gc(now);
  }

  /**
   * decapsulate processes one datagram from src at buf[off, off+len).
   * underLoad is the data plane's verdict (handshake queue deep, see dossier
   * 4.4): it makes handshakes require a cookie (mac2) and the rate limiter.
   * Transport messages are decrypted in place. Never throws on bad input.
   */
  decapsulate(now: number, src: SourceAddr, buf: Uint8Array, off: number, len: number, underLoad = false): TunnResult {
    const t = messageType(buf, off, len);
    if (typeof t === "string") return this.slots.error(t, null);
    if (t === 4) return this.receiveTransport(now, buf, off, len);
    if (t === MESSAGE_COOKIE_REPLY_TYPE) return this.receiveCookieReply(now, buf, off, len);
    const mac1Off = t === MESSAGE_INITIATION_TYPE ? MESSAGE_INITIATION_OFFSET_MAC1 : MESSAGE_RESPONSE_OFFSET_MAC1;
    const mac2Off = t === MESSAGE_INITIATION_TYPE ? MESSAGE_INITIATION_OFFSET_MAC2 : MESSAGE_RESPONSE_OFFSET_MAC2;
    const gate = this.checkHandshakeMacs(now, src, buf, off, mac1Off, mac2Off, underLoad);
    if (gate !== undefined) return gate;
    return t === MESSAGE_INITIATION_TYPE ? this.receiveInitiation(now, buf, off, len) : this.receiveResponse(now, buf, off, len);
  }

  /**
   * checkHandshakeMacs is the DoS gate in front of every DH (WG-KMOD
   * wg_cookie_validate_packet + receive.c): mac1 always; under load also mac2
   * (answered with a cookie reply when missing or stale) and the rate limiter.
   */
  private checkHandshakeMacs(
    now: number,
    src: SourceAddr,
    buf: Uint8Array,
    off: number,
    mac1Off: number,
    mac2Off: number,
    underLoad: boolean,
  ): TunnResult | undefined {
    if (!this.cookieChecker.checkMac1(buf, off, mac1Off)) return this.slots.error("invalid-mac1", null);
    if (!underLoad) return undefined;
    if (!this.cookieChecker.checkMac2(now, buf, off, mac2Off, src)) {
      // Both handshake types carry their sender index at offset 4.
      const sender = (buf[off + 4]! | (buf[off + 5]! << 8) | (buf[off + 6]! << 16) | (buf[off + 7]! << 24)) >>> 0;
      const n = this.cookieChecker.createReply(now, buf, off, mac1Off, sender, src, this.replyBuf, 0);
      return this.slots.network(null, this.replyBuf, 0, n, false);
    }
    if (!this.rateLimiter.allow(now, src.ip)) return this.slots.error("rate-limited", null);
    return undefined;
  }

  private receiveInitiation(now: number, buf: Uint8Array, off: number, len: number): TunnResult {
    const msg = decodeInitiation(buf, off, len);
    if (typeof msg === "string") return this.slots.error(msg, null);
    const hs = consumeInitiation(this.identity, msg, now, INITIATION_MIN_INTERVAL_MS, (pk) => this.lookupHandshake(pk));
    if (typeof hs === "string") return this.slots.error(hs, null);
    const peer = this.handshakeOwner(hs);
    if (peer === undefined) return this.slots.error("unknown-peer", null);
    return peer.onInitiation(now);
  }

  private receiveResponse(now: number, buf: Uint8Array, off: number, len: number): TunnResult {
    const msg = decodeResponse(buf, off, len);
    if (typeof msg === "string") return this.slots.error(msg, null);
    const e = this.indexTable.get(msg.receiver);
    if (e === undefined || e.keypair !== null) return this.slots.error("unknown-index", null);
    return e.peer.onResponse(now, msg);
  }

  private receiveCookieReply(now: number, buf: Uint8Array, off: number, len: number): TunnResult {
    const msg = decodeCookieReply(buf, off, len);
    if (typeof msg === "string") return this.slots.error(msg, null);
    const e = this.indexTable.get(msg.receiver);
    if (e === undefined) return this.slots.error("unknown-index", null);
    return e.peer.onCookieReply(now, msg);
  }

  /** receiveTransport routes a data message to its keypair with one Map lookup and no allocation. */
  private receiveTransport(now: number, buf: Uint8Array, off: number, len: number): TunnResult {
    const e = this.indexTable.get(transportReceiver(buf, off));
    if (e === undefined || e.keypair === null) return this.slots.error("unknown-index", null);
    return e.peer.onData(now, e.keypair, buf, off, len);
  }

  /**
   * transportEntry is the first step of decapsulate for a data message whose
   * AEAD the caller runs itself (on crypto helper threads): the well-formed
   * transport message at buf[off, off+len) names this entry, whose keypair
   * is set. Then checkTransport, the open, and entry.peer.onOpened.
   */
  transportEntry(buf: Uint8Array, off: number, len: number): IndexEntry | WireGuardErrorCode {
    const t = messageType(buf, off, len);
    if (typeof t === "string") return t;
    if (t !== 4) return "unknown-type";
    const e = this.indexTable.get(transportReceiver(buf, off));
    if (e === undefined || e.keypair === null) return "unknown-index";
    return e;
  }

  private lookupHandshake(publicKey: Uint8Array): Handshake | undefined {
    return this.lookupPeer(publicKey)?.handshake;
  }

  private handshakeOwner(hs: Handshake): Tunn | undefined {
    return this.lookupPeer(hs.remoteStatic);
  }
}
