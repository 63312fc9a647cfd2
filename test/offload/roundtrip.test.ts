// Property: splitting a super-packet and coalescing its segments gives the
// original super-packet back, byte for byte, vnet header included (both in
// NEEDS_CSUM form with the pseudo-header seed in the L4 checksum field).
// Every intermediate segment is checked with the reference checksum code.

import { describe, expect, test } from "bun:test";
import { createPacketBatch } from "../../src/offload/batch.ts";
import { Coalescer } from "../../src/offload/coalesce.ts";
import { splitSuperPacket } from "../../src/offload/split.ts";
import { refIpv4HeaderValid, refL4Valid } from "./checksum-reference.ts";
import { type PacketKind, TCP_ACK, TCP_PSH, superPacket } from "./packets.ts";
import { Prng } from "./prng.ts";

const CASES_PER_KIND = 200;
const HDRS: Record<PacketKind, number> = { tcp4: 40, tcp6: 60, udp4: 28, udp6: 48 };
const TS_OPTION = new Uint8Array([1, 1, 8, 10, 1, 2, 3, 4, 5, 6, 7, 8]);

describe("split then coalesce round trip", () => {
  // One batch for everything, as the data plane would: 128 slots of 64 KiB.
  const batch = createPacketBatch(128, 65535);
  const coalescer = new Coalescer();

  test.each(["tcp4", "tcp6", "udp4", "udp6"] as const)(`%s: ${CASES_PER_KIND} seeded cases`, (kind) => {
    const rng = new Prng(0x5eed0000 + kind.charCodeAt(3) * 7 + kind.length);
    const isTcp = kind.startsWith("tcp");
    const maxSegments = isTcp ? 128 : 64;
    for (let k = 0; k < CASES_PER_KIND; k++) {
      const options = isTcp && rng.bool() ? TS_OPTION : undefined;
      const hdrs = HDRS[kind] + (options ? TS_OPTION.length : 0);
      const maxPayload = 65535 - hdrs;
      // Small gso sizes half the time so segment counts reach the limits.
      const gsoSize = rng.bool() ? rng.int(1, 600) : rng.int(1, Math.floor(maxPayload / 2));
      const maxSeg = Math.min(maxSegments, Math.ceil(maxPayload / gsoSize));
      const segments = rng.int(2, maxSeg);
      const tail = rng.int(1, gsoSize);
      const payloadLen = Math.min(maxPayload, (segments - 1) * gsoSize + tail);
      const raw = superPacket(
        kind,
        {
          payload: rng.bytes(payloadLen),
          seq: rng.u32(),
          ack: rng.u32(),
          flags: rng.bool() ? TCP_ACK : TCP_ACK | TCP_PSH,
          options,
          sport: rng.int(1, 65535),
          dport: rng.int(1, 65535),
          ttl: rng.int(1, 255),
          tos: rng.int(0, 255),
          id: rng.int(0, 65535),
          df: rng.bool(),
          flowLabel: rng.int(0, 0xfffff),
        },
        gsoSize,
        // The kernel's hdr_len hint is ignored by split; the coalescer writes the true one.
        {},
      );

      const n = splitSuperPacket(raw, 0, raw.length, batch);
      expect(n).toBe(Math.ceil(payloadLen / gsoSize));
      if (typeof n !== "number") return;
      for (let i = 0; i < n; i++) {
        const off = batch.offs[i]!;
        const len = batch.lens[i]!;
        expect(len).toBe(hdrs + Math.min(gsoSize, payloadLen - i * gsoSize));
        const seg = batch.buf.subarray(off, off + len);
        if (!kind.endsWith("6")) expect(refIpv4HeaderValid(seg)).toBe(true);
        expect(refL4Valid(seg, 0, len)).toBe(true);
      }

      const writes = coalescer.coalesce(batch);
      expect(writes).toBe(1);
      expect(coalescer.writeIdx[0]).toBe(0);
      const out = batch.buf.subarray(batch.offs[0]! - 10, batch.offs[0]! + batch.lens[0]!);
      if (!Bun.deepEquals(out, raw)) {
        expect(Array.from(out)).toEqual(Array.from(raw)); // shows the diff
      }
    }
  });
});
