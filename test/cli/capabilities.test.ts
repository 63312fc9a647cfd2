// hasNetAdmin on /proc/self/status text: CapEff bit 12.
import { describe, expect, test } from "bun:test";
import { hasNetAdmin } from "../../src/cli/capabilities.ts";

describe("hasNetAdmin", () => {
  test.each([
    ["CapInh:\t0000000000000000\nCapEff:\t000001fffeffffff\n", true],
    ["CapEff:\t0000000000000000\n", false],
    ["CapEff:\t0000000000001000\n", true],
    ["CapEff:\t0000000000000fff\n", false],
    ["no capability lines", true],
  ])("%p → %p", (text, expected) => {
    expect(hasNetAdmin(text)).toBe(expected);
  });
});
