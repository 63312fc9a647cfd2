// struct virtio_net_hdr (include/uapi/linux/virtio_net.h): the 10-byte header
// that precedes every packet read from or written to a TUN opened with
// IFF_VNET_HDR. Fields are little-endian on every host we support (dossier 1.6).

export const VNET_HDR_LEN = 10;

export const VIRTIO_NET_HDR_F_NEEDS_CSUM = 1;
export const VIRTIO_NET_HDR_F_DATA_VALID = 2;

export const VIRTIO_NET_HDR_GSO_NONE = 0;
export const VIRTIO_NET_HDR_GSO_TCPV4 = 1;
/** Legacy UFO: removed from the kernel, never produced on reads; we do not split it. */
export const VIRTIO_NET_HDR_GSO_UDP = 3;
export const VIRTIO_NET_HDR_GSO_TCPV6 = 4;
/** USO: UDP segmentation for both IPv4 and IPv6 (Linux >= 6.2 on TUN). */
export const VIRTIO_NET_HDR_GSO_UDP_L4 = 5;
/** OR-ed into gso_type when the super-packet carries CWR (needs TUN_F_TSO_ECN). */
export const VIRTIO_NET_HDR_GSO_ECN = 0x80;

/** VnetHeader is a mutable, reusable decoded virtio_net_hdr. */
export interface VnetHeader {
  flags: number;
  gsoType: number;
  /** Kernel hint only on reads (skb_headlen); never trusted, see split.ts. */
  hdrLen: number;
  gsoSize: number;
  csumStart: number;
  csumOffset: number;
}

/** createVnetHeader returns an all-zero header object for reuse with decodeVnetHeader. */
export function createVnetHeader(): VnetHeader {
  return { flags: 0, gsoType: 0, hdrLen: 0, gsoSize: 0, csumStart: 0, csumOffset: 0 };
}

/**
 * decodeVnetHeader reads buf[off, off+10) into out and returns out, or
 * "truncated" when fewer than 10 bytes are available. Allocation-free.
 */
export function decodeVnetHeader(buf: Uint8Array, off: number, out: VnetHeader): VnetHeader | "truncated" {
  if (off < 0 || off + VNET_HDR_LEN > buf.length) return "truncated";
  out.flags = buf[off]!;
  out.gsoType = buf[off + 1]!;
  out.hdrLen = buf[off + 2]! | (buf[off + 3]! << 8);
  out.gsoSize = buf[off + 4]! | (buf[off + 5]! << 8);
  out.csumStart = buf[off + 6]! | (buf[off + 7]! << 8);
  out.csumOffset = buf[off + 8]! | (buf[off + 9]! << 8);
  return out;
}

/**
 * encodeVnetHeader writes hdr at buf[off, off+10) and returns VNET_HDR_LEN.
 * Caller guarantees off+10 <= buf.length. Field values are truncated to their width.
 */
export function encodeVnetHeader(buf: Uint8Array, off: number, hdr: VnetHeader): number {
  buf[off] = hdr.flags;
  buf[off + 1] = hdr.gsoType;
  buf[off + 2] = hdr.hdrLen;
  buf[off + 3] = hdr.hdrLen >>> 8;
  buf[off + 4] = hdr.gsoSize;
  buf[off + 5] = hdr.gsoSize >>> 8;
  buf[off + 6] = hdr.csumStart;
  buf[off + 7] = hdr.csumStart >>> 8;
  buf[off + 8] = hdr.csumOffset;
  buf[off + 9] = hdr.csumOffset >>> 8;
  return VNET_HDR_LEN;
}

/** writeZeroVnetHeader writes the all-zero header (no GSO, checksum complete) at buf[off, off+10). */
export function writeZeroVnetHeader(buf: Uint8Array, off: number): void {
  for (let i = 0; i < VNET_HDR_LEN; i++) buf[off + i] = 0;
}
