// The coalescer's memory of one batch: every packet that may still absorb
// later ones is an item (the head of a would-be super-packet), and every
// flow leads to its newest item. The TCP and UDP rules differ in what may
// merge; they share this table, the batch it points into and the outcome
// codes, so the driver and the finishing pass read one layout.
//
// Allocation-free per packet: items are columns in preallocated typed
// arrays and flows are found through a small open-addressing table of
// 32-bit hashes, verified by comparing the key bytes in the head packet.

import type { PacketBatch } from "./batch.ts";
import type { CoalesceCounters } from "./coalesce-counters.ts";
import { IPV4_SRC_ADDR_OFFSET, IPV6_SRC_ADDR_OFFSET, MAX_IP_PACKET_LEN, TCP_ACK_OFFSET, bytesEqual, readU32 } from "./ip.ts";
import { VNET_HDR_LEN } from "./vnet-header.ts";

// Item flag bits.
export const ITEM_TCP = 1;
export const ITEM_V6 = 2;
export const ITEM_PSH = 4;
/** Never merge into this item again (bad checksum, or a UDP ordering barrier). */
export const ITEM_DEAD = 8;
export const ITEM_CSUM_OK = 16;

// Per-packet outcomes.
export const GRO_NOOP = 0;
export const GRO_INSERTED = 1;
export const GRO_MERGED = 2;

// Outcomes of one attempt to merge a packet into an item.
export const MERGE_OK = 0;
export const MERGE_NO_ROOM = 1;
export const MERGE_ITEM_INVALID = 2;
export const MERGE_PKT_INVALID = 3;
export const MERGE_UNAVAILABLE = 4;

const EMPTY = new Uint8Array(0);
const EMPTY_I32 = new Int32Array(0);

/** ItemTable holds the items and flows of the batch being coalesced; begin() starts a batch. */
export class ItemTable {
  readonly maxBatch: number;
  readonly counters: CoalesceCounters;

  // Item columns.
  itemCount = 0;
  readonly itemSlot: Int32Array;
  readonly itemPrev: Int32Array;
  readonly itemHash: Int32Array;
  readonly itemSeq: Uint32Array;
  readonly itemGsoSize: Int32Array;
  readonly itemMerged: Int32Array;
  readonly itemL4hLen: Uint8Array;
  readonly itemFlags: Uint8Array;
  /** Open addressing: hash bucket -> newest item of the flow, or -1. */
  readonly flowTable: Int32Array;
  readonly flowMask: number;

  // The batch being processed.
  buf: Uint8Array = EMPTY;
  offs: Int32Array = EMPTY_I32;
  lens: Int32Array = EMPTY_I32;
  room = 0;
  homes: Int32Array | null = null;

  constructor(maxBatch: number, counters: CoalesceCounters) {
    const n = maxBatch;
    this.maxBatch = n;
    this.counters = counters;
    this.itemSlot = new Int32Array(n);
    this.itemPrev = new Int32Array(n);
    this.itemHash = new Int32Array(n);
    this.itemSeq = new Uint32Array(n);
    this.itemGsoSize = new Int32Array(n);
    this.itemMerged = new Int32Array(n);
    this.itemL4hLen = new Uint8Array(n);
    this.itemFlags = new Uint8Array(n);
    // Load factor <= 1/4 keeps probe chains short.
    let size = 16;
    while (size < n * 4) size *= 2;
    this.flowTable = new Int32Array(size);
    this.flowMask = size - 1;
  }

  /** begin points the table at a batch (its head slots may grow to min(65535, stride)) and forgets every item. */
  begin(batch: PacketBatch, homes: Int32Array | null): void {
    this.homes = homes;
    this.buf = batch.buf;
    this.offs = batch.offs;
    this.lens = batch.lens;
    this.room = Math.min(MAX_IP_PACKET_LEN, batch.stride);
    this.itemCount = 0;
    this.flowTable.fill(-1);
  }

  /** flowHash mixes addresses, ports and (TCP) the ACK number; different ACKs are different flows. */
  flowHash(off: number, iphLen: number, isV6: boolean, isTcp: boolean): number {
    const buf = this.buf;
    const addrOff = off + (isV6 ? IPV6_SRC_ADDR_OFFSET : IPV4_SRC_ADDR_OFFSET);
    const addrBytes = isV6 ? 32 : 8;
    let h = isTcp ? 0x2545f491 : 0x6b43a9b5;
    if (isV6) h ^= 0x5bd1e995;
    for (let k = 0; k < addrBytes; k += 4) h = Math.imul(h ^ readU32(buf, addrOff + k), 0x9e3779b1);
    h = Math.imul(h ^ readU32(buf, off + iphLen), 0x9e3779b1);
    if (isTcp) h = Math.imul(h ^ readU32(buf, off + iphLen + TCP_ACK_OFFSET), 0x9e3779b1);
    h ^= h >>> 15;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    return h | 0;
  }

  /** findFlow returns the table bucket holding the flow of the packet at off, or the empty bucket for it. */
  findFlow(hash: number, off: number, iphLen: number, isV6: boolean, isTcp: boolean): number {
    const table = this.flowTable;
    const mask = this.flowMask;
    const kind = (isTcp ? ITEM_TCP : 0) | (isV6 ? ITEM_V6 : 0);
    const addrOff = isV6 ? IPV6_SRC_ADDR_OFFSET : IPV4_SRC_ADDR_OFFSET;
    const addrBytes = isV6 ? 32 : 8;
    // The table holds at most maxBatch flows in >= 4*maxBatch buckets, so an empty bucket always exists.
    for (let pos = hash & mask; ; pos = (pos + 1) & mask) {
      const it = table[pos]!;
      if (it < 0) return pos;
      if (this.itemHash[it] !== hash || (this.itemFlags[it]! & (ITEM_TCP | ITEM_V6)) !== kind) continue;
      const head = this.offs[this.itemSlot[it]!]!;
      const buf = this.buf;
      if (!bytesEqual(buf, off + addrOff, buf, head + addrOff, addrBytes)) continue;
      if (!bytesEqual(buf, off + iphLen, buf, head + iphLen, 4)) continue;
      if (isTcp && !bytesEqual(buf, off + iphLen + TCP_ACK_OFFSET, buf, head + iphLen + TCP_ACK_OFFSET, 4)) continue;
      return pos;
    }
  }

  /** insertItem makes packet `slot` the flow's newest item (moving it to its home first, if it has one). */
  insertItem(bucket: number, hash: number, slot: number, l4hLen: number, seq: number, payload: number, flags: number): number {
    const it = this.itemCount;
    if (it >= this.maxBatch) return GRO_NOOP;
    const homes = this.homes;
    if (homes !== null) {
      // A head must be able to grow: move it (with its zeroed virtio_net_hdr) to its slot.
      const from = this.offs[slot]!;
      const to = homes[slot]!;
      if (from !== to) {
        this.buf.copyWithin(to - VNET_HDR_LEN, from - VNET_HDR_LEN, from + this.lens[slot]!);
        this.offs[slot] = to;
      }
    }
    this.itemCount = it + 1;
    this.itemSlot[it] = slot;
    this.itemPrev[it] = this.flowTable[bucket]!;
    this.itemHash[it] = hash;
    this.itemSeq[it] = seq;
    this.itemGsoSize[it] = payload;
    this.itemMerged[it] = 0;
    this.itemL4hLen[it] = l4hLen;
    this.itemFlags[it] = flags;
    this.flowTable[bucket] = it;
    return GRO_INSERTED;
  }
}
