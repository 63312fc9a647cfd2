// Test-only CryptoBackend on @noble/*: slow but obviously correct, so the
// protocol tests do not depend on the libcrypto/TS backends landing first.
// randomBytes is a seeded xorshift stream when a seed is given, so handshakes
// (ephemerals, indices, cookie nonces) are reproducible run to run.
import { chacha20poly1305, xchacha20poly1305 } from "@noble/ciphers/chacha.js";
import { x25519 } from "@noble/curves/ed25519.js";
import { blake2s } from "@noble/hashes/blake2.js";
import { hmac } from "@noble/hashes/hmac.js";
import type { AeadKey, CryptoBackend } from "../../src/crypto/types.ts";

const NONCE = new Uint8Array(12);
const EMPTY = new Uint8Array(0);

function nonceFor(counter: number): Uint8Array {
  // WireGuard nonce: 4 zero bytes then LE u64 counter.
  const dv = new DataView(NONCE.buffer);
  dv.setUint32(0, 0, true);
  dv.setUint32(4, counter >>> 0, true);
  dv.setUint32(8, Math.floor(counter / 0x1_0000_0000), true);
  return NONCE.slice();
}

class NobleAeadKey implements AeadKey {
  private key: Uint8Array;
  constructor(key: Uint8Array) {
    this.key = key.slice();
  }
  seal(counter: number, buf: Uint8Array, off: number, len: number, aad?: Uint8Array): void {
    const out = chacha20poly1305(this.key, nonceFor(counter), aad ?? EMPTY).encrypt(buf.subarray(off, off + len));
    buf.set(out, off);
  }
  open(counter: number, buf: Uint8Array, off: number, len: number, aad?: Uint8Array): boolean {
    if (len < 16) return false;
    try {
      const out = chacha20poly1305(this.key, nonceFor(counter), aad ?? EMPTY).decrypt(buf.subarray(off, off + len));
      buf.set(out, off);
      return true;
    } catch {
      return false;
    }
  }
  sealBatch(count: number, counters: Float64Array, buf: Uint8Array, offs: Int32Array, lens: Int32Array): void {
    for (let i = 0; i < count; i++) this.seal(counters[i]!, buf, offs[i]!, lens[i]!);
  }
  openBatch(count: number, counters: Float64Array, buf: Uint8Array, offs: Int32Array, lens: Int32Array, ok: Uint8Array): void {
    for (let i = 0; i < count; i++) ok[i] = this.open(counters[i]!, buf, offs[i]!, lens[i]!) ? 1 : 0;
  }
  destroy(): void {
    this.key.fill(0);
  }
}

/** seededRandom returns a deterministic byte generator (xorshift32); test use only. */
export function seededRandom(seed: number): (out: Uint8Array) => void {
  let s = seed >>> 0 || 1;
  return (out) => {
    for (let i = 0; i < out.length; i++) {
      s ^= s << 13;
      s >>>= 0;
      s ^= s >>> 17;
      s ^= s << 5;
      s >>>= 0;
      out[i] = s & 0xff;
    }
  };
}

/** nobleBackend builds a CryptoBackend; pass a seed for reproducible randomness. */
export function nobleBackend(seed?: number): CryptoBackend {
  const rand = seed === undefined ? (out: Uint8Array) => crypto.getRandomValues(out) : seededRandom(seed);
  return {
    name: "typescript",
    aeadKey: (key) => new NobleAeadKey(key),
    xaeadSeal(key, nonce, plaintext, aad, out) {
      out.set(xchacha20poly1305(key, nonce, aad).encrypt(plaintext));
    },
    xaeadOpen(key, nonce, sealed, aad, out) {
      try {
        out.set(xchacha20poly1305(key, nonce, aad).decrypt(sealed));
        return true;
      } catch {
        return false;
      }
    },
    x25519(priv, pub, out) {
      let r: Uint8Array;
      try {
        r = x25519.getSharedSecret(priv, pub);
      } catch {
        out.fill(0);
        return false;
      }
      out.set(r);
      let acc = 0;
      for (const b of r) acc |= b;
      return acc !== 0;
    },
    x25519Base(priv, out) {
      out.set(x25519.getPublicKey(priv));
    },
    blake2s256(out, ...parts) {
      const h = blake2s.create({});
      for (const p of parts) h.update(p);
      h.digestInto(out);
    },
    blake2sMac(key, data, out, dataOff = 0, dataLen = data.length - dataOff) {
      out.set(blake2s(data.subarray(dataOff, dataOff + dataLen), { key, dkLen: 16 }));
    },
    hmacBlake2s(key, out, ...parts) {
      const h = hmac.create(blake2s, key);
      for (const p of parts) h.update(p);
      h.digestInto(out);
    },
    randomBytes: rand,
  };
}
