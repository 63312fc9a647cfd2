import { describe, expect, test } from "bun:test";
import { createPacketBatch } from "../../src/offload/batch.ts";
import { allocateChecksummedBytes, checksumNoFold, copyAndChecksumNoFold, foldChecksum, hasWasmChecksum } from "../../src/offload/checksum.ts";
import { CHECKSUM_WASM, createWasmChecksumMemory, WASM_SUM_MAX_LEN } from "../../src/offload/checksum-wasm.ts";
import { refSum } from "./checksum-reference.ts";
import { Prng } from "./prng.ts";

/** Folds like checksum-reference.ts: end-around carry, 0 only for a zero sum. */
function refFold(s: number): number {
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 65536);
  return s;
}

/** Independent byte-by-byte sum of big-endian 16-bit words (odd tail padded), unfolded. */
function refSumNoComplement(b: Uint8Array): number {
  let s = 0;
  for (let i = 0; i + 1 < b.length; i += 2) s += (b[i]! << 8) | b[i + 1]!;
  if (b.length & 1) s += b[b.length - 1]! << 8;
  return s;
}

/** A wasm-backed buffer and a plain copy of it, so the same bytes go down both paths. */
function twin(len: number, fill: (b: Uint8Array) => void): { wasm: Uint8Array; plain: Uint8Array } {
  const wasm = allocateChecksummedBytes(len);
  fill(wasm);
  return { wasm, plain: wasm.slice() };
}

describe("wasm checksum kernel", () => {
  test("the embedded module compiles with SIMD in this runtime", () => {
    expect(WebAssembly.validate(CHECKSUM_WASM)).toBe(true);
    expect(createWasmChecksumMemory(1000)).not.toBeNull();
  });

  test("createPacketBatch buffers are wasm-backed, so the data plane gets the fast path", () => {
    // Bun always has WebAssembly with SIMD: if this fails, the kernel has silently stopped being used.
    expect(hasWasmChecksum(createPacketBatch(4, 2000).buf)).toBe(true);
    expect(hasWasmChecksum(createPacketBatch(130, 65535, 16).buf)).toBe(true);
    expect(hasWasmChecksum(new Uint8Array(4096))).toBe(false);
  });

  test("a batch buffer keeps its exact length and starts zeroed", () => {
    const b = createPacketBatch(3, 1000, 16);
    expect(b.buf.length).toBe(3 * 1024);
    expect(b.buf.every((x) => x === 0)).toBe(true);
  });

  test("kernel alone: little-endian folded sum at every start alignment", () => {
    const mem = createWasmChecksumMemory(8192)!;
    new Prng(3).fill(mem.bytes);
    for (let p = 0; p < 20; p++) {
      for (let n = 0; n < 300; n++) {
        let s = 0;
        for (let i = 0; i < n; i += 2) s += mem.bytes[p + i]! | (i + 1 < n ? mem.bytes[p + i + 1]! << 8 : 0);
        expect(mem.sum(p, n)).toBe(refFold(s));
      }
    }
  });

  test.each([0, 1, 2, 3, 5, 6, 16, 17, 4093])("wasm path = JS path = byte-by-byte reference for every length 0..9001 at offset %d (seeded)", (off) => {
    const rng = new Prng(0x5eed + off);
    const { wasm, plain } = twin(off + 9001 + 64, (b) => rng.fill(b));
    expect(hasWasmChecksum(wasm)).toBe(true);
    expect(hasWasmChecksum(plain)).toBe(false);
    let bad = 0;
    // The reference grows one byte at a time: a byte at an even distance from off is a high byte.
    let ref = 0;
    for (let len = 0; len <= 9001; len++) {
      const initial = len % 5 === 0 ? len * 977 : 0;
      const w = foldChecksum(checksumNoFold(wasm, off, len, initial));
      const j = foldChecksum(checksumNoFold(plain, off, len, initial));
      const r = refFold(ref + initial);
      if (w !== r || j !== r) bad++;
      ref += len % 2 === 0 ? wasm[off + len]! << 8 : wasm[off + len]!;
    }
    expect(bad).toBe(0);
  });

  test("views with odd and unaligned byteOffsets, interleaved with plain buffers", () => {
    const rng = new Prng(77);
    const { wasm, plain } = twin(20000, (b) => rng.fill(b));
    const views = [0, 1, 2, 3, 7].flatMap((v) => [wasm.subarray(v), plain.subarray(v)]);
    for (let k = 0; k < 3000; k++) {
      const view = views[rng.int(0, views.length - 1)]!;
      const off = rng.int(0, 40);
      const len = rng.int(0, 9000);
      const seed = rng.int(0, 0xffff);
      expect(foldChecksum(checksumNoFold(view, off, len, seed))).toBe(refSum(view, off, len, seed));
    }
  });

  test.each([0, 1, 2, 3])("all-0xff 65535-byte range at offset %d stays exact", (off) => {
    const wasm = allocateChecksummedBytes(70000).fill(0xff);
    expect(foldChecksum(checksumNoFold(wasm, off, 65535, 0))).toBe(refSum(wasm, off, 65535));
    expect(foldChecksum(checksumNoFold(wasm, off, 65534, 0xffff))).toBe(refSum(wasm, off, 65534, 0xffff));
  });

  test("all-0xff at the kernel's per-call limit and beyond it (lane overflow)", () => {
    const mem = createWasmChecksumMemory(WASM_SUM_MAX_LEN + 16)!;
    mem.bytes.fill(0xff);
    // Every word is 0xffff, which folds to 0xffff however many there are.
    expect(mem.sum(0, WASM_SUM_MAX_LEN)).toBe(0xffff);
    expect(mem.sum(1, WASM_SUM_MAX_LEN)).toBe(0xffff);
    const big = allocateChecksummedBytes(3 * WASM_SUM_MAX_LEN + 100).fill(0xff);
    for (const [off, len] of [
      [0, 3 * WASM_SUM_MAX_LEN + 99],
      [1, 2 * WASM_SUM_MAX_LEN],
      [2, WASM_SUM_MAX_LEN + 1],
    ] as const) {
      expect(foldChecksum(checksumNoFold(big, off, len, 0))).toBe(refSum(big, off, len));
    }
  });

  test("a sum that needs the third end-around fold", () => {
    // 65538 words of 0xffff plus a word of 1 sum to 0x1_0000_ffff: two folds leave 0x10000.
    const words = 65538;
    const mem = createWasmChecksumMemory(2 * words + 2)!;
    mem.bytes.fill(0xff, 0, 2 * words);
    mem.bytes[2 * words] = 1;
    expect(mem.sum(0, 2 * words + 2)).toBe(1);
    expect(foldChecksum(checksumNoFold(mem.bytes, 0, 2 * words + 2, 0))).toBe(refSum(mem.bytes, 0, 2 * words + 2));
  });

  test("ranges longer than the kernel's per-call limit match the JS path on random data", () => {
    const rng = new Prng(12);
    const { wasm, plain } = twin(2 * WASM_SUM_MAX_LEN + 1000, (b) => rng.fill(b));
    for (const [off, len] of [
      [0, 2 * WASM_SUM_MAX_LEN + 999],
      [3, WASM_SUM_MAX_LEN + 7],
      [10, WASM_SUM_MAX_LEN],
    ] as const) {
      const w = foldChecksum(checksumNoFold(wasm, off, len, 5));
      expect(w).toBe(foldChecksum(checksumNoFold(plain, off, len, 5)));
      expect(w).toBe(refSum(wasm, off, len, 5));
    }
  });

  test("without WebAssembly memory, allocation falls back to a plain buffer that still sums right", () => {
    const Memory = WebAssembly.Memory;
    let bytes: Uint8Array;
    try {
      (WebAssembly as { Memory: unknown }).Memory = () => {
        throw new RangeError("no wasm memory here");
      };
      bytes = allocateChecksummedBytes(5000);
    } finally {
      (WebAssembly as { Memory: unknown }).Memory = Memory;
    }
    expect(hasWasmChecksum(bytes)).toBe(false);
    expect(bytes.length).toBe(5000);
    new Prng(8).fill(bytes);
    expect(foldChecksum(checksumNoFold(bytes, 3, 4000, 0))).toBe(refSum(bytes, 3, 4000));
  });

  test("copyAndChecksumNoFold copies exactly and sums like copy-then-checksum, wasm and plain, every length 0..3000", () => {
    const rng = new Prng(0xc0b1);
    for (const backing of ["wasm", "plain"] as const) {
      const buf = backing === "wasm" ? allocateChecksummedBytes(16384) : new Uint8Array(16384);
      expect(hasWasmChecksum(buf)).toBe(backing === "wasm");
      for (let len = 0; len <= 3000; len++) {
        const src = rng.int(0, 4000);
        const dst = 8000 + rng.int(0, 4000);
        rng.fill(buf.subarray(src, src + len));
        const expected = buf.slice(src, src + len);
        const seed = rng.int(0, 0xffff);
        const got = copyAndChecksumNoFold(buf, dst, src, len, seed);
        expect(foldChecksum(got)).toBe(refFold(seed + refSumNoComplement(expected)));
        if (!Buffer.from(buf.subarray(dst, dst + len)).equals(Buffer.from(expected))) {
          throw new Error(`${backing}: copy of ${len} bytes from ${src} to ${dst} differs`);
        }
      }
    }
  });

  test("copyAndChecksumNoFold with overlapping ranges moves like copyWithin and sums the moved bytes", () => {
    const rng = new Prng(0x0e1a);
    const buf = allocateChecksummedBytes(8192);
    for (const [src, dst, len] of [
      [100, 150, 1400],
      [150, 100, 1400],
      [0, 1, 4000],
      [1, 0, 4000],
      [64, 64, 500],
    ] as const) {
      rng.fill(buf);
      const model = buf.slice();
      model.copyWithin(dst, src, src + len);
      const got = copyAndChecksumNoFold(buf, dst, src, len, 0);
      expect(Buffer.from(buf).equals(Buffer.from(model))).toBe(true);
      expect(foldChecksum(got)).toBe(refFold(refSumNoComplement(model.subarray(dst, dst + len))));
    }
  });
});
