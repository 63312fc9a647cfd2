// The libcrypto backend, named for its bulk AEAD (ChaCha20-Poly1305 through
// the system libcrypto, libcrypto-aead.ts). The small handshake primitives use
// whatever measured fastest in bench/crypto.ts, libcrypto or not:
//   X25519        node:crypto (~35 µs) beats libcrypto EVP_PKEY (~62 µs)
//   BLAKE2s-256   blake2s.ts (~0.34 µs) beats EVP_Digest (~0.48 µs) for handshake-sized input
//   MAC (keyed)   EVP_MAC BLAKE2SMAC (~0.47 µs) beats blake2s.ts (~0.72 µs)
//   HMAC          EVP_MAC HMAC/BLAKE2S-256 (~0.79 µs) beats blake2s.ts (~1.2 µs)
//   XAEAD         HChaCha20 (noble) + a throwaway EVP key: ~7 µs per 16-byte
//                 cookie, a wash with HChaCha20 + the TS AEAD (6-9 µs, within run
//                 noise); kept on libcrypto so this backend has one AEAD code path
// On OpenSSL 1.1 (no EVP_MAC) MAC and HMAC fall back to blake2s.ts.

import { blake2s256, blake2sKeyed, blake2sMac128, hmacBlake2s } from "./blake2s.ts";
import { LibcryptoAeadKey } from "./libcrypto-aead.ts";
import { LibcryptoPrimitives } from "./libcrypto-primitives.ts";
import { fillRandom } from "./random.ts";
import type { AeadKey, CryptoBackendExt } from "./types.ts";
import { pickX25519 } from "./x25519-select.ts";
import { oneShotOpen, oneShotSeal, xaeadOpen, xaeadSeal } from "./xaead.ts";
import type { Libcrypto } from "../sys/libcrypto.ts";

export function createLibcryptoBackend(lib: Libcrypto): CryptoBackendExt {
  const makeKey = (k: Uint8Array) => new LibcryptoAeadKey(lib, k);
  const prim = new LibcryptoPrimitives(lib);
  const x = pickX25519();
  const useMac = prim.hasMac;
  const mac = useMac
    ? (key: Uint8Array, data: Uint8Array, out: Uint8Array) => prim.blake2sMac128(key, data, out)
    : blake2sMac128;
  const hmac = useMac
    ? (key: Uint8Array, out: Uint8Array, parts: Uint8Array[]) => prim.hmacBlake2s(key, out, parts)
    : (key: Uint8Array, out: Uint8Array, parts: Uint8Array[]) => hmacBlake2s(key, out, parts);
  return {
    name: "libcrypto",
    implementations: {
      aead: `${lib.path} EVP chacha20-poly1305 (in place, ${lib.v3 ? "3" : "4"} FFI calls per open)`,
      xaead: `HChaCha20 (@noble/ciphers) + ${lib.path} AEAD`,
      x25519: x.name,
      blake2s: "blake2s.ts",
      mac: useMac ? `${lib.path} EVP_MAC BLAKE2SMAC` : "blake2s.ts",
      hmac: useMac ? `${lib.path} EVP_MAC HMAC(BLAKE2S-256)` : "blake2s.ts",
    },
    aeadKey: (key: Uint8Array): AeadKey => new LibcryptoAeadKey(lib, key),
    aeadSealNonce: (key, nonce, pt, aad, out) => oneShotSeal(makeKey, key, nonce, pt, aad, out),
    aeadOpenNonce: (key, nonce, sealed, aad, out) => oneShotOpen(makeKey, key, nonce, sealed, aad, out),
    xaeadSeal: (key, nonce, pt, aad, out) => xaeadSeal(makeKey, key, nonce, pt, aad, out),
    xaeadOpen: (key, nonce, sealed, aad, out) => xaeadOpen(makeKey, key, nonce, sealed, aad, out),
    x25519: (priv, pub, out) => x.dh(priv, pub, out),
    x25519Base: (priv, out) => x.base(priv, out),
    blake2s256: (out, ...parts) => blake2s256(out, parts),
    blake2sMac: mac,
    blake2sKeyed: (key, data, out) => blake2sKeyed(key, data, out),
    hmacBlake2s: (key, out, ...parts) => hmac(key, out, parts),
    randomBytes: fillRandom,
  };
}
