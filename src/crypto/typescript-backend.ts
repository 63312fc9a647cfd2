// The pure-TypeScript backend: used only when libcrypto cannot be loaded (or
// TUNNEL_CRYPTO=typescript). Never touches the system libcrypto. Choices per
// primitive are the fastest non-libcrypto ones measured in bench/crypto.ts:
// AEAD @noble/ciphers (in place), X25519 node:crypto (in the Bun binary) with
// noble as fallback, BLAKE2s/keyed BLAKE2s/HMAC our zero-allocation blake2s.ts
// (faster than both @noble/hashes and node:crypto's createHash here).

import { blake2s256, blake2sKeyed, blake2sMac128, hmacBlake2s } from "./blake2s.ts";
import { fillRandom } from "./random.ts";
import type { CryptoBackendExt } from "./types.ts";
import { TypeScriptAeadKey } from "./typescript-aead.ts";
import { pickX25519 } from "./x25519-select.ts";
import { nonceAeadMethods } from "./xaead.ts";

const makeKey = (k: Uint8Array) => new TypeScriptAeadKey(k);

export function createTypeScriptBackend(): CryptoBackendExt {
  const x = pickX25519();
  return {
    name: "typescript",
    implementations: {
      aead: "@noble/ciphers chacha20 + poly1305 (in place)",
      xaead: "HChaCha20 (@noble/ciphers) + @noble AEAD",
      x25519: x.name,
      blake2s: "blake2s.ts",
      mac: "blake2s.ts",
      hmac: "blake2s.ts",
    },
    aeadKey: makeKey,
    ...nonceAeadMethods(makeKey),
    x25519: (priv, pub, out) => x.dh(priv, pub, out),
    x25519Base: (priv, out) => x.base(priv, out),
    blake2s256: (out, ...parts) => blake2s256(out, parts),
    blake2sMac: (key, data, out, dataOff, dataLen) => blake2sMac128(key, data, out, dataOff, dataLen),
    blake2sKeyed: (key, data, out) => blake2sKeyed(key, data, out),
    hmacBlake2s: (key, out, ...parts) => hmacBlake2s(key, out, parts),
    randomBytes: fillRandom,
  };
}
