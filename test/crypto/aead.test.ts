// In-place AEAD behaviour shared by both backends: offsets, tampering, the
// WireGuard nonce layout, batch == single, destroy, and cross-backend agreement.
import { describe, expect, test } from "bun:test";
import { loadLibcrypto } from "../../src/sys/libcrypto.ts";
import { createLibcryptoBackend } from "../../src/crypto/libcrypto-backend.ts";
import { createTypeScriptBackend } from "../../src/crypto/typescript-backend.ts";
import type { CryptoBackendExt } from "../../src/crypto/types.ts";

const lib = loadLibcrypto();
const BACKENDS: [string, () => CryptoBackendExt][] = [["typescript", createTypeScriptBackend]];
if (lib) BACKENDS.push(["libcrypto", () => createLibcryptoBackend(lib)], ["libcrypto-evp", () => createLibcryptoBackend(lib, "evp")]);

const key = Uint8Array.from({ length: 32 }, (_, i) => i * 7 + 1);
const rand = (n: number) => crypto.getRandomValues(new Uint8Array(n));

describe.each(BACKENDS)("%s AEAD", (_name, make) => {
  const b = make();

  test.each([0, 1, 15, 16, 17, 64, 1420, 1500])("round trip of %i bytes at odd offsets", (len) => {
    const k = b.aeadKey(key);
    for (const off of [0, 3, 16, 1001]) {
      const buf = rand(off + len + 16 + 5);
      const orig = buf.slice();
      k.seal(12345 + off, buf, off, len);
      expect(buf.subarray(0, off)).toEqual(orig.subarray(0, off)); // bytes before untouched
      expect(buf.subarray(off + len + 16)).toEqual(orig.subarray(off + len + 16)); // and after
      if (len > 0) expect(buf.subarray(off, off + len)).not.toEqual(orig.subarray(off, off + len));
      expect(k.open(12345 + off, buf, off, len + 16)).toBe(true);
      expect(buf.subarray(off, off + len)).toEqual(orig.subarray(off, off + len));
    }
    k.destroy();
  });

  // Regression: a pointer into a buffer the GC had freed once made libcrypto
  // ignore the expected tag, so forged tags verified after a few thousand
  // packets. Long-lived keys must keep rejecting forgeries across collections.
  test("a long-lived key keeps rejecting forged tags across garbage collections", () => {
    const k = b.aeadKey(key);
    const aad = Uint8Array.of(9, 9, 9);
    let forgedAccepted = 0;
    let genuineRejected = 0;
    for (let i = 0; i < 6000; i++) {
      if (i % 1500 === 0) Bun.gc(true);
      const sealed = new Uint8Array(116);
      sealed.fill(i & 0xff, 0, 100);
      k.seal(i, sealed, 0, 100, aad);
      const forged = sealed.slice();
      forged[100 + (i % 16)]! ^= 1;
      if (k.open(i, forged, 0, 116, aad)) forgedAccepted++;
      if (!k.open(i, sealed.slice(), 0, 116, aad)) genuineRejected++;
    }
    expect({ forgedAccepted, genuineRejected }).toEqual({ forgedAccepted: 0, genuineRejected: 0 });
    k.destroy();
  });

  test("tampered ciphertext, tag, counter or aad is rejected", () => {
    const k = b.aeadKey(key);
    const aad = rand(32);
    const pt = rand(100);
    const sealed = new Uint8Array(116);
    sealed.set(pt);
    k.seal(7, sealed, 0, 100, aad);
    for (const flip of [0, 50, 99, 100, 115]) {
      const c = sealed.slice();
      c[flip]! ^= 0x80;
      expect(k.open(7, c, 0, 116, aad)).toBe(false);
    }
    expect(k.open(8, sealed.slice(), 0, 116, aad)).toBe(false);
    expect(k.open(7, sealed.slice(), 0, 116, rand(32))).toBe(false);
    expect(k.open(7, sealed.slice(), 0, 116)).toBe(false);
    expect(k.open(7, sealed.slice(), 0, 15)).toBe(false);
    const ok = sealed.slice();
    expect(k.open(7, ok, 0, 116, aad)).toBe(true); // still works after failures
    expect(ok.subarray(0, 100)).toEqual(pt);
  });

  test("the nonce is 4 zero bytes then the LE u64 counter, up to 2^53", () => {
    const k = b.aeadKey(key);
    for (const counter of [0, 1, 0xffffffff, 0x100000000, 2 ** 53 - 1]) {
      const pt = rand(40);
      const viaCounter = new Uint8Array(56);
      viaCounter.set(pt);
      k.seal(counter, viaCounter, 0, 40);
      const nonce = new Uint8Array(12);
      new DataView(nonce.buffer).setBigUint64(4, BigInt(counter), true);
      const viaNonce = new Uint8Array(56);
      b.aeadSealNonce(key, nonce, pt, new Uint8Array(0), viaNonce);
      expect(viaCounter).toEqual(viaNonce);
    }
  });

  test("batch forms equal single forms", () => {
    const k = b.aeadKey(key);
    const n = 9;
    const lens = Int32Array.from({ length: n }, (_, i) => [0, 1, 16, 100, 1420, 33, 64, 1280, 7][i]!);
    const offs = new Int32Array(n);
    let pos = 5;
    for (let i = 0; i < n; i++) {
      offs[i] = pos;
      pos += lens[i]! + 16 + 3;
    }
    const counters = Float64Array.from({ length: n }, (_, i) => 1000 + i * 3);
    const buf = rand(pos);
    const single = buf.slice();
    for (let i = 0; i < n; i++) k.seal(counters[i]!, single, offs[i]!, lens[i]!);
    const batch = buf.slice();
    k.sealBatch(n, counters, batch, offs, lens);
    expect(batch).toEqual(single);
    const tagged = Int32Array.from(lens, (l) => l + 16);
    batch[offs[3]! + 5]! ^= 1; // corrupt packet 3 only
    const ok = new Uint8Array(n);
    k.openBatch(n, counters, batch, offs, tagged, ok);
    expect(Array.from(ok)).toEqual([1, 1, 1, 0, 1, 1, 1, 1, 1]);
    for (let i = 0; i < n; i++) {
      if (i === 3) continue;
      expect(batch.subarray(offs[i]!, offs[i]! + lens[i]!)).toEqual(buf.subarray(offs[i]!, offs[i]! + lens[i]!));
    }
  });

  test("out-of-bounds ranges throw instead of touching memory", () => {
    const k = b.aeadKey(key);
    const buf = new Uint8Array(100);
    expect(() => k.seal(0, buf, 90, 10)).toThrow(RangeError); // tag would not fit
    expect(() => k.seal(0, buf, -1, 10)).toThrow(RangeError);
    expect(() => k.open(0, buf, 50, 60)).toThrow(RangeError);
  });

  test("destroy makes the key unusable", () => {
    const k = b.aeadKey(key);
    k.destroy();
    expect(() => k.seal(0, new Uint8Array(64), 0, 10)).toThrow();
  });

  test("xaead rejects a tampered box and leaves out untouched", () => {
    const nonce = rand(24),
      aad = rand(16),
      pt = rand(16);
    const sealed = new Uint8Array(32);
    b.xaeadSeal(key, nonce, pt, aad, sealed);
    sealed[3]! ^= 1;
    const out = new Uint8Array(16);
    expect(b.xaeadOpen(key, nonce, sealed, aad, out)).toBe(false);
    expect(out).toEqual(new Uint8Array(16));
  });
});

test.each(BACKENDS.slice(1))("%s produces the TypeScript fallback's output for random inputs", (_name, make) => {
  const a = createTypeScriptBackend();
  const c = make();
  for (let i = 0; i < 20; i++) {
    const k = rand(32),
      len = (i * 97) % 1500,
      aad = rand(i % 40);
    const b1 = rand(len + 16),
      b2 = b1.slice();
    a.aeadKey(k).seal(i, b1, 0, len, aad);
    c.aeadKey(k).seal(i, b2, 0, len, aad);
    expect(b1).toEqual(b2);
    const m1 = new Uint8Array(16),
      m2 = new Uint8Array(16),
      d = rand(i * 13);
    a.blake2sMac(k, d, m1);
    c.blake2sMac(k, d, m2);
    expect(m1).toEqual(m2);
    const h1 = new Uint8Array(32),
      h2 = new Uint8Array(32);
    a.hmacBlake2s(k, h1, d, aad);
    c.hmacBlake2s(k, h2, d, aad);
    expect(h1).toEqual(h2);
  }
});
