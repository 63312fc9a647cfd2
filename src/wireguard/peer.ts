// Tunn: one peer's protocol state (boringtun noise::Tunn; WG-KMOD peer.c,
// send.c, receive.c; WG-GO device/peer.go, send.go, receive.go). It joins the
// handshake, cookie generator, keypair slots, timers and the staged queue.
// Outbound flow:
//   1. encapsulate(now, buf, off, len): packet at buf[off+16]; sealed in
//      place under `current`, or copied to the staged queue (≤128) when no
//      usable session exists, which also starts a handshake.
//   2. drain(now) after each batch: pending initiation first, then staged
//      packets once a session exists; call until it returns "done".
//   3. tick(now) periodically (≤ every 100 ms is plenty; see nextDeadline()).
// Inbound messages enter through DeviceState.decapsulate, which routes them
// here by receiver index (or, for initiations, by the decrypted static key).
import type { AeadKey, CryptoBackend } from "../crypto/types.ts";
import {
  KEEPALIVE_TIMEOUT_MS,
  MAX_STAGED_PACKETS,
  MAX_TIMER_HANDSHAKES,
  MESSAGE_INITIATION_OFFSET_MAC1,
  MESSAGE_INITIATION_SIZE,
  MESSAGE_KEEPALIVE_SIZE,
  MESSAGE_RESPONSE_OFFSET_MAC1,
  MESSAGE_RESPONSE_SIZE,
  MESSAGE_TRANSPORT_HEADER_SIZE,
  MESSAGE_TRANSPORT_OVERHEAD,
  REKEY_TIMEOUT_MS,
} from "./constants.ts";
import { CookieGenerator } from "./cookie.ts";
import { staleForReceiving, staleForSending } from "./key-freshness.ts";
import type { DeviceState } from "./device-state.ts";
import type { WireGuardErrorCode } from "./errors.ts";
import { type Keypair, Keypairs } from "./keypair.ts";
import type { CookieReplyMessage, ResponseMessage } from "./messages.ts";
import { beginSession, consumeResponse, createInitiation, createResponse, Handshake } from "./noise.ts";
import { detachResult, ResultSlots, type ErrorResult, type NetworkResult, type TunnResult } from "./results.ts";
import { PeerTimers, type TimerEvent } from "./timers.ts";
import {
  acceptOpened,
  canSend,
  checkTransport,
  frameTransportBatch,
  innerPacketLength,
  innerSourceOffset,
  SealScratch,
  sealTransport,
  sealTransportBatch,
} from "./transport.ts";
import type { SourceAddr } from "./cookie.ts";

/** PeerOptions configures a peer at creation. */
export interface PeerOptions {
  /** presharedKey: 32 bytes, or absent/null for none (all zeros). */
  presharedKey?: Uint8Array | null;
  /** persistentKeepaliveMs: 0 or absent disables it (wg's persistent-keepalive × 1000). */
  persistentKeepaliveMs?: number;
  /** mtu caps the padding of transport plaintexts (0 = pad to 16 unconditionally). */
  mtu?: number;
}

interface StagedPacket {
  buf: Uint8Array; // packet at offset 16, with tailroom for padding and tag
  len: number;
}

/** Tunn is the protocol state for one peer. Not shared across workers. */
export class Tunn {
  readonly publicKey: Uint8Array;
  readonly handshake: Handshake;
  readonly cookies: CookieGenerator;
  readonly keypairs: Keypairs;
  readonly timers: PeerTimers;
  mtu: number;
  /** lastHandshakeWallMs is the wall-clock time of the last completed handshake (UAPI last_handshake_time), 0 = never. */
  lastHandshakeWallMs = 0;
  rxBytes = 0;
  txBytes = 0;
  /** Transport messages (keepalives included) opened and sent, beside the byte counts. */
  rxPackets = 0;
  txPackets = 0;
  /**
   * endpointSourceStale is set when a handshake is retried because the last
   * one went unanswered (retransmit-handshake, new-handshake): the caller
   * should forget the local source address it sends this peer's packets
   * from, in case that is why (WG-GO timers.go markEndpointSrcForClearing,
   * WG-KMOD timers.c wg_socket_clear_peer_endpoint_src), then reset the flag.
   */
  endpointSourceStale = false;

  private readonly crypto: CryptoBackend;
  private readonly staged: StagedPacket[] = [];
  private handshakeWanted = false;
  private readonly slots: ResultSlots;
  private readonly hsBuf = new Uint8Array(MESSAGE_INITIATION_SIZE);
  private readonly keepaliveBuf = new Uint8Array(MESSAGE_KEEPALIVE_SIZE);
  private readonly events: TimerEvent[] = [];
  private readonly rand4 = new Uint8Array(4);
  private readonly sealScratch = new SealScratch();

  /** Use DeviceState.addPeer; the device owns the index table this peer registers in. */
  constructor(
    readonly device: DeviceState,
    publicKey: Uint8Array,
    opts: PeerOptions = {},
  ) {
    this.crypto = device.crypto;
    this.publicKey = publicKey.slice();
    this.handshake = new Handshake(device.identity, this.publicKey, opts.presharedKey ?? undefined);
    this.handshake.onIndexReleased = (i) => device.releaseIndex(i, this, null);
    this.cookies = new CookieGenerator(this.crypto, this.publicKey);
    this.keypairs = new Keypairs((kp) => device.releaseIndex(kp.localIndex, this, kp));
    this.timers = new PeerTimers((max) => this.jitter(max));
    this.timers.persistentKeepaliveIntervalMs = opts.persistentKeepaliveMs ?? 0;
    this.mtu = opts.mtu ?? 0;
    this.slots = new ResultSlots(this);
  }

  /** stagedCount is how many packets wait for a session. */
  get stagedCount(): number {
    return this.staged.length;
  }

  /**
   * encapsulate seals the len-byte IP packet at buf[off+16] into a transport
   * message at buf[off]. The buffer needs 16 bytes of headroom (the header)
   * and 31 of tailroom (padding ≤15, tag 16). Returns "network" with the
   * sealed message, or — without a usable session — stages a copy and returns
   * an initiation to send ("network", isHandshake) or "done".
   */
  encapsulate(now: number, buf: Uint8Array, off: number, len: number): TunnResult {
    if (off < 0 || len < 0 || off + MESSAGE_TRANSPORT_HEADER_SIZE + len > buf.length) {
      return this.slots.error("buffer-too-small", this);
    }
    const kp = this.keypairs.current;
    if (kp !== null && canSend(kp, now)) {
      const n = sealTransport(kp, buf, off, len, this.mtu);
      if (typeof n === "string") return this.slots.error(n, this);
      this.sentTransport(now, kp, len, n);
      return this.slots.network(this, buf, off, n, false);
    }
    this.stage(buf, off, len);
    this.handshakeWanted = true;
    return this.drainHandshake(now) ?? this.slots.done(null);
  }

  /**
   * encapsulateBatch seals packets [from, to) of buf under the current
   * session in one backend call (sealTransportBatch): packet i is the
   * lens[i]-byte IP packet at buf[offs[i]], its transport message is written
   * in place at buf[offs[i]-16] and its length stored in outLens[i]. It does
   * exactly what to−from encapsulate calls that all seal would do (same
   * counters in order, same byte and timer bookkeeping, same rekey request),
   * and is all-or-nothing: it returns to−from, or 0 with nothing changed when
   * no session can send the whole range (no keypair, REJECT_AFTER_* limits,
   * missing head/tailroom). On 0 the caller must fall back to encapsulate
   * per packet, which stages and starts a handshake as usual.
   */
  encapsulateBatch(now: number, buf: Uint8Array, offs: Int32Array, lens: Int32Array, from: number, to: number, outLens: Int32Array): number {
    const kp = this.keypairs.current;
    if (kp === null || to <= from) return 0;
    const n = sealTransportBatch(kp, now, buf, offs, lens, from, to, this.mtu, outLens, this.sealScratch);
    if (n === 0) return 0;
    this.sentBatch(now, kp, lens, from, to, outLens);
    return n;
  }

  /**
   * frameBatch is encapsulateBatch without the encryption, for a caller that
   * spreads the AEAD over threads: it frames packets [from, to) under the
   * current session (frameTransportBatch: counters[i], outLens[i]), does the
   * same bookkeeping, and returns the key each packet must be sealed with
   * before it is sent (sealedPayloadLength(outLens[i]) bytes at offs[i],
   * counter counters[i]). null, with nothing changed, when no session can
   * send the whole range: fall back to encapsulate per packet.
   */
  frameBatch(
    now: number,
    buf: Uint8Array,
    offs: Int32Array,
    lens: Int32Array,
    from: number,
    to: number,
    outLens: Int32Array,
    counters: Float64Array,
  ): AeadKey | null {
    const kp = this.keypairs.current;
    if (kp === null || to <= from) return null;
    if (frameTransportBatch(kp, now, buf, offs, lens, from, to, this.mtu, outLens, counters) === 0) return null;
    this.sentBatch(now, kp, lens, from, to, outLens);
    return kp.send;
  }

  /**
   * sentBatch is the bookkeeping of a batch sealed under kp. sentTransport
   * per packet is idempotent for one `now` except the byte count, and
   * keepKeyFreshSending is monotonic in the counter: once with the totals and
   * the final counter is the same as once per packet.
   */
  private sentBatch(now: number, kp: Keypair, lens: Int32Array, from: number, to: number, outLens: Int32Array): void {
    let wire = 0;
    let data = false;
    for (let i = from; i < to; i++) {
      wire += outLens[i]!;
      if (lens[i]! > 0) data = true;
    }
    this.txBytes += wire;
    this.txPackets += to - from;
    this.timers.anyAuthenticatedPacketTraversal(now);
    this.timers.anyAuthenticatedPacketSent();
    if (data) this.timers.dataSent(now);
    this.keepKeyFreshSending(now, kp);
  }

  /**
   * drain returns the next message the peer wants sent (a pending initiation,
   * then staged packets once a session exists), or "done". Call it after
   * every batch of encapsulate/decapsulate until it returns "done".
   */
  drain(now: number): TunnResult {
    const hs = this.drainHandshake(now);
    if (hs !== null) return hs;
    const kp = this.keypairs.current;
    if (this.staged.length === 0 || kp === null || !canSend(kp, now)) return this.slots.done(null);
    const p = this.staged.shift()!;
    const n = sealTransport(kp, p.buf, 0, p.len, this.mtu);
    if (typeof n === "string") return this.slots.error(n, this);
    this.sentTransport(now, kp, p.len, n);
    return this.slots.network(this, p.buf, 0, n, false);
  }

  /**
   * decapsulate is DeviceState.decapsulate for callers that hold a peer
   * (tests, single-peer tools): the message is routed by the device and may
   * concern another peer of the same device.
   */
  decapsulate(now: number, src: SourceAddr, buf: Uint8Array, off: number, len: number, underLoad = false): TunnResult {
    return this.device.decapsulate(now, src, buf, off, len, underLoad);
  }

  /**
   * tick runs every expired timer and returns what to send, as fresh objects
   * that survive later calls. Cheap when nothing is due.
   */
  tick(now: number): TunnResult[] {
    const out: TunnResult[] = [];
    this.events.length = 0;
    this.timers.expired(now, this.events);
    for (const ev of this.events) this.onTimer(now, ev, out);
    for (let r = this.drain(now); r.kind !== "done"; r = this.drain(now)) out.push(detachResult(r));
    return out;
  }

  /** nextDeadline is the earliest time tick() has work (Infinity = none). */
  nextDeadline(): number {
    return this.handshakeWanted ? 0 : this.timers.nextDeadline();
  }

  /** setPresharedKey replaces the preshared key (null = none). */
  setPresharedKey(psk: Uint8Array | null): void {
    this.handshake.setPresharedKey(psk);
  }

  /** zeroKeyMaterial drops every session and the in-progress handshake (kernel wg_expired_zero_key_material). */
  zeroKeyMaterial(): void {
    this.handshake.clear();
    this.keypairs.clear();
  }

  /** destroy zeroes everything this peer holds; the device calls it on removal. */
  destroy(): void {
    this.zeroKeyMaterial();
    this.handshake.destroy();
    this.cookies.destroy();
    this.timers.stopAll();
    this.purgeStaged();
  }

  // --- inbound, called by DeviceState after routing and mac checks ---

  /** onInitiation answers an initiation the device consumed for this peer. */
  onInitiation(now: number): TunnResult {
    this.timers.anyAuthenticatedPacketReceived();
    this.timers.anyAuthenticatedPacketTraversal(now);
    const idx = this.device.reserveIndex(this);
    if (idx === undefined) return this.slots.error("index-exhausted", this);
    const err = createResponse(this.handshake, this.hsBuf, 0, idx);
    if (err !== undefined) return this.failIndex(idx, err);
    this.cookies.addMacs(now, this.hsBuf, 0, MESSAGE_RESPONSE_OFFSET_MAC1);
    this.timers.anyAuthenticatedPacketSent();
    this.timers.lastSentHandshake = now;
    const kp = beginSession(this.handshake, now);
    if (typeof kp === "string") return this.failIndex(idx, kp);
    this.installKeypair(now, kp);
    return this.slots.network(this, this.hsBuf, 0, MESSAGE_RESPONSE_SIZE, true);
  }

  /**
   * onResponse completes our handshake. The initiator confirms the session
   * at once: with the first staged packet (via drain) or, if none, a keepalive.
   */
  onResponse(now: number, msg: ResponseMessage): TunnResult {
    const err = consumeResponse(this.handshake, msg);
    if (err !== undefined) return this.slots.error(err, null);
    this.timers.anyAuthenticatedPacketReceived();
    this.timers.anyAuthenticatedPacketTraversal(now);
    const kp = beginSession(this.handshake, now);
    if (typeof kp === "string") return this.slots.error(kp, null);
    this.installKeypair(now, kp);
    this.timers.handshakeComplete();
    this.lastHandshakeWallMs = now + this.device.wallClockOffsetMs;
    if (this.staged.length > 0) return this.slots.done(this);
    return this.sendKeepalive(now) ?? this.slots.done(this);
  }

  /** onCookieReply stores the cookie for the next retransmission; never roams. */
  onCookieReply(now: number, msg: CookieReplyMessage): TunnResult {
    const err = this.cookies.consumeReply(now, msg);
    return err === undefined ? this.slots.done(null) : this.slots.error(err, null);
  }

  /**
   * onData opens a transport message under kp in place. Order follows WG-KMOD
   * receive.c: authenticate, replay check, confirm `next`, timers, then the
   * inner-packet sanity and allowed-IPs source checks.
   */
  onData(now: number, kp: Keypair, buf: Uint8Array, off: number, len: number): TunnResult {
    const counter = checkTransport(kp, now, buf, off);
    if (typeof counter === "string") return this.slots.error(counter, null);
    const opened = kp.recv.open(counter, buf, off + MESSAGE_TRANSPORT_HEADER_SIZE, len - MESSAGE_TRANSPORT_HEADER_SIZE);
    return this.onOpened(now, kp, counter, buf, off, len, opened);
  }

  /**
   * onOpened is onData after the AEAD, for a caller that opened the message
   * itself (checkTransport gave the counter; the open may have run on another
   * thread): opened says whether the tag verified and the message at
   * buf[off+16] is now plaintext.
   */
  onOpened(now: number, kp: Keypair, counter: number, buf: Uint8Array, off: number, len: number, opened: boolean): TunnResult {
    if (!opened) return this.slots.error("decrypt-failed", null);
    const plen = acceptOpened(kp, counter, len);
    if (typeof plen === "string") return this.slots.error(plen, null);
    this.rxBytes += len;
    this.rxPackets++;
    if (this.keypairs.receivedWith(kp)) {
      // The initiator used `next`: it has the keys; our staged packets may go (drain).
      this.timers.handshakeComplete();
      this.lastHandshakeWallMs = now + this.device.wallClockOffsetMs;
    }
    this.keepKeyFreshReceiving(now);
    this.timers.anyAuthenticatedPacketReceived();
    this.timers.anyAuthenticatedPacketTraversal(now);
    if (plen === 0) return this.slots.done(this);
    this.timers.dataReceived(now);
    const p = off + MESSAGE_TRANSPORT_HEADER_SIZE;
    const ipLen = innerPacketLength(buf, p, plen);
    if (ipLen < 0) return this.slots.error("invalid-packet", this);
    const version = buf[p]! >>> 4 === 4 ? 4 : 6;
    const addrLen = version === 4 ? 4 : 16;
    if (this.device.allowedIps.lookup(buf, innerSourceOffset(p, version), addrLen) !== this) {
      return this.slots.error("forged-source", this);
    }
    return this.slots.tunnel(this, buf, p, ipLen, version);
  }

  // --- internals ---

  private onTimer(now: number, ev: TimerEvent, out: TunnResult[]): void {
    switch (ev) {
      case "retransmit-handshake":
        if (this.timers.handshakeAttempts > MAX_TIMER_HANDSHAKES) {
          // Give up: stop trying until new data arrives; keys go in 540 s.
          this.timers.giveUp(now);
          this.purgeStaged();
          return;
        }
        this.timers.handshakeAttempts++;
        this.endpointSourceStale = true;
        return this.push(out, this.sendInitiation(now, true));
      case "send-keepalive":
        this.push(out, this.sendKeepalive(now));
        if (this.timers.needAnotherKeepalive) {
          this.timers.needAnotherKeepalive = false;
          this.timers.sendKeepaliveAt = now + KEEPALIVE_TIMEOUT_MS;
        }
        return;
      case "new-handshake":
        // We sent data and heard nothing for 15 s: the session may be dead.
        this.endpointSourceStale = true;
        return this.push(out, this.sendInitiation(now, false));
      case "zero-key-material":
        return this.zeroKeyMaterial();
      case "persistent-keepalive":
        if (this.timers.persistentKeepaliveIntervalMs > 0) this.push(out, this.sendKeepalive(now));
        return;
    }
  }

  private push(out: TunnResult[], r: TunnResult | null): void {
    if (r !== null && r.kind !== "done") out.push(detachResult(r));
  }

  private drainHandshake(now: number): NetworkResult | null {
    if (!this.handshakeWanted) return null;
    this.handshakeWanted = false;
    return this.sendInitiation(now, false);
  }

  /**
   * sendInitiation creates and macs an initiation into hsBuf, at most once per
   * REKEY_TIMEOUT (kernel wg_packet_send_handshake_initiation). A retry keeps
   * the attempt counter; anything else restarts it.
   */
  private sendInitiation(now: number, isRetry: boolean): NetworkResult | null {
    if (!isRetry) this.timers.handshakeAttempts = 0;
    if (now - this.timers.lastSentHandshake < REKEY_TIMEOUT_MS) return null;
    const idx = this.device.reserveIndex(this);
    if (idx === undefined) return null;
    const err = createInitiation(this.handshake, this.hsBuf, 0, now + this.device.wallClockOffsetMs, idx);
    if (err !== undefined) {
      this.failIndex(idx, err);
      return null;
    }
    this.cookies.addMacs(now, this.hsBuf, 0, MESSAGE_INITIATION_OFFSET_MAC1);
    this.timers.anyAuthenticatedPacketTraversal(now);
    this.timers.anyAuthenticatedPacketSent();
    this.timers.lastSentHandshake = now;
    this.timers.handshakeInitiated(now);
    return this.slots.network(this, this.hsBuf, 0, MESSAGE_INITIATION_SIZE, true);
  }

  /** sendKeepalive sends an empty transport message, or lets staged data stand in for it. */
  private sendKeepalive(now: number): TunnResult | null {
    if (this.staged.length > 0) return null;
    return this.encapsulate(now, this.keepaliveBuf, 0, 0);
  }

  private installKeypair(now: number, kp: Keypair): void {
    this.device.bindKeypair(kp.localIndex, this, kp);
    this.keypairs.add(kp);
    this.timers.sessionDerived(now);
  }

  private sentTransport(now: number, kp: Keypair, len: number, wireLen: number): void {
    this.txBytes += wireLen;
    this.txPackets++;
    this.timers.anyAuthenticatedPacketTraversal(now);
    this.timers.anyAuthenticatedPacketSent();
    if (len > 0) this.timers.dataSent(now);
    this.keepKeyFreshSending(now, kp);
  }

  /** keepKeyFreshSending asks for a new handshake once the session is stale for sending. */
  private keepKeyFreshSending(now: number, kp: Keypair): void {
    if (staleForSending(kp, now)) this.handshakeWanted = true;
  }

  /** keepKeyFreshReceiving asks for the one last-minute handshake a receive-only initiator needs. */
  private keepKeyFreshReceiving(now: number): void {
    if (this.timers.sentLastMinuteHandshake || !staleForReceiving(this.keypairs.current, now)) return;
    this.timers.sentLastMinuteHandshake = true;
    this.handshakeWanted = true;
  }

  private stage(buf: Uint8Array, off: number, len: number): void {
    // The oldest packet goes first when full, as the kernel does.
    if (this.staged.length >= MAX_STAGED_PACKETS) this.staged.shift();
    const copy = new Uint8Array(len + MESSAGE_TRANSPORT_OVERHEAD + 16);
    copy.set(buf.subarray(off + MESSAGE_TRANSPORT_HEADER_SIZE, off + MESSAGE_TRANSPORT_HEADER_SIZE + len), MESSAGE_TRANSPORT_HEADER_SIZE);
    this.staged.push({ buf: copy, len });
  }

  private purgeStaged(): void {
    for (const p of this.staged) p.buf.fill(0);
    this.staged.length = 0;
  }

  private failIndex(idx: number, code: WireGuardErrorCode): ErrorResult {
    this.device.releaseIndex(idx, this, null);
    return this.slots.error(code, null);
  }

  /** jitter draws a uniform integer in [0, max) from the backend CSPRNG. */
  private jitter(max: number): number {
    this.crypto.randomBytes(this.rand4);
    const r = (this.rand4[0]! | (this.rand4[1]! << 8) | (this.rand4[2]! << 16) | (this.rand4[3]! << 24)) >>> 0;
    return r % max;
  }
}
