// TUN read side: turn one read (virtio_net_hdr + packet) into MTU-sized
// IP packets with complete checksums, ready for encryption. Dossier 3.1,
// after wireguard-go tun/offload_linux.go gsoSplit and tun_linux.go
// handleVirtioRead. The source is never modified; every segment is built in
// its output slot and its IP and L4 checksums are computed there.

import type { PacketBatch } from "./batch.ts";
import { copyBytes } from "./copy-bytes.ts";
import { checksumNoFold, copyAndChecksumNoFold, foldChecksum } from "./checksum.ts";
import {
  IPPROTO_TCP,
  IPPROTO_UDP,
  IPV4_CSUM_OFFSET,
  IPV4_FLAGS_OFFSET,
  IPV4_FRAGMENT_MASK,
  IPV4_HEADER_MIN_LEN,
  IPV4_ID_OFFSET,
  IPV4_PROTO_OFFSET,
  IPV4_SRC_ADDR_OFFSET,
  IPV4_TOTAL_LEN_OFFSET,
  IPV6_HEADER_LEN,
  IPV6_NEXT_HEADER_OFFSET,
  IPV6_PAYLOAD_LEN_OFFSET,
  IPV6_SRC_ADDR_OFFSET,
  TCP_CSUM_OFFSET,
  TCP_DOFF_OFFSET,
  TCP_FLAGS_OFFSET,
  TCP_FLAG_CWR,
  TCP_FLAG_FIN,
  TCP_FLAG_PSH,
  TCP_HEADER_MIN_LEN,
  TCP_SEQ_OFFSET,
  UDP_CSUM_OFFSET,
  UDP_HEADER_LEN,
  UDP_LEN_OFFSET,
  readU16,
  readU32,
  writeU16,
  writeU32,
} from "./ip.ts";
import {
  VIRTIO_NET_HDR_F_NEEDS_CSUM,
  VIRTIO_NET_HDR_GSO_ECN,
  VIRTIO_NET_HDR_GSO_NONE,
  VIRTIO_NET_HDR_GSO_TCPV4,
  VIRTIO_NET_HDR_GSO_TCPV6,
  VIRTIO_NET_HDR_GSO_UDP_L4,
  VNET_HDR_LEN,
  createVnetHeader,
  decodeVnetHeader,
} from "./vnet-header.ts";

/** SplitError says why a TUN read was dropped instead of split. */
export type SplitError =
  | "truncated"
  | "bad-ip-version"
  | "unsupported-gso-type"
  | "ecn-not-enabled"
  | "bad-gso-size"
  | "bad-csum-start"
  | "bad-csum-offset"
  | "protocol-mismatch"
  | "bad-tcp-header"
  | "length-mismatch"
  | "ip-fragment"
  | "empty-payload"
  | "too-many-segments"
  | "slot-too-small";

/** SplitOptions mirrors what TUNSETOFFLOAD negotiated. */
export interface SplitOptions {
  /** TUN_F_TSO_ECN was enabled: accept GSO_ECN and clear CWR after the first segment. */
  tsoEcn: boolean;
}

export const DEFAULT_SPLIT_OPTIONS: Readonly<SplitOptions> = { tsoEcn: false };

// Scratch header: split is synchronous and single-threaded per worker.
const hdr = createVnetHeader();

/**
 * splitSuperPacket parses the virtio_net_hdr at src[off] and the IP packet
 * after it (len counts both), and writes the resulting IP packets into
 * out slots 0..n-1 (out.lens set, out.count = n). GSO packets are segmented
 * into gso_size payloads with per-segment IP lengths, IPv4 ID, TCP sequence
 * numbers and flags, UDP length and full checksums; GSO_NONE packets are
 * copied to slot 0 with a NEEDS_CSUM checksum completed. Returns n, or a
 * SplitError (out.count = 0) for anything malformed. Never throws; never
 * writes outside [offs[i], offs[i]+stride) of the slots it fills.
 */
export function splitSuperPacket(
  src: Uint8Array,
  off: number,
  len: number,
  out: PacketBatch,
  opts: Readonly<SplitOptions> = DEFAULT_SPLIT_OPTIONS,
): number | SplitError {
  out.count = 0;
  if (off < 0 || len < VNET_HDR_LEN + 1 || off + len > src.length) return "truncated";
  decodeVnetHeader(src, off, hdr);
  const pkt = off + VNET_HDR_LEN;
  const pktLen = len - VNET_HDR_LEN;
  const version = src[pkt]! >>> 4;

  const hasEcn = (hdr.gsoType & VIRTIO_NET_HDR_GSO_ECN) !== 0;
  const gsoType = hdr.gsoType & ~VIRTIO_NET_HDR_GSO_ECN;
  let isTcp: boolean;
  let isV6: boolean;
  switch (gsoType) {
    case VIRTIO_NET_HDR_GSO_NONE:
      if (hasEcn) return "unsupported-gso-type";
      return copyNonGso(src, pkt, pktLen, version, out);
    case VIRTIO_NET_HDR_GSO_TCPV4:
      isTcp = true;
      isV6 = false;
      break;
    case VIRTIO_NET_HDR_GSO_TCPV6:
      isTcp = true;
      isV6 = true;
      break;
    case VIRTIO_NET_HDR_GSO_UDP_L4:
      // The kernel rejects UDP_L4|ECN on write; it never produces it on read.
      if (hasEcn) return "unsupported-gso-type";
      isTcp = false;
      isV6 = version === 6;
      break;
    default:
      return "unsupported-gso-type";
  }
  // Without TUN_F_TSO_ECN the stack segments CWR bursts itself; an ECN
  // super-packet here means the negotiated features and the kernel disagree.
  if (hasEcn && !opts.tsoEcn) return "ecn-not-enabled";
  if (version !== (isV6 ? 6 : 4)) return "bad-ip-version";
  const gsoSize = hdr.gsoSize;
  if (gsoSize === 0) return "bad-gso-size";

  const proto = isTcp ? IPPROTO_TCP : IPPROTO_UDP;
  const iphLen = hdr.csumStart;
  if (isV6) {
    if (pktLen < IPV6_HEADER_LEN) return "truncated";
    if (iphLen < IPV6_HEADER_LEN) return "bad-csum-start";
    // With extension headers (iphLen > 40) they are copied verbatim; we can
    // only check the next header when L4 follows the fixed header directly.
    if (iphLen === IPV6_HEADER_LEN && src[pkt + IPV6_NEXT_HEADER_OFFSET] !== proto) return "protocol-mismatch";
    if (readU16(src, pkt + IPV6_PAYLOAD_LEN_OFFSET) !== pktLen - IPV6_HEADER_LEN) return "length-mismatch";
  } else {
    if (pktLen < IPV4_HEADER_MIN_LEN) return "truncated";
    const ihl = (src[pkt]! & 0x0f) * 4;
    if (ihl < IPV4_HEADER_MIN_LEN || ihl !== iphLen) return "bad-csum-start";
    if (src[pkt + IPV4_PROTO_OFFSET] !== proto) return "protocol-mismatch";
    if (readU16(src, pkt + IPV4_TOTAL_LEN_OFFSET) !== pktLen) return "length-mismatch";
    if ((readU16(src, pkt + IPV4_FLAGS_OFFSET) & IPV4_FRAGMENT_MASK) !== 0) return "ip-fragment";
  }
  const csumOffset = isTcp ? TCP_CSUM_OFFSET : UDP_CSUM_OFFSET;
  if (hdr.csumOffset !== csumOffset) return "bad-csum-offset";

  // Don't trust hdr.hdrLen from the kernel: it is skb_headlen(), which for
  // forwarded (NIC-GRO'd) traffic can span a whole segment. Recompute it.
  let hdrLen: number;
  if (isTcp) {
    if (iphLen + TCP_HEADER_MIN_LEN > pktLen) return "truncated";
    const doff = (src[pkt + iphLen + TCP_DOFF_OFFSET]! >>> 4) * 4;
    if (doff < TCP_HEADER_MIN_LEN) return "bad-tcp-header";
    hdrLen = iphLen + doff;
  } else {
    hdrLen = iphLen + UDP_HEADER_LEN;
  }
  if (hdrLen > pktLen) return "truncated";
  const payloadLen = pktLen - hdrLen;
  if (payloadLen === 0) return "empty-payload";
  const segments = Math.ceil(payloadLen / gsoSize);
  if (segments > out.capacity) return "too-many-segments";
  if (hdrLen + Math.min(gsoSize, payloadLen) > out.stride) return "slot-too-small";

  const addrOff = isV6 ? IPV6_SRC_ADDR_OFFSET : IPV4_SRC_ADDR_OFFSET;
  const addrLen = isV6 ? 16 : 4;
  const firstSeq = isTcp ? readU32(src, pkt + iphLen + TCP_SEQ_OFFSET) : 0;
  const firstId = isV6 ? 0 : readU16(src, pkt + IPV4_ID_OFFSET);
  const l4CsumAt = iphLen + csumOffset;
  const flagsAt = iphLen + TCP_FLAGS_OFFSET;
  const b = out.buf;
  // Incremental checksums (RFC 1624): the headers are the same in every
  // segment except a few 16-bit fields, so each header is summed once here
  // with those fields taken out (in one's-complement arithmetic, -w is
  // 0xffff - w), and per segment only the new field values and the
  // segment's payload are added. Same residue mod 0xffff as a full sum, and
  // fold16 of a positive sum has one representative, so the result is
  // bit-identical to summing each segment whole (test/offload/split.test.ts
  // checks it against the reference).
  //   L4: pseudo-header addresses + source L4 header without its checksum
  //   field (the kernel's pseudo-header seed) and, for TCP, without the
  //   sequence number and the doff/flags word; for UDP without the length.
  const l4Hdr = pkt + iphLen;
  let l4Fixed =
    checksumNoFold(src, pkt + addrOff, addrLen * 2, proto) + checksumNoFold(src, l4Hdr, hdrLen - iphLen, 0) + (0xffff - readU16(src, l4Hdr + csumOffset));
  if (isTcp) {
    l4Fixed += 0xffff - (firstSeq >>> 16) + (0xffff - (firstSeq & 0xffff)) + (0xffff - readU16(src, l4Hdr + TCP_DOFF_OFFSET));
  } else {
    l4Fixed += 0xffff - readU16(src, l4Hdr + UDP_LEN_OFFSET);
  }
  //   IPv4 header: without its checksum, total length and ID.
  const ipFixed = isV6
    ? 0
    : checksumNoFold(src, pkt, iphLen, 0) +
      (0xffff - readU16(src, pkt + IPV4_CSUM_OFFSET)) +
      (0xffff - readU16(src, pkt + IPV4_TOTAL_LEN_OFFSET)) +
      (0xffff - firstId);

  for (let i = 0; i < segments; i++) {
    const dataAt = hdrLen + i * gsoSize;
    const segPayload = Math.min(gsoSize, pktLen - dataAt);
    const segLen = hdrLen + segPayload;
    const d = out.offs[i]!;
    copyBytes(b, d, src, pkt, hdrLen);
    // The payload is copied and summed in one pass when it stays in one buffer
    // (the data plane reads into its TX slab); its sum is in its own framing.
    let payloadSum: number;
    if (src === b) {
      payloadSum = copyAndChecksumNoFold(b, d + hdrLen, pkt + dataAt, segPayload, 0);
    } else {
      copyBytes(b, d + hdrLen, src, pkt + dataAt, segPayload);
      payloadSum = checksumNoFold(b, d + hdrLen, segPayload, 0);
    }

    if (isV6) {
      writeU16(b, d + IPV6_PAYLOAD_LEN_OFFSET, segLen - IPV6_HEADER_LEN);
    } else {
      writeU16(b, d + IPV4_TOTAL_LEN_OFFSET, segLen);
      // TUN has no TSO_MANGLEID: IDs are "first, +1 per segment" (dossier 1.4).
      const id = (firstId + i) & 0xffff;
      if (i > 0) writeU16(b, d + IPV4_ID_OFFSET, id);
      writeU16(b, d + IPV4_CSUM_OFFSET, ~foldChecksum(ipFixed + segLen + id) & 0xffff);
    }

    const l4Len = segLen - iphLen;
    // Pseudo-header length + this segment's payload.
    let sum = l4Fixed + l4Len + payloadSum;
    if (isTcp) {
      const seq = (firstSeq + i * gsoSize) >>> 0;
      writeU32(b, d + iphLen + TCP_SEQ_OFFSET, seq);
      // tcp_gso_segment: FIN and PSH belong to the last segment only, CWR
      // to the first only.
      if (i < segments - 1) b[d + flagsAt] = b[d + flagsAt]! & ~(TCP_FLAG_FIN | TCP_FLAG_PSH);
      if (hasEcn && i > 0) b[d + flagsAt] = b[d + flagsAt]! & ~TCP_FLAG_CWR;
      sum += (seq >>> 16) + (seq & 0xffff) + readU16(b, d + iphLen + TCP_DOFF_OFFSET);
    } else {
      writeU16(b, d + iphLen + UDP_LEN_OFFSET, l4Len);
      sum += l4Len;
    }
    writeU16(b, d + l4CsumAt, finalL4Checksum(sum));
    out.lens[i] = segLen;
  }
  out.count = segments;
  return segments;
}

/**
 * finalL4Checksum complements a folded sum; 0 becomes 0xFFFF as in the
 * kernel's skb_checksum_help (CSUM_MANGLED_0): for UDP 0 means "no
 * checksum" (and is invalid over IPv6); for TCP both encodings verify.
 */
function finalL4Checksum(sum: number): number {
  const c = ~foldChecksum(sum) & 0xffff;
  return c === 0 ? 0xffff : c;
}

/** copyNonGso handles GSO_NONE: one packet to slot 0, finishing a partial checksum. */
function copyNonGso(src: Uint8Array, pkt: number, pktLen: number, version: number, out: PacketBatch): number | SplitError {
  if (version !== 4 && version !== 6) return "bad-ip-version";
  if (pktLen < (version === 4 ? IPV4_HEADER_MIN_LEN : IPV6_HEADER_LEN)) return "truncated";
  if (out.capacity < 1) return "too-many-segments";
  if (pktLen > out.stride) return "slot-too-small";
  let csumAt = -1;
  if ((hdr.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) !== 0) {
    const minStart = version === 4 ? IPV4_HEADER_MIN_LEN : IPV6_HEADER_LEN;
    if (hdr.csumStart < minStart) return "bad-csum-start";
    csumAt = hdr.csumStart + hdr.csumOffset;
    if ((hdr.csumOffset & 1) !== 0 || csumAt + 2 > pktLen) return "bad-csum-offset";
  }
  const b = out.buf;
  const d = out.offs[0]!;
  copyBytes(b, d, src, pkt, pktLen);
  if (csumAt >= 0) {
    // The field holds the folded pseudo-header sum (dossier 1.4): it is the
    // seed, then the field is zeroed and the rest summed (pure ACKs included).
    const seed = readU16(b, d + csumAt);
    b[d + csumAt] = 0;
    b[d + csumAt + 1] = 0;
    const sum = checksumNoFold(b, d + hdr.csumStart, pktLen - hdr.csumStart, seed);
    writeU16(b, d + csumAt, finalL4Checksum(sum));
  }
  out.lens[0] = pktLen;
  out.count = 1;
  return 1;
}
