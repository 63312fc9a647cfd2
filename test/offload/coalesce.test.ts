// Coalescer batch handling (mixed and non-IP packets, counters, contract
// errors) and the zero-copy receive path with homes; the per-protocol merge
// rules are in coalesce-tcp.test.ts and coalesce-udp.test.ts.

import { describe, expect, test } from "bun:test";
import { createPacketBatch, type PacketBatch } from "../../src/offload/batch.ts";
import { Coalescer } from "../../src/offload/coalesce.ts";
import { type Kind, corruptPayload, shape } from "./gro-cases.ts";
import { loadBatch, runGro, written } from "./gro-harness.ts";
import { Prng } from "./prng.ts";
import { TCP_ACK, TCP_PSH, builders } from "./packets.ts";

describe("Coalescer batch handling", () => {
  test("mixed protocols, non-IP and runt packets pass through in order with zero headers", () => {
    const runt = new Uint8Array([0x45, 0, 0, 10, 0, 0, 0, 0, 64, 6]);
    const junk = new Uint8Array(100).fill(0x11);
    const pkts = [
      builders.tcp4({ seq: 1, payload: 100 }),
      runt,
      builders.udp6({ payload: 100 }),
      junk,
      builders.tcp4({ seq: 101, payload: 100 }),
      builders.udp6({ payload: 100 }),
    ];
    const { w } = runGro(pkts);
    expect(shape(w)).toEqual([
      [0, 240],
      [1, 10],
      [2, 248],
      [3, 100],
    ]);
    expect(w[1]!.hdr.gsoType).toBe(0);
    expect(w[3]!.hdr.flags).toBe(0);
  });

  test("counters accumulate across batches", () => {
    const c = new Coalescer();
    for (let round = 0; round < 2; round++) {
      const b = createPacketBatch(4, 65535);
      const pkts = [
        builders.tcp4({ seq: 1, payload: 100 }),
        builders.tcp4({ seq: 101, payload: 100 }),
        builders.tcp4({ seq: 201, payload: 100, mutate: corruptPayload }),
        builders.udp4({ payload: 10, zeroUdpChecksum: true }),
      ];
      pkts.forEach((p, i) => {
        b.buf.set(p, b.offs[i]!);
        b.lens[i] = p.length;
      });
      b.count = 4;
      expect(c.coalesce(b)).toBe(3);
    }
    expect(c.counters).toEqual({
      packetsIn: 8,
      writesOut: 6,
      superPacketsOut: 2,
      segmentsCoalesced: 2,
      rejected: { "checksum-invalid": 2, "zero-checksum": 2, "no-room": 0, "segment-limit": 0 },
    });
  });

  test("batch contract violations return error codes", () => {
    const c = new Coalescer({ maxBatch: 2 });
    const b = createPacketBatch(4, 2000);
    b.count = 3;
    expect(c.coalesce(b)).toBe("batch-too-large");
    const thin = createPacketBatch(2, 2000, 8);
    thin.count = 1;
    expect(c.coalesce(thin)).toBe("headroom-too-small");
  });

  test("an empty batch writes nothing", () => {
    const { w } = runGro([]);
    expect(w).toEqual([]);
  });
});

describe("coalesce with homes (zero-copy receive)", () => {
  // The data plane leaves decrypted packets where recvmmsg put them (16
  // bytes of headroom, no room to grow) and passes their RX slots as homes.
  // What gets written must be byte-for-byte what the slot-based path writes
  // (same indices, virtio_net_hdrs and packets, so no laundering either),
  // packets that stay alone are written from the landing zone untouched,
  // and the landing zone is only read: nothing but each packet's own 10
  // bytes of headroom is written there.
  test("writes exactly what the slot-based path writes, for seeded batches", () => {
    const rng = new Prng(0x40e5);
    const kinds: Kind[] = ["tcp4", "tcp6", "udp4", "udp6"];
    const SL = 32;
    let merged = 0;
    let fromLanding = 0;
    const slotBatches = new Map<number, PacketBatch>();
    for (let round = 0; round < 1500; round++) {
      const count = rng.int(1, SL);
      const pkts: Uint8Array[] = [];
      const kind = kinds[rng.int(0, 3)]!;
      let seq = rng.u32();
      for (let i = 0; i < count; i++) {
        let p: Uint8Array;
        const r = rng.u32() % 10;
        if (r === 0) p = rng.bytes(rng.int(28, 120));
        else {
          const payload = rng.bool(0.8) ? 1000 : rng.int(0, 1200);
          const k = rng.bool(0.85) ? kind : kinds[rng.int(0, 3)]!;
          const s = rng.bool(0.9) ? seq : rng.u32();
          p = builders[k]({ seq: s, payload, sport: rng.bool(0.9) ? 4000 : 4001, flags: rng.bool(0.9) ? TCP_ACK : TCP_ACK | TCP_PSH });
          seq = (seq + payload) >>> 0;
          if (r === 1) corruptPayload(p);
        }
        pkts.push(p);
      }
      const stride = rng.bool(0.2) ? 4000 : 65535;
      const c1 = new Coalescer({ maxBatch: SL });
      const ref = loadBatch(pkts, stride);
      expect(c1.coalesce(ref)).toBe(c1.writeCount);
      const want = written(c1, ref);

      // Slots first, then a landing zone with the packets back to back, 16 bytes apart.
      // One zeroed batch per stride, reused: a fresh 3 MB WebAssembly memory per
      // round would make this test about allocation, not coalescing.
      let slots = slotBatches.get(stride);
      if (slots === undefined) {
        slots = createPacketBatch(SL + 16, stride, 16);
        slotBatches.set(stride, slots);
      }
      slots.buf.fill(0);
      const landing = slots.offs[SL]!;
      const homes = slots.offs.slice(0, SL);
      const lz = { ...slots, capacity: SL, offs: new Int32Array(SL), lens: new Int32Array(SL), count };
      let at = landing + 16;
      for (let i = 0; i < count; i++) {
        slots.buf.set(pkts[i]!, at);
        lz.offs[i] = at;
        lz.lens[i] = pkts[i]!.length;
        at += pkts[i]!.length + 16;
      }
      const before = slots.buf.slice(landing);
      const c2 = new Coalescer({ maxBatch: SL });
      expect(c2.coalesce(lz, homes)).toBe(c2.writeCount);
      const got = written(c2, lz);
      expect(got).toEqual(want);
      // Landing zone: only the 10 header bytes before each packet changed.
      const after = slots.buf.subarray(landing);
      for (let i = 0; i < count; i++) if (lz.offs[i] !== homes[i]) fromLanding++;
      let o = 16;
      for (let i = 0; i < count; i++) {
        // Undo the 10-byte headers at the packets' original positions.
        after.set(before.subarray(o - 10, o), o - 10);
        o += pkts[i]!.length + 16;
      }
      expect(Buffer.from(after).equals(Buffer.from(before))).toBe(true);
      for (const w of got) if (w.hdr.gsoType !== 0) merged++;
    }
    expect(merged).toBeGreaterThan(200);
    expect(fromLanding).toBeGreaterThan(200);
    // 1500 rounds, each loading a fresh WebAssembly-backed reference batch
    // (fresh pages from the kernel, unlike a recycled plain buffer): ~2 s
    // alone, more when the full suite has left a large heap behind.
  }, 30_000);
});
