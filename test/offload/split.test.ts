import { describe, expect, test } from "bun:test";
import { createPacketBatch, type PacketBatch } from "../../src/offload/batch.ts";
import { type SplitError, splitSuperPacket } from "../../src/offload/split.ts";
import { refChecksum, refIpv4HeaderValid, refL4Valid, refPseudoSum } from "./checksum-reference.ts";
import { Prng } from "./prng.ts";
import {
  TCP_ACK,
  TCP_CWR,
  TCP_FIN,
  TCP_PSH,
  type PacketKind,
  l4Offset,
  superPacket,
  tcp4,
  tcp6,
  toPartialChecksum,
  udp4,
  udp6,
  withVnetHeader,
} from "./packets.ts";

function newBatch(capacity = 128, stride = 2048): PacketBatch {
  return createPacketBatch(capacity, stride);
}

function segment(b: PacketBatch, i: number): Uint8Array {
  return b.buf.slice(b.offs[i]!, b.offs[i]! + b.lens[i]!);
}

const u16 = (p: Uint8Array, o: number) => (p[o]! << 8) | p[o + 1]!;
const u32 = (p: Uint8Array, o: number) => ((p[o]! << 24) | (p[o + 1]! << 16) | (p[o + 2]! << 8) | p[o + 3]!) >>> 0;

/** expectValidSegments checks every segment with the reference checksum code. */
function expectValidSegments(b: PacketBatch): void {
  for (let i = 0; i < b.count; i++) {
    const s = segment(b, i);
    if (s[0]! >>> 4 === 4) {
      expect(refIpv4HeaderValid(s)).toBe(true);
      expect(u16(s, 2)).toBe(s.length);
    } else {
      expect(u16(s, 4)).toBe(s.length - 40);
    }
    expect(refL4Valid(s, 0, s.length)).toBe(true);
  }
}

describe("splitSuperPacket", () => {
  test.each<[PacketKind, number]>([
    ["tcp4", 40],
    ["tcp6", 60],
    ["udp4", 28],
    ["udp6", 48],
  ])("%s: 250 bytes at gso_size 100 become 100+100+50 with valid checksums", (kind, hdrs) => {
    const raw = superPacket(kind, { payload: 250, seq: 1000 }, 100);
    const b = newBatch();
    expect(splitSuperPacket(raw, 0, raw.length, b)).toBe(3);
    expect(b.count).toBe(3);
    expect(Array.from(b.lens.subarray(0, 3))).toEqual([hdrs + 100, hdrs + 100, hdrs + 50]);
    expectValidSegments(b);
    for (let i = 0; i < 3; i++) {
      const s = segment(b, i);
      const l4 = hdrs - (kind.startsWith("tcp") ? 20 : 8);
      // Payload bytes follow sequence space: byte k of the super-packet is (1000 + k) & 0xff.
      expect(s[hdrs]).toBe((1000 + i * 100) & 0xff);
      if (kind.startsWith("tcp")) expect(u32(s, l4 + 4)).toBe(1000 + i * 100);
      else expect(u16(s, l4 + 4)).toBe(s.length - l4);
    }
  });

  test("IPv4 ID increments per segment and wraps", () => {
    const raw = superPacket("tcp4", { payload: 30, id: 0xfffe }, 10);
    const b = newBatch();
    expect(splitSuperPacket(raw, 0, raw.length, b)).toBe(3);
    expect([0, 1, 2].map((i) => u16(segment(b, i), 4))).toEqual([0xfffe, 0xffff, 0]);
    expectValidSegments(b);
  });

  test("TCP sequence numbers wrap modulo 2^32", () => {
    const raw = superPacket("tcp4", { payload: 30, seq: 0xfffffff6 }, 10);
    const b = newBatch();
    splitSuperPacket(raw, 0, raw.length, b);
    expect([0, 1, 2].map((i) => u32(segment(b, i), 24))).toEqual([0xfffffff6, 0, 10]);
  });

  test("FIN and PSH only on the last segment", () => {
    const raw = superPacket("tcp6", { payload: 30, flags: TCP_ACK | TCP_PSH | TCP_FIN }, 10);
    const b = newBatch();
    splitSuperPacket(raw, 0, raw.length, b);
    expect([0, 1, 2].map((i) => segment(b, i)[40 + 13])).toEqual([TCP_ACK, TCP_ACK, TCP_ACK | TCP_PSH | TCP_FIN]);
    expectValidSegments(b);
  });

  test("TCP options are copied into every segment", () => {
    const ts = new Uint8Array([1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2]);
    const raw = superPacket("tcp4", { payload: 20, options: ts }, 10);
    const b = newBatch();
    expect(splitSuperPacket(raw, 0, raw.length, b)).toBe(2);
    for (let i = 0; i < 2; i++) expect(Array.from(segment(b, i).subarray(40, 52))).toEqual(Array.from(ts));
    expect(b.lens[0]).toBe(20 + 32 + 10);
    expectValidSegments(b);
  });

  test.each([0, 7, 52, 500])("hdr_len from the kernel (%d) is ignored and recomputed", (hdrLen) => {
    const raw = superPacket("tcp4", { payload: 300 }, 100, { hdrLen });
    const b = newBatch();
    expect(splitSuperPacket(raw, 0, raw.length, b)).toBe(3);
    expect(b.lens[0]).toBe(140);
    expectValidSegments(b);
  });

  test("ECN super-packet: CWR kept on the first segment only when TSO_ECN is enabled", () => {
    const raw = superPacket("tcp4", { payload: 30, flags: TCP_ACK | TCP_CWR }, 10, { gsoType: 0x81 });
    const b = newBatch();
    expect(splitSuperPacket(raw, 0, raw.length, b, { tsoEcn: true })).toBe(3);
    expect([0, 1, 2].map((i) => segment(b, i)[33])).toEqual([TCP_ACK | TCP_CWR, TCP_ACK, TCP_ACK]);
    expectValidSegments(b);
    expect(splitSuperPacket(raw, 0, raw.length, b)).toBe("ecn-not-enabled");
    expect(b.count).toBe(0);
  });

  test("a single-segment GSO packet (payload <= gso_size) is completed", () => {
    const raw = superPacket("udp4", { payload: 50 }, 100);
    const b = newBatch();
    expect(splitSuperPacket(raw, 0, raw.length, b)).toBe(1);
    expectValidSegments(b);
  });

  test("works at a non-zero source offset and into an odd-aligned slot layout", () => {
    const raw = superPacket("tcp6", { payload: 1000 }, 333);
    const src = new Uint8Array(raw.length + 7);
    src.set(raw, 7);
    const b = createPacketBatch(8, 500, 13);
    b.offs[1] = b.offs[1]! + 1; // slot 1 starts odd: checksums take the unaligned path
    expect(splitSuperPacket(src, 7, raw.length, b)).toBe(4);
    expectValidSegments(b);
  });

  test("UDP checksum that computes to 0 is sent as 0xFFFF", () => {
    // With the last payload word W = 0 the checksum is c0 = ~S0; setting
    // W = c0 makes the sum 0xFFFF, i.e. a computed checksum of 0.
    const payload = new Uint8Array(20);
    for (let i = 0; i < 18; i++) payload[i] = (i * 37) & 0xff;
    const b = newBatch();
    const probe = superPacket("udp4", { payload }, 10);
    splitSuperPacket(probe, 0, probe.length, b);
    const c0 = u16(segment(b, 1), 26);
    expect(c0).not.toBe(0xffff);
    payload[18] = c0 >>> 8;
    payload[19] = c0 & 0xff;
    const raw = superPacket("udp4", { payload }, 10);
    expect(splitSuperPacket(raw, 0, raw.length, b)).toBe(2);
    const seg = segment(b, 1);
    expect(u16(seg, 26)).toBe(0xffff);
    expect(refL4Valid(seg, 0, seg.length)).toBe(true);
  });
});

describe("splitSuperPacket GSO_NONE", () => {
  test("without NEEDS_CSUM the packet is copied unchanged", () => {
    const pkt = tcp4({ payload: 10 });
    const raw = withVnetHeader(pkt, {});
    const b = newBatch();
    expect(splitSuperPacket(raw, 0, raw.length, b)).toBe(1);
    expect(Array.from(segment(b, 0))).toEqual(Array.from(pkt));
  });

  test.each([
    ["pure ACK TCPv4", tcp4({ payload: 0 })],
    ["pure ACK TCPv6", tcp6({ payload: 0 })],
    ["TCPv4 with data", tcp4({ payload: 99 })],
    ["UDPv4", udp4({ payload: 33 })],
    ["UDPv6", udp6({ payload: 1 })],
  ])("%s: NEEDS_CSUM is completed from the pseudo-header seed", (_name, pkt) => {
    const partial = toPartialChecksum(pkt);
    const iph = l4Offset(pkt);
    const isTcp = (pkt[0]! >>> 4 === 4 ? pkt[9] : pkt[6]) === 6;
    const raw = withVnetHeader(partial, { flags: 1, csumStart: iph, csumOffset: isTcp ? 16 : 6 });
    const b = newBatch();
    expect(splitSuperPacket(raw, 0, raw.length, b)).toBe(1);
    expect(Array.from(segment(b, 0))).toEqual(Array.from(pkt));
  });
});

describe("splitSuperPacket rejects malformed input", () => {
  const good = () => superPacket("tcp4", { payload: 300 }, 100);
  const cases: [string, () => Uint8Array, SplitError, PacketBatch?][] = [
    ["shorter than the vnet header", () => new Uint8Array(5), "truncated"],
    ["TCPV4 type on an IPv6 packet", () => superPacket("tcp6", { payload: 300 }, 100, { gsoType: 1 }), "bad-ip-version"],
    ["TCPV6 type on an IPv4 packet", () => superPacket("tcp4", { payload: 300 }, 100, { gsoType: 4 }), "bad-ip-version"],
    ["GSO_NONE with IP version 0", () => withVnetHeader(new Uint8Array(40), {}), "bad-ip-version"],
    ["gso_type 2", () => superPacket("tcp4", { payload: 300 }, 100, { gsoType: 2 }), "unsupported-gso-type"],
    ["legacy UFO (3)", () => superPacket("udp4", { payload: 300 }, 100, { gsoType: 3 }), "unsupported-gso-type"],
    ["UDP_L4 with ECN", () => superPacket("udp4", { payload: 300 }, 100, { gsoType: 0x85 }), "unsupported-gso-type"],
    ["TCPV4 with ECN bit, TSO_ECN off", () => superPacket("tcp4", { payload: 300 }, 100, { gsoType: 0x81 }), "ecn-not-enabled"],
    ["gso_size 0", () => superPacket("tcp4", { payload: 300 }, 0), "bad-gso-size"],
    ["csum_start 0", () => superPacket("tcp4", { payload: 300 }, 100, { csumStart: 0 }), "bad-csum-start"],
    ["csum_start not the IPv4 header length", () => superPacket("tcp4", { payload: 300 }, 100, { csumStart: 24 }), "bad-csum-start"],
    ["IPv6 csum_start below 40", () => superPacket("tcp6", { payload: 300 }, 100, { csumStart: 20 }), "bad-csum-start"],
    ["TCP csum_offset 6", () => superPacket("tcp4", { payload: 300 }, 100, { csumOffset: 6 }), "bad-csum-offset"],
    ["UDP csum_offset 16", () => superPacket("udp6", { payload: 300 }, 100, { csumOffset: 16 }), "bad-csum-offset"],
    ["TCPV4 type on a UDP packet", () => superPacket("udp4", { payload: 300 }, 100, { gsoType: 1, csumOffset: 16 }), "protocol-mismatch"],
    ["TCP data offset below 5", () => superPacket("tcp4", { payload: 300, mutate: (p) => (p[32] = 0x40) }, 100), "bad-tcp-header"],
    ["IP total length larger than the read (truncated read)", () => good().subarray(0, 200), "length-mismatch"],
    ["IPv6 payload length mismatch", () => superPacket("udp6", { payload: 300, mutate: (p) => (p[5] = p[5]! + 1) }, 100), "length-mismatch"],
    ["IPv4 fragment", () => superPacket("tcp4", { payload: 300, mf: true }, 100), "ip-fragment"],
    ["no payload", () => superPacket("tcp4", { payload: 0 }, 100), "empty-payload"],
    ["129 segments into 128 slots", () => superPacket("udp4", { payload: 129 }, 1), "too-many-segments"],
    ["segment larger than the slot", () => superPacket("tcp4", { payload: 3000 }, 1448), "slot-too-small", createPacketBatch(4, 1000)],
    ["IP header cut off", () => good().subarray(0, 25), "truncated"],
  ];
  test.each(cases.map(([name, make, want, batch]) => ({ name, make, want, batch })))("$name", ({ make, want, batch }) => {
    const raw = make();
    const b = batch ?? newBatch();
    b.count = 5;
    expect(splitSuperPacket(raw, 0, raw.length, b)).toBe(want);
    expect(b.count).toBe(0);
  });
});

describe("splitSuperPacket incremental checksums", () => {
  // split sums each header once and adds only the per-segment fields (IPv4
  // total length and ID; TCP seq and flags; UDP length) plus the payload
  // (RFC 1624). The result must be bit-identical to checksumming each
  // finished segment whole with the byte-by-byte reference, 0 sent as
  // 0xffff for L4 (CSUM_MANGLED_0) — not merely "valid".
  test("every segment's IPv4 and L4 checksum equals a full reference recomputation", () => {
    const rng = new Prng(0x5e9c);
    const kinds: PacketKind[] = ["tcp4", "tcp6", "udp4", "udp6"];
    const b = newBatch(128, 4096);
    let segs = 0;
    for (let round = 0; round < 400; round++) {
      const kind = kinds[round % 4]!;
      const isTcp = kind.startsWith("tcp");
      const gso = rng.int(1, round % 3 === 0 ? 1500 : 300); // odd sizes included
      const payload = rng.bytes(rng.int(1, Math.min(gso * 60, 20000)));
      const flags = isTcp ? 0x10 | (rng.bool() ? 0x08 : 0) | (rng.bool(0.2) ? 0x01 : 0) : undefined;
      const options = isTcp && rng.bool() ? rng.bytes(rng.int(1, 40)) : undefined;
      const raw = superPacket(kind, { payload, seq: rng.u32(), id: rng.int(0, 0xffff), flags, options, tos: rng.int(0, 255), sport: rng.int(0, 0xffff) }, gso);
      // Garbage in the super-packet's IPv4 checksum must not leak into the segments.
      if (kind.endsWith("4")) {
        raw[10 + 10] = rng.u32() & 0xff;
        raw[10 + 11] = rng.u32() & 0xff;
      }
      const n = splitSuperPacket(raw, 0, raw.length, b);
      expect(typeof n).toBe("number");
      for (let i = 0; i < (n as number); i++) {
        const seg = segment(b, i);
        const iph = l4Offset(seg);
        if (kind.endsWith("4")) {
          const got = u16(seg, 10);
          seg[10] = 0;
          seg[11] = 0;
          expect(got).toBe(refChecksum(seg, 0, iph));
        }
        const at = iph + (isTcp ? 16 : 6);
        const got = u16(seg, at);
        seg[at] = 0;
        seg[at + 1] = 0;
        const l4Len = seg.length - iph;
        const want = refChecksum(seg, iph, l4Len, refPseudoSum(seg, 0, isTcp ? 6 : 17, l4Len));
        expect(got).toBe(want === 0 ? 0xffff : want);
        segs++;
      }
    }
    expect(segs).toBeGreaterThan(2000);
  });
});
