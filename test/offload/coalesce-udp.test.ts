// Coalescer UDP rules, table-driven: which datagrams of a flow merge into
// one UDP_L4 super-packet and which must stay alone (headers, lengths,
// checksums, the 64-segment cap), and what a merged head carries.

import { describe, expect, test } from "bun:test";
import { refPseudoSum } from "./checksum-reference.ts";
import { type GroCase, HDRS, checkGroCase, corruptPayload, expand, shape } from "./gro-cases.ts";
import { isSound, runGro } from "./gro-harness.ts";
import { builders } from "./packets.ts";

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
    pkts: [
      { payload: 100, mf: true },
      { payload: 100, mf: true },
    ],
    want: [
      [0, 100],
      [1, 100],
    ],
  },
  {
    name: "IPv6 extension header",
    kinds: ["udp6"],
    pkts: [
      { payload: 100, hopByHop: true },
      { payload: 100, hopByHop: true },
    ],
    want: [
      [0, 108],
      [1, 108],
    ],
  },
];

describe("Coalescer UDP", () => {
  test.each(expand(udpCases))("$label", (c) => checkGroCase(c));

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
