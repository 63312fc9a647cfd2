// XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha-03 §2.3) on top of any in-place
// ChaCha20-Poly1305: subkey = HChaCha20(key, nonce[0..16)), then the RFC 8439
// AEAD with nonce 0^4 ‖ nonce[16..24). Only WireGuard cookie replies use it
// (rare, at most a few per second under load), so building a throwaway AeadKey
// per call is fine; bench/crypto.ts has the numbers.

import { hchacha } from "@noble/ciphers/chacha.js";
import { AEAD_TAG_LEN, XAEAD_NONCE_LEN, type CryptoBackendExt } from "./types.ts";

/** A ChaCha20-Poly1305 key able to seal/open with an explicit 12-byte nonce. */
export interface NonceAead {
  sealNonce(nonce: Uint8Array, buf: Uint8Array, off: number, len: number, aad?: Uint8Array): void;
  openNonce(nonce: Uint8Array, buf: Uint8Array, off: number, len: number, aad?: Uint8Array): boolean;
  destroy(): void;
}

// "expand 32-byte k" as little-endian words.
const SIGMA = new Uint32Array([0x61707865, 0x3320646e, 0x79622d32, 0x6b206574]);

function subkey(key: Uint8Array, nonce: Uint8Array): { sub: Uint8Array; n12: Uint8Array } {
  if (key.length !== 32) throw new RangeError("XChaCha20-Poly1305 key must be 32 bytes");
  if (nonce.length !== XAEAD_NONCE_LEN) throw new RangeError("XChaCha20-Poly1305 nonce must be 24 bytes");
  // Copies into fresh aligned buffers: noble reads them as Uint32Array (LE host words).
  const k32 = new Uint32Array(8);
  new Uint8Array(k32.buffer).set(key);
  const n32 = new Uint32Array(4);
  new Uint8Array(n32.buffer).set(nonce.subarray(0, 16));
  const out = new Uint32Array(8);
  hchacha(SIGMA, k32, n32, out);
  k32.fill(0);
  const n12 = new Uint8Array(12);
  n12.set(nonce.subarray(16, 24), 4);
  return { sub: new Uint8Array(out.buffer), n12 };
}

/** xaeadSeal writes ciphertext‖tag of plaintext into out (out.length ≥ plaintext.length + 16). */
export function xaeadSeal(
  makeKey: (k: Uint8Array) => NonceAead,
  key: Uint8Array,
  nonce: Uint8Array,
  plaintext: Uint8Array,
  aad: Uint8Array,
  out: Uint8Array,
): void {
  if (out.length < plaintext.length + AEAD_TAG_LEN) throw new RangeError("xaeadSeal: out too small");
  const { sub, n12 } = subkey(key, nonce);
  try {
    oneShotSeal(makeKey, sub, n12, plaintext, aad, out);
  } finally {
    sub.fill(0);
  }
}

/** xaeadOpen verifies sealed (ciphertext‖tag) and writes the plaintext into out; false on a bad tag. */
export function xaeadOpen(
  makeKey: (k: Uint8Array) => NonceAead,
  key: Uint8Array,
  nonce: Uint8Array,
  sealed: Uint8Array,
  aad: Uint8Array,
  out: Uint8Array,
): boolean {
  if (sealed.length < AEAD_TAG_LEN) return false;
  const n = sealed.length - AEAD_TAG_LEN;
  if (out.length < n) throw new RangeError("xaeadOpen: out too small");
  const { sub, n12 } = subkey(key, nonce);
  try {
    // oneShotOpen decrypts in a scratch copy, so out never holds unauthenticated plaintext.
    return oneShotOpen(makeKey, sub, n12, sealed, aad, out);
  } finally {
    sub.fill(0);
  }
}

/** oneShotSeal / oneShotOpen: RFC 8439 AEAD with an explicit nonce, for vectors and selftest. */
export function oneShotSeal(
  makeKey: (k: Uint8Array) => NonceAead,
  key: Uint8Array,
  nonce: Uint8Array,
  plaintext: Uint8Array,
  aad: Uint8Array,
  out: Uint8Array,
): void {
  const k = makeKey(key);
  try {
    out.set(plaintext);
    k.sealNonce(nonce, out, 0, plaintext.length, aad);
  } finally {
    k.destroy();
  }
}

export function oneShotOpen(
  makeKey: (k: Uint8Array) => NonceAead,
  key: Uint8Array,
  nonce: Uint8Array,
  sealed: Uint8Array,
  aad: Uint8Array,
  out: Uint8Array,
): boolean {
  if (sealed.length < AEAD_TAG_LEN) return false;
  const k = makeKey(key);
  const tmp = Uint8Array.from(sealed);
  try {
    if (!k.openNonce(nonce, tmp, 0, sealed.length, aad)) return false;
    out.set(tmp.subarray(0, sealed.length - AEAD_TAG_LEN));
    return true;
  } finally {
    tmp.fill(0);
    k.destroy();
  }
}

/** nonceAeadMethods are a backend's explicit-nonce and XChaCha20 methods, built on its key constructor. */
export function nonceAeadMethods(makeKey: (k: Uint8Array) => NonceAead): Pick<CryptoBackendExt, "aeadSealNonce" | "aeadOpenNonce" | "xaeadSeal" | "xaeadOpen"> {
  return {
    aeadSealNonce: (key, nonce, pt, aad, out) => oneShotSeal(makeKey, key, nonce, pt, aad, out),
    aeadOpenNonce: (key, nonce, sealed, aad, out) => oneShotOpen(makeKey, key, nonce, sealed, aad, out),
    xaeadSeal: (key, nonce, pt, aad, out) => xaeadSeal(makeKey, key, nonce, pt, aad, out),
    xaeadOpen: (key, nonce, sealed, aad, out) => xaeadOpen(makeKey, key, nonce, sealed, aad, out),
  };
}
