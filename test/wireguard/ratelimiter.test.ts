import { describe, expect, test } from "bun:test";
import { HandshakeRateLimiter, PACKETS_BURSTABLE, PACKETS_PER_SECOND, RATELIMITER_MAX_ENTRIES } from "../../src/wireguard/ratelimiter.ts";

const v4 = (n: number) => new Uint8Array([n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]);
function v6(w0: number, w1: number, w2: number, w3: number): Uint8Array {
  const out = new Uint8Array(16);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, w0);
  dv.setUint32(4, w1);
  dv.setUint32(8, w2);
  dv.setUint32(12, w3);
  return out;
}

const MS_PER_PACKET = 1000 / PACKETS_PER_SECOND; // 50 ms

describe("HandshakeRateLimiter", () => {
  test("kernel constants", () => {
    expect(PACKETS_PER_SECOND).toBe(20);
    expect(PACKETS_BURSTABLE).toBe(5);
  });

  // Linux drivers/net/wireguard/selftest/ratelimiter.c `expected_results` and
  // `timings_test`, with a fake clock instead of sleeping (so the kernel's
  // TICK_NSEC slack and retry loop are unnecessary). Per step: advance the
  // clock, then (1) the fixed IPv4 source 0.0.31.246 (htonl(8182)) gets the
  // expected verdict, (2) a never-seen IPv4 source (8182 + i + 1) is allowed,
  // (3) an IPv6 source in the fixed /64 1212:289188::/64 with a different host
  // part each step (addr32[2] = addr32[3] = i) gets the SAME verdict as (1),
  // proving /64 grouping, (4) a different /64 (addr32[0] + i + 1) is allowed.
  const expectedResults: Array<{ result: boolean; msToSleepBefore: number }> = [
    ...Array.from({ length: PACKETS_BURSTABLE }, () => ({ result: true, msToSleepBefore: 0 })),
    { result: false, msToSleepBefore: 0 },
    { result: true, msToSleepBefore: MS_PER_PACKET },
    { result: false, msToSleepBefore: 0 },
    { result: true, msToSleepBefore: MS_PER_PACKET * 2 },
    { result: true, msToSleepBefore: 0 },
    { result: false, msToSleepBefore: 0 },
  ];

  test("kernel timings_test: burst, refill, independent sources, IPv6 /64 grouping", () => {
    expect(expectedResults.length).toBe(PACKETS_BURSTABLE + 6);
    const rl = new HandshakeRateLimiter();
    let now = 1_000_000;
    const verdicts: string[] = [];
    const want: string[] = [];
    expectedResults.forEach(({ result, msToSleepBefore }, i) => {
      now += msToSleepBefore;
      verdicts.push(
        [rl.allow(now, v4(8182)), rl.allow(now, v4(8182 + i + 1)), rl.allow(now, v6(1212, 289188, i, i)), rl.allow(now, v6(1212 + i + 1, 289188, i, i))].join(
          ",",
        ),
      );
      want.push([result, true, result, true].join(","));
    });
    expect(verdicts).toEqual(want);
  });

  // selftest/ratelimiter.c `capacity_test`: from an empty table, sources
  // 0..max_entries-1 are admitted and source max_entries is refused.
  test.each([RATELIMITER_MAX_ENTRIES, 64])("kernel capacity_test with maxEntries %d", (max) => {
    const rl = new HandshakeRateLimiter({ maxEntries: max });
    let wrong = 0;
    for (let i = 0; i <= max; i++) if (rl.allow(0, v4(i)) !== (i !== max)) wrong++;
    expect(wrong).toBe(0);
    expect(rl.size).toBe(max);
    // Known sources keep working when the table is full.
    expect(rl.allow(0, v4(0))).toBe(true);
  });

  test("the bucket never holds more than the burst, however long the idle", () => {
    const rl = new HandshakeRateLimiter();
    const ip = v4(0x0a000001);
    for (let i = 0; i < PACKETS_BURSTABLE; i++) expect(rl.allow(0, ip)).toBe(true);
    expect(rl.allow(0, ip)).toBe(false);
    const later = 3_600_000;
    for (let i = 0; i < PACKETS_BURSTABLE; i++) expect(rl.allow(later, ip)).toBe(true);
    expect(rl.allow(later, ip)).toBe(false);
  });

  test("sustained rate is 20/s: one packet per 50 ms, not before", () => {
    const rl = new HandshakeRateLimiter();
    const ip = v4(0xc0a80001);
    let now = 0;
    for (let i = 0; i < PACKETS_BURSTABLE; i++) rl.allow(now, ip);
    let allowed = 0;
    for (let step = 0; step < 1000; step++) {
      now += 1; // 1 s of 1 ms ticks
      if (rl.allow(now, ip)) allowed++;
    }
    // Failed attempts still advance last-time but keep their tokens, so the
    // rate holds exactly: 1000 ms / 50 ms.
    expect(allowed).toBe(20);
  });

  test("IPv6 sources in one /64 share a bucket; other /64s and IPv4 do not", () => {
    const rl = new HandshakeRateLimiter();
    for (let i = 0; i < PACKETS_BURSTABLE; i++) expect(rl.allow(0, v6(0x20010db8, 0, 0, i + 1))).toBe(true);
    expect(rl.allow(0, v6(0x20010db8, 0, 0xffffffff, 0xffffffff))).toBe(false);
    expect(rl.allow(0, v6(0x20010db8, 1, 0, 1))).toBe(true);
    // IPv4 0x20010db8 must not alias the IPv6 /64 starting with the same bytes.
    expect(rl.allow(0, v4(0x20010db8))).toBe(true);
  });

  test("gc drops sources idle for more than 1 s, keeps the rest, and frees capacity", () => {
    const rl = new HandshakeRateLimiter({ maxEntries: 2 });
    expect(rl.allow(0, v4(1))).toBe(true);
    expect(rl.allow(500, v6(1, 2, 3, 4))).toBe(true);
    expect(rl.allow(500, v4(3))).toBe(false); // full: new source refused
    rl.gc(1000); // idle 1000 ms and 500 ms: nothing is > 1 s
    expect(rl.size).toBe(2);
    rl.gc(1001); // v4(1) idle 1001 ms
    expect(rl.size).toBe(1);
    expect(rl.allow(1001, v4(3))).toBe(true);
    rl.gc(1502);
    expect(rl.size).toBe(1);
    rl.clear();
    expect(rl.size).toBe(0);
  });

  test("a clock stepping backwards mints no tokens", () => {
    const rl = new HandshakeRateLimiter();
    const ip = v4(7);
    for (let i = 0; i < PACKETS_BURSTABLE; i++) rl.allow(10_000, ip);
    expect(rl.allow(5_000, ip)).toBe(false);
    expect(rl.allow(5_000 + MS_PER_PACKET, ip)).toBe(true);
  });

  test("addresses that are neither 4 nor 16 bytes are refused", () => {
    expect(new HandshakeRateLimiter().allow(0, new Uint8Array(8))).toBe(false);
  });
});
