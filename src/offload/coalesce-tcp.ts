// TCP GRO rules (wireguard-go tcpGRO, the kernel's tcp_gro_receive): a
// segment joins an item of its flow (same addresses, ports and ACK number)
// when it continues the run's sequence space at either end, carries the same
// header length and options, and only ACK or ACK|PSH. Segments may arrive
// out of order within a batch, so every live item of the flow is tried,
// newest first; a segment that fits none becomes a new item.

import { appendVerified, ipHeadersCompatible, ipHeaderUsable, l4ChecksumValid, verifyItem } from "./coalesce-checks.ts";
import {
  GRO_MERGED,
  GRO_NOOP,
  ITEM_DEAD,
  ITEM_PSH,
  ITEM_TCP,
  ITEM_V6,
  type ItemTable,
  MERGE_ITEM_INVALID,
  MERGE_NO_ROOM,
  MERGE_OK,
  MERGE_PKT_INVALID,
} from "./coalesce-items.ts";
import {
  IPPROTO_TCP,
  IPV4_HEADER_MIN_LEN,
  IPV6_HEADER_LEN,
  TCP_DOFF_OFFSET,
  TCP_FLAGS_OFFSET,
  TCP_FLAG_ACK,
  TCP_FLAG_PSH,
  TCP_HEADER_MIN_LEN,
  TCP_SEQ_OFFSET,
  bytesEqual,
  readU32,
} from "./ip.ts";

const CAN_NONE = 0;
const CAN_APPEND = 1;
const CAN_PREPEND = 2;

/** tcpGro merges TCP packet i (at off, len bytes) into an item of its flow, or records it as one. */
export function tcpGro(t: ItemTable, i: number, off: number, len: number, isV6: boolean): number {
  const buf = t.buf;
  const iphLen = isV6 ? IPV6_HEADER_LEN : IPV4_HEADER_MIN_LEN;
  if (!ipHeaderUsable(t, off, len, isV6)) return GRO_NOOP;
  const th = off + iphLen;
  const doffByte = buf[th + TCP_DOFF_OFFSET]!;
  const tcphLen = (doffByte >>> 4) * 4;
  // The low nibble holds reserved bits and AE (AccECN): must be clear.
  if (tcphLen < TCP_HEADER_MIN_LEN || len < iphLen + tcphLen || (doffByte & 0x0f) !== 0) return GRO_NOOP;
  const flags = buf[th + TCP_FLAGS_OFFSET]!;
  if (flags !== TCP_FLAG_ACK && flags !== (TCP_FLAG_ACK | TCP_FLAG_PSH)) return GRO_NOOP;
  const payload = len - iphLen - tcphLen;
  if (payload < 1) return GRO_NOOP;
  const isPsh = flags !== TCP_FLAG_ACK;
  const seq = readU32(buf, th + TCP_SEQ_OFFSET);

  const hash = t.flowHash(off, iphLen, isV6, true);
  const bucket = t.findFlow(hash, off, iphLen, isV6, true);
  // Newest first: in-order arrivals hit on the first try.
  for (let it = t.flowTable[bucket]!; it >= 0; it = t.itemPrev[it]!) {
    if ((t.itemFlags[it]! & ITEM_DEAD) !== 0) continue;
    const mode = tcpCanCoalesce(t, it, off, iphLen, tcphLen, seq, payload, isPsh, isV6);
    if (mode === CAN_NONE) continue;
    const r = mergeTcp(t, mode, it, off, len, iphLen, tcphLen, seq, payload, isPsh, isV6);
    if (r === MERGE_OK) return GRO_MERGED;
    if (r === MERGE_ITEM_INVALID) {
      t.itemFlags[it] = t.itemFlags[it]! | ITEM_DEAD;
      t.counters.rejected["checksum-invalid"]++;
    } else if (r === MERGE_PKT_INVALID) {
      // No point recording an item nothing may merge with.
      t.counters.rejected["checksum-invalid"]++;
      return GRO_NOOP;
    }
  }
  const flagBits = ITEM_TCP | (isV6 ? ITEM_V6 : 0) | (isPsh ? ITEM_PSH : 0);
  return t.insertItem(bucket, hash, i, tcphLen, seq, payload, flagBits);
}

function tcpCanCoalesce(
  t: ItemTable,
  it: number,
  off: number,
  iphLen: number,
  tcphLen: number,
  seq: number,
  payload: number,
  isPsh: boolean,
  isV6: boolean,
): number {
  const buf = t.buf;
  const slot = t.itemSlot[it]!;
  const head = t.offs[slot]!;
  if (t.itemL4hLen[it] !== tcphLen) return CAN_NONE;
  const optLen = tcphLen - TCP_HEADER_MIN_LEN;
  if (optLen > 0 && !bytesEqual(buf, off + iphLen + TCP_HEADER_MIN_LEN, buf, head + iphLen + TCP_HEADER_MIN_LEN, optLen)) {
    return CAN_NONE;
  }
  if (!ipHeadersCompatible(t, head, off, isV6)) return CAN_NONE;
  const gsoSize = t.itemGsoSize[it]!;
  const itemData = t.lens[slot]! - iphLen - tcphLen;
  const itemSeq = t.itemSeq[it]!;
  if (seq === (itemSeq + itemData) >>> 0) {
    // PSH ends a run; nothing follows a short tail; a larger segment
    // cannot follow a smaller one.
    if ((t.itemFlags[it]! & ITEM_PSH) !== 0) return CAN_NONE;
    if (itemData % gsoSize !== 0) return CAN_NONE;
    if (payload > gsoSize) return CAN_NONE;
    return CAN_APPEND;
  }
  if ((seq + payload) >>> 0 === itemSeq) {
    if (isPsh) return CAN_NONE;
    if (payload < gsoSize) return CAN_NONE;
    // A larger prepend would leave several short segments at the end.
    if (payload > gsoSize && t.itemMerged[it]! > 0) return CAN_NONE;
    return CAN_PREPEND;
  }
  return CAN_NONE;
}

function mergeTcp(
  t: ItemTable,
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
  const buf = t.buf;
  const slot = t.itemSlot[it]!;
  const head = t.offs[slot]!;
  const headLen = t.lens[slot]!;
  const hdrsLen = iphLen + tcphLen;
  const newLen = headLen + payload;
  if (newLen > t.room) {
    t.counters.rejected["no-room"]++;
    return MERGE_NO_ROOM;
  }
  if (!verifyItem(t, it, head, headLen, iphLen, IPPROTO_TCP, isV6)) return MERGE_ITEM_INVALID;
  const flagsAt = head + iphLen + TCP_FLAGS_OFFSET;
  if (mode === CAN_APPEND) {
    if (!appendVerified(t, head + headLen, off, len, iphLen, hdrsLen, IPPROTO_TCP, isV6)) return MERGE_PKT_INVALID;
    if (isPsh) {
      buf[flagsAt] = buf[flagsAt]! | TCP_FLAG_PSH;
      t.itemFlags[it] = t.itemFlags[it]! | ITEM_PSH;
    }
  } else {
    if (!l4ChecksumValid(t, off, len, iphLen, IPPROTO_TCP, isV6)) return MERGE_PKT_INVALID;
    // Shift the head's payload to make room, then the new packet (headers
    // included, so its seq and IPv4 ID lead) becomes the head.
    buf.copyWithin(head + len, head + hdrsLen, head + headLen);
    buf.copyWithin(head, off, off + len);
    // The run's PSH (if any) came with the old head and must survive.
    if ((t.itemFlags[it]! & ITEM_PSH) !== 0) buf[flagsAt] = buf[flagsAt]! | TCP_FLAG_PSH;
    t.itemSeq[it] = seq;
    if (payload > t.itemGsoSize[it]!) t.itemGsoSize[it] = payload;
  }
  t.lens[slot] = newLen;
  t.itemMerged[it] = t.itemMerged[it]! + 1;
  return MERGE_OK;
}
