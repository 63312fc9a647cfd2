// UDP GRO rules (wireguard-go udpGRO, the kernel's udp_gro_receive for
// USO): datagrams of one flow (same addresses and ports) merge only onto the
// flow's newest item, and only at its end, because UDP has no sequence
// numbers to put reordered datagrams back. Any datagram that cannot merge
// becomes the flow's newest item anyway, a barrier that nothing later
// merges ahead of. Equal-sized datagrams with at most one shorter last,
// up to UDP_GRO_MAX_SEGMENTS per super-packet.

import { appendVerified, ipHeadersCompatible, ipHeaderUsable, verifyItem } from "./coalesce-checks.ts";
import {
  GRO_MERGED,
  ITEM_DEAD,
  ITEM_V6,
  type ItemTable,
  MERGE_ITEM_INVALID,
  MERGE_NO_ROOM,
  MERGE_OK,
  MERGE_PKT_INVALID,
  MERGE_UNAVAILABLE,
} from "./coalesce-items.ts";
import { IPPROTO_UDP, IPV4_HEADER_MIN_LEN, IPV6_HEADER_LEN, UDP_CSUM_OFFSET, UDP_HEADER_LEN, UDP_LEN_OFFSET, readU16 } from "./ip.ts";

/**
 * UDP_GRO_MAX_SEGMENTS caps USO writes: kernels with UDP_MAX_SEGMENTS 64 and
 * the fc8b2a619469 check reject more with EINVAL (dossier 1.5 item 5).
 */
export const UDP_GRO_MAX_SEGMENTS = 64;

/** udpGro merges UDP packet i (at off, len bytes) into its flow's newest item, or records it as the newest. */
export function udpGro(t: ItemTable, i: number, off: number, len: number, isV6: boolean): number {
  const buf = t.buf;
  const iphLen = isV6 ? IPV6_HEADER_LEN : IPV4_HEADER_MIN_LEN;
  const u = off + iphLen;
  const payload = len - iphLen - UDP_HEADER_LEN;
  const hash = t.flowHash(off, iphLen, isV6, false);
  const bucket = t.findFlow(hash, off, iphLen, isV6, false);
  // A UDP packet that cannot merge still becomes the flow's newest item
  // (a barrier), so no later datagram is ever merged ahead of it.
  let isBarrier = false;
  if (!ipHeaderUsable(t, off, len, isV6) || readU16(buf, u + UDP_LEN_OFFSET) !== len - iphLen || payload < 1) {
    isBarrier = true;
  } else if (!isV6 && readU16(buf, u + UDP_CSUM_OFFSET) === 0) {
    t.counters.rejected["zero-checksum"]++;
    isBarrier = true;
  } else {
    // Only the newest item is a candidate: UDP GRO must not reorder.
    const it = t.flowTable[bucket]!;
    if (it >= 0 && (t.itemFlags[it]! & ITEM_DEAD) === 0) {
      const r = mergeUdp(t, it, off, len, iphLen, payload, isV6);
      if (r === MERGE_OK) return GRO_MERGED;
      if (r === MERGE_ITEM_INVALID) {
        t.itemFlags[it] = t.itemFlags[it]! | ITEM_DEAD;
        t.counters.rejected["checksum-invalid"]++;
      } else if (r === MERGE_PKT_INVALID) {
        t.counters.rejected["checksum-invalid"]++;
        isBarrier = true;
      }
    }
  }
  const flagBits = (isV6 ? ITEM_V6 : 0) | (isBarrier ? ITEM_DEAD : 0);
  return t.insertItem(bucket, hash, i, UDP_HEADER_LEN, 0, payload, flagBits);
}

function mergeUdp(t: ItemTable, it: number, off: number, len: number, iphLen: number, payload: number, isV6: boolean): number {
  const slot = t.itemSlot[it]!;
  const head = t.offs[slot]!;
  const headLen = t.lens[slot]!;
  if (!ipHeadersCompatible(t, head, off, isV6)) return MERGE_UNAVAILABLE;
  const gsoSize = t.itemGsoSize[it]!;
  if ((headLen - iphLen - UDP_HEADER_LEN) % gsoSize !== 0) return MERGE_UNAVAILABLE;
  if (payload > gsoSize) return MERGE_UNAVAILABLE;
  if (t.itemMerged[it]! + 1 >= UDP_GRO_MAX_SEGMENTS) {
    t.counters.rejected["segment-limit"]++;
    return MERGE_UNAVAILABLE;
  }
  const newLen = headLen + payload;
  if (newLen > t.room) {
    t.counters.rejected["no-room"]++;
    return MERGE_NO_ROOM;
  }
  if (!verifyItem(t, it, head, headLen, iphLen, IPPROTO_UDP, isV6)) return MERGE_ITEM_INVALID;
  if (!appendVerified(t, head + headLen, off, len, iphLen, iphLen + UDP_HEADER_LEN, IPPROTO_UDP, isV6)) return MERGE_PKT_INVALID;
  t.lens[slot] = newLen;
  t.itemMerged[it] = t.itemMerged[it]! + 1;
  return MERGE_OK;
}
