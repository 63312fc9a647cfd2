// IPv4/IPv6/TCP/UDP wire offsets and big-endian field helpers shared by split
// and coalesce. RFC 791, RFC 8200, RFC 9293, RFC 768.

export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;

export const IPV4_HEADER_MIN_LEN = 20;
export const IPV6_HEADER_LEN = 40;
export const IPV4_TOTAL_LEN_OFFSET = 2;
export const IPV4_ID_OFFSET = 4;
export const IPV4_FLAGS_OFFSET = 6;
export const IPV4_TTL_OFFSET = 8;
export const IPV4_PROTO_OFFSET = 9;
export const IPV4_CSUM_OFFSET = 10;
export const IPV4_SRC_ADDR_OFFSET = 12;
export const IPV4_DST_ADDR_OFFSET = 16;
/** MF flag plus the 13-bit fragment offset: non-zero means "a fragment". */
export const IPV4_FRAGMENT_MASK = 0x3fff;
export const IPV6_PAYLOAD_LEN_OFFSET = 4;
export const IPV6_NEXT_HEADER_OFFSET = 6;
export const IPV6_HOP_LIMIT_OFFSET = 7;
export const IPV6_SRC_ADDR_OFFSET = 8;
export const IPV6_DST_ADDR_OFFSET = 24;

export const TCP_HEADER_MIN_LEN = 20;
export const TCP_HEADER_MAX_LEN = 60;
export const TCP_SEQ_OFFSET = 4;
export const TCP_ACK_OFFSET = 8;
export const TCP_DOFF_OFFSET = 12;
export const TCP_FLAGS_OFFSET = 13;
export const TCP_CSUM_OFFSET = 16;
export const TCP_FLAG_FIN = 0x01;
export const TCP_FLAG_SYN = 0x02;
export const TCP_FLAG_RST = 0x04;
export const TCP_FLAG_PSH = 0x08;
export const TCP_FLAG_ACK = 0x10;
export const TCP_FLAG_URG = 0x20;
export const TCP_FLAG_ECE = 0x40;
export const TCP_FLAG_CWR = 0x80;

export const UDP_HEADER_LEN = 8;
export const UDP_LEN_OFFSET = 4;
export const UDP_CSUM_OFFSET = 6;

/** The largest IPv4 total length / IPv6 payload length without jumbograms. */
export const MAX_IP_PACKET_LEN = 65535;

export function readU16(buf: Uint8Array, off: number): number {
  return (buf[off]! << 8) | buf[off + 1]!;
}

export function writeU16(buf: Uint8Array, off: number, v: number): void {
  buf[off] = v >>> 8;
  buf[off + 1] = v;
}

export function readU32(buf: Uint8Array, off: number): number {
  return ((buf[off]! << 24) | (buf[off + 1]! << 16) | (buf[off + 2]! << 8) | buf[off + 3]!) >>> 0;
}

export function writeU32(buf: Uint8Array, off: number, v: number): void {
  buf[off] = v >>> 24;
  buf[off + 1] = v >>> 16;
  buf[off + 2] = v >>> 8;
  buf[off + 3] = v;
}

/** bytesEqual compares a[aOff, aOff+len) with b[bOff, bOff+len). */
export function bytesEqual(a: Uint8Array, aOff: number, b: Uint8Array, bOff: number, len: number): boolean {
  for (let i = 0; i < len; i++) if (a[aOff + i] !== b[bOff + i]) return false;
  return true;
}
