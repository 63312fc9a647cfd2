// The workers line of `tunnel status` (src/cli/status.ts): it says how many
// threads the data plane has, why, and what the crypto helpers do.
import { describe, expect, test } from "bun:test";
import { renderStatus } from "../../src/cli/status.ts";
import type { DeviceStatus } from "../../src/device/device-status.ts";
import { COUNTERS, type Counters } from "../../src/device/shared-stats.ts";

function status(workers: DeviceStatus["workers"], counters: Partial<Counters> = {}): DeviceStatus {
  return {
    interfaceName: "wt0",
    listenPort: 1,
    crypto: "libcrypto",
    offloads: { vnetHeader: true, offloadFlags: 0x67, tso: true, uso: true, tcpGro: true, udpGro: true, reasons: [], description: [] },
    udp: { v4: { gso: true, gro: true }, v6: null, notes: [] },
    counters: { ...(Object.fromEntries(COUNTERS.map((c) => [c, 0])) as Counters), ...counters },
    derived: { segmentsPerSuperPacket: 0, datagramsPerGsoBatch: 0, datagramsPerGroMessage: 0, coalesceRatio: 0 },
    drops: {},
    workers,
    peers: [],
  };
}

const line = (s: DeviceStatus) =>
  renderStatus(s, 0)
    .split("\n")
    .find((l) => l.startsWith("  workers:"));

describe("tunnel status: workers", () => {
  test("one worker: the data plane alone, and why", () => {
    expect(line(status({ setting: "auto", count: 1, cores: 2, helpersUp: 0 }))).toBe(
      "  workers: 1 (auto for 2 cores): the data plane seals and opens on its own thread",
    );
  });

  test("helpers: how many run, their share of the packets and the waits", () => {
    const s = status({ setting: 3, count: 3, cores: 8, helpersUp: 2 }, { cryptoPacketsHelpers: 600, cryptoPacketsInline: 400, cryptoWaits: 7 });
    expect(line(s)).toBe(
      "  workers: 3 (set): the data plane + 2 of 2 crypto helpers running; helpers sealed or opened 60 % of 1000 packets, the data plane waited for them 7 times",
    );
  });

  test("helpers switched off after a stall say so", () => {
    const s = status({ setting: 2, count: 2, cores: 2, helpersUp: 0 }, { cryptoHelperStalls: 1, cryptoPacketsInline: 10 });
    expect(line(s)).toContain("helpers switched off after 1 stall(s)");
  });

  test("a daemon that reports no workers (an older one) gets no line", () => {
    expect(line(status(undefined))).toBeUndefined();
  });
});
