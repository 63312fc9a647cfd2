// Encode/decode of the four WireGuard messages (WG-KMOD messages.h, dossier
// 4.1) into caller buffers. All integers are little-endian. The first four
// bytes are compared as one LE u32 (type plus three zero bytes), as the
// kernel does. Decoders return views into the source buffer, never copies,
// and validate exact sizes for types 1–3 and ≥ 32 for type 4.
import {
  MESSAGE_COOKIE_REPLY_OFFSET_COOKIE,
  MESSAGE_COOKIE_REPLY_OFFSET_NONCE,
  MESSAGE_COOKIE_REPLY_OFFSET_RECEIVER,
  MESSAGE_COOKIE_REPLY_SIZE,
  MESSAGE_COOKIE_REPLY_TYPE,
  MESSAGE_INITIATION_OFFSET_EPHEMERAL,
  MESSAGE_INITIATION_OFFSET_MAC1,
  MESSAGE_INITIATION_OFFSET_MAC2,
  MESSAGE_INITIATION_OFFSET_SENDER,
  MESSAGE_INITIATION_OFFSET_STATIC,
  MESSAGE_INITIATION_OFFSET_TIMESTAMP,
  MESSAGE_INITIATION_SIZE,
  MESSAGE_INITIATION_TYPE,
  MESSAGE_RESPONSE_OFFSET_EMPTY,
  MESSAGE_RESPONSE_OFFSET_EPHEMERAL,
  MESSAGE_RESPONSE_OFFSET_MAC1,
  MESSAGE_RESPONSE_OFFSET_MAC2,
  MESSAGE_RESPONSE_OFFSET_RECEIVER,
  MESSAGE_RESPONSE_OFFSET_SENDER,
  MESSAGE_RESPONSE_SIZE,
  MESSAGE_RESPONSE_TYPE,
  MESSAGE_TRANSPORT_OFFSET_COUNTER,
  MESSAGE_TRANSPORT_OFFSET_RECEIVER,
  MESSAGE_TRANSPORT_SIZE_MIN,
  MESSAGE_TRANSPORT_TYPE,
  MAC_LEN,
  NOISE_AUTHTAG_LEN,
  NOISE_PUBLIC_KEY_LEN,
  NOISE_TIMESTAMP_LEN,
  COOKIE_LEN,
  COOKIE_NONCE_LEN,
} from "./constants.ts";
import type { WireGuardErrorCode } from "./errors.ts";

/** MessageType is the numeric type of a well-formed header. */
export type MessageType = 1 | 2 | 3 | 4;

/** InitiationMessage is a decoded type-1 message; every field views the source buffer. */
export interface InitiationMessage {
  readonly sender: number;
  readonly ephemeral: Uint8Array;
  readonly encryptedStatic: Uint8Array;
  readonly encryptedTimestamp: Uint8Array;
  readonly mac1: Uint8Array;
  readonly mac2: Uint8Array;
}

/** ResponseMessage is a decoded type-2 message; fields view the source buffer. */
export interface ResponseMessage {
  readonly sender: number;
  readonly receiver: number;
  readonly ephemeral: Uint8Array;
  readonly encryptedNothing: Uint8Array;
  readonly mac1: Uint8Array;
  readonly mac2: Uint8Array;
}

/** CookieReplyMessage is a decoded type-3 message; fields view the source buffer. */
export interface CookieReplyMessage {
  readonly receiver: number;
  readonly nonce: Uint8Array;
  readonly encryptedCookie: Uint8Array;
}

/** readU32 reads a little-endian u32 without a DataView (no allocation). */
export function readU32(buf: Uint8Array, off: number): number {
  return (buf[off]! | (buf[off + 1]! << 8) | (buf[off + 2]! << 16) | (buf[off + 3]! << 24)) >>> 0;
}

/** writeU32 writes a little-endian u32. */
export function writeU32(buf: Uint8Array, off: number, v: number): void {
  buf[off] = v;
  buf[off + 1] = v >>> 8;
  buf[off + 2] = v >>> 16;
  buf[off + 3] = v >>> 24;
}

/**
 * readCounter reads the LE u64 transport counter as a Number. Values ≥ 2^53
 * cannot be represented exactly, so they come back as Infinity, which every
 * limit check then rejects (constants.ts REJECT_AFTER_MESSAGES).
 */
export function readCounter(buf: Uint8Array, off: number): number {
  const hi = readU32(buf, off + 4);
  if (hi >= 0x20_0000) return Number.POSITIVE_INFINITY;
  return hi * 0x1_0000_0000 + readU32(buf, off);
}

/** writeCounter writes a Number counter (< 2^53) as LE u64. */
export function writeCounter(buf: Uint8Array, off: number, counter: number): void {
  writeU32(buf, off, counter >>> 0);
  writeU32(buf, off + 4, Math.floor(counter / 0x1_0000_0000));
}

/** writeHeader writes the type byte and the three zero reserved bytes. */
export function writeHeader(buf: Uint8Array, off: number, type: MessageType): void {
  writeU32(buf, off, type);
}

/**
 * messageType classifies buf[off, off+len) by its header and length. It is the
 * only gate in front of every other decoder, so it checks sizes exactly.
 */
export function messageType(buf: Uint8Array, off: number, len: number): MessageType | WireGuardErrorCode {
  if (len < 4 || off < 0 || off + len > buf.length) return "truncated";
  const word = readU32(buf, off);
  switch (word) {
    case MESSAGE_INITIATION_TYPE:
      return sizeIs(len, MESSAGE_INITIATION_SIZE) ?? MESSAGE_INITIATION_TYPE;
    case MESSAGE_RESPONSE_TYPE:
      return sizeIs(len, MESSAGE_RESPONSE_SIZE) ?? MESSAGE_RESPONSE_TYPE;
    case MESSAGE_COOKIE_REPLY_TYPE:
      return sizeIs(len, MESSAGE_COOKIE_REPLY_SIZE) ?? MESSAGE_COOKIE_REPLY_TYPE;
    case MESSAGE_TRANSPORT_TYPE:
      return len < MESSAGE_TRANSPORT_SIZE_MIN ? "truncated" : MESSAGE_TRANSPORT_TYPE;
  }
  // A known type byte with junk in the reserved bytes is not that type.
  const t = buf[off]!;
  return t >= 1 && t <= 4 ? "bad-reserved" : "unknown-type";
}

function sizeIs(len: number, want: number): WireGuardErrorCode | undefined {
  if (len < want) return "truncated";
  if (len > want) return "oversized";
  return undefined;
}

function view(buf: Uint8Array, off: number, len: number): Uint8Array {
  return buf.subarray(off, off + len);
}

/** decodeInitiation decodes a type-1 message at buf[off, off+len). */
export function decodeInitiation(buf: Uint8Array, off: number, len: number): InitiationMessage | WireGuardErrorCode {
  const t = messageType(buf, off, len);
  if (t !== MESSAGE_INITIATION_TYPE) return typeof t === "string" ? t : "unknown-type";
  return {
    sender: readU32(buf, off + MESSAGE_INITIATION_OFFSET_SENDER),
    ephemeral: view(buf, off + MESSAGE_INITIATION_OFFSET_EPHEMERAL, NOISE_PUBLIC_KEY_LEN),
    encryptedStatic: view(buf, off + MESSAGE_INITIATION_OFFSET_STATIC, NOISE_PUBLIC_KEY_LEN + NOISE_AUTHTAG_LEN),
    encryptedTimestamp: view(buf, off + MESSAGE_INITIATION_OFFSET_TIMESTAMP, NOISE_TIMESTAMP_LEN + NOISE_AUTHTAG_LEN),
    mac1: view(buf, off + MESSAGE_INITIATION_OFFSET_MAC1, MAC_LEN),
    mac2: view(buf, off + MESSAGE_INITIATION_OFFSET_MAC2, MAC_LEN),
  };
}

/** decodeResponse decodes a type-2 message at buf[off, off+len). */
export function decodeResponse(buf: Uint8Array, off: number, len: number): ResponseMessage | WireGuardErrorCode {
  const t = messageType(buf, off, len);
  if (t !== MESSAGE_RESPONSE_TYPE) return typeof t === "string" ? t : "unknown-type";
  return {
    sender: readU32(buf, off + MESSAGE_RESPONSE_OFFSET_SENDER),
    receiver: readU32(buf, off + MESSAGE_RESPONSE_OFFSET_RECEIVER),
    ephemeral: view(buf, off + MESSAGE_RESPONSE_OFFSET_EPHEMERAL, NOISE_PUBLIC_KEY_LEN),
    encryptedNothing: view(buf, off + MESSAGE_RESPONSE_OFFSET_EMPTY, NOISE_AUTHTAG_LEN),
    mac1: view(buf, off + MESSAGE_RESPONSE_OFFSET_MAC1, MAC_LEN),
    mac2: view(buf, off + MESSAGE_RESPONSE_OFFSET_MAC2, MAC_LEN),
  };
}

/** decodeCookieReply decodes a type-3 message at buf[off, off+len). */
export function decodeCookieReply(buf: Uint8Array, off: number, len: number): CookieReplyMessage | WireGuardErrorCode {
  const t = messageType(buf, off, len);
  if (t !== MESSAGE_COOKIE_REPLY_TYPE) return typeof t === "string" ? t : "unknown-type";
  return {
    receiver: readU32(buf, off + MESSAGE_COOKIE_REPLY_OFFSET_RECEIVER),
    nonce: view(buf, off + MESSAGE_COOKIE_REPLY_OFFSET_NONCE, COOKIE_NONCE_LEN),
    encryptedCookie: view(buf, off + MESSAGE_COOKIE_REPLY_OFFSET_COOKIE, COOKIE_LEN + NOISE_AUTHTAG_LEN),
  };
}

/** transportReceiver reads a type-4 message's receiver index (caller validated the type). */
export function transportReceiver(buf: Uint8Array, off: number): number {
  return readU32(buf, off + MESSAGE_TRANSPORT_OFFSET_RECEIVER);
}

/** transportCounter reads a type-4 message's counter; Infinity when ≥ 2^53. */
export function transportCounter(buf: Uint8Array, off: number): number {
  return readCounter(buf, off + MESSAGE_TRANSPORT_OFFSET_COUNTER);
}

/** encodeTransportHeader writes the 16-byte type-4 header at buf[off]; returns 16. */
export function encodeTransportHeader(buf: Uint8Array, off: number, receiver: number, counter: number): number {
  writeHeader(buf, off, MESSAGE_TRANSPORT_TYPE);
  writeU32(buf, off + MESSAGE_TRANSPORT_OFFSET_RECEIVER, receiver);
  writeCounter(buf, off + MESSAGE_TRANSPORT_OFFSET_COUNTER, counter);
  return 16;
}

/** encodeCookieReply writes a type-3 message at buf[off]; returns 64. */
export function encodeCookieReply(buf: Uint8Array, off: number, receiver: number, nonce: Uint8Array, encryptedCookie: Uint8Array): number {
  writeHeader(buf, off, MESSAGE_COOKIE_REPLY_TYPE);
  writeU32(buf, off + MESSAGE_COOKIE_REPLY_OFFSET_RECEIVER, receiver);
  // Byte loops, not set(subarray): a flood makes one reply per message it gets through.
  for (let i = 0; i < COOKIE_NONCE_LEN; i++) buf[off + MESSAGE_COOKIE_REPLY_OFFSET_NONCE + i] = nonce[i]!;
  for (let i = 0; i < COOKIE_LEN + NOISE_AUTHTAG_LEN; i++) buf[off + MESSAGE_COOKIE_REPLY_OFFSET_COOKIE + i] = encryptedCookie[i]!;
  return MESSAGE_COOKIE_REPLY_SIZE;
}
