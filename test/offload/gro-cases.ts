// Shared pieces of the coalescer table tests: header lengths per kind, the
// table case type and its expansion per kind, and the check every table row
// runs (the writes' shape, then pass-through bytes or a sound super-packet).

import { expect } from "bun:test";
import { isSound, runGro, type Written } from "./gro-harness.ts";
import { type PacketSpec, builders } from "./packets.ts";

export type Kind = "tcp4" | "tcp6" | "udp4" | "udp6";
export const HDRS: Record<Kind, number> = { tcp4: 40, tcp6: 60, udp4: 28, udp6: 48 };

export const corruptPayload = (p: Uint8Array) => {
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
export const shape = (w: Written[]) => w.map((x) => [x.idx, x.pkt.length]);

export interface GroCase {
  name: string;
  kinds: Kind[];
  pkts: PacketSpec[];
  /** [batch index, payload bytes] per write; lengths add the kind's header length. */
  want: [number, number][];
  stride?: number;
}

export function expand(cases: GroCase[]) {
  return cases.flatMap((c) => c.kinds.map((kind) => ({ ...c, kind, label: `${kind}: ${c.name}` })));
}

/** Runs one expanded table row: the writes must match want, each one untouched or sound. */
export function checkGroCase({ kind, pkts, want, stride }: Pick<GroCase, "pkts" | "want" | "stride"> & { kind: Kind }): void {
  const input = pkts.map((s) => builders[kind](s));
  const { w } = runGro(input, {}, stride);
  expect(shape(w)).toEqual(want.map(([i, n]) => [i, HDRS[kind] + n]));
  expectPassThroughOrSound(w, input);
}
