import { describe, expect, test } from "bun:test";
import { createPacketBatch, type PacketBatch } from "../../src/offload/batch.ts";
import { Coalescer } from "../../src/offload/coalesce.ts";
import { refPseudoSum } from "./checksum-reference.ts";
import { isSound, loadBatch, runGro, written, type Written } from "./gro-harness.ts";
import { Prng } from "./prng.ts";
import {
  TCP_ACK,
  TCP_CWR,
  TCP_ECE,
  TCP_FIN,
  TCP_PSH,
  TCP_RST,
  TCP_SYN,
  TCP_URG,
  type PacketSpec,
  builders,
} from "./packets.ts";

type Kind = "tcp4" | "tcp6" | "udp4" | "udp6";
const HDRS: Record<Kind, number> = { tcp4: 40, tcp6: 60, udp4: 28, udp6: 48 };
const TS_OPTION = new Uint8Array([1, 1, 8, 10, 0, 0, 1, 0, 0, 0, 2, 0]);
const TS_OPTION_OTHER = new Uint8Array([1, 1, 8, 10, 0, 0, 1, 1, 0, 0, 2, 0]);

const corruptPayload = (p: Uint8Array) => {
  p[p.length - 1] = p[p.length - 1]! ^ 0x5a;
};

/**
 * Packets written with a zero header must be the input bytes untouched;
 * super-packets must be sound once the kernel completes their checksum.
 */
function expectPassThroughOrSound(w: Written[], input: Uint8Array[]): void {
  for (const x of w) {
    if (x.hdr.gsoType === 0) {
      expect(x.hdr).toEqual({ flags: 0, gsoType: 0, hdrLen: 0, gsoSize: 0, csumStart: 0, csumOffset: 0 });
      expect(Array.from(x.pkt)).toEqual(Array.from(input[x.idx]!));
    } else {
      expect(isSound(x)).toBe(true);
    }
  }
}

/** Short form of the outcome: [batch index, length] per write. */
const shape = (w: Written[]) => w.map((x) => [x.idx, x.pkt.length]);

interface GroCase {
  name: string;
  kinds: Kind[];
  pkts: PacketSpec[];
  /** [batch index, payload bytes] per write; lengths add the kind's header length. */
  want: [number, number][];
  stride?: number;
}

// TCP tables: seq numbers in payload units; every packet carries 100 bytes unless said.
const tcpCases: GroCase[] = [
  {
    name: "multiple flows interleaved",
    kinds: ["tcp4", "tcp6"],
    pkts: [
      { seq: 1, payload: 100 },
      { seq: 1, payload: 100, sport: 4001 },
      { seq: 101, payload: 100 },
      { seq: 101, payload: 100, sport: 4001 },
      { seq: 201, payload: 100 },
    ],
    want: [
      [0, 300],
      [1, 200],
    ],
  },
  {
    name: "PSH interleaved",
    kinds: ["tcp4", "tcp6"],
    pkts: [
      { seq: 1, payload: 100 },
      { seq: 101, payload: 100, flags: TCP_ACK | TCP_PSH },
      { seq: 201, payload: 100 },
      { seq: 301, payload: 100 },
    ],
    want: [
      [0, 200],
      [2, 200],
    ],
  },
  {
    name: "append after PSH",
    kinds: ["tcp4", "tcp6"],
    pkts: [
      { seq: 1, payload: 100, flags: TCP_ACK | TCP_PSH },
      { seq: 101, payload: 100 },
    ],
    want: [
      [0, 100],
      [1, 100],
    ],
  },
  {
    name: "out of order",
    kinds: ["tcp4", "tcp6"],
    pkts: [
      { seq: 101, payload: 100 },
      { seq: 1, payload: 100 },
      { seq: 201, payload: 100 },
    ],
    want: [[0, 300]],
  },
  {
    name: "prepend",
    kinds: ["tcp4", "tcp6"],
    pkts: [
      { seq: 101, payload: 100 },
      { seq: 1, payload: 100 },
    ],
    want: [[0, 200]],
  },
  {
    name: "prepend with PSH is not allowed",
    kinds: ["tcp4", "tcp6"],
    pkts: [
      { seq: 101, payload: 100 },
      { seq: 1, payload: 100, flags: TCP_ACK | TCP_PSH },
    ],
    want: [
      [0, 100],
      [1, 100],
    ],
  },
  {
    name: "unequal TTL",
    kinds: ["tcp4", "tcp6"],
    pkts: [
      { seq: 1, payload: 100 },
      { seq: 101, payload: 100, ttl: 63 },
    ],
    want: [
      [0, 100],
      [1, 100],
    ],
  },
  {
    name: "unequal ToS",
    kinds: ["tcp4", "tcp6"],
    pkts: [
      { seq: 1, payload: 100 },
      { seq: 101, payload: 100, tos: 0x10 },
    ],
    want: [
      [0, 100],
      [1, 100],
    ],
  },
  {
    name: "unequal DF",
    kinds: ["tcp4"],
    pkts: [
      { seq: 1, payload: 100 },
      { seq: 101, payload: 100, df: false },
    ],
    want: [
      [0, 100],
      [1, 100],
    ],
  },
  {
    name: "IPv4 ID is not compared",
    kinds: ["tcp4"],
    pkts: [
      { seq: 1, payload: 100, id: 7 },
      { seq: 101, payload: 100, id: 1000 },
    ],
    want: [[0, 200]],
  },
  {
    name: "IPv6 flow label is not compared",
    kinds: ["tcp6"],
    pkts: [
      { seq: 1, payload: 100, flowLabel: 1 },
      { seq: 101, payload: 100, flowLabel: 2 },
    ],
    want: [[0, 200]],
  },
  {
    name: "different ACK",
    kinds: ["tcp4", "tcp6"],
    pkts: [
      { seq: 1, payload: 100, ack: 1 },
      { seq: 101, payload: 100, ack: 2 },
    ],
    want: [
      [0, 100],
      [1, 100],
    ],
  },
  {
    name: "same options merge",
    kinds: ["tcp4", "tcp6"],
    pkts: [
      { seq: 1, payload: 100, options: TS_OPTION },
      { seq: 101, payload: 100, options: TS_OPTION },
    ],
    want: [[0, 212]],
  },
  {
    name: "different options",
    kinds: ["tcp4", "tcp6"],
    pkts: [
      { seq: 1, payload: 100, options: TS_OPTION },
      { seq: 101, payload: 100, options: TS_OPTION_OTHER },
    ],
    want: [
      [0, 112],
      [1, 112],
    ],
  },
  {
    name: "different options length",
    kinds: ["tcp4", "tcp6"],
    pkts: [
      { seq: 1, payload: 100 },
      { seq: 101, payload: 100, options: TS_OPTION },
    ],
    want: [
      [0, 100],
      [1, 112],
    ],
  },
  {
    name: "bad checksum is not merged",
    kinds: ["tcp4", "tcp6"],
    pkts: [
      { seq: 1, payload: 100 },
      { seq: 101, payload: 100, mutate: corruptPayload },
      { seq: 201, payload: 100 },
    ],
    want: [
      [0, 100],
      [1, 100],
      [2, 100],
    ],
  },
  {
    name: "bad checksum head is dropped from the table",
    kinds: ["tcp4", "tcp6"],
    pkts: [
      { seq: 1, payload: 100, mutate: corruptPayload },
      { seq: 101, payload: 100 },
      { seq: 201, payload: 100 },
    ],
    want: [
      [0, 100],
      [1, 200],
    ],
  },
  {
    name: "bad IPv4 header checksum",
    kinds: ["tcp4"],
    pkts: [
      { seq: 1, payload: 100 },
      { seq: 101, payload: 100, mutate: (p) => (p[10] = p[10]! ^ 1) },
    ],
    want: [
      [0, 100],
      [1, 100],
    ],
  },
  {
    name: "IPv6 extension header",
    kinds: ["tcp6"],
    pkts: [
      { seq: 1, payload: 100, hopByHop: true },
      { seq: 101, payload: 100, hopByHop: true },
    ],
    want: [
      [0, 108],
      [1, 108],
    ],
  },
  {
    name: "IPv4 options",
    kinds: ["tcp4"],
    pkts: [
      { seq: 1, payload: 100, ipOptions: new Uint8Array([1, 1, 1, 0]) },
      { seq: 101, payload: 100, ipOptions: new Uint8Array([1, 1, 1, 0]) },
    ],
    want: [
      [0, 104],
      [1, 104],
    ],
  },
  {
    name: "IPv4 fragment",
    kinds: ["tcp4"],
    pkts: [
      { seq: 1, payload: 100, mf: true },
      { seq: 101, payload: 100, mf: true },
    ],
    want: [
      [0, 100],
      [1, 100],
    ],
  },
  {
    name: "short tail ends the run",
    kinds: ["tcp4", "tcp6"],
    pkts: [
      { seq: 1, payload: 100 },
      { seq: 101, payload: 50 },
      { seq: 151, payload: 100 },
    ],
    want: [
      [0, 150],
      [2, 100],
    ],
  },
  {
    name: "larger segment after a smaller one",
    kinds: ["tcp4", "tcp6"],
    pkts: [
      { seq: 1, payload: 50 },
      { seq: 51, payload: 100 },
    ],
    want: [
      [0, 50],
      [1, 100],
    ],
  },
  {
    name: "pure ACKs are not coalesced",
    kinds: ["tcp4", "tcp6"],
    pkts: [
      { seq: 1, payload: 0 },
      { seq: 1, payload: 0 },
    ],
    want: [
      [0, 0],
      [1, 0],
    ],
  },
  {
    name: "gap in sequence space",
    kinds: ["tcp4", "tcp6"],
    pkts: [
      { seq: 1, payload: 100 },
      { seq: 301, payload: 100 },
    ],
    want: [
      [0, 100],
      [1, 100],
    ],
  },
  {
    name: "no room in a small slot",
    kinds: ["tcp4", "tcp6"],
    pkts: [
      { seq: 1, payload: 100 },
      { seq: 101, payload: 100 },
      { seq: 201, payload: 100 },
    ],
    stride: 300,
    want: [
      [0, 200],
      [2, 100],
    ],
  },
];

const udpCases: GroCase[] = [
  {
    name: "in order",
    kinds: ["udp4", "udp6"],
    pkts: [{ payload: 100 }, { payload: 100 }, { payload: 100 }],
    want: [[0, 300]],
  },
  {
    name: "multiple flows interleaved",
    kinds: ["udp4", "udp6"],
    pkts: [{ payload: 100 }, { payload: 100, dport: 53 }, { payload: 100 }, { payload: 100, dport: 53 }],
    want: [
      [0, 200],
      [1, 200],
    ],
  },
  {
    name: "short tail ends the run",
    kinds: ["udp4", "udp6"],
    pkts: [{ payload: 100 }, { payload: 50 }, { payload: 100 }],
    want: [
      [0, 150],
      [2, 100],
    ],
  },
  {
    name: "larger datagram after a smaller one",
    kinds: ["udp4", "udp6"],
    pkts: [{ payload: 50 }, { payload: 100 }],
    want: [
      [0, 50],
      [1, 100],
    ],
  },
  {
    name: "unequal TTL",
    kinds: ["udp4", "udp6"],
    pkts: [{ payload: 100 }, { payload: 100, ttl: 1 }],
    want: [
      [0, 100],
      [1, 100],
    ],
  },
  {
    name: "unequal ToS",
    kinds: ["udp4", "udp6"],
    pkts: [{ payload: 100 }, { payload: 100, tos: 0xb8 }],
    want: [
      [0, 100],
      [1, 100],
    ],
  },
  {
    name: "bad checksum is a barrier, nothing merges across it",
    kinds: ["udp4", "udp6"],
    pkts: [{ payload: 100 }, { payload: 100, mutate: corruptPayload }, { payload: 100 }, { payload: 100 }],
    want: [
      [0, 100],
      [1, 100],
      [2, 200],
    ],
  },
  {
    name: "zero-checksum UDPv4 not coalesced",
    kinds: ["udp4"],
    pkts: [
      { payload: 100, zeroUdpChecksum: true },
      { payload: 100, zeroUdpChecksum: true },
      { payload: 100, zeroUdpChecksum: true },
    ],
    want: [
      [0, 100],
      [1, 100],
      [2, 100],
    ],
  },
  {
    name: "UDP length field disagreeing with the IP length",
    kinds: ["udp4", "udp6"],
    pkts: [{ payload: 100 }, { payload: 100, mutate: (p) => (p[p[0]! >>> 4 === 4 ? 25 : 45] = 10) }],
    want: [
      [0, 100],
      [1, 100],
    ],
  },
  {
    name: "IPv4 fragment",
    kinds: ["udp4"],
    pkts: [{ payload: 100, mf: true }, { payload: 100, mf: true }],
    want: [
      [0, 100],
      [1, 100],
    ],
  },
  {
    name: "IPv6 extension header",
    kinds: ["udp6"],
    pkts: [{ payload: 100, hopByHop: true }, { payload: 100, hopByHop: true }],
    want: [
      [0, 108],
      [1, 108],
    ],
  },
];

function expand(cases: GroCase[]) {
  return cases.flatMap((c) => c.kinds.map((kind) => ({ ...c, kind, label: `${kind}: ${c.name}` })));
}

describe("Coalescer TCP", () => {
  test.each(expand(tcpCases))("$label", ({ kind, pkts, want, stride }) => {
    const input = pkts.map((s) => builders[kind](s));
    const { w } = runGro(input, {}, stride);
    expect(shape(w)).toEqual(want.map(([i, n]) => [i, HDRS[kind] + n]));
    expectPassThroughOrSound(w, input);
  });

  test.each([
    ["SYN not coalesced", TCP_SYN | TCP_ACK],
    ["FIN not coalesced", TCP_FIN | TCP_ACK],
    ["RST not coalesced", TCP_RST | TCP_ACK],
    ["URG not coalesced", TCP_URG | TCP_ACK],
    ["ECE not coalesced", TCP_ECE | TCP_ACK],
    ["CWR not coalesced", TCP_CWR | TCP_ACK],
    ["bare SYN not coalesced", TCP_SYN],
  ])("%s", (_name, flags) => {
    for (const kind of ["tcp4", "tcp6"] as const) {
      const { w } = runGro([builders[kind]({ seq: 1, payload: 100, flags }), builders[kind]({ seq: 101, payload: 100, flags })]);
      expect(shape(w)).toEqual([
        [0, HDRS[kind] + 100],
        [1, HDRS[kind] + 100],
      ]);
      for (const x of w) expect(x.hdr).toEqual({ flags: 0, gsoType: 0, hdrLen: 0, gsoSize: 0, csumStart: 0, csumOffset: 0 });
    }
  });

  test("exceeds 64 KiB: 46 full segments become 45 + 1", () => {
    const pkts = Array.from({ length: 46 }, (_, i) => builders.tcp4({ seq: 1 + i * 1448, payload: 1448 }));
    const { w } = runGro(pkts);
    expect(shape(w)).toEqual([
      [0, 40 + 45 * 1448],
      [45, 40 + 1448],
    ]);
    expect(w[0]!.pkt.length).toBeLessThanOrEqual(65535);
    for (const x of w) expect(isSound(x)).toBe(true);
  });

  test.each(["tcp4", "tcp6"] as const)("%s: coalesced head carries the GSO header and the pseudo-header seed", (kind) => {
    const pkts = [1, 101, 201].map((seq, i) => builders[kind]({ seq, payload: i === 2 ? 60 : 100, flags: i === 2 ? TCP_ACK | TCP_PSH : TCP_ACK, options: TS_OPTION }));
    const { w } = runGro(pkts);
    expect(w.length).toBe(1);
    const x = w[0]!;
    const iph = kind === "tcp4" ? 20 : 40;
    expect(x.hdr).toEqual({ flags: 1, gsoType: kind === "tcp4" ? 1 : 4, hdrLen: iph + 32, gsoSize: 100, csumStart: iph, csumOffset: 16 });
    const l4Len = x.pkt.length - iph;
    expect(l4Len).toBe(32 + 260);
    expect((x.pkt[iph + 16]! << 8) | x.pkt[iph + 17]!).toBe(refPseudoSum(x.pkt, 0, 6, l4Len));
    expect(x.pkt[iph + 13]).toBe(TCP_ACK | TCP_PSH);
    expect(isSound(x)).toBe(true);
  });

  test("prepend keeps the PSH of the run's old head", () => {
    const { w } = runGro([builders.tcp4({ seq: 101, payload: 100, flags: TCP_ACK | TCP_PSH }), builders.tcp4({ seq: 1, payload: 100 })]);
    expect(shape(w)).toEqual([[0, 240]]);
    expect(w[0]!.pkt[33]).toBe(TCP_ACK | TCP_PSH);
    expect((w[0]!.pkt[24]! << 24) | (w[0]!.pkt[25]! << 16) | (w[0]!.pkt[26]! << 8) | w[0]!.pkt[27]!).toBe(1);
  });

  test("TCP GRO switched off writes every packet with a zero header", () => {
    const { w } = runGro([builders.tcp4({ seq: 1, payload: 100 }), builders.tcp4({ seq: 101, payload: 100 })], { tcp: false });
    expect(shape(w)).toEqual([
      [0, 140],
      [1, 140],
    ]);
    for (const x of w) expect(x.hdr.gsoType).toBe(0);
  });
});

describe("Coalescer UDP", () => {
  test.each(expand(udpCases))("$label", ({ kind, pkts, want, stride }) => {
    const input = pkts.map((s) => builders[kind](s));
    const { w } = runGro(input, {}, stride);
    expect(shape(w)).toEqual(want.map(([i, n]) => [i, HDRS[kind] + n]));
    expectPassThroughOrSound(w, input);
  });

  test.each(["udp4", "udp6"] as const)("%s: 65 UDP segments capped at 64", (kind) => {
    const { w, c } = runGro(Array.from({ length: 65 }, () => builders[kind]({ payload: 10 })));
    expect(shape(w)).toEqual([
      [0, HDRS[kind] + 640],
      [64, HDRS[kind] + 10],
    ]);
    expect(w[0]!.hdr.gsoType).toBe(5);
    expect(c.counters.rejected["segment-limit"]).toBe(1);
  });

  test.each(["udp4", "udp6"] as const)("%s: coalesced head has UDP_L4, csum_offset 6, fixed UDP length", (kind) => {
    const { w } = runGro([builders[kind]({ payload: 100 }), builders[kind]({ payload: 100 }), builders[kind]({ payload: 7 })]);
    const x = w[0]!;
    const iph = kind === "udp4" ? 20 : 40;
    expect(x.hdr).toEqual({ flags: 1, gsoType: 5, hdrLen: iph + 8, gsoSize: 100, csumStart: iph, csumOffset: 6 });
    expect((x.pkt[iph + 4]! << 8) | x.pkt[iph + 5]!).toBe(8 + 207);
    expect((x.pkt[iph + 6]! << 8) | x.pkt[iph + 7]!).toBe(refPseudoSum(x.pkt, 0, 17, 8 + 207));
    expect(isSound(x)).toBe(true);
  });

  test("UDP GRO switched off", () => {
    const { w } = runGro([builders.udp4({ payload: 100 }), builders.udp4({ payload: 100 })], { udp: false });
    expect(shape(w)).toEqual([
      [0, 128],
      [1, 128],
    ]);
  });
});

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
      if (slots === undefined) slotBatches.set(stride, (slots = createPacketBatch(SL + 16, stride, 16)));
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
