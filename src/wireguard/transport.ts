// Transport data: in-place seal/open of type-4 messages (dossier 4.5; WG-KMOD
// send.c/receive.c, WG-GO device/send.go/receive.go). The caller's buffer
// holds the message at `off`: 16 header bytes, then the plaintext, then room
// for ≤15 padding bytes and the 16-byte tag (wireguard-go's
// MessageTransportHeaderSize headroom). Nothing here allocates.
import {
  MESSAGE_PADDING_MULTIPLE,
  MESSAGE_TRANSPORT_HEADER_SIZE,
  MESSAGE_TRANSPORT_OFFSET_CONTENT,
  NOISE_AUTHTAG_LEN,
  REJECT_AFTER_MESSAGES,
  REJECT_AFTER_TIME_MS,
} from "./constants.ts";
import type { WireGuardErrorCode } from "./errors.ts";
import type { Keypair } from "./keypair.ts";
import { encodeTransportHeader, transportCounter } from "./messages.ts";

/**
 * paddingFor returns how many zero bytes follow a len-byte plaintext: up to a
 * multiple of 16, but never past the MTU (mtu 0 = no cap). Same formula as
 * WG-KMOD calculate_skb_padding and WG-GO calculatePaddingSize.
 */
export function paddingFor(len: number, mtu: number): number {
  if (mtu === 0) return (MESSAGE_PADDING_MULTIPLE - (len % MESSAGE_PADDING_MULTIPLE)) % MESSAGE_PADDING_MULTIPLE;
  const last = len > mtu ? len % mtu : len;
  const padded = Math.min(mtu, align16(last));
  return padded - last;
}

function align16(n: number): number {
  return (n + MESSAGE_PADDING_MULTIPLE - 1) & ~(MESSAGE_PADDING_MULTIPLE - 1);
}

/** transportSize is the wire size of a message carrying a len-byte packet. */
export function transportSize(len: number, mtu: number): number {
  return MESSAGE_TRANSPORT_HEADER_SIZE + len + paddingFor(len, mtu) + NOISE_AUTHTAG_LEN;
}

/** canSend reports whether kp may still encrypt at `now` (REJECT_AFTER_* limits). */
export function canSend(kp: Keypair, now: number): boolean {
  return kp.isValid && kp.sendCounter < REJECT_AFTER_MESSAGES && now - kp.created < REJECT_AFTER_TIME_MS;
}

/**
 * sealTransport pads, encrypts and frames the len-byte packet at
 * buf[off+16] under kp with its next counter. Returns the message length or
 * "buffer-too-small" when the tailroom is missing. Caller checked canSend.
 */
export function sealTransport(kp: Keypair, buf: Uint8Array, off: number, len: number, mtu: number): number | WireGuardErrorCode {
  const pad = paddingFor(len, mtu);
  const total = MESSAGE_TRANSPORT_HEADER_SIZE + len + pad + NOISE_AUTHTAG_LEN;
  if (off < 0 || off + total > buf.length) return "buffer-too-small";
  const p = off + MESSAGE_TRANSPORT_OFFSET_CONTENT;
  buf.fill(0, p + len, p + len + pad);
  const counter = kp.sendCounter++;
  encodeTransportHeader(buf, off, kp.remoteIndex, counter);
  kp.send.seal(counter, buf, p, len + pad);
  return total;
}

/**
 * frameTransportBatch does for packets [from, to) of one buffer everything a
 * seal does except the AEAD itself: packet i is the lens[i]-byte IP packet at
 * buf[offs[i]], its message is framed at buf[offs[i]-16] (16 bytes headroom,
 * ≥31 tailroom) with its padding zeroed, its counter goes to counters[i] and
 * its wire length to outLens[i]. The counter range [kp.sendCounter,
 * kp.sendCounter + n) is reserved at once, so every nonce is used once, in
 * packet order, exactly as n sealTransport calls would use them; the caller
 * then encrypts packet i's outLens[i]-32 bytes at offs[i] with kp.send and
 * counters[i] (here, or on a crypto helper thread) before anything is sent.
 * All-or-nothing: returns n, or 0 (touching nothing) when kp cannot send all
 * n — the REJECT_AFTER_* limits checked for the last counter of the range —
 * or a packet lacks head- or tailroom; the caller then falls back to one
 * encapsulate per packet, which gives the exact per-packet behaviour.
 */
export function frameTransportBatch(
  kp: Keypair,
  now: number,
  buf: Uint8Array,
  offs: Int32Array,
  lens: Int32Array,
  from: number,
  to: number,
  mtu: number,
  outLens: Int32Array,
  counters: Float64Array,
): number {
  const n = to - from;
  if (n <= 0) return 0;
  if (!kp.isValid || now - kp.created >= REJECT_AFTER_TIME_MS || !(kp.sendCounter + (n - 1) < REJECT_AFTER_MESSAGES)) return 0;
  for (let i = from; i < to; i++) {
    const len = lens[i]!;
    const off = offs[i]! - MESSAGE_TRANSPORT_HEADER_SIZE;
    if (off < 0 || len < 0 || off + MESSAGE_TRANSPORT_HEADER_SIZE + len + paddingFor(len, mtu) + NOISE_AUTHTAG_LEN > buf.length) return 0;
  }
  for (let i = from; i < to; i++) {
    const len = lens[i]!;
    const p = offs[i]!;
    const pad = paddingFor(len, mtu);
    if (pad > 0) buf.fill(0, p + len, p + len + pad);
    const counter = kp.sendCounter++;
    encodeTransportHeader(buf, p - MESSAGE_TRANSPORT_HEADER_SIZE, kp.remoteIndex, counter);
    counters[i] = counter;
    outLens[i] = MESSAGE_TRANSPORT_HEADER_SIZE + len + pad + NOISE_AUTHTAG_LEN;
  }
  return n;
}

/** sealedPayloadLength is what the AEAD covers of a message of wire length wireLen: padded plaintext, not header or tag. */
export function sealedPayloadLength(wireLen: number): number {
  return wireLen - MESSAGE_TRANSPORT_HEADER_SIZE - NOISE_AUTHTAG_LEN;
}

/**
 * sealTransportBatch frames packets [from, to) (frameTransportBatch) and
 * seals them in one backend call; same contract and return value. scratch
 * holds the per-batch arrays and grows only when a batch is larger than any
 * before.
 */
export function sealTransportBatch(
  kp: Keypair,
  now: number,
  buf: Uint8Array,
  offs: Int32Array,
  lens: Int32Array,
  from: number,
  to: number,
  mtu: number,
  outLens: Int32Array,
  scratch: SealScratch,
): number {
  if (scratch.framed.length < to) scratch.grow(to);
  const n = frameTransportBatch(kp, now, buf, offs, lens, from, to, mtu, outLens, scratch.framed);
  if (n === 0) return 0;
  const counters = scratch.counters;
  const pOffs = scratch.offs;
  const pLens = scratch.lens;
  for (let i = from, k = 0; i < to; i++, k++) {
    counters[k] = scratch.framed[i]!;
    pOffs[k] = offs[i]!;
    pLens[k] = sealedPayloadLength(outLens[i]!);
  }
  kp.send.sealBatch(n, counters, buf, pOffs, pLens);
  return n;
}

/** SealScratch is the reusable per-batch state of sealTransportBatch. */
export class SealScratch {
  /** Counters by packet index, as frameTransportBatch writes them. */
  framed = new Float64Array(0);
  /** The batch compacted to index 0, as sealBatch takes it. */
  counters = new Float64Array(0);
  offs = new Int32Array(0);
  lens = new Int32Array(0);
  grow(n: number): void {
    const cap = Math.max(n, 128);
    this.framed = new Float64Array(cap);
    this.counters = new Float64Array(cap);
    this.offs = new Int32Array(cap);
    this.lens = new Int32Array(cap);
  }
}

/**
 * checkTransport is what must hold before a message at buf[off] is opened
 * under kp: the keypair is alive and the counter below REJECT_AFTER_MESSAGES.
 * Returns the message's counter, or why it is refused.
 */
export function checkTransport(kp: Keypair, now: number, buf: Uint8Array, off: number): number | WireGuardErrorCode {
  if (!kp.isValid || now - kp.created >= REJECT_AFTER_TIME_MS) return "expired-keypair";
  const counter = transportCounter(buf, off);
  if (!(counter < REJECT_AFTER_MESSAGES)) return "counter-too-large";
  return counter;
}

/**
 * acceptOpened finishes receiving a len-byte message whose AEAD open
 * (counter, in place at off+16) succeeded: only now is the counter recorded
 * in the replay window (a forged packet must not move it). The keypair may
 * have been destroyed while the message was being opened on another thread.
 * Returns the padded plaintext length, found at buf[off+16].
 */
export function acceptOpened(kp: Keypair, counter: number, len: number): number | WireGuardErrorCode {
  if (!kp.isValid) return "expired-keypair";
  if (!kp.replay.validateCounter(counter, REJECT_AFTER_MESSAGES)) return "duplicate-counter";
  return len - MESSAGE_TRANSPORT_HEADER_SIZE - NOISE_AUTHTAG_LEN;
}

/**
 * openTransport authenticates and decrypts in place the message at
 * buf[off, off+len) under kp (checkTransport, the AEAD, acceptOpened).
 * Returns the padded plaintext length, found at buf[off+16].
 */
export function openTransport(kp: Keypair, now: number, buf: Uint8Array, off: number, len: number): number | WireGuardErrorCode {
  const counter = checkTransport(kp, now, buf, off);
  if (typeof counter === "string") return counter;
  const p = off + MESSAGE_TRANSPORT_OFFSET_CONTENT;
  if (!kp.recv.open(counter, buf, p, len - MESSAGE_TRANSPORT_HEADER_SIZE)) return "decrypt-failed";
  return acceptOpened(kp, counter, len);
}

/**
 * innerPacket checks the decrypted plaintext at buf[p, p+plen) is an IPv4 or
 * IPv6 packet whose header length fits, and returns its real length with the
 * padding trimmed, or -1 when the lengths are dishonest (WG-KMOD
 * wg_packet_consume_data_done). The caller reads the version nibble itself.
 */
export function innerPacketLength(buf: Uint8Array, p: number, plen: number): number {
  if (plen < 1) return -1;
  const version = buf[p]! >>> 4;
  if (version === 4) {
    if (plen < 20) return -1;
    const total = (buf[p + 2]! << 8) | buf[p + 3]!;
    return total < 20 || total > plen ? -1 : total;
  }
  if (version === 6) {
    if (plen < 40) return -1;
    const total = ((buf[p + 4]! << 8) | buf[p + 5]!) + 40;
    return total > plen ? -1 : total;
  }
  return -1;
}

/** innerSourceOffset returns where the inner source address starts (IPv4 +12, IPv6 +8). */
export function innerSourceOffset(p: number, version: 4 | 6): number {
  return version === 4 ? p + 12 : p + 8;
}

/** innerDestinationOffset returns where the inner destination address starts (IPv4 +16, IPv6 +24). */
export function innerDestinationOffset(p: number, version: 4 | 6): number {
  return version === 4 ? p + 16 : p + 24;
}
