// The JIT warm-up (src/device/warmup.ts): it must really carry packets
// through the data-plane code (or it warms nothing), end by itself, touch
// nothing of the device it runs in, and run only in a plane's idle turns.
import { afterEach, describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { selectBackend } from "../../src/crypto/select.ts";
import { DataPlane } from "../../src/device/dataplane.ts";
import { SharedStats } from "../../src/device/shared-stats.ts";
import { Warmup, warmupSkipReason } from "../../src/device/warmup.ts";
import { closePlanePairs, planePair } from "../support/plane-pair.ts";
import { recordedWarmup, runToEnd } from "../support/recorded-warmup.ts";
import { describePrivileged } from "../support/privileges.ts";

const openFds = () => readdirSync("/proc/self/fd").length;
/** What each side of a whole warm-up receives: 4 pings a round, and a super-packet of 4 segments for 20 rounds, then of 46 for 130. */
const RX_PER_SIDE = 20 * (4 + 4) + 130 * (4 + 46);

afterEach(closePlanePairs);

describe("JIT warm-up", () => {
  test("carries handshakes, pings and super-packets both ways through real data planes, then ends", () => {
    const { warmup: w, planes, logs } = recordedWarmup({ tcpGro: false, udpGro: false });
    expect(runToEnd(w)).toBeGreaterThan(1); // bounded slices, not one long run
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

  test("runs on the Linux I/O over loopback when it can: real sendmmsg with GSO, recvmmsg with GRO, and every fd it opened is closed", () => {
    const fds = openFds();
    const { warmup: w, planes, logs } = recordedWarmup();
    expect(w.via).toBe("loopback");
    expect(openFds()).toBeGreaterThan(fds); // socketpairs, eventfds, UDP sockets, epoll sets
    runToEnd(w);
    expect(logs).toEqual([]);
    for (const p of planes) {
      const c = p.ctx.stats.readCounters();
      expect(c.handshakesReceived).toBeGreaterThanOrEqual(1);
      expect(c.sendCalls).toBeGreaterThan(500); // sendmmsg on a real socket (the memory I/O counts none)
      expect(c.groMessages).toBeGreaterThanOrEqual(100); // the kernel handed GSO sends back as GRO messages
      expect(c.rxPackets).toBe(RX_PER_SIDE); // every ping and segment, the ramp's small super-packets first
      expect(c.dropOther + c.dropMalformed + c.dropBadMac + c.dropReplay + c.tunWriteErrors).toBe(0);
    }
    expect(w.written).toBe(2 * 150 * (4 + 1)); // each side's pings and coalesced super-packets, read back out of its "TUN"
    expect(openFds()).toBe(fds);
  });

  test("a data plane shut down in the middle of its warm-up closes the pair's fds", () => {
    const fds = openFds();
    const p = planePair({ warmup: true });
    // A clock that runs, so an idle turn's slice ends after its 2 ms instead of carrying the whole warm-up.
    p.net.clock.now = () => performance.now();
    p.a.plane.turn(); // an idle turn: the first warm-up slice builds the pair
    expect(p.a.plane.warmingUp).toBe(true);
    expect(openFds()).toBeGreaterThan(fds);
    p.a.plane.shutdown();
    expect(p.a.plane.warmingUp).toBe(false);
    p.b.plane.shutdown();
    expect(openFds()).toBe(fds);
  });

  test("on a machine where it would cost more than its CPU budget (an emulated one), it gives up after a few rounds", () => {
    const opts = { tcpGro: true, udpGro: true, mtu: 1420, env: {}, stats: SharedStats.allocate(2).buffer };
    const w = new Warmup(selectBackend({}).backend, opts, (io, o) => new DataPlane(io, o, { post: () => {} }));
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

describePrivileged("JIT warm-up without a loopback interface", { root: true, commands: ["unshare"] }, () => {
  test("in a network namespace whose lo is down it falls back to the in-memory I/O and still warms the data-plane code", async () => {
    // A fresh network namespace has lo down: binding 127.0.0.1 fails there.
    const child = Bun.spawn(["unshare", "--net", process.execPath, join(import.meta.dir, "warmup-child.ts")], { stdout: "pipe", stderr: "pipe" });
    const [out, err, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
    expect(err).toBe("");
    expect(code).toBe(0);
    const r = JSON.parse(out) as {
      via: string;
      planesBuilt: number;
      rxPackets: number[];
      written: number;
      fdsBefore: number;
      fdsAfter: number;
      logs: string[];
    };
    expect(r.via).toBe("memory");
    // The loopback pair could be built (127.0.0.1 binds with lo down) but carried nothing, so it was dropped after one round.
    expect(r.planesBuilt).toBe(4);
    for (const rx of r.rxPackets) expect(rx).toBe(RX_PER_SIDE);
    expect(r.written).toBe(2 * 150 * (4 + 1));
    expect(r.fdsAfter).toBe(r.fdsBefore);
    // Only the dropped pair's sends to a 127.0.0.1 that lo (down) does not carry failed.
    for (const line of r.logs) expect(line).toBe("IPv4 send failed with ENETUNREACH");
  });
});
