import { describe, expect, test } from "bun:test";
import { TokenBucket } from "./token-bucket.ts";

describe("flood token bucket", () => {
  test("starts full, then admits rate per second", () => {
    const b = new TokenBucket(1000, 20, 0);
    expect(b.take(0, 64)).toBe(20);
    expect(b.take(0, 64)).toBe(0);
    expect(b.take(10, 64)).toBe(10); // 10 ms at 1000/s
    let total = 0;
    for (let t = 11; t <= 1010; t++) total += b.take(t, 64);
    expect(total).toBe(1000);
  });

  test("a sender that stalls catches up by one burst at most", () => {
    const b = new TokenBucket(20_000, 400, 0);
    b.take(0, 400);
    expect(b.take(5000, 10_000)).toBe(400);
  });

  test("waitMs says how long until a batch is due; giveBack returns unsent tokens", () => {
    const b = new TokenBucket(1000, 10, 0);
    b.take(0, 10);
    expect(b.waitMs(0, 5)).toBeCloseTo(5);
    expect(b.waitMs(5, 5)).toBe(0);
    b.giveBack(3);
    expect(b.take(5, 10)).toBe(8);
    expect(() => new TokenBucket(0, 1, 0)).toThrow(RangeError);
  });
});
