// The in-memory I/O's copies (src/device/io-memory.ts): byte-exact both
// ways through address handles, and a range that does not fit throws, as a
// fake kernel must rather than truncate a datagram (Buffer's copy, which the
// copies use for speed, would truncate silently).
import { describe, expect, test } from "bun:test";
import { MemoryAddresses } from "../../src/device/io-memory.ts";

describe("MemoryAddresses copies", () => {
  const memory = new MemoryAddresses();
  const slab = new Uint8Array(4096);
  for (let i = 0; i < slab.length; i++) slab[i] = (i * 7) & 0xff;
  const view = slab.subarray(1000); // an address into the middle of a buffer
  const addr = memory.addressOf(view, 16);

  test("copyOut and copyIn move exactly the bytes asked for", () => {
    const out = new Uint8Array(100).fill(0xee);
    memory.copyOut(addr, 50, out, 10);
    expect([...out.subarray(10, 60)]).toEqual([...slab.subarray(1016, 1066)]);
    expect(out[9]).toBe(0xee);
    expect(out[60]).toBe(0xee);
    const src = new Uint8Array(64).map((_, i) => 200 + (i % 50));
    memory.copyIn(src, 4, 40, addr);
    expect([...slab.subarray(1016, 1056)]).toEqual([...src.subarray(4, 44)]);
    expect(slab[1056]).toBe((1056 * 7) & 0xff);
  });

  test("a copy that does not fit throws instead of truncating", () => {
    expect(() => memory.copyOut(addr, 50, new Uint8Array(40), 0)).toThrow(RangeError);
    expect(() => memory.copyOut(addr, 50, new Uint8Array(100), 60)).toThrow(RangeError);
    expect(() => memory.copyIn(new Uint8Array(10), 0, 20, addr)).toThrow(RangeError);
    expect(() => memory.copyIn(new Uint8Array(100), 0, 50, memory.addressOf(slab, 4090))).toThrow(RangeError);
  });
});
