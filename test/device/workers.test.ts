// resolveWorkers (src/device/workers.ts): what "auto" gives per core count
// and how an explicit count is bounded; the rule's reasons are in the file.
import { describe, expect, test } from "bun:test";
import { MAX_HELPERS } from "../../src/device/crypto-pool.ts";
import { AUTO_MAX_WORKERS, resolveWorkers } from "../../src/device/workers.ts";

describe("workers", () => {
  test.each([
    [1, 1],
    [2, 1],
    [3, 3],
    [4, 4],
    [16, AUTO_MAX_WORKERS],
  ])("auto on %d cores is %d", (cores, want) => {
    expect(resolveWorkers("auto", cores)).toBe(want);
  });

  test("an explicit count is taken as it is, whatever the cores, within 1..MAX_HELPERS+1", () => {
    expect(resolveWorkers(2, 1)).toBe(2);
    expect(resolveWorkers(8, 2)).toBe(8);
    expect(resolveWorkers(0, 8)).toBe(1);
    expect(resolveWorkers(1000, 8)).toBe(MAX_HELPERS + 1);
  });
});
