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
// The AEAD calls the OpenSSL 3 provider's dispatch functions directly when
// they can be found (libcrypto-provider-aead.ts) and EVP otherwise
// (libcrypto-aead.ts); "evp" forces the latter (TUNNEL_CRYPTO=libcrypto-evp).

import { blake2s256, blake2sKeyed, blake2sMac128, hmacBlake2s } from "./blake2s.ts";
import { EvpAeadKey } from "./libcrypto-aead.ts";
import { ProviderAeadKey } from "./libcrypto-provider-aead.ts";
import type { InPlaceAeadKey } from "./libcrypto-aead-base.ts";
import { LibcryptoPrimitives } from "./libcrypto-primitives.ts";
import { fillRandom } from "./random.ts";
import type { CryptoBackendExt } from "./types.ts";
import { pickX25519 } from "./x25519-select.ts";
import { LibcryptoXaeadSealer } from "./libcrypto-xaead.ts";
import { nonceAeadMethods } from "./xaead.ts";
import { loadChacha20Poly1305Provider, type Libcrypto, type ProviderCipher } from "../sys/libcrypto.ts";

/** AeadDispatch: "provider" when the provider's functions can be reached, else "evp"; or force "evp". */
export type AeadDispatch = "auto" | "evp";

/**
 * agreesAndRejectsForgery is the start-up check the provider path must pass
 * before it is used: it seals exactly what EVP seals, opens it, and refuses a
 * flipped tag bit and a wrong counter. Anything else (a future OpenSSL that
 * changes what the dispatch table relies on) falls back to EVP.
 */
function agreesAndRejectsForgery(candidate: InPlaceAeadKey, reference: InPlaceAeadKey): boolean {
  const len = 100;
  const a = new Uint8Array(len + 16);
  for (let i = 0; i < len; i++) a[i] = (i * 29 + 7) & 0xff;
  const b = a.slice();
  candidate.seal(7, a, 0, len);
  reference.seal(7, b, 0, len);
  if (!a.every((x, i) => x === b[i])) return false;
  const sealed = a.slice();
  a[len] = a[len]! ^ 1;
  if (candidate.open(7, a, 0, len + 16)) return false;
  a.set(sealed);
  if (candidate.open(8, a, 0, len + 16)) return false;
  a.set(sealed);
  if (!candidate.open(7, a, 0, len + 16)) return false;
  return a.subarray(0, len).every((x, i) => x === ((i * 29 + 7) & 0xff));
}

function usableProvider(lib: Libcrypto): ProviderCipher | null {
  const provider = loadChacha20Poly1305Provider(lib);
  if (provider === null) return null;
  const key = new Uint8Array(32).fill(0x5a);
  let candidate: InPlaceAeadKey | null = null;
  let reference: InPlaceAeadKey | null = null;
  try {
    candidate = new ProviderAeadKey(lib, provider, key);
    reference = new EvpAeadKey(lib, key);
    return agreesAndRejectsForgery(candidate, reference) ? provider : null;
  } catch {
    return null;
  } finally {
    candidate?.destroy();
    reference?.destroy();
  }
}

export function createLibcryptoBackend(lib: Libcrypto, dispatch: AeadDispatch = "auto"): CryptoBackendExt {
  const provider = dispatch === "evp" ? null : usableProvider(lib);
  const makeKey =
    provider !== null ? (k: Uint8Array): InPlaceAeadKey => new ProviderAeadKey(lib, provider, k) : (k: Uint8Array): InPlaceAeadKey => new EvpAeadKey(lib, k);
  const prim = new LibcryptoPrimitives(lib);
  const xaeadSealer = new LibcryptoXaeadSealer(lib);
  const x = pickX25519();
  const useMac = prim.hasMac;
  const mac = useMac
    ? (key: Uint8Array, data: Uint8Array, out: Uint8Array, dataOff?: number, dataLen?: number) => prim.blake2sMac128(key, data, out, dataOff, dataLen)
    : blake2sMac128;
  const hmac = useMac
    ? (key: Uint8Array, out: Uint8Array, parts: Uint8Array[]) => prim.hmacBlake2s(key, out, parts)
    : (key: Uint8Array, out: Uint8Array, parts: Uint8Array[]) => hmacBlake2s(key, out, parts);
  return {
    name: "libcrypto",
    implementations: {
      aead:
        provider !== null
          ? `${lib.path} chacha20-poly1305, provider dispatch (in place, EVP bypassed)`
          : `${lib.path} EVP chacha20-poly1305 (in place, ${lib.v3 ? "3" : "4"} FFI calls per open)`,
      xaead: `HChaCha20 (@noble/ciphers) + ${lib.path} AEAD (seal: one re-keyed EVP context)`,
      x25519: x.name,
      blake2s: "blake2s.ts",
      mac: useMac ? `${lib.path} EVP_MAC BLAKE2SMAC` : "blake2s.ts",
      hmac: useMac ? `${lib.path} EVP_MAC HMAC(BLAKE2S-256)` : "blake2s.ts",
    },
    aeadKey: makeKey,
    rawAeadKey: makeKey,
    ...nonceAeadMethods(makeKey),
    xaeadSeal: (key, nonce, pt, aad, out) => xaeadSealer.seal(key, nonce, pt, aad, out),
    x25519: (priv, pub, out) => x.dh(priv, pub, out),
    x25519Base: (priv, out) => x.base(priv, out),
    blake2s256: (out, ...parts) => blake2s256(out, parts),
    blake2sMac: mac,
    blake2sKeyed: (key, data, out) => blake2sKeyed(key, data, out),
    hmacBlake2s: (key, out, ...parts) => hmac(key, out, parts),
    randomBytes: fillRandom,
  };
}
