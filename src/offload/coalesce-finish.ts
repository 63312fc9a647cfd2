// The last pass over a batch. While packets merge, a head's headers still
// describe a single segment; here every head that absorbed packets gets
// headers for the whole super-packet: IP (and UDP) lengths, a fresh IPv4
// header checksum, the pseudo-header seed in the L4 checksum field for the
// kernel to finish (NEEDS_CSUM), and a virtio_net_hdr in its headroom that
// asks for GSO at the run's segment size.

import { checksum, foldChecksum, pseudoHeaderChecksumNoFold } from "./checksum.ts";
import { ITEM_TCP, ITEM_V6, type ItemTable } from "./coalesce-items.ts";
import {
  IPPROTO_TCP,
  IPPROTO_UDP,
  IPV4_CSUM_OFFSET,
  IPV4_HEADER_MIN_LEN,
  IPV4_SRC_ADDR_OFFSET,
  IPV4_TOTAL_LEN_OFFSET,
  IPV6_HEADER_LEN,
  IPV6_PAYLOAD_LEN_OFFSET,
  IPV6_SRC_ADDR_OFFSET,
  TCP_CSUM_OFFSET,
  UDP_CSUM_OFFSET,
  UDP_LEN_OFFSET,
  writeU16,
} from "./ip.ts";
import {
  VIRTIO_NET_HDR_F_NEEDS_CSUM,
  VIRTIO_NET_HDR_GSO_TCPV4,
  VIRTIO_NET_HDR_GSO_TCPV6,
  VIRTIO_NET_HDR_GSO_UDP_L4,
  VNET_HDR_LEN,
  type VnetHeader,
  encodeVnetHeader,
} from "./vnet-header.ts";

/** finishItems turns every item that absorbed packets into a GSO super-packet; hdr is scratch. */
export function finishItems(t: ItemTable, hdr: VnetHeader): void {
  const buf = t.buf;
  for (let it = 0; it < t.itemCount; it++) {
    const merged = t.itemMerged[it]!;
    if (merged === 0) continue;
    const slot = t.itemSlot[it]!;
    const head = t.offs[slot]!;
    const len = t.lens[slot]!;
    const flags = t.itemFlags[it]!;
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
    hdr.hdrLen = iphLen + t.itemL4hLen[it]!;
    hdr.gsoSize = t.itemGsoSize[it]!;
    hdr.csumStart = iphLen;
    hdr.csumOffset = csumOffset;
    encodeVnetHeader(buf, head - VNET_HDR_LEN, hdr);
    t.counters.superPacketsOut++;
    t.counters.segmentsCoalesced += merged;
  }
}
