// BLAKE2s (RFC 7693) in TypeScript, written for this project because the
// handshake needs three things no available implementation gives together:
// keyed hashing with a 16-byte digest (mac1/mac2/cookies; Bun's node:crypto
// has only unkeyed blake2s256), multi-part input written straight into a
// caller buffer, and no allocation per call (@noble/hashes allocates a hasher,
// a digest and, for HMAC, two more hashers per call). bench/crypto.ts measures
// it against @noble/hashes, node:crypto and libcrypto EVP.
//
// Not thread-safe by design: each Worker gets its own module instance, and all
// calls are synchronous, so the module-level scratch state is never shared.

// Int32Array, not Uint32Array: JSC reads Uint32 elements >= 2^31 as doubles and
// the JIT then deoptimises on real (non-zero) data, measured 10x slower.
const IV = new Int32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);

// Message word schedule, RFC 7693 §2.7, one row of 16 per round.
const SIGMA = new Uint8Array([
  0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3, 11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9,
  4, 7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8, 9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13, 2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14,
  1, 9, 12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11, 13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10, 6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1,
  4, 10, 5, 10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0,
]);

/** Blake2sState is a reusable hashing state; init() resets it completely. */
export class Blake2sState {
  readonly h = new Int32Array(8);
  readonly block = new Uint8Array(64);
  private readonly m = new Int32Array(16);
  /** Bytes compressed so far (t0/t1 of RFC 7693); a Number is exact far beyond any input here. */
  private t = 0;
  private fill = 0;
  private outLen = 32;

  /** init starts a hash with a digest of outLen (1..32) bytes, keyed if key is non-empty (≤ 32 bytes). */
  init(outLen: number, key?: Uint8Array): this {
    if (!(outLen >= 1 && outLen <= 32)) throw new RangeError("BLAKE2s digest length must be 1..32");
    const keyLen = key ? key.length : 0;
    if (keyLen > 32) throw new RangeError("BLAKE2s key must be at most 32 bytes");
    this.h.set(IV);
    this.h[0] = this.h[0]! ^ 0x01010000 ^ (keyLen << 8) ^ outLen;
    this.t = 0;
    this.fill = 0;
    this.outLen = outLen;
    this.block.fill(0);
    if (key && keyLen > 0) {
      // The key is one full zero-padded block (RFC 7693 §3.3).
      this.block.set(key);
      this.fill = 64;
    }
    return this;
  }

  /** update absorbs data[off, off+len). */
  update(data: Uint8Array, off = 0, len = data.length - off): this {
    const block = this.block;
    let fill = this.fill;
    const end = off + len;
    while (off < end) {
      if (fill === 64) {
        // Only compress a full block once more input follows: the last block
        // must be compressed with the final flag.
        this.t += 64;
        this.compress(false);
        fill = 0;
      }
      const n = Math.min(64 - fill, end - off);
      for (let i = 0; i < n; i++) block[fill + i] = data[off + i]!;
      fill += n;
      off += n;
    }
    this.fill = fill;
    return this;
  }

  /** final writes the digest into out[outOff, outOff+outLen) and wipes the state. */
  final(out: Uint8Array, outOff = 0): void {
    this.t += this.fill;
    this.block.fill(0, this.fill);
    this.compress(true);
    const h = this.h;
    for (let i = 0; i < this.outLen; i++) out[outOff + i] = (h[i >>> 2]! >>> (8 * (i & 3))) & 0xff;
    this.wipe();
  }

  /** wipe zeroes the chaining value and buffered input (keys pass through both). */
  wipe(): void {
    this.h.fill(0);
    this.block.fill(0);
    this.m.fill(0);
    this.fill = 0;
    this.t = 0;
  }

  // The state lives in 16 locals and G (RFC 7693 §3.1, rotations 16/12/8/7) is
  // written out inline: measured ~3x faster than calling a G function per mix.
  private compress(last: boolean): void {
    const m = this.m;
    const h = this.h;
    const b = this.block;
    for (let i = 0; i < 16; i++) {
      const j = i * 4;
      m[i] = b[j]! | (b[j + 1]! << 8) | (b[j + 2]! << 16) | (b[j + 3]! << 24);
    }
    let v0 = h[0]! | 0,
      v1 = h[1]! | 0,
      v2 = h[2]! | 0,
      v3 = h[3]! | 0;
    let v4 = h[4]! | 0,
      v5 = h[5]! | 0,
      v6 = h[6]! | 0,
      v7 = h[7]! | 0;
    let v8 = IV[0]! | 0,
      v9 = IV[1]! | 0,
      v10 = IV[2]! | 0,
      v11 = IV[3]! | 0;
    let v12 = (IV[4]! ^ this.t) | 0; // low 32 bits of the byte counter t
    let v13 = (IV[5]! ^ Math.floor(this.t / 0x100000000)) | 0;
    let v14 = last ? ~IV[6]! | 0 : IV[6]! | 0;
    let v15 = IV[7]! | 0;
    for (let s = 0; s < 160; s += 16) {
      v0 = (v0 + v4 + m[SIGMA[s]!]!) | 0;
      v12 ^= v0;
      v12 = (v12 >>> 16) | (v12 << 16);
      v8 = (v8 + v12) | 0;
      v4 ^= v8;
      v4 = (v4 >>> 12) | (v4 << 20);
      v0 = (v0 + v4 + m[SIGMA[s + 1]!]!) | 0;
      v12 ^= v0;
      v12 = (v12 >>> 8) | (v12 << 24);
      v8 = (v8 + v12) | 0;
      v4 ^= v8;
      v4 = (v4 >>> 7) | (v4 << 25);
      v1 = (v1 + v5 + m[SIGMA[s + 2]!]!) | 0;
      v13 ^= v1;
      v13 = (v13 >>> 16) | (v13 << 16);
      v9 = (v9 + v13) | 0;
      v5 ^= v9;
      v5 = (v5 >>> 12) | (v5 << 20);
      v1 = (v1 + v5 + m[SIGMA[s + 3]!]!) | 0;
      v13 ^= v1;
      v13 = (v13 >>> 8) | (v13 << 24);
      v9 = (v9 + v13) | 0;
      v5 ^= v9;
      v5 = (v5 >>> 7) | (v5 << 25);
      v2 = (v2 + v6 + m[SIGMA[s + 4]!]!) | 0;
      v14 ^= v2;
      v14 = (v14 >>> 16) | (v14 << 16);
      v10 = (v10 + v14) | 0;
      v6 ^= v10;
      v6 = (v6 >>> 12) | (v6 << 20);
      v2 = (v2 + v6 + m[SIGMA[s + 5]!]!) | 0;
      v14 ^= v2;
      v14 = (v14 >>> 8) | (v14 << 24);
      v10 = (v10 + v14) | 0;
      v6 ^= v10;
      v6 = (v6 >>> 7) | (v6 << 25);
      v3 = (v3 + v7 + m[SIGMA[s + 6]!]!) | 0;
      v15 ^= v3;
      v15 = (v15 >>> 16) | (v15 << 16);
      v11 = (v11 + v15) | 0;
      v7 ^= v11;
      v7 = (v7 >>> 12) | (v7 << 20);
      v3 = (v3 + v7 + m[SIGMA[s + 7]!]!) | 0;
      v15 ^= v3;
      v15 = (v15 >>> 8) | (v15 << 24);
      v11 = (v11 + v15) | 0;
      v7 ^= v11;
      v7 = (v7 >>> 7) | (v7 << 25);
      v0 = (v0 + v5 + m[SIGMA[s + 8]!]!) | 0;
      v15 ^= v0;
      v15 = (v15 >>> 16) | (v15 << 16);
      v10 = (v10 + v15) | 0;
      v5 ^= v10;
      v5 = (v5 >>> 12) | (v5 << 20);
      v0 = (v0 + v5 + m[SIGMA[s + 9]!]!) | 0;
      v15 ^= v0;
      v15 = (v15 >>> 8) | (v15 << 24);
      v10 = (v10 + v15) | 0;
      v5 ^= v10;
      v5 = (v5 >>> 7) | (v5 << 25);
      v1 = (v1 + v6 + m[SIGMA[s + 10]!]!) | 0;
      v12 ^= v1;
      v12 = (v12 >>> 16) | (v12 << 16);
      v11 = (v11 + v12) | 0;
      v6 ^= v11;
      v6 = (v6 >>> 12) | (v6 << 20);
      v1 = (v1 + v6 + m[SIGMA[s + 11]!]!) | 0;
      v12 ^= v1;
      v12 = (v12 >>> 8) | (v12 << 24);
      v11 = (v11 + v12) | 0;
      v6 ^= v11;
      v6 = (v6 >>> 7) | (v6 << 25);
      v2 = (v2 + v7 + m[SIGMA[s + 12]!]!) | 0;
      v13 ^= v2;
      v13 = (v13 >>> 16) | (v13 << 16);
      v8 = (v8 + v13) | 0;
      v7 ^= v8;
      v7 = (v7 >>> 12) | (v7 << 20);
      v2 = (v2 + v7 + m[SIGMA[s + 13]!]!) | 0;
      v13 ^= v2;
      v13 = (v13 >>> 8) | (v13 << 24);
      v8 = (v8 + v13) | 0;
      v7 ^= v8;
      v7 = (v7 >>> 7) | (v7 << 25);
      v3 = (v3 + v4 + m[SIGMA[s + 14]!]!) | 0;
      v14 ^= v3;
      v14 = (v14 >>> 16) | (v14 << 16);
      v9 = (v9 + v14) | 0;
      v4 ^= v9;
      v4 = (v4 >>> 12) | (v4 << 20);
      v3 = (v3 + v4 + m[SIGMA[s + 15]!]!) | 0;
      v14 ^= v3;
      v14 = (v14 >>> 8) | (v14 << 24);
      v9 = (v9 + v14) | 0;
      v4 ^= v9;
      v4 = (v4 >>> 7) | (v4 << 25);
    }
    h[0] = h[0]! ^ v0 ^ v8;
    h[1] = h[1]! ^ v1 ^ v9;
    h[2] = h[2]! ^ v2 ^ v10;
    h[3] = h[3]! ^ v3 ^ v11;
    h[4] = h[4]! ^ v4 ^ v12;
    h[5] = h[5]! ^ v5 ^ v13;
    h[6] = h[6]! ^ v6 ^ v14;
    h[7] = h[7]! ^ v7 ^ v15;
  }
}

const scratch = new Blake2sState();
const inner = new Uint8Array(32);
const hashedKey = new Uint8Array(32);
const pad = new Uint8Array(64);

/** blake2s256 writes BLAKE2s-256(parts concatenated) into out. */
export function blake2s256(out: Uint8Array, parts: readonly Uint8Array[]): void {
  scratch.init(32);
  for (const p of parts) scratch.update(p);
  scratch.final(out);
}

/** blake2sKeyed writes keyed BLAKE2s of data with an out.length-byte digest (1..32) into out. */
export function blake2sKeyed(key: Uint8Array, data: Uint8Array, out: Uint8Array): void {
  scratch.init(out.length, key);
  scratch.update(data);
  scratch.final(out);
}

/** blake2sMac128 is WireGuard's MAC: keyed BLAKE2s with a 16-byte digest, written to out[0..16). */
export function blake2sMac128(key: Uint8Array, data: Uint8Array, out: Uint8Array, dataOff = 0, dataLen = data.length - dataOff): void {
  scratch.init(16, key);
  scratch.update(data, dataOff, dataLen);
  scratch.final(out);
}

/**
 * hmacBlake2s writes HMAC-BLAKE2s(key, parts concatenated) (RFC 2104, 64-byte
 * block, 32-byte output) into out. WireGuard's KDF is HKDF over this.
 */
export function hmacBlake2s(key: Uint8Array, out: Uint8Array, parts: readonly Uint8Array[]): void {
  let k = key;
  if (k.length > 64) {
    // RFC 2104: longer keys are hashed first. Never the case in WireGuard (keys are 32 bytes).
    blake2s256(hashedKey, [key]);
    k = hashedKey;
  }
  pad.fill(0x36);
  for (let i = 0; i < k.length; i++) pad[i] = k[i]! ^ 0x36;
  scratch.init(32).update(pad);
  for (const p of parts) scratch.update(p);
  scratch.final(inner);
  pad.fill(0x5c);
  for (let i = 0; i < k.length; i++) pad[i] = k[i]! ^ 0x5c;
  scratch.init(32).update(pad).update(inner);
  scratch.final(out);
  pad.fill(0);
  inner.fill(0);
  hashedKey.fill(0);
}
