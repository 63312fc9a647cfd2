import { describe, expect, test } from "bun:test";
import { COUNTER_BITS_TOTAL, REPLAY_WINDOW_SIZE, ReplayFilter } from "../../src/wireguard/replay.ts";

// Limit used by the table. wireguard-go replay/replay_test.go runs the kernel
// table with RejectAfterMessages = 2^64 - 2^4 - 1; our counters are Numbers
// < 2^53, so the same shape is scaled to 2^53 - 2^4 - 1 (every value the table
// touches, up to limit + 2, is still an exact integer).
const REJECT_AFTER_MESSAGES = 2 ** 53 - 2 ** 4 - 1;
const WINDOW = REPLAY_WINDOW_SIZE;

/** Runs a sequence of T(n, expected) steps; returns the 1-based numbers of the failing steps. */
function run(filter: ReplayFilter, steps: Array<[number, boolean]>): number[] {
  const failed: number[] = [];
  steps.forEach(([n, want], i) => {
    if (filter.validateCounter(n, REJECT_AFTER_MESSAGES) !== want) failed.push(i + 1);
  });
  return failed;
}

describe("ReplayFilter", () => {
  test("window constants match the kernel and wireguard-go", () => {
    expect(COUNTER_BITS_TOTAL).toBe(8192);
    expect(WINDOW).toBe(8128);
  });

  // Linux drivers/net/wireguard/selftest/counter.c, the 34 numbered T(n, v)
  // lines in order (identical in wireguard-go replay/replay_test.go TestReplay).
  test("kernel selftest/counter.c table, 34 cases", () => {
    const T_LIM = WINDOW + 1;
    const R = REJECT_AFTER_MESSAGES;
    const table: Array<[number, boolean]> = [
      /*  1 */ [0, true],
      /*  2 */ [1, true],
      /*  3 */ [1, false],
      /*  4 */ [9, true],
      /*  5 */ [8, true],
      /*  6 */ [7, true],
      /*  7 */ [7, false],
      /*  8 */ [T_LIM, true],
      /*  9 */ [T_LIM - 1, true],
      /* 10 */ [T_LIM - 1, false],
      /* 11 */ [T_LIM - 2, true],
      /* 12 */ [2, true],
      /* 13 */ [2, false],
      /* 14 */ [T_LIM + 16, true],
      /* 15 */ [3, false],
      /* 16 */ [T_LIM + 16, false],
      /* 17 */ [T_LIM * 4, true],
      /* 18 */ [T_LIM * 4 - (T_LIM - 1), true],
      /* 19 */ [10, false],
      /* 20 */ [T_LIM * 4 - T_LIM, false],
      /* 21 */ [T_LIM * 4 - (T_LIM + 1), false],
      /* 22 */ [T_LIM * 4 - (T_LIM - 2), true],
      /* 23 */ [T_LIM * 4 + 1 - T_LIM, false],
      /* 24 */ [0, false],
      /* 25 */ [R, false],
      /* 26 */ [R - 1, true],
      /* 27 */ [R, false],
      /* 28 */ [R - 1, false],
      /* 29 */ [R - 2, true],
      /* 30 */ [R + 1, false],
      /* 31 */ [R + 2, false],
      /* 32 */ [R - 2, false],
      /* 33 */ [R - 3, true],
      /* 34 */ [0, false],
    ];
    expect(table.length).toBe(34);
    expect(run(new ReplayFilter(), table)).toEqual([]);
  });

  // The six window-edge loops after the table in selftest/counter.c, each after
  // T_INIT. The kernel stores counter+1 internally while wireguard-go (our
  // semantics) does not; the kernel's loops still hold under wireguard-go
  // semantics because they stay within 8128 of the top, and wireguard-go's own
  // port of them (shifted by one, below) must hold too.
  const range = (from: number, to: number): number[] => {
    const out: number[] = [];
    for (let i = from; from <= to ? i <= to : i >= to; from <= to ? i++ : i--) out.push(i);
    return out;
  };
  const ok = (ns: number[]): Array<[number, boolean]> => ns.map((n) => [n, true]);

  const kernelLoops: Record<string, Array<[number, boolean]>> = {
    // for (i = 1; i <= COUNTER_WINDOW_SIZE; ++i) T(i, true); T(0, true); T(0, false);
    "1: ascending 1..W, then 0 accepted once": [...ok(range(1, WINDOW)), [0, true], [0, false]],
    // for (i = 2; i <= COUNTER_WINDOW_SIZE + 1; ++i) T(i, true); T(1, true); T(0, false);
    "2: ascending 2..W+1, then 1 accepted, 0 too old": [...ok(range(2, WINDOW + 1)), [1, true], [0, false]],
    // for (i = COUNTER_WINDOW_SIZE + 1; i-- > 0;) T(i, true);
    "3: descending W..0": ok(range(WINDOW, 0)),
    // for (i = COUNTER_WINDOW_SIZE + 2; i-- > 1;) T(i, true); T(0, false);
    "4: descending W+1..1, then 0 too old": [...ok(range(WINDOW + 1, 1)), [0, false]],
    // for (i = COUNTER_WINDOW_SIZE + 1; i-- > 1;) T(i, true); T(COUNTER_WINDOW_SIZE + 1, true); T(0, false);
    "5: descending W..1, then W+1 pushes 0 out": [...ok(range(WINDOW, 1)), [WINDOW + 1, true], [0, false]],
    // for (i = COUNTER_WINDOW_SIZE + 1; i-- > 1;) T(i, true); T(0, true); T(COUNTER_WINDOW_SIZE + 1, true);
    "6: descending W..1, then 0, then W+1": [...ok(range(WINDOW, 1)), [0, true], [WINDOW + 1, true]],
  };
  test.each(Object.entries(kernelLoops))("kernel counter.c loop %s", (_name, steps) => {
    expect(run(new ReplayFilter(), steps)).toEqual([]);
  });

  // wireguard-go replay/replay_test.go "Bulk test 1..6" (its adaptation of the same loops).
  const goLoops: Record<string, Array<[number, boolean]>> = {
    "1": [...ok(range(1, WINDOW)), [0, true], [0, false]],
    "2": [...ok(range(2, WINDOW + 1)), [1, true], [0, false]],
    "3": ok(range(WINDOW + 1, 1)),
    "4": [...ok(range(WINDOW + 2, 2)), [0, false]],
    "5": [...ok(range(WINDOW, 1)), [WINDOW + 1, true], [0, false]],
    "6": [...ok(range(WINDOW, 1)), [0, true], [WINDOW + 1, true]],
  };
  test.each(Object.entries(goLoops))("wireguard-go bulk test %s", (_name, steps) => {
    expect(run(new ReplayFilter(), steps)).toEqual([]);
  });

  test("window edge is exactly REPLAY_WINDOW_SIZE behind the top", () => {
    const f = new ReplayFilter();
    expect(f.validateCounter(100_000, REJECT_AFTER_MESSAGES)).toBe(true);
    expect(f.validateCounter(100_000 - WINDOW - 1, REJECT_AFTER_MESSAGES)).toBe(false);
    expect(f.validateCounter(100_000 - WINDOW, REJECT_AFTER_MESSAGES)).toBe(true);
    expect(f.validateCounter(100_000 - WINDOW, REJECT_AFTER_MESSAGES)).toBe(false);
  });

  test("bits 31/32 and 63 of a 64-bit block are distinct (two-word split)", () => {
    const f = new ReplayFilter();
    for (const n of [31, 32, 63, 0, 64, 95, 96, 127]) expect(f.validateCounter(n, REJECT_AFTER_MESSAGES)).toBe(true);
    for (const n of [31, 32, 63, 0, 64, 95, 96, 127]) expect(f.validateCounter(n, REJECT_AFTER_MESSAGES)).toBe(false);
  });

  test("a jump beyond the ring clears stale bits", () => {
    const f = new ReplayFilter();
    for (let n = 0; n < 200; n++) f.validateCounter(n, REJECT_AFTER_MESSAGES);
    // Same ring slots as 0..199, one and two full rings later.
    expect(f.validateCounter(COUNTER_BITS_TOTAL + 5, REJECT_AFTER_MESSAGES)).toBe(true);
    expect(f.validateCounter(COUNTER_BITS_TOTAL + 6, REJECT_AFTER_MESSAGES)).toBe(true);
    expect(f.validateCounter(3 * COUNTER_BITS_TOTAL + 150, REJECT_AFTER_MESSAGES)).toBe(true);
    expect(f.validateCounter(3 * COUNTER_BITS_TOTAL + 149, REJECT_AFTER_MESSAGES)).toBe(true);
  });

  test("counters at or above the limit, negative or non-integer-safe are rejected", () => {
    const f = new ReplayFilter();
    expect(f.validateCounter(10, 10)).toBe(false);
    expect(f.validateCounter(9, 10)).toBe(true);
    expect(f.validateCounter(-1, 10)).toBe(false);
    expect(f.validateCounter(2 ** 53, Infinity)).toBe(false);
    expect(f.validateCounter(Number.NaN, 10)).toBe(false);
  });

  test("reset forgets everything", () => {
    const f = new ReplayFilter();
    expect(f.validateCounter(50_000, REJECT_AFTER_MESSAGES)).toBe(true);
    expect(f.validateCounter(0, REJECT_AFTER_MESSAGES)).toBe(false);
    f.reset();
    expect(f.validateCounter(0, REJECT_AFTER_MESSAGES)).toBe(true);
    expect(f.validateCounter(50_000, REJECT_AFTER_MESSAGES)).toBe(true);
    expect(f.validateCounter(50_000, REJECT_AFTER_MESSAGES)).toBe(false);
  });

  // Randomized check against an obviously-correct Set-based model of the same
  // rule (accept iff < limit, not more than WINDOW behind max, unseen).
  test("matches a naive set model over 200k random counters", () => {
    let s = 0x9e3779b9;
    const rand = () => {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      return (s >>> 0) / 2 ** 32;
    };
    const f = new ReplayFilter();
    const seen = new Set<number>();
    let top = 0;
    let mismatches = 0;
    for (let i = 0; i < 200_000; i++) {
      const r = rand();
      const n =
        r < 0.7
          ? Math.max(0, top + Math.floor((rand() - 0.6) * 2.5 * WINDOW))
          : r < 0.95
            ? top + Math.floor(rand() * 4)
            : top + Math.floor(rand() * 4 * COUNTER_BITS_TOTAL);
      const want = !(top - n > WINDOW) && !seen.has(n);
      if (want) {
        seen.add(n);
        if (n > top) top = n;
      }
      if (f.validateCounter(n, REJECT_AFTER_MESSAGES) !== want) mismatches++;
    }
    expect(mismatches).toBe(0);
  });
});
