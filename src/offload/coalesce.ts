// TUN write side: merge decrypted TCP and UDP segments of one flow into
// super-packets (GRO) so one write() carries up to 64 KiB. Dossier 3.2,
// after wireguard-go tun/offload_linux.go handleGRO/tcpGRO/udpGRO.
//
// Flow: for each packet of the batch, write a zero virtio_net_hdr in its
// headroom, classify it, then either merge it into an earlier packet of the
// same flow (its slot is then not written) or record it as a new item. At
// the end every item that absorbed packets gets fixed IP/L4 lengths, the
// pseudo-header seed in its L4 checksum field and a GSO virtio_net_hdr.
//
// Capacity: merged payloads are appended in place in the head packet's
// slot, so a super-packet can grow up to min(65535, batch.stride) bytes.
// With the data plane's 64 KiB slots that is the full kernel limit, at zero
// extra copies; with smaller slots merging just stops early ("no-room").
// We chose this over private 64 KiB output buffers because the slots exist
// anyway (the same slab serves recvmmsg), and it saves one copy of the head.
//
// Allocation-free per packet: items are columns in preallocated typed
// arrays and flows are found through a small open-addressing table of
// 32-bit hashes, verified by comparing the key bytes in the head packet.

import type { PacketBatch } from "./batch.ts";
import { checksum, checksumNoFold, copyAndChecksumNoFold, foldChecksum, pseudoHeaderChecksumNoFold } from "./checksum.ts";
import {
  IPPROTO_TCP,
  IPPROTO_UDP,
  IPV4_CSUM_OFFSET,
  IPV4_FLAGS_OFFSET,
  IPV4_FRAGMENT_MASK,
  IPV4_HEADER_MIN_LEN,
  IPV4_PROTO_OFFSET,
  IPV4_SRC_ADDR_OFFSET,
  IPV4_TOTAL_LEN_OFFSET,
  IPV4_TTL_OFFSET,
  IPV6_HEADER_LEN,
  IPV6_HOP_LIMIT_OFFSET,
  IPV6_NEXT_HEADER_OFFSET,
  IPV6_PAYLOAD_LEN_OFFSET,
  IPV6_SRC_ADDR_OFFSET,
  MAX_IP_PACKET_LEN,
  TCP_ACK_OFFSET,
  TCP_CSUM_OFFSET,
  TCP_DOFF_OFFSET,
  TCP_FLAGS_OFFSET,
  TCP_FLAG_ACK,
  TCP_FLAG_PSH,
  TCP_HEADER_MIN_LEN,
  TCP_SEQ_OFFSET,
  UDP_CSUM_OFFSET,
  UDP_HEADER_LEN,
  UDP_LEN_OFFSET,
  bytesEqual,
  readU16,
  readU32,
  writeU16,
} from "./ip.ts";
import {
  VIRTIO_NET_HDR_F_NEEDS_CSUM,
  VIRTIO_NET_HDR_GSO_TCPV4,
  VIRTIO_NET_HDR_GSO_TCPV6,
  VIRTIO_NET_HDR_GSO_UDP_L4,
  VNET_HDR_LEN,
  createVnetHeader,
  encodeVnetHeader,
  writeZeroVnetHeader,
} from "./vnet-header.ts";

/**
 * UDP_GRO_MAX_SEGMENTS caps USO writes: kernels with UDP_MAX_SEGMENTS 64 and
 * the fc8b2a619469 check reject more with EINVAL (dossier 1.5 item 5).
 */
export const UDP_GRO_MAX_SEGMENTS = 64;
export const DEFAULT_COALESCE_MAX_BATCH = 128;

/** Why a packet that could have been merged was not. */
export type CoalesceRejectReason =
  /** IPv4 header or L4 checksum did not verify (never laundered into NEEDS_CSUM). */
  | "checksum-invalid"
  /** IPv4 UDP without a checksum: unverifiable, so never merged (as kernel UDP GRO). */
  | "zero-checksum"
  /** The head slot (min(65535, stride)) had no room for the payload. */
  | "no-room"
  /** The USO super-packet already holds UDP_GRO_MAX_SEGMENTS segments. */
  | "segment-limit";

/** CoalesceError is returned for a batch that breaks the slot contract. */
export type CoalesceError = "batch-too-large" | "headroom-too-small";

/** CoalesceCounters are cumulative, for `tunnel status`. */
export interface CoalesceCounters {
  packetsIn: number;
  /** Slots handed back for writing (super-packets plus untouched packets). */
  writesOut: number;
  superPacketsOut: number;
  /** Packets absorbed into an earlier packet's super-packet. */
  segmentsCoalesced: number;
  rejected: Record<CoalesceRejectReason, number>;
}

export interface CoalesceOptions {
  /** TCP GRO (kill switch / startup probe can turn it off). Default true. */
  tcp?: boolean;
  /** UDP GRO; needs TUN_F_USO4|USO6 to have been accepted. Default true. */
  udp?: boolean;
  /** Largest batch.count accepted. Default 128. */
  maxBatch?: number;
}

// Item flag bits.
const ITEM_TCP = 1;
const ITEM_V6 = 2;
const ITEM_PSH = 4;
/** Never merge into this item again (bad checksum, or a UDP ordering barrier). */
const ITEM_DEAD = 8;
const ITEM_CSUM_OK = 16;

// Per-packet outcomes.
const GRO_NOOP = 0;
const GRO_INSERTED = 1;
const GRO_MERGED = 2;

const CAN_NONE = 0;
const CAN_APPEND = 1;
const CAN_PREPEND = 2;

const MERGE_OK = 0;
const MERGE_NO_ROOM = 1;
const MERGE_ITEM_INVALID = 2;
const MERGE_PKT_INVALID = 3;
const MERGE_UNAVAILABLE = 4;

const EMPTY = new Uint8Array(0);
const EMPTY_I32 = new Int32Array(0);

/**
 * Coalescer merges a batch of decrypted IP packets in place. One instance
 * per writer; not reentrant. After coalesce(batch), write for each k <
 * writeCount the bytes buf[offs[j]-10, offs[j]+lens[j]) with j = writeIdx[k]
 * (ascending order preserves per-flow order).
 *
 * Optional homes (zero-copy receive): packets may sit anywhere in buf with
 * only 10 bytes of headroom and no room to grow (e.g. where recvmmsg put
 * them); homes[i] is then a slot of batch.stride bytes (with headroom) in
 * the same buffer. A packet is copied to its home only when it becomes the
 * head of a merge item (offs[i] is updated to homes[i]); packets merged into
 * a head are copied once, into the head; packets that are never candidates
 * are written where they are.
 */
export class Coalescer {
  enableTcp: boolean;
  enableUdp: boolean;
  readonly maxBatch: number;
  /** Batch indices to write, valid after coalesce() until the next call. */
  readonly writeIdx: Int32Array;
  writeCount = 0;
  readonly counters: CoalesceCounters = {
    packetsIn: 0,
    writesOut: 0,
    superPacketsOut: 0,
    segmentsCoalesced: 0,
    rejected: { "checksum-invalid": 0, "zero-checksum": 0, "no-room": 0, "segment-limit": 0 },
  };

  // Item columns.
  private itemCount = 0;
  private readonly itemSlot: Int32Array;
  private readonly itemPrev: Int32Array;
  private readonly itemHash: Int32Array;
  private readonly itemSeq: Uint32Array;
  private readonly itemGsoSize: Int32Array;
  private readonly itemMerged: Int32Array;
  private readonly itemL4hLen: Uint8Array;
  private readonly itemFlags: Uint8Array;
  /** Open addressing: hash bucket -> newest item of the flow, or -1. */
  private readonly flowTable: Int32Array;
  private readonly flowMask: number;
  private readonly hdr = createVnetHeader();

  // The batch being processed.
  private buf: Uint8Array = EMPTY;
  private offs: Int32Array = EMPTY_I32;
  private lens: Int32Array = EMPTY_I32;
  private room = 0;
  private homes: Int32Array | null = null;

  constructor(opts: CoalesceOptions = {}) {
    this.enableTcp = opts.tcp ?? true;
    this.enableUdp = opts.udp ?? true;
    const n = Math.max(1, opts.maxBatch ?? DEFAULT_COALESCE_MAX_BATCH);
    this.maxBatch = n;
    this.writeIdx = new Int32Array(n);
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

  /**
   * coalesce merges batch packets 0..count-1 (IP packets at offs[i], with
   * >= 10 bytes of headroom) and fills writeIdx/writeCount. Every written
   * slot has its virtio_net_hdr at offs[i]-10 and lens[i] updated; merged
   * packets' slots are left out. Returns writeCount, or a CoalesceError
   * (nothing written) if the batch breaks the contract. Never throws.
   */
  coalesce(batch: PacketBatch, homes: Int32Array | null = null): number | CoalesceError {
    this.writeCount = 0;
    if (batch.count > this.maxBatch) return "batch-too-large";
    if (batch.headroom < VNET_HDR_LEN) return "headroom-too-small";
    if (homes !== null && homes.length < batch.count) return "batch-too-large";
    this.homes = homes;
    this.buf = batch.buf;
    this.offs = batch.offs;
    this.lens = batch.lens;
    this.room = Math.min(MAX_IP_PACKET_LEN, batch.stride);
    this.itemCount = 0;
    this.flowTable.fill(-1);

    const count = batch.count;
    for (let i = 0; i < count; i++) {
      writeZeroVnetHeader(this.buf, this.offs[i]! - VNET_HDR_LEN);
      if (this.evaluate(i) !== GRO_MERGED) this.writeIdx[this.writeCount++] = i;
    }
    this.finishItems();
    this.counters.packetsIn += count;
    this.counters.writesOut += this.writeCount;
    return this.writeCount;
  }

  private evaluate(i: number): number {
    const buf = this.buf;
    const off = this.offs[i]!;
    const len = this.lens[i]!;
    // 28 = the smallest candidate (IPv4 + UDP); len > stride breaks the contract.
    if (len < IPV4_HEADER_MIN_LEN + UDP_HEADER_LEN || len > this.room) return GRO_NOOP;
    const version = buf[off]! >>> 4;
    if (version === 4) {
      // IHL must be 5: IPv4 options never coalesce.
      if ((buf[off]! & 0x0f) !== 5) return GRO_NOOP;
      const proto = buf[off + IPV4_PROTO_OFFSET]!;
      if (proto === IPPROTO_TCP && this.enableTcp && len >= IPV4_HEADER_MIN_LEN + TCP_HEADER_MIN_LEN) {
        return this.tcpGro(i, off, len, false);
      }
      if (proto === IPPROTO_UDP && this.enableUdp) return this.udpGro(i, off, len, false);
    } else if (version === 6) {
      // Next header must be TCP/UDP directly: extension headers disqualify.
      const proto = buf[off + IPV6_NEXT_HEADER_OFFSET]!;
      if (proto === IPPROTO_TCP && this.enableTcp && len >= IPV6_HEADER_LEN + TCP_HEADER_MIN_LEN) {
        return this.tcpGro(i, off, len, true);
      }
      if (proto === IPPROTO_UDP && this.enableUdp && len >= IPV6_HEADER_LEN + UDP_HEADER_LEN) {
        return this.udpGro(i, off, len, true);
      }
    }
    return GRO_NOOP;
  }

  /** ipHeaderUsable checks lengths, fragments and (IPv4) the header checksum. */
  private ipHeaderUsable(off: number, len: number, isV6: boolean): boolean {
    const buf = this.buf;
    if (isV6) return readU16(buf, off + IPV6_PAYLOAD_LEN_OFFSET) === len - IPV6_HEADER_LEN;
    if (readU16(buf, off + IPV4_TOTAL_LEN_OFFSET) !== len) return false;
    if ((readU16(buf, off + IPV4_FLAGS_OFFSET) & IPV4_FRAGMENT_MASK) !== 0) return false;
    // We rewrite the header checksum of a merged head; verify first so a
    // corrupt header is never made to look valid.
    if (foldChecksum(checksumNoFold(buf, off, IPV4_HEADER_MIN_LEN, 0)) !== 0xffff) {
      this.counters.rejected["checksum-invalid"]++;
      return false;
    }
    return true;
  }

  private tcpGro(i: number, off: number, len: number, isV6: boolean): number {
    const buf = this.buf;
    const iphLen = isV6 ? IPV6_HEADER_LEN : IPV4_HEADER_MIN_LEN;
    if (!this.ipHeaderUsable(off, len, isV6)) return GRO_NOOP;
    const t = off + iphLen;
    const doffByte = buf[t + TCP_DOFF_OFFSET]!;
    const tcphLen = (doffByte >>> 4) * 4;
    // The low nibble holds reserved bits and AE (AccECN): must be clear.
    if (tcphLen < TCP_HEADER_MIN_LEN || len < iphLen + tcphLen || (doffByte & 0x0f) !== 0) return GRO_NOOP;
    const flags = buf[t + TCP_FLAGS_OFFSET]!;
    if (flags !== TCP_FLAG_ACK && flags !== (TCP_FLAG_ACK | TCP_FLAG_PSH)) return GRO_NOOP;
    const payload = len - iphLen - tcphLen;
    if (payload < 1) return GRO_NOOP;
    const isPsh = flags !== TCP_FLAG_ACK;
    const seq = readU32(buf, t + TCP_SEQ_OFFSET);

    const hash = this.flowHash(off, iphLen, isV6, true);
    const bucket = this.findFlow(hash, off, iphLen, isV6, true);
    // Newest first: in-order arrivals hit on the first try.
    for (let it = this.flowTable[bucket]!; it >= 0; it = this.itemPrev[it]!) {
      if ((this.itemFlags[it]! & ITEM_DEAD) !== 0) continue;
      const mode = this.tcpCanCoalesce(it, off, iphLen, tcphLen, seq, payload, isPsh, isV6);
      if (mode === CAN_NONE) continue;
      const r = this.mergeTcp(mode, it, off, len, iphLen, tcphLen, seq, payload, isPsh, isV6);
      if (r === MERGE_OK) return GRO_MERGED;
      if (r === MERGE_ITEM_INVALID) {
        this.itemFlags[it] = this.itemFlags[it]! | ITEM_DEAD;
        this.counters.rejected["checksum-invalid"]++;
      } else if (r === MERGE_PKT_INVALID) {
        // No point recording an item nothing may merge with.
        this.counters.rejected["checksum-invalid"]++;
        return GRO_NOOP;
      }
    }
    const flagBits = ITEM_TCP | (isV6 ? ITEM_V6 : 0) | (isPsh ? ITEM_PSH : 0);
    return this.insertItem(bucket, hash, i, tcphLen, seq, payload, flagBits);
  }

  private tcpCanCoalesce(
    it: number,
    off: number,
    iphLen: number,
    tcphLen: number,
    seq: number,
    payload: number,
    isPsh: boolean,
    isV6: boolean,
  ): number {
    const buf = this.buf;
    const slot = this.itemSlot[it]!;
    const head = this.offs[slot]!;
    if (this.itemL4hLen[it] !== tcphLen) return CAN_NONE;
    const optLen = tcphLen - TCP_HEADER_MIN_LEN;
    if (optLen > 0 && !bytesEqual(buf, off + iphLen + TCP_HEADER_MIN_LEN, buf, head + iphLen + TCP_HEADER_MIN_LEN, optLen)) {
      return CAN_NONE;
    }
    if (!this.ipHeadersCompatible(head, off, isV6)) return CAN_NONE;
    const gsoSize = this.itemGsoSize[it]!;
    const itemData = this.lens[slot]! - iphLen - tcphLen;
    const itemSeq = this.itemSeq[it]!;
    if (seq === ((itemSeq + itemData) >>> 0)) {
      // PSH ends a run; nothing follows a short tail; a larger segment
      // cannot follow a smaller one.
      if ((this.itemFlags[it]! & ITEM_PSH) !== 0) return CAN_NONE;
      if (itemData % gsoSize !== 0) return CAN_NONE;
      if (payload > gsoSize) return CAN_NONE;
      return CAN_APPEND;
    }
    if (((seq + payload) >>> 0) === itemSeq) {
      if (isPsh) return CAN_NONE;
      if (payload < gsoSize) return CAN_NONE;
      // A larger prepend would leave several short segments at the end.
      if (payload > gsoSize && this.itemMerged[it]! > 0) return CAN_NONE;
      return CAN_PREPEND;
    }
    return CAN_NONE;
  }

  private mergeTcp(
    mode: number,
    it: number,
    off: number,
    len: number,
    iphLen: number,
    tcphLen: number,
    seq: number,
    payload: number,
    isPsh: boolean,
    isV6: boolean,
  ): number {
    const buf = this.buf;
    const slot = this.itemSlot[it]!;
    const head = this.offs[slot]!;
    const headLen = this.lens[slot]!;
    const hdrsLen = iphLen + tcphLen;
    const newLen = headLen + payload;
    if (newLen > this.room) {
      this.counters.rejected["no-room"]++;
      return MERGE_NO_ROOM;
    }
    if (!this.verifyItem(it, head, headLen, iphLen, IPPROTO_TCP, isV6)) return MERGE_ITEM_INVALID;
    const flagsAt = head + iphLen + TCP_FLAGS_OFFSET;
    if (mode === CAN_APPEND) {
      if (!this.appendVerified(head + headLen, off, len, iphLen, hdrsLen, IPPROTO_TCP, isV6)) return MERGE_PKT_INVALID;
      if (isPsh) {
        buf[flagsAt] = buf[flagsAt]! | TCP_FLAG_PSH;
        this.itemFlags[it] = this.itemFlags[it]! | ITEM_PSH;
      }
    } else {
      if (!this.l4ChecksumValid(off, len, iphLen, IPPROTO_TCP, isV6)) return MERGE_PKT_INVALID;
      // Shift the head's payload to make room, then the new packet (headers
      // included, so its seq and IPv4 ID lead) becomes the head.
      buf.copyWithin(head + len, head + hdrsLen, head + headLen);
      buf.copyWithin(head, off, off + len);
      // The run's PSH (if any) came with the old head and must survive.
      if ((this.itemFlags[it]! & ITEM_PSH) !== 0) buf[flagsAt] = buf[flagsAt]! | TCP_FLAG_PSH;
      this.itemSeq[it] = seq;
      if (payload > this.itemGsoSize[it]!) this.itemGsoSize[it] = payload;
    }
    this.lens[slot] = newLen;
    this.itemMerged[it] = this.itemMerged[it]! + 1;
    return MERGE_OK;
  }

  private udpGro(i: number, off: number, len: number, isV6: boolean): number {
    const buf = this.buf;
    const iphLen = isV6 ? IPV6_HEADER_LEN : IPV4_HEADER_MIN_LEN;
    const u = off + iphLen;
    const payload = len - iphLen - UDP_HEADER_LEN;
    const hash = this.flowHash(off, iphLen, isV6, false);
    const bucket = this.findFlow(hash, off, iphLen, isV6, false);
    // A UDP packet that cannot merge still becomes the flow's newest item
    // (a barrier), so no later datagram is ever merged ahead of it.
    let isBarrier = false;
    if (!this.ipHeaderUsable(off, len, isV6) || readU16(buf, u + UDP_LEN_OFFSET) !== len - iphLen || payload < 1) {
      isBarrier = true;
    } else if (!isV6 && readU16(buf, u + UDP_CSUM_OFFSET) === 0) {
      this.counters.rejected["zero-checksum"]++;
      isBarrier = true;
    } else {
      // Only the newest item is a candidate: UDP GRO must not reorder.
      const it = this.flowTable[bucket]!;
      if (it >= 0 && (this.itemFlags[it]! & ITEM_DEAD) === 0) {
        const r = this.mergeUdp(it, off, len, iphLen, payload, isV6);
        if (r === MERGE_OK) return GRO_MERGED;
        if (r === MERGE_ITEM_INVALID) {
          this.itemFlags[it] = this.itemFlags[it]! | ITEM_DEAD;
          this.counters.rejected["checksum-invalid"]++;
        } else if (r === MERGE_PKT_INVALID) {
          this.counters.rejected["checksum-invalid"]++;
          isBarrier = true;
        }
      }
    }
    const flagBits = (isV6 ? ITEM_V6 : 0) | (isBarrier ? ITEM_DEAD : 0);
    return this.insertItem(bucket, hash, i, UDP_HEADER_LEN, 0, payload, flagBits);
  }

  private mergeUdp(it: number, off: number, len: number, iphLen: number, payload: number, isV6: boolean): number {
    const slot = this.itemSlot[it]!;
    const head = this.offs[slot]!;
    const headLen = this.lens[slot]!;
    if (!this.ipHeadersCompatible(head, off, isV6)) return MERGE_UNAVAILABLE;
    const gsoSize = this.itemGsoSize[it]!;
    if ((headLen - iphLen - UDP_HEADER_LEN) % gsoSize !== 0) return MERGE_UNAVAILABLE;
    if (payload > gsoSize) return MERGE_UNAVAILABLE;
    if (this.itemMerged[it]! + 1 >= UDP_GRO_MAX_SEGMENTS) {
      this.counters.rejected["segment-limit"]++;
      return MERGE_UNAVAILABLE;
    }
    const newLen = headLen + payload;
    if (newLen > this.room) {
      this.counters.rejected["no-room"]++;
      return MERGE_NO_ROOM;
    }
    if (!this.verifyItem(it, head, headLen, iphLen, IPPROTO_UDP, isV6)) return MERGE_ITEM_INVALID;
    if (!this.appendVerified(head + headLen, off, len, iphLen, iphLen + UDP_HEADER_LEN, IPPROTO_UDP, isV6)) return MERGE_PKT_INVALID;
    this.lens[slot] = newLen;
    this.itemMerged[it] = this.itemMerged[it]! + 1;
    return MERGE_OK;
  }

  /** verifyItem checks the head's L4 checksum once, before its first merge. */
  private verifyItem(it: number, head: number, headLen: number, iphLen: number, proto: number, isV6: boolean): boolean {
    const f = this.itemFlags[it]!;
    if ((f & ITEM_CSUM_OK) !== 0) return true;
    if (!this.l4ChecksumValid(head, headLen, iphLen, proto, isV6)) return false;
    this.itemFlags[it] = f | ITEM_CSUM_OK;
    return true;
  }

  /**
   * appendVerified copies the payload of the packet at off (after hdrsLen
   * bytes of headers) to `to`, the end of a head, summing it on the way, and
   * tells whether the packet's L4 checksum verifies. A packet that fails
   * leaves only bytes past the head's length behind, which nothing reads:
   * the head's length grows only on success.
   */
  private appendVerified(to: number, off: number, len: number, iphLen: number, hdrsLen: number, proto: number, isV6: boolean): boolean {
    const addrOff = isV6 ? IPV6_SRC_ADDR_OFFSET : IPV4_SRC_ADDR_OFFSET;
    const buf = this.buf;
    let sum = pseudoHeaderChecksumNoFold(buf, off + addrOff, isV6 ? 16 : 4, proto, len - iphLen);
    sum = checksumNoFold(buf, off + iphLen, hdrsLen - iphLen, sum);
    // Header lengths are even, so the payload's sum is in the segment's framing.
    return foldChecksum(copyAndChecksumNoFold(buf, to, off + hdrsLen, len - hdrsLen, sum)) === 0xffff;
  }

  private l4ChecksumValid(off: number, len: number, iphLen: number, proto: number, isV6: boolean): boolean {
    const addrOff = isV6 ? IPV6_SRC_ADDR_OFFSET : IPV4_SRC_ADDR_OFFSET;
    const addrLen = isV6 ? 16 : 4;
    const l4Len = len - iphLen;
    const sum = pseudoHeaderChecksumNoFold(this.buf, off + addrOff, addrLen, proto, l4Len);
    return foldChecksum(checksumNoFold(this.buf, off + iphLen, l4Len, sum)) === 0xffff;
  }

  /**
   * ipHeadersCompatible: IPv4 same ToS, DF/reserved bits and TTL; IPv6 same
   * traffic class and hop limit (the flow label is not compared, as in
   * wireguard-go). IPv4 ID continuity is not required.
   */
  private ipHeadersCompatible(a: number, b: number, isV6: boolean): boolean {
    const buf = this.buf;
    if (isV6) {
      return (
        buf[a] === buf[b] && buf[a + 1]! >>> 4 === buf[b + 1]! >>> 4 && buf[a + IPV6_HOP_LIMIT_OFFSET] === buf[b + IPV6_HOP_LIMIT_OFFSET]
      );
    }
    return (
      buf[a + 1] === buf[b + 1] &&
      buf[a + IPV4_FLAGS_OFFSET]! >>> 5 === buf[b + IPV4_FLAGS_OFFSET]! >>> 5 &&
      buf[a + IPV4_TTL_OFFSET] === buf[b + IPV4_TTL_OFFSET]
    );
  }

  /** flowHash mixes addresses, ports and (TCP) the ACK number; different ACKs are different flows. */
  private flowHash(off: number, iphLen: number, isV6: boolean, isTcp: boolean): number {
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
  private findFlow(hash: number, off: number, iphLen: number, isV6: boolean, isTcp: boolean): number {
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

  private insertItem(bucket: number, hash: number, slot: number, l4hLen: number, seq: number, payload: number, flags: number): number {
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

  /** finishItems turns every item that absorbed packets into a GSO super-packet. */
  private finishItems(): void {
    const buf = this.buf;
    const hdr = this.hdr;
    for (let it = 0; it < this.itemCount; it++) {
      const merged = this.itemMerged[it]!;
      if (merged === 0) continue;
      const slot = this.itemSlot[it]!;
      const head = this.offs[slot]!;
      const len = this.lens[slot]!;
      const flags = this.itemFlags[it]!;
      const isV6 = (flags & ITEM_V6) !== 0;
      const isTcp = (flags & ITEM_TCP) !== 0;
      const iphLen = isV6 ? IPV6_HEADER_LEN : IPV4_HEADER_MIN_LEN;
      if (isV6) {
        writeU16(buf, head + IPV6_PAYLOAD_LEN_OFFSET, len - IPV6_HEADER_LEN);
      } else {
        writeU16(buf, head + IPV4_TOTAL_LEN_OFFSET, len);
        buf[head + IPV4_CSUM_OFFSET] = 0;
        buf[head + IPV4_CSUM_OFFSET + 1] = 0;
        writeU16(buf, head + IPV4_CSUM_OFFSET, checksum(buf, head, iphLen, 0));
      }
      if (!isTcp) writeU16(buf, head + iphLen + UDP_LEN_OFFSET, len - iphLen);
      const csumOffset = isTcp ? TCP_CSUM_OFFSET : UDP_CSUM_OFFSET;
      const proto = isTcp ? IPPROTO_TCP : IPPROTO_UDP;
      const addrOff = isV6 ? IPV6_SRC_ADDR_OFFSET : IPV4_SRC_ADDR_OFFSET;
      // NEEDS_CSUM: the field carries the folded, non-complemented
      // pseudo-header sum for the full L4 length; the kernel finishes it.
      const seed = foldChecksum(pseudoHeaderChecksumNoFold(buf, head + addrOff, isV6 ? 16 : 4, proto, len - iphLen));
      writeU16(buf, head + iphLen + csumOffset, seed);
      hdr.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
      hdr.gsoType = isTcp ? (isV6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4) : VIRTIO_NET_HDR_GSO_UDP_L4;
      hdr.hdrLen = iphLen + this.itemL4hLen[it]!;
      hdr.gsoSize = this.itemGsoSize[it]!;
      hdr.csumStart = iphLen;
      hdr.csumOffset = csumOffset;
      encodeVnetHeader(buf, head - VNET_HDR_LEN, hdr);
      this.counters.superPacketsOut++;
      this.counters.segmentsCoalesced += merged;
    }
  }
}
