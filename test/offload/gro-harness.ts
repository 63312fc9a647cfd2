// Shared helpers for coalescer tests: load packets into a batch, run the
// Coalescer, and read back what would be written to the TUN.

import { createPacketBatch, type PacketBatch } from "../../src/offload/batch.ts";
import { type CoalesceOptions, Coalescer } from "../../src/offload/coalesce.ts";
import { type VnetHeader, createVnetHeader, decodeVnetHeader } from "../../src/offload/vnet-header.ts";
import { refIpv4HeaderValid, refL4Valid, refSum } from "./checksum-reference.ts";

export interface Written {
  idx: number;
  hdr: VnetHeader;
  pkt: Uint8Array;
}

export function loadBatch(pkts: Uint8Array[], stride = 65535, headroom = 16): PacketBatch {
  const b = createPacketBatch(Math.max(1, pkts.length), stride, headroom);
  pkts.forEach((p, i) => {
    b.buf.set(p, b.offs[i]!);
    b.lens[i] = p.length;
  });
  b.count = pkts.length;
  return b;
}

export function written(c: Coalescer, b: PacketBatch): Written[] {
  const out: Written[] = [];
  for (let k = 0; k < c.writeCount; k++) {
    const idx = c.writeIdx[k]!;
    const hdr = decodeVnetHeader(b.buf, b.offs[idx]! - 10, createVnetHeader());
    if (hdr === "truncated") throw new Error("header out of range");
    out.push({ idx, hdr, pkt: b.buf.slice(b.offs[idx]!, b.offs[idx]! + b.lens[idx]!) });
  }
  return out;
}

export function runGro(pkts: Uint8Array[], opts: CoalesceOptions = {}, stride = 65535): { c: Coalescer; w: Written[] } {
  const c = new Coalescer(opts);
  const b = loadBatch(pkts, stride);
  const n = c.coalesce(b);
  if (typeof n !== "number") throw new Error(n);
  return { c, w: written(c, b) };
}

/**
 * kernelView finishes a written packet the way the kernel would treat it:
 * a NEEDS_CSUM packet gets its checksum completed from the seed. Returns
 * the completed bytes (input untouched).
 */
export function kernelView(w: Written): Uint8Array {
  const p = w.pkt.slice();
  if (w.hdr.flags & 1) {
    const at = w.hdr.csumStart + w.hdr.csumOffset;
    const seed = (p[at]! << 8) | p[at + 1]!;
    p[at] = 0;
    p[at + 1] = 0;
    const c = ~refSum(p, w.hdr.csumStart, p.length - w.hdr.csumStart, seed) & 0xffff;
    p[at] = c >>> 8;
    p[at + 1] = c & 0xff;
  }
  return p;
}

/** isSound: IP lengths right, IPv4 header checksum right, L4 checksum right once completed. */
export function isSound(w: Written): boolean {
  const p = kernelView(w);
  if (p[0]! >>> 4 === 4) {
    if (!refIpv4HeaderValid(p) || ((p[2]! << 8) | p[3]!) !== p.length) return false;
  } else if (((p[4]! << 8) | p[5]!) !== p.length - 40) return false;
  return refL4Valid(p, 0, p.length);
}
