// mac1/mac2 and cookie replies (WG-KMOD cookie.c, WG-GO device/cookie.go,
// dossier 4.4). The checker is device-wide (our static key, a rotating
// secret); the generator is per peer (the peer's static key, the last cookie
// the peer sent us). Times are milliseconds passed in by the caller.
import type { CryptoBackend } from "../crypto/types.ts";
import {
  COOKIE_LEN,
  COOKIE_NONCE_LEN,
  COOKIE_SECRET_LATENCY_MS,
  COOKIE_SECRET_MAX_AGE_MS,
  LABEL_COOKIE,
  LABEL_MAC1,
  MAC_LEN,
  MESSAGE_COOKIE_REPLY_SIZE,
  NOISE_AUTHTAG_LEN,
} from "./constants.ts";
import type { WireGuardErrorCode } from "./errors.ts";
import type { CookieReplyMessage } from "./messages.ts";
import { encodeCookieReply } from "./messages.ts";

const ASCII = new TextEncoder();

/** SourceAddr is the outer (UDP) source of a datagram: 4- or 16-byte IP and port. */
export interface SourceAddr {
  ip: Uint8Array;
  port: number;
}

function labelledKey(crypto: CryptoBackend, label: string, publicKey: Uint8Array): Uint8Array {
  const out = new Uint8Array(32);
  crypto.blake2s256(out, ASCII.encode(label), publicKey);
  return out;
}

/**
 * CookieChecker verifies macs on handshake messages sent to us and makes
 * cookie replies. Keys derive from our static public key.
 */
export class CookieChecker {
  private readonly mac1Key: Uint8Array;
  private readonly cookieKey: Uint8Array;
  private readonly secret = new Uint8Array(32);
  private secretBirth = Number.NEGATIVE_INFINITY;
  private readonly mac = new Uint8Array(MAC_LEN);
  private readonly cookie = new Uint8Array(COOKIE_LEN);
  // ip (≤16) ‖ port (2, big-endian): what the cookie binds.
  private readonly srcBytes = new Uint8Array(18);
  /** The mac1 a cookie reply is bound to (its AAD), copied out of the message. */
  private readonly replyAad = new Uint8Array(MAC_LEN);
  private readonly nonce = new Uint8Array(COOKIE_NONCE_LEN);
  private readonly sealed = new Uint8Array(COOKIE_LEN + NOISE_AUTHTAG_LEN);

  constructor(
    private readonly crypto: CryptoBackend,
    ourPublicKey: Uint8Array,
  ) {
    this.mac1Key = labelledKey(crypto, LABEL_MAC1, ourPublicKey);
    this.cookieKey = labelledKey(crypto, LABEL_COOKIE, ourPublicKey);
  }

  /** checkMac1 verifies buf[off+mac1Off, +16) = MAC(HASH("mac1----" ‖ S_pub), buf[off, off+mac1Off)). */
  checkMac1(buf: Uint8Array, off: number, mac1Off: number): boolean {
    // Every message of a flood comes through here: no views, no allocation.
    this.crypto.blake2sMac(this.mac1Key, buf, this.mac, off, mac1Off);
    return equalAt(this.mac, buf, off + mac1Off);
  }

  /**
   * checkMac2 verifies mac2 against the cookie this source would have got
   * from us now. A secret older than COOKIE_SECRET_MAX_AGE validates nothing.
   */
  checkMac2(now: number, buf: Uint8Array, off: number, mac2Off: number, src: SourceAddr): boolean {
    if (now - this.secretBirth > COOKIE_SECRET_MAX_AGE_MS) return false;
    this.makeCookie(src);
    this.crypto.blake2sMac(this.cookie, buf, this.mac, off, mac2Off);
    this.cookie.fill(0);
    return equalAt(this.mac, buf, off + mac2Off);
  }

  /**
   * createReply writes a 64-byte cookie reply into dst[dstOff] answering the
   * message in buf[off..] whose sender index is `receiver` and whose mac1
   * sits at mac1Off. Rotates the secret when it is older than 120 s.
   */
  createReply(now: number, buf: Uint8Array, off: number, mac1Off: number, receiver: number, src: SourceAddr, dst: Uint8Array, dstOff: number): number {
    if (now - this.secretBirth > COOKIE_SECRET_MAX_AGE_MS) {
      this.crypto.randomBytes(this.secret);
      this.secretBirth = now;
    }
    this.makeCookie(src);
    this.crypto.randomBytes(this.nonce);
    const aad = this.replyAad;
    for (let i = 0; i < MAC_LEN; i++) aad[i] = buf[off + mac1Off + i]!;
    this.crypto.xaeadSeal(this.cookieKey, this.nonce, this.cookie, aad, this.sealed);
    this.cookie.fill(0);
    encodeCookieReply(dst, dstOff, receiver, this.nonce, this.sealed);
    return MESSAGE_COOKIE_REPLY_SIZE;
  }

  /** destroy zeroes the rotating secret. */
  destroy(): void {
    this.secret.fill(0);
    this.secretBirth = Number.NEGATIVE_INFINITY;
  }

  private makeCookie(src: SourceAddr): void {
    const n = src.ip.length;
    this.srcBytes.set(src.ip);
    this.srcBytes[n] = src.port >>> 8;
    this.srcBytes[n + 1] = src.port & 0xff;
    this.crypto.blake2sMac(this.secret, this.srcBytes, this.cookie, 0, n + 2);
  }
}

/**
 * CookieGenerator adds mac1/mac2 to handshake messages we send to one peer and
 * consumes that peer's cookie replies. Keys derive from the peer's public key.
 */
export class CookieGenerator {
  private readonly mac1Key: Uint8Array;
  private readonly cookieKey: Uint8Array;
  private readonly cookie = new Uint8Array(COOKIE_LEN);
  private cookieBirth = Number.NEGATIVE_INFINITY;
  private readonly lastMac1 = new Uint8Array(MAC_LEN);
  private hasLastMac1 = false;
  private readonly opened = new Uint8Array(COOKIE_LEN);

  constructor(
    private readonly crypto: CryptoBackend,
    peerPublicKey: Uint8Array,
  ) {
    this.mac1Key = labelledKey(crypto, LABEL_MAC1, peerPublicKey);
    this.cookieKey = labelledKey(crypto, LABEL_COOKIE, peerPublicKey);
  }

  /** hasCookie reports whether the next message would carry a non-zero mac2. */
  hasCookie(now: number): boolean {
    // Like the kernel, stop 5 s early so the cookie is still valid when it arrives.
    return now - this.cookieBirth < COOKIE_SECRET_MAX_AGE_MS - COOKIE_SECRET_LATENCY_MS;
  }

  /**
   * addMacs writes mac1 at buf[off+mac1Off] and mac2 right after it (zeros
   * without a fresh cookie). mac1 is remembered to decrypt a cookie reply.
   */
  addMacs(now: number, buf: Uint8Array, off: number, mac1Off: number): void {
    const mac1 = buf.subarray(off + mac1Off, off + mac1Off + MAC_LEN);
    this.crypto.blake2sMac(this.mac1Key, buf.subarray(off, off + mac1Off), mac1);
    this.lastMac1.set(mac1);
    this.hasLastMac1 = true;
    const mac2Off = mac1Off + MAC_LEN;
    const mac2 = buf.subarray(off + mac2Off, off + mac2Off + MAC_LEN);
    if (this.hasCookie(now)) this.crypto.blake2sMac(this.cookie, buf.subarray(off, off + mac2Off), mac2);
    else mac2.fill(0);
  }

  /**
   * consumeReply decrypts a cookie reply to the last message we sent this
   * peer and stores the cookie for the next retransmission (it does not
   * trigger one: dossier 4.4).
   */
  consumeReply(now: number, msg: CookieReplyMessage): WireGuardErrorCode | undefined {
    if (!this.hasLastMac1) return "invalid-cookie-reply";
    if (!this.crypto.xaeadOpen(this.cookieKey, msg.nonce, msg.encryptedCookie, this.lastMac1, this.opened)) {
      return "invalid-cookie-reply";
    }
    this.cookie.set(this.opened);
    this.opened.fill(0);
    this.cookieBirth = now;
    // Kernel: a reply answers one message; a second reply to the same mac1 is ignored.
    this.hasLastMac1 = false;
    return undefined;
  }

  /** destroy zeroes the stored cookie. */
  destroy(): void {
    this.cookie.fill(0);
    this.cookieBirth = Number.NEGATIVE_INFINITY;
    this.hasLastMac1 = false;
  }
}

/** isMac2Zero reports whether a message carries no cookie mac. */
export function isMac2Zero(buf: Uint8Array, off: number, mac2Off: number): boolean {
  let acc = 0;
  for (let i = off + mac2Off; i < off + mac2Off + MAC_LEN; i++) acc |= buf[i]!;
  return acc === 0;
}

/** equalAt compares mac with buf[at, at+mac.length) in constant time, without a view. */
function equalAt(mac: Uint8Array, buf: Uint8Array, at: number): boolean {
  if (at + mac.length > buf.length) return false;
  let acc = 0;
  for (let i = 0; i < mac.length; i++) acc |= mac[i]! ^ buf[at + i]!;
  return acc === 0;
}
