// X25519 (RFC 7748) without libcrypto: Bun's node:crypto (native, BoringSSL)
// and @noble/curves (pure TypeScript, constant-time ladder). bench/crypto.ts
// compares both with libcrypto's EVP_PKEY path.
//
// Every function returns false when the shared secret is all zeros (a
// low-order public key): WireGuard must abort the handshake then (RFC 7748 §6.1,
// kernel curve25519() returning false).

import { createPrivateKey, createPublicKey, diffieHellman, type KeyObject } from "node:crypto";
import { x25519 as nobleX25519 } from "@noble/curves/ed25519.js";

// DER wrappers that make raw 32-byte keys importable (RFC 8410):
// PKCS#8 PrivateKeyInfo and SubjectPublicKeyInfo for id-X25519 (1.3.101.110).
const PKCS8_PREFIX = Buffer.from("302e020100300506032b656e04220420", "hex");
const SPKI_PREFIX = Buffer.from("302a300506032b656e032100", "hex");

/** isZero32 reports whether out[0..32) is all zeros, in constant time. */
export function isZero32(out: Uint8Array): boolean {
  let d = 0;
  for (let i = 0; i < 32; i++) d |= out[i]!;
  return d === 0;
}

function checkKeys(...keys: Uint8Array[]): void {
  for (const k of keys) if (k.length !== 32) throw new RangeError("X25519 keys are 32 bytes");
}

// Reused DER buffers: the scalar is copied in, used, then wiped.
const pkcs8 = Buffer.alloc(PKCS8_PREFIX.length + 32);
PKCS8_PREFIX.copy(pkcs8);
const spki = Buffer.alloc(SPKI_PREFIX.length + 32);
SPKI_PREFIX.copy(spki);

function nodePrivateKey(priv: Uint8Array): KeyObject {
  pkcs8.set(priv, PKCS8_PREFIX.length);
  try {
    return createPrivateKey({ key: pkcs8, format: "der", type: "pkcs8" });
  } finally {
    pkcs8.fill(0, PKCS8_PREFIX.length);
  }
}

/** x25519Node computes DH through node:crypto (BoringSSL inside Bun). */
export function x25519Node(priv: Uint8Array, pub: Uint8Array, out: Uint8Array): boolean {
  checkKeys(priv, pub);
  spki.set(pub, SPKI_PREFIX.length);
  let secret: Buffer;
  try {
    secret = diffieHellman({
      privateKey: nodePrivateKey(priv),
      publicKey: createPublicKey({ key: spki, format: "der", type: "spki" }),
    });
  } catch {
    // BoringSSL refuses all-zero results; treat any failure as "abort handshake".
    out.fill(0, 0, 32);
    return false;
  }
  out.set(secret);
  secret.fill(0);
  return !isZero32(out);
}

/** x25519BaseNode derives the public key through node:crypto. */
export function x25519BaseNode(priv: Uint8Array, out: Uint8Array): void {
  checkKeys(priv);
  const jwk = createPublicKey(nodePrivateKey(priv)).export({ format: "jwk" });
  out.set(Buffer.from(jwk.x!, "base64url"));
}

/** x25519Noble computes DH with @noble/curves. */
export function x25519Noble(priv: Uint8Array, pub: Uint8Array, out: Uint8Array): boolean {
  checkKeys(priv, pub);
  let secret: Uint8Array;
  try {
    secret = nobleX25519.getSharedSecret(priv, pub);
  } catch {
    // noble throws on an all-zero result (low-order point).
    out.fill(0, 0, 32);
    return false;
  }
  out.set(secret);
  secret.fill(0);
  return !isZero32(out);
}

/** x25519BaseNoble derives the public key with @noble/curves. */
export function x25519BaseNoble(priv: Uint8Array, out: Uint8Array): void {
  checkKeys(priv);
  out.set(nobleX25519.getPublicKey(priv));
}
