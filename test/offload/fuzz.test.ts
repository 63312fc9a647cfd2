// Seeded fuzz: split and coalesce never throw, never write outside their
// slots, and anything they mark as a GSO super-packet or split segment is
// sound by the reference checksum code (corruption is never laundered).

import { describe, expect, test } from "bun:test";
import { type PacketBatch, createPacketBatch } from "../../src/offload/batch.ts";
import { Coalescer } from "../../src/offload/coalesce.ts";
import { splitSuperPacket } from "../../src/offload/split.ts";
import { refIpv4HeaderValid, refL4Valid } from "./checksum-reference.ts";
import { isSound, written } from "./gro-harness.ts";
import { type PacketKind, TCP_ACK, TCP_PSH, builders, superPacket } from "./packets.ts";
import { Prng } from "./prng.ts";

const SPLIT_CASES = 100_000;
const COALESCE_CASES = 100_000;
const SENTINEL = 0xa5;
const KINDS: PacketKind[] = ["tcp4", "tcp6", "udp4", "udp6"];
const SPLIT_ERRORS = new Set([
  "truncated",
  "bad-ip-version",
  "unsupported-gso-type",
  "ecn-not-enabled",
  "bad-gso-size",
  "bad-csum-start",
  "bad-csum-offset",
  "protocol-mismatch",
  "bad-tcp-header",
  "length-mismatch",
  "ip-fragment",
  "empty-payload",
  "too-many-segments",
  "slot-too-small",
]);

/** guardedBatch fills the whole buffer with a sentinel; slots are offs[i] + [-writableHeadroom, stride). */
function guardedBatch(capacity: number, stride: number): PacketBatch {
  const b = createPacketBatch(capacity, stride, 16);
  b.buf.fill(SENTINEL);
  return b;
}

/** untouchedOutside checks every byte outside [offs[i]-headroomUsed, offs[i]+stride) still holds the sentinel. */
function untouchedOutside(b: PacketBatch, headroomUsed: number): boolean {
  let prevEnd = 0;
  for (let i = 0; i < b.capacity; i++) {
    const start = b.offs[i]! - headroomUsed;
    for (let k = prevEnd; k < start; k++) if (b.buf[k] !== SENTINEL) return false;
    prevEnd = b.offs[i]! + b.stride;
  }
  for (let k = prevEnd; k < b.buf.length; k++) if (b.buf[k] !== SENTINEL) return false;
  return true;
}

function mutate(rng: Prng, p: Uint8Array, flips: number): Uint8Array {
  for (let f = 0; f < flips; f++) {
    const at = rng.int(0, p.length - 1);
    p[at] = rng.bool(0.5) ? rng.u32() & 0xff : p[at]! ^ (1 << rng.int(0, 7));
  }
  return p;
}

function randomSuperPacket(rng: Prng): Uint8Array {
  const kind = KINDS[rng.int(0, 3)]!;
  const gso = rng.int(1, 1500);
  const raw = superPacket(kind, { payload: rng.int(0, 3 * gso + 10), seq: rng.u32(), flags: rng.bool() ? TCP_ACK : TCP_ACK | TCP_PSH }, gso, {
    gsoType: rng.bool(0.9) ? undefined : rng.int(0, 255),
  });
  const r = rng.u32() % 4;
  if (r === 0) return mutate(rng, raw, rng.int(1, 4));
  if (r === 1) return raw.subarray(0, rng.int(0, raw.length));
  if (r === 2) return rng.bytes(rng.int(0, 200));
  return raw;
}

describe("fuzz", () => {
  test(`split: ${SPLIT_CASES} seeded inputs never throw or write outside slots`, () => {
    const rng = new Prng(0xf022);
    const out = guardedBatch(8, 1600);
    let ok = 0;
    for (let k = 0; k < SPLIT_CASES; k++) {
      const raw = randomSuperPacket(rng);
      const r = splitSuperPacket(raw, 0, raw.length, out, { tsoEcn: rng.bool() });
      if (typeof r === "number") {
        ok++;
        expect(r).toBe(out.count);
        expect(r >= 1 && r <= out.capacity).toBe(true);
        const gsoType = raw[1]! & 0x7f;
        for (let i = 0; i < r; i++) {
          const len = out.lens[i]!;
          expect(len > 0 && len <= out.stride).toBe(true);
          if (gsoType !== 0 && raw[16] === (raw[10]! >>> 4 === 4 ? (raw[10]! & 15) * 4 : 40)) {
            const seg = out.buf.subarray(out.offs[i]!, out.offs[i]! + len);
            if (seg[0]! >>> 4 === 4) expect(refIpv4HeaderValid(seg)).toBe(true);
            expect(refL4Valid(seg, 0, len)).toBe(true);
          }
        }
      } else {
        expect(SPLIT_ERRORS.has(r)).toBe(true);
        expect(out.count).toBe(0);
      }
      if (k % 64 === 0 || typeof r === "number") expect(untouchedOutside(out, 0)).toBe(true);
    }
    expect(untouchedOutside(out, 0)).toBe(true);
    // The generator must reach the success path often enough to matter.
    expect(ok).toBeGreaterThan(SPLIT_CASES / 5);
  });

  test(`coalesce: ${COALESCE_CASES} seeded packets in batches never throw, stay in slots, never launder`, () => {
    const rng = new Prng(0xc0a1);
    const strides = [300, 1600, 65535];
    const batches = strides.map((s) => guardedBatch(8, s));
    const c = new Coalescer({ maxBatch: 8 });
    let packets = 0;
    let merged = 0;
    while (packets < COALESCE_CASES) {
      const bi = rng.int(0, 2);
      const b = batches[bi]!;
      const count = rng.int(0, 8);
      const inputs: Uint8Array[] = [];
      const kind = KINDS[rng.int(0, 3)]!;
      let seq = rng.u32();
      for (let i = 0; i < count; i++) {
        let p: Uint8Array;
        const r = rng.u32() % 8;
        if (r === 0) p = rng.bytes(rng.int(0, 120));
        else {
          const payload = rng.bool(0.8) ? 100 : rng.int(0, 150);
          const k = rng.bool(0.85) ? kind : KINDS[rng.int(0, 3)]!;
          p = builders[k]({
            seq,
            payload,
            sport: rng.bool(0.9) ? 4000 : 4001,
            flags: rng.bool(0.9) ? TCP_ACK : rng.int(0, 255),
            zeroUdpChecksum: rng.bool(0.05),
          });
          seq = (seq + payload) >>> 0;
          if (r === 1) mutate(rng, p, rng.int(1, 3));
        }
        if (p.length > b.stride) p = p.subarray(0, b.stride);
        b.buf.set(p, b.offs[i]!);
        b.lens[i] = p.length;
        inputs.push(p);
      }
      b.count = count;
      packets += count;
      const n = c.coalesce(b);
      expect(n).toBe(c.writeCount);
      let prev = -1;
      for (const w of written(c, b)) {
        expect(w.idx > prev && w.idx < count).toBe(true);
        prev = w.idx;
        if (w.hdr.gsoType !== 0) {
          merged++;
          expect(w.pkt.length <= Math.min(65535, b.stride)).toBe(true);
          expect(isSound(w)).toBe(true);
        } else {
          expect(Bun.deepEquals(w.pkt, inputs[w.idx])).toBe(true);
        }
      }
      expect(untouchedOutside(b, 10)).toBe(true);
    }
    expect(merged).toBeGreaterThan(1000);
  });
});
