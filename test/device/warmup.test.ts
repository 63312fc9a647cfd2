// The JIT warm-up (src/device/warmup.ts): it must really carry packets
// through the data-plane code (or it warms nothing), end by itself, touch
// nothing of the device it runs in, and run only in a plane's idle turns.
import { afterEach, describe, expect, test } from "bun:test";
import { selectBackend } from "../../src/crypto/select.ts";
import { DataPlane } from "../../src/device/dataplane.ts";
import { SharedStats } from "../../src/device/shared-stats.ts";
import { Warmup, warmupSkipReason } from "../../src/device/warmup.ts";
import { closePlanePairs, planePair } from "../support/plane-pair.ts";

afterEach(closePlanePairs);

describe("JIT warm-up", () => {
  test("carries handshakes, pings and super-packets both ways through real data planes, then ends", () => {
    const planes: DataPlane[] = [];
    const logs: string[] = [];
    const opts = { tcpGro: false, udpGro: false, mtu: 1420, env: {}, stats: SharedStats.allocate(2).buffer };
    const w = new Warmup(
      selectBackend({}).backend,
      opts,
      (host, o) => {
        const p = new DataPlane(host.io, o, { post: (m) => m.type === "log" && logs.push(m.message) });
        planes.push(p);
        return p;
      },
      Infinity,
    );
    let slices = 1;
    while (!w.slice(5, () => performance.now())) slices++;
    expect(slices).toBeGreaterThan(1); // bounded slices, not one long run
    expect(planes).toHaveLength(2);
    for (const p of planes) {
      const c = p.ctx.stats.readCounters();
      expect(c.handshakesReceived).toBeGreaterThanOrEqual(1);
      expect(c.rxPackets).toBeGreaterThan(5000);
      expect(c.tunWrites).toBeGreaterThan(500);
      expect(c.superPackets).toBeGreaterThan(100);
      expect(c.coalesceIn).toBeGreaterThan(c.coalesceOut); // coalescing ran, whatever the real device's offloads
      expect(c.dropOther + c.dropMalformed + c.dropBadMac + c.dropReplay + c.tunWriteErrors).toBe(0);
    }
    expect(logs).toEqual([]);
  });

  test("on a machine where it would cost more than its CPU budget (an emulated one), it gives up after a few rounds", () => {
    const opts = { tcpGro: true, udpGro: true, mtu: 1420, env: {}, stats: SharedStats.allocate(2).buffer };
    const w = new Warmup(selectBackend({}).backend, opts, (host, o) => new DataPlane(host.io, o, { post: () => {} }));
    // A clock on which every packet takes 5 ms: 150 rounds would take far more than the budget.
    let t = 0;
    const slow = () => (t += 5);
    let slices = 1;
    while (!w.slice(50, slow)) slices++;
    expect(w.round).toBeGreaterThanOrEqual(150); // marked over
    expect(slices).toBeLessThan(20);
  });

  test("a worker that loaded slowly (an emulated machine) skips the warm-up before building anything, and says so once", () => {
    const slow = planePair({ warmup: true, loadedInMs: 900 });
    expect(slow.a.plane.warmingUp).toBe(false);
    const logs = slow.a.events.flatMap((m) => (m.type === "log" ? [m.message] : []));
    expect(logs).toEqual([expect.stringMatching(/^JIT warm-up skipped: the data-plane worker took 900 ms to load/)]);
    const fast = planePair({ warmup: true, loadedInMs: 23 });
    expect(fast.a.plane.warmingUp).toBe(true);
    expect(fast.a.events.filter((m) => m.type === "log")).toEqual([]);
    expect(warmupSkipReason(23)).toBeNull();
    expect(warmupSkipReason(201)).not.toBeNull();
  });

  test("a daemon's plane warms up only while idle: packets keep flowing at once, and its own counters see nothing of the warm-up", () => {
    const p = planePair({ warmup: true });
    p.configure();
    const ping = new Uint8Array(10 + 84);
    ping.set([0x45, 0, 0, 84, 0, 0, 0x40, 0, 64, 1, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2], 10);
    p.a.host.tun.inject(ping);
    p.pump();
    expect(p.b.host.tun.take()).toHaveLength(1);
    // Idle turns now run warm-up slices; a packet injected between them goes through the next turn.
    for (let i = 0; i < 20; i++) {
      p.a.plane.turn();
      p.a.host.tun.inject(ping);
      p.pump();
      expect(p.b.host.tun.take()).toHaveLength(1);
    }
    expect(p.a.counter("tunReads")).toBe(21);
    expect(p.b.counter("tunWrites")).toBe(21);
  });
});
