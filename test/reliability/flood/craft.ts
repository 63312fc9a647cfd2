// Packets an attacker can make without any secret, for the flood generator:
// handshake initiations with a correct mac1 (anyone who knows the responder's
// public key can compute it: WireGuard whitepaper §5.4.4), the same with a
// wrong mac1, forged transport headers and garbage. Pure: randomness comes in
// as a fill function, so the unit tests can be deterministic.
import { blake2s256, blake2sMac128 } from "../../../src/crypto/blake2s.ts";
import {
  LABEL_MAC1,
  MAC_LEN,
  MESSAGE_INITIATION_OFFSET_MAC1,
  MESSAGE_INITIATION_OFFSET_MAC2,
  MESSAGE_INITIATION_OFFSET_SENDER,
  MESSAGE_INITIATION_SIZE,
  MESSAGE_INITIATION_TYPE,
  MESSAGE_PADDING_MULTIPLE,
  MESSAGE_TRANSPORT_HEADER_SIZE,
  MESSAGE_TRANSPORT_SIZE_MIN,
} from "../../../src/wireguard/constants.ts";
import { encodeTransportHeader, readU32, writeHeader, writeU32 } from "../../../src/wireguard/messages.ts";

export const FLOOD_KINDS = ["mac1-init", "bad-mac1-init", "garbage", "transport"] as const;
export type FloodKind = (typeof FLOOD_KINDS)[number];

/** RandomFill overwrites buf with random bytes. */
export type RandomFill = (buf: Uint8Array) => void;

/** cryptoFill is the generator's default randomness (Web Crypto; 64 KiB per call at most). */
export const cryptoFill: RandomFill = (buf) => {
  for (let off = 0; off < buf.length; off += 65536) crypto.getRandomValues(buf.subarray(off, Math.min(buf.length, off + 65536)));
};

/** GARBAGE_MAX_LEN keeps garbage inside one Ethernet frame (no IP fragments). */
export const GARBAGE_MAX_LEN = 1400;

/** mac1Key is BLAKE2s-256("mac1----" ‖ responder public key): the key of every mac1 sent to that responder. */
export function mac1Key(responderPublicKey: Uint8Array): Uint8Array {
  if (responderPublicKey.length !== 32) throw new RangeError(`a public key is 32 bytes, not ${responderPublicKey.length}`);
  const key = new Uint8Array(32);
  blake2s256(key, [new TextEncoder().encode(LABEL_MAC1), responderPublicKey]);
  return key;
}

/**
 * craftInitiation writes a 148-byte type-1 message at out[off]: random
 * sender index, ephemeral, encrypted static and timestamp, then
 * mac1 = MAC(key, first 116 bytes) (or random bytes when key is null: the
 * bad-mac1 kind) and a zero mac2 (no cookie). Returns 148.
 */
export function craftInitiation(out: Uint8Array, off: number, key: Uint8Array | null, fill: RandomFill): number {
  const msg = out.subarray(off, off + MESSAGE_INITIATION_SIZE);
  fill(msg.subarray(MESSAGE_INITIATION_OFFSET_SENDER, MESSAGE_INITIATION_OFFSET_MAC2));
  writeHeader(msg, 0, MESSAGE_INITIATION_TYPE);
  const mac1 = msg.subarray(MESSAGE_INITIATION_OFFSET_MAC1, MESSAGE_INITIATION_OFFSET_MAC1 + MAC_LEN);
  if (key !== null) blake2sMac128(key, msg.subarray(0, MESSAGE_INITIATION_OFFSET_MAC1), mac1);
  msg.fill(0, MESSAGE_INITIATION_OFFSET_MAC2);
  return MESSAGE_INITIATION_SIZE;
}

/**
 * craftTransport writes a forged type-4 message of `len` bytes (≥ 32, a
 * header plus a padded ciphertext and tag: len − 16 is a multiple of 16) with
 * a random receiver index and counter below 2^48 and random "ciphertext".
 * Returns len.
 */
export function craftTransport(out: Uint8Array, off: number, len: number, fill: RandomFill): number {
  if (len < MESSAGE_TRANSPORT_SIZE_MIN || (len - MESSAGE_TRANSPORT_HEADER_SIZE) % MESSAGE_PADDING_MULTIPLE !== 0) {
    throw new RangeError(`a transport message is 16 + 16k bytes with k ≥ 1, not ${len}`);
  }
  const msg = out.subarray(off, off + len);
  fill(msg);
  const receiver = readU32(msg, 4);
  const counter = readU32(msg, 8) + (msg[12]! | (msg[13]! << 8)) * 0x1_0000_0000;
  encodeTransportHeader(msg, 0, receiver, counter);
  return len;
}

/**
 * craftGarbage writes `len` (1..GARBAGE_MAX_LEN) random bytes at out[off]
 * whose first word is never a WireGuard message type, so every one must be
 * dropped at the header check. Returns len.
 */
export function craftGarbage(out: Uint8Array, off: number, len: number, fill: RandomFill): number {
  if (!(len >= 1 && len <= GARBAGE_MAX_LEN)) throw new RangeError(`garbage length must be 1..${GARBAGE_MAX_LEN}, not ${len}`);
  const msg = out.subarray(off, off + len);
  fill(msg);
  if (len >= 4) {
    const word = readU32(msg, 0);
    // Types 1–4 with zero reserved bytes are real headers; set a reserved bit.
    if (word >= 1 && word <= 4) writeU32(msg, 0, word | 0x100);
  }
  return len;
}

/** randomTransportLength picks a valid transport length, 32..1440, from one random byte pair. */
export function randomTransportLength(r: number): number {
  return MESSAGE_TRANSPORT_HEADER_SIZE + MESSAGE_PADDING_MULTIPLE * (1 + (r % 89));
}

/** randomGarbageLength picks 1..GARBAGE_MAX_LEN from a random u32. */
export function randomGarbageLength(r: number): number {
  return 1 + (r % GARBAGE_MAX_LEN);
}

/** PacketPool is `count` crafted packets laid out in one slab (stride bytes apart) with their lengths. */
export interface PacketPool {
  readonly kind: FloodKind;
  readonly slab: Uint8Array;
  readonly stride: number;
  readonly lengths: Uint32Array;
}

/** strideFor is the slab stride of a kind: its largest packet. */
export function strideFor(kind: FloodKind): number {
  if (kind === "mac1-init" || kind === "bad-mac1-init") return MESSAGE_INITIATION_SIZE;
  if (kind === "transport") return randomTransportLength(88);
  return GARBAGE_MAX_LEN;
}

/**
 * buildPool crafts count packets of kind. Initiations need the responder's
 * public key for mac1-init. Senders cycle through the pool: every packet
 * costs the responder the same whether it has seen its bytes before or not
 * (initiations carry no state a repeat could hit before the DH).
 */
export function buildPool(kind: FloodKind, count: number, responderPublicKey: Uint8Array | null, fill: RandomFill = cryptoFill): PacketPool {
  const stride = strideFor(kind);
  const slab = new Uint8Array(stride * count);
  const lengths = new Uint32Array(count);
  const rnd = new Uint32Array(count);
  fill(new Uint8Array(rnd.buffer));
  let key: Uint8Array | null = null;
  if (kind === "mac1-init") {
    if (responderPublicKey === null) throw new Error("mac1-init needs the responder's public key");
    key = mac1Key(responderPublicKey);
  }
  for (let i = 0; i < count; i++) {
    const off = i * stride;
    if (kind === "mac1-init" || kind === "bad-mac1-init") lengths[i] = craftInitiation(slab, off, key, fill);
    else if (kind === "transport") lengths[i] = craftTransport(slab, off, randomTransportLength(rnd[i]!), fill);
    else lengths[i] = craftGarbage(slab, off, randomGarbageLength(rnd[i]!), fill);
  }
  return { kind, slab, stride, lengths };
}

/** isFloodKind narrows a CLI string. */
export function isFloodKind(s: string): s is FloodKind {
  return (FLOOD_KINDS as readonly string[]).includes(s);
}
