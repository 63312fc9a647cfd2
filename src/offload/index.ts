// Public API of the offload layer: virtio_net_hdr codec, Internet checksum,
// packet batches, GSO split (TUN read side) and GRO coalesce (TUN write side).
// Pure packet code: no I/O, no FFI, no clock.

export {
  VNET_HDR_LEN,
  VIRTIO_NET_HDR_F_NEEDS_CSUM,
  VIRTIO_NET_HDR_F_DATA_VALID,
  VIRTIO_NET_HDR_GSO_NONE,
  VIRTIO_NET_HDR_GSO_TCPV4,
  VIRTIO_NET_HDR_GSO_UDP,
  VIRTIO_NET_HDR_GSO_TCPV6,
  VIRTIO_NET_HDR_GSO_UDP_L4,
  VIRTIO_NET_HDR_GSO_ECN,
  type VnetHeader,
  createVnetHeader,
  decodeVnetHeader,
  encodeVnetHeader,
  writeZeroVnetHeader,
} from "./vnet-header.ts";
export {
  allocateChecksummedBytes,
  checksum,
  checksumNoFold,
  copyAndChecksumNoFold,
  foldChecksum,
  pseudoHeaderChecksumNoFold,
} from "./checksum.ts";
export { type PacketBatch, createPacketBatch } from "./batch.ts";
export { IPV4_DST_ADDR_OFFSET, IPV4_HEADER_MIN_LEN, IPV6_DST_ADDR_OFFSET, IPV6_HEADER_LEN } from "./ip.ts";
export { copyBytes } from "./copy-bytes.ts";
export { type SplitError, type SplitOptions, DEFAULT_SPLIT_OPTIONS, splitSuperPacket } from "./split.ts";
export { type CoalesceError, type CoalesceOptions, Coalescer, DEFAULT_COALESCE_MAX_BATCH } from "./coalesce.ts";
export type { CoalesceCounters, CoalesceRejectReason } from "./coalesce-counters.ts";
export { UDP_GRO_MAX_SEGMENTS } from "./coalesce-udp.ts";
