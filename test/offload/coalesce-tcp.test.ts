// Coalescer TCP rules, table-driven: which segments of a flow merge into one
// GSO super-packet and which must stay alone (flags, headers, options,
// sequence gaps, checksums, room), and what a merged head carries.

import { describe, expect, test } from "bun:test";
import { refPseudoSum } from "./checksum-reference.ts";
import { type GroCase, HDRS, checkGroCase, corruptPayload, expand, shape } from "./gro-cases.ts";
import { isSound, runGro } from "./gro-harness.ts";
import { TCP_ACK, TCP_CWR, TCP_ECE, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, TCP_URG, builders } from "./packets.ts";

const TS_OPTION = new Uint8Array([1, 1, 8, 10, 0, 0, 1, 0, 0, 0, 2, 0]);
const TS_OPTION_OTHER = new Uint8Array([1, 1, 8, 10, 0, 0, 1, 1, 0, 0, 2, 0]);

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

describe("Coalescer TCP", () => {
  test.each(expand(tcpCases))("$label", (c) => checkGroCase(c));

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
    const pkts = [1, 101, 201].map((seq, i) =>
      builders[kind]({ seq, payload: i === 2 ? 60 : 100, flags: i === 2 ? TCP_ACK | TCP_PSH : TCP_ACK, options: TS_OPTION }),
    );
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
