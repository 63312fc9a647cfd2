import { describe, expect, test } from "bun:test";
import { TAI64N_LEN, compareTai64n, tai64nInto } from "../../src/wireguard/tai64n.ts";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
function stamp(unixMs: number, nanos?: number): Uint8Array {
  const out = new Uint8Array(TAI64N_LEN);
  tai64nInto(out, 0, unixMs, nanos);
  return out;
}

describe("tai64n", () => {
  // Expected bytes computed by hand from the layout in WG-GO tai64n/tai64n.go
  // (base 0x400000000000000a, whitenerMask 0xffffff) and WG-KMOD noise.c tai64n_now.
  test.each([
    ["unix epoch", 0, undefined, "400000000000000a00000000"],
    ["1.5 s (500 ms whitened to 0x1d000000)", 1500, undefined, "400000000000000b1d000000"],
    ["1700000000 s", 1_700_000_000_000, undefined, "400000006553f10a00000000"],
    ["low 32 bits of seconds carry into the high word", (2 ** 32 - 10) * 1000, undefined, "4000000100000000" + "00000000"],
    ["max nanos", 999, 999_999_999, "400000000000000a3b000000"],
    ["explicit nanos override the ms fraction", 1999, 16_777_216, "400000000000000b01000000"],
    ["one second before the epoch", -1000, undefined, "400000000000000900000000"],
  ])("%s", (_name, ms, nanos, want) => {
    expect(hex(stamp(ms, nanos))).toBe(want);
  });

  test("writes at an offset and nowhere else", () => {
    const buf = new Uint8Array(20).fill(0xee);
    tai64nInto(buf, 4, 0);
    expect(hex(buf)).toBe("eeeeeeee" + "400000000000000a00000000" + "eeeeeeee");
  });

  // WG-GO tai64n/tai64n_test.go TestMonotonic: the last nanosecond of a
  // whitening bucket must not be After the bucket start; one more must be.
  test("whitening: same 2^24 ns bucket is equal, the next bucket is greater", () => {
    const start = 123_456_789;
    const nanosToNext = 0xffffff - (start & 0xffffff);
    const a = stamp(1_700_000_000_000, start);
    const same = stamp(1_700_000_000_000, start + nanosToNext);
    const next = stamp(1_700_000_000_000, start + nanosToNext + 1);
    expect(compareTai64n(same, 0, a, 0)).toBe(0);
    expect(compareTai64n(next, 0, a, 0)).toBeGreaterThan(0);
    expect(compareTai64n(a, 0, next, 0)).toBeLessThan(0);
  });

  test("strictly greater across second boundaries and by seconds before nanos", () => {
    const late = stamp(1_000_999); // 1000 s + 999 ms
    const nextSec = stamp(1_001_000); // 1001 s + 0 ns
    expect(compareTai64n(nextSec, 0, late, 0)).toBeGreaterThan(0);
    expect(compareTai64n(late, 0, late, 0)).toBe(0);
    // Two stamps 20 ms apart (50 initiations/s) always differ after whitening.
    for (let ms = 0; ms < 5000; ms += 7) {
      expect(compareTai64n(stamp(ms + 20), 0, stamp(ms), 0)).toBeGreaterThan(0);
    }
  });

  test("compares at offsets", () => {
    const buf = new Uint8Array(30);
    tai64nInto(buf, 1, 5000);
    tai64nInto(buf, 17, 6000);
    expect(compareTai64n(buf, 17, buf, 1)).toBeGreaterThan(0);
    expect(compareTai64n(buf, 1, buf, 17)).toBeLessThan(0);
  });
});
