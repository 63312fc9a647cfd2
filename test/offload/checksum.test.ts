import { describe, expect, test } from "bun:test";
import { checksum, checksumNoFold, foldChecksum, pseudoHeaderChecksumNoFold } from "../../src/offload/checksum.ts";
import { refChecksum, refSum } from "./checksum-reference.ts";
import { Prng } from "./prng.ts";

describe("checksum", () => {
  test.each([0, 1, 2, 3])("matches the byte-by-byte reference for every length 0..9001 at offset %d (seeded)", (off) => {
    const rng = new Prng(0xc0ffee + off);
    const data = rng.bytes(9001 + 8);
    let mismatches = 0;
    for (let len = 0; len <= 9001; len++) {
      const initial = len % 7 === 0 ? rng.u32() & 0xffff : 0;
      if (foldChecksum(checksumNoFold(data, off, len, initial)) !== refSum(data, off, len, initial)) mismatches++;
    }
    expect(mismatches).toBe(0);
  });

  test("matches the reference at every start alignment (offsets 0..7, subarray views)", () => {
    const rng = new Prng(42);
    const backing = rng.bytes(4096);
    for (let viewOff = 0; viewOff < 4; viewOff++) {
      const view = backing.subarray(viewOff);
      for (let off = 0; off < 8; off++) {
        for (const len of [0, 1, 2, 3, 5, 31, 32, 33, 63, 64, 65, 1419, 1420, 1421, 2000]) {
          expect(foldChecksum(checksumNoFold(view, off, len, 0))).toBe(refSum(view, off, len));
        }
      }
    }
  });

  test("random offsets and lengths agree with the reference (seeded)", () => {
    const rng = new Prng(7);
    const data = rng.bytes(70000);
    for (let k = 0; k < 2000; k++) {
      const off = rng.int(0, 1000);
      const len = rng.int(0, 66000);
      const seed = rng.int(0, 0x3ffff);
      expect(checksum(data, off, len, seed)).toBe(refChecksum(data, off, len, seed));
    }
  });

  test("all-0xff 64 KiB stays exact (no overflow before folding)", () => {
    const data = new Uint8Array(65536).fill(0xff);
    expect(foldChecksum(checksumNoFold(data, 0, 65536, 0))).toBe(refSum(data, 0, 65536));
  });

  test("chaining ranges equals one pass", () => {
    const rng = new Prng(9);
    const data = rng.bytes(3000);
    const whole = foldChecksum(checksumNoFold(data, 0, 3000, 0));
    const chained = foldChecksum(checksumNoFold(data, 1000, 2000, checksumNoFold(data, 0, 1000, 0)));
    expect(chained).toBe(whole);
  });

  test("works on a SharedArrayBuffer-backed view and alternating buffers", () => {
    const rng = new Prng(11);
    const bufs = [0, 1, 2, 3, 4, 5].map(() => {
      const u = new Uint8Array(new SharedArrayBuffer(2048));
      rng.fill(u);
      return u;
    });
    for (let round = 0; round < 3; round++) {
      for (const b of bufs) expect(foldChecksum(checksumNoFold(b, 4, 1500, 0))).toBe(refSum(b, 4, 1500));
    }
  });

  test("RFC 1071 section 3 example", () => {
    const data = new Uint8Array([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]);
    expect(foldChecksum(checksumNoFold(data, 0, 8, 0))).toBe(0xddf2);
  });

  test("pseudo-header sum covers addresses, protocol and length", () => {
    // 192.0.2.1 -> 192.0.2.2, TCP, length 20
    const ip = new Uint8Array([192, 0, 2, 1, 192, 0, 2, 2]);
    const expected = (0xc000 + 0x0201 + 0xc000 + 0x0202 + 6 + 20) % 0xffff;
    expect(foldChecksum(pseudoHeaderChecksumNoFold(ip, 0, 4, 6, 20))).toBe(expected);
  });
});
