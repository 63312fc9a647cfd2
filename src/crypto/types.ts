// The contract between the WireGuard protocol (src/wireguard/) and a crypto
// backend (libcrypto through bun:ffi, or the pure-TypeScript fallback).
// Everything writes into caller-owned buffers: the data plane must not
// allocate per packet. Keys are 32 bytes unless stated otherwise.

/** AEAD_TAG_LEN is the Poly1305 tag length appended by every seal. */
export const AEAD_TAG_LEN = 16;
export const KEY_LEN = 32;
export const XAEAD_NONCE_LEN = 24;

/**
 * AeadKey is ChaCha20-Poly1305 (RFC 8439) bound to one key, reused for many
 * packets. The 96-bit nonce is WireGuard's: 4 zero bytes then the counter as
 * little-endian u64. Counters are Numbers; values above 2^53 are never
 * produced or accepted by the protocol layer.
 */
export interface AeadKey {
  /** seal encrypts buf[off, off+len) in place and writes the tag at buf[off+len, off+len+16). */
  seal(counter: number, buf: Uint8Array, off: number, len: number, aad?: Uint8Array): void;
  /**
   * open authenticates buf[off, off+len) (len includes the 16-byte tag) and,
   * only if the tag verifies, decrypts the len-16 plaintext bytes in place.
   * Returns false on a bad tag or len < 16; the buffer is then unspecified.
   */
  open(counter: number, buf: Uint8Array, off: number, len: number, aad?: Uint8Array): boolean;
  /**
   * sealBatch seals count packets of one shared buffer: packet i is
   * buf[offs[i], offs[i]+lens[i]) sealed with counters[i]; its tag follows it.
   */
  sealBatch(count: number, counters: Float64Array, buf: Uint8Array, offs: Int32Array, lens: Int32Array): void;
  /**
   * openBatch opens count packets (lens include tags); ok[i] is set to 1 when
   * packet i verified and was decrypted in place, 0 otherwise.
   */
  openBatch(count: number, counters: Float64Array, buf: Uint8Array, offs: Int32Array, lens: Int32Array, ok: Uint8Array): void;
  /** destroy zeroes the key material and frees native state; the key is unusable afterwards. */
  destroy(): void;
}

/**
 * RawAeadKey is an AeadKey that also works at raw addresses: the data
 * plane's crypto helpers (src/device/crypto-pool.ts) seal and open packets in
 * another thread's slabs, which they can only name by address. The caller
 * guarantees that [addr, addr+len+16) (seal) or [addr, addr+len) (open, len
 * includes the tag) lies in live memory that no other thread touches until
 * the call returns.
 */
export interface RawAeadKey extends AeadKey {
  sealRaw(counter: number, addr: number, len: number): void;
  /** openRaw returns false on a bad tag or len < 16 (nothing is decrypted then). */
  openRaw(counter: number, addr: number, len: number): boolean;
}

/** CryptoBackend is the full set of primitives WireGuard needs. */
export interface CryptoBackend {
  /** name identifies the AEAD implementation for logs and `tunnel status`. */
  readonly name: "libcrypto" | "typescript";
  /** aeadKey binds ChaCha20-Poly1305 to a copy of key (32 bytes). */
  aeadKey(key: Uint8Array): AeadKey;
  /**
   * rawAeadKey is aeadKey with the raw-address forms, for backends whose AEAD
   * runs outside the JS heap (libcrypto); absent when it cannot (the
   * TypeScript fallback works on JS views only, so it stays on one thread).
   */
  rawAeadKey?(key: Uint8Array): RawAeadKey;
  /** xaeadSeal writes XChaCha20-Poly1305(key, nonce24, plaintext, aad) (ciphertext‖tag) into out. */
  xaeadSeal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array, out: Uint8Array): void;
  /** xaeadOpen verifies and decrypts sealed (ciphertext‖tag) into out; false on a bad tag. */
  xaeadOpen(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array, out: Uint8Array): boolean;
  /** x25519 writes DH(privateKey, publicKey) into out; false when the result is all zeros (must abort). */
  x25519(privateKey: Uint8Array, publicKey: Uint8Array, out: Uint8Array): boolean;
  /** x25519Base writes the public key of a (clamped) private key into out. */
  x25519Base(privateKey: Uint8Array, out: Uint8Array): void;
  /** blake2s256 writes HASH(parts[0] ‖ parts[1] ‖ …) (32 bytes) into out. */
  blake2s256(out: Uint8Array, ...parts: Uint8Array[]): void;
  /**
   * blake2sMac writes keyed BLAKE2s with a 16-byte output, MAC(key, data), into
   * out; with dataOff/dataLen, over data[dataOff, dataOff+dataLen) only (the
   * handshake path MACs part of a queue slot without making a view of it).
   */
  blake2sMac(key: Uint8Array, data: Uint8Array, out: Uint8Array, dataOff?: number, dataLen?: number): void;
  /** hmacBlake2s writes HMAC-BLAKE2s(key, parts concatenated) (32 bytes) into out. */
  hmacBlake2s(key: Uint8Array, out: Uint8Array, ...parts: Uint8Array[]): void;
  /** randomBytes fills out from the system CSPRNG. */
  randomBytes(out: Uint8Array): void;
}

/**
 * CryptoBackendExt is what src/crypto's backends actually implement: the
 * contract above plus one-shot forms with a caller-chosen nonce and keyed
 * BLAKE2s of any digest length, which the known-answer tests and `tunnel
 * selftest` need (published vectors use nonces and digest lengths WireGuard
 * never produces). The protocol layer should keep depending on CryptoBackend.
 */
export interface CryptoBackendExt extends CryptoBackend {
  /** aeadSealNonce writes ChaCha20-Poly1305(key, nonce12, plaintext, aad) (ciphertext‖tag) into out. */
  aeadSealNonce(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array, out: Uint8Array): void;
  /** aeadOpenNonce verifies and decrypts sealed (ciphertext‖tag) into out; false on a bad tag. */
  aeadOpenNonce(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array, out: Uint8Array): boolean;
  /** blake2sKeyed writes keyed BLAKE2s(key, data) with an out.length-byte digest (1..32) into out. */
  blake2sKeyed(key: Uint8Array, data: Uint8Array, out: Uint8Array): void;
  /** implementations names what serves each primitive, for logs and `tunnel selftest`. */
  readonly implementations: Readonly<Record<string, string>>;
}

/**
 * disarm replaces every operation of a destroyed key with one that throws,
 * so a use after destroy() fails loudly instead of touching zeroed key
 * material or freed native contexts.
 */
export function disarm(key: AeadKey & { sealNonce: unknown; openNonce: unknown; sealRaw?: unknown; openRaw?: unknown }): void {
  const dead = (): never => {
    throw new Error("AeadKey used after destroy()");
  };
  key.seal = dead;
  key.open = dead;
  key.sealBatch = dead;
  key.openBatch = dead;
  key.sealNonce = dead;
  key.openNonce = dead;
  if (key.sealRaw !== undefined) key.sealRaw = dead;
  if (key.openRaw !== undefined) key.openRaw = dead;
}
