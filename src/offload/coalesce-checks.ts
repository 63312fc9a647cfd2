// The checks both protocols make before bytes move: a packet's IP header is
// whole and unfragmented, two packets' IP headers agree where the kernel's
// GRO requires it, and L4 checksums verify. A super-packet goes out with
// NEEDS_CSUM and the kernel computes its checksum afresh, so a corrupt
// segment must be caught here or it would be laundered into a valid one.
// An appended payload is summed while it is copied into its head, so
// verifying it costs no extra pass over the bytes.

import { checksumNoFold, copyAndChecksumNoFold, foldChecksum, pseudoHeaderChecksumNoFold } from "./checksum.ts";
import { ITEM_CSUM_OK, type ItemTable } from "./coalesce-items.ts";
import {
  IPV4_FLAGS_OFFSET,
  IPV4_FRAGMENT_MASK,
  IPV4_HEADER_MIN_LEN,
  IPV4_SRC_ADDR_OFFSET,
  IPV4_TOTAL_LEN_OFFSET,
  IPV4_TTL_OFFSET,
  IPV6_HEADER_LEN,
  IPV6_HOP_LIMIT_OFFSET,
  IPV6_PAYLOAD_LEN_OFFSET,
  IPV6_SRC_ADDR_OFFSET,
  readU16,
} from "./ip.ts";

/** ipHeaderUsable checks lengths, fragments and (IPv4) the header checksum. */
export function ipHeaderUsable(t: ItemTable, off: number, len: number, isV6: boolean): boolean {
  const buf = t.buf;
  if (isV6) return readU16(buf, off + IPV6_PAYLOAD_LEN_OFFSET) === len - IPV6_HEADER_LEN;
  if (readU16(buf, off + IPV4_TOTAL_LEN_OFFSET) !== len) return false;
  if ((readU16(buf, off + IPV4_FLAGS_OFFSET) & IPV4_FRAGMENT_MASK) !== 0) return false;
  // We rewrite the header checksum of a merged head; verify first so a
  // corrupt header is never made to look valid.
  if (foldChecksum(checksumNoFold(buf, off, IPV4_HEADER_MIN_LEN, 0)) !== 0xffff) {
    t.counters.rejected["checksum-invalid"]++;
    return false;
  }
  return true;
}

/**
 * ipHeadersCompatible: IPv4 same ToS, DF/reserved bits and TTL; IPv6 same
 * traffic class and hop limit (the flow label is not compared, as in
 * wireguard-go). IPv4 ID continuity is not required.
 */
export function ipHeadersCompatible(t: ItemTable, a: number, b: number, isV6: boolean): boolean {
  const buf = t.buf;
  if (isV6) {
    return buf[a] === buf[b] && buf[a + 1]! >>> 4 === buf[b + 1]! >>> 4 && buf[a + IPV6_HOP_LIMIT_OFFSET] === buf[b + IPV6_HOP_LIMIT_OFFSET];
  }
  return (
    buf[a + 1] === buf[b + 1] &&
    buf[a + IPV4_FLAGS_OFFSET]! >>> 5 === buf[b + IPV4_FLAGS_OFFSET]! >>> 5 &&
    buf[a + IPV4_TTL_OFFSET] === buf[b + IPV4_TTL_OFFSET]
  );
}

/** verifyItem checks the head's L4 checksum once, before its first merge. */
export function verifyItem(t: ItemTable, it: number, head: number, headLen: number, iphLen: number, proto: number, isV6: boolean): boolean {
  const f = t.itemFlags[it]!;
  if ((f & ITEM_CSUM_OK) !== 0) return true;
  if (!l4ChecksumValid(t, head, headLen, iphLen, proto, isV6)) return false;
  t.itemFlags[it] = f | ITEM_CSUM_OK;
  return true;
}

/**
 * appendVerified copies the payload of the packet at off (after hdrsLen
 * bytes of headers) to `to`, the end of a head, summing it on the way, and
 * tells whether the packet's L4 checksum verifies. A packet that fails
 * leaves only bytes past the head's length behind, which nothing reads:
 * the head's length grows only on success.
 */
export function appendVerified(t: ItemTable, to: number, off: number, len: number, iphLen: number, hdrsLen: number, proto: number, isV6: boolean): boolean {
  const addrOff = isV6 ? IPV6_SRC_ADDR_OFFSET : IPV4_SRC_ADDR_OFFSET;
  const buf = t.buf;
  let sum = pseudoHeaderChecksumNoFold(buf, off + addrOff, isV6 ? 16 : 4, proto, len - iphLen);
  sum = checksumNoFold(buf, off + iphLen, hdrsLen - iphLen, sum);
  // Header lengths are even, so the payload's sum is in the segment's framing.
  return foldChecksum(copyAndChecksumNoFold(buf, to, off + hdrsLen, len - hdrsLen, sum)) === 0xffff;
}

/** l4ChecksumValid verifies the TCP or UDP checksum of the packet at off in place. */
export function l4ChecksumValid(t: ItemTable, off: number, len: number, iphLen: number, proto: number, isV6: boolean): boolean {
  const addrOff = isV6 ? IPV6_SRC_ADDR_OFFSET : IPV4_SRC_ADDR_OFFSET;
  const addrLen = isV6 ? 16 : 4;
  const l4Len = len - iphLen;
  const sum = pseudoHeaderChecksumNoFold(t.buf, off + addrOff, addrLen, proto, l4Len);
  return foldChecksum(checksumNoFold(t.buf, off + iphLen, l4Len, sum)) === 0xffff;
}
