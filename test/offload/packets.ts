// Packet builders for offload tests: TCP/UDP over IPv4/IPv6 with valid
// checksums by default, knobs for every field the GRO rules look at, and a
// mutate hook that runs after checksums (to corrupt or tweak on purpose).
// Checksums here use the test reference implementation only.

import { refChecksum, refPseudoSum } from "./checksum-reference.ts";

export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;
export const TCP_URG = 0x20;
export const TCP_ECE = 0x40;
export const TCP_CWR = 0x80;

export interface PacketSpec {
  src?: string;
  dst?: string;
  sport?: number;
  dport?: number;
  /** TCP only. */
  seq?: number;
  ack?: number;
  flags?: number;
  /** TCP options, padded with NOPs to a multiple of 4. */
  options?: Uint8Array;
  /** Payload bytes, or a length: byte i is then (seq + i) & 0xff (sequence-space pattern). */
  payload?: Uint8Array | number;
  ttl?: number;
  /** IPv4 ToS or IPv6 traffic class. */
  tos?: number;
  id?: number;
  /** IPv4 DF flag; default true. */
  df?: boolean;
  /** IPv4 MF flag / fragment offset (in 8-byte units). */
  mf?: boolean;
  fragOffset?: number;
  /** IPv4 options, padded with zeros to a multiple of 4. */
  ipOptions?: Uint8Array;
  /** IPv6: insert an 8-byte hop-by-hop extension header before L4. */
  hopByHop?: boolean;
  flowLabel?: number;
  /** UDP over IPv4: send a zero checksum. */
  zeroUdpChecksum?: boolean;
  mutate?: (pkt: Uint8Array) => void;
}

export function parseIPv4(s: string): number[] {
  return s.split(".").map((x) => Number(x));
}

export function parseIPv6(s: string): number[] {
  const [head, tail] = s.includes("::") ? s.split("::") : [s, undefined];
  const h = head ? head.split(":").filter((x) => x !== "") : [];
  const t = tail !== undefined && tail !== "" ? tail.split(":") : [];
  const words = [...h, ...Array(8 - h.length - t.length).fill("0"), ...t].map((w) => parseInt(w, 16));
  return words.flatMap((w) => [w >>> 8, w & 0xff]);
}

function payloadBytes(spec: PacketSpec): Uint8Array {
  const p = spec.payload ?? 0;
  if (p instanceof Uint8Array) return p;
  const seq = spec.seq ?? 0;
  const b = new Uint8Array(p);
  for (let i = 0; i < p; i++) b[i] = (seq + i) & 0xff;
  return b;
}

function pad4(b: Uint8Array | undefined, fill: number): Uint8Array {
  if (!b || b.length === 0) return new Uint8Array(0);
  const out = new Uint8Array(Math.ceil(b.length / 4) * 4).fill(fill);
  out.set(b);
  return out;
}

function put16(b: Uint8Array, off: number, v: number): void {
  b[off] = (v >>> 8) & 0xff;
  b[off + 1] = v & 0xff;
}

function put32(b: Uint8Array, off: number, v: number): void {
  put16(b, off, (v >>> 16) & 0xffff);
  put16(b, off + 2, v & 0xffff);
}

/** l4Header builds the TCP or UDP header (checksum zero) for the given payload length. */
function l4Header(proto: number, spec: PacketSpec, payloadLen: number): Uint8Array {
  if (proto === 17) {
    const h = new Uint8Array(8);
    put16(h, 0, spec.sport ?? 4000);
    put16(h, 2, spec.dport ?? 5000);
    put16(h, 4, 8 + payloadLen);
    return h;
  }
  const opts = pad4(spec.options, 1);
  const h = new Uint8Array(20 + opts.length);
  put16(h, 0, spec.sport ?? 4000);
  put16(h, 2, spec.dport ?? 5000);
  put32(h, 4, (spec.seq ?? 1) >>> 0);
  put32(h, 8, (spec.ack ?? 1) >>> 0);
  h[12] = (h.length / 4) << 4;
  h[13] = spec.flags ?? TCP_ACK;
  put16(h, 14, 65535);
  h.set(opts, 20);
  return h;
}

function build(version: 4 | 6, proto: number, spec: PacketSpec): Uint8Array {
  const payload = payloadBytes(spec);
  const l4 = l4Header(proto, spec, payload.length);
  let ipHdr: Uint8Array;
  if (version === 4) {
    const opts = pad4(spec.ipOptions, 0);
    ipHdr = new Uint8Array(20 + opts.length);
    ipHdr[0] = 0x40 | (ipHdr.length / 4);
    ipHdr[1] = spec.tos ?? 0;
    put16(ipHdr, 2, ipHdr.length + l4.length + payload.length);
    put16(ipHdr, 4, spec.id ?? 0x1234);
    const fl = ((spec.df ?? true) ? 0x4000 : 0) | (spec.mf ? 0x2000 : 0) | ((spec.fragOffset ?? 0) & 0x1fff);
    put16(ipHdr, 6, fl);
    ipHdr[8] = spec.ttl ?? 64;
    ipHdr[9] = proto;
    ipHdr.set(parseIPv4(spec.src ?? "192.0.2.1"), 12);
    ipHdr.set(parseIPv4(spec.dst ?? "192.0.2.2"), 16);
    ipHdr.set(opts, 20);
    put16(ipHdr, 10, refChecksum(ipHdr, 0, ipHdr.length));
  } else {
    const ext = spec.hopByHop ? 8 : 0;
    ipHdr = new Uint8Array(40 + ext);
    const tc = spec.tos ?? 0;
    const fl = spec.flowLabel ?? 0;
    ipHdr[0] = 0x60 | (tc >>> 4);
    ipHdr[1] = ((tc & 0x0f) << 4) | ((fl >>> 16) & 0x0f);
    put16(ipHdr, 2, fl & 0xffff);
    put16(ipHdr, 4, ext + l4.length + payload.length);
    ipHdr[6] = ext ? 0 : proto;
    ipHdr[7] = spec.ttl ?? 64;
    ipHdr.set(parseIPv6(spec.src ?? "2001:db8::1"), 8);
    ipHdr.set(parseIPv6(spec.dst ?? "2001:db8::2"), 24);
    if (ext) {
      ipHdr[40] = proto; // next header; hdr ext len 0; PadN fills the rest
      ipHdr[42] = 1;
      ipHdr[43] = 4;
    }
  }
  const pkt = new Uint8Array(ipHdr.length + l4.length + payload.length);
  pkt.set(ipHdr, 0);
  pkt.set(l4, ipHdr.length);
  pkt.set(payload, ipHdr.length + l4.length);
  const l4Off = ipHdr.length;
  const l4Len = pkt.length - l4Off;
  const csumAt = l4Off + (proto === 6 ? 16 : 6);
  if (!(proto === 17 && version === 4 && spec.zeroUdpChecksum)) {
    let c = refChecksum(pkt, l4Off, l4Len, refPseudoSum(pkt, 0, proto, l4Len));
    if (c === 0 && proto === 17) c = 0xffff;
    put16(pkt, csumAt, c);
  }
  spec.mutate?.(pkt);
  return pkt;
}

export const tcp4 = (spec: PacketSpec = {}): Uint8Array => build(4, 6, spec);
export const tcp6 = (spec: PacketSpec = {}): Uint8Array => build(6, 6, spec);
export const udp4 = (spec: PacketSpec = {}): Uint8Array => build(4, 17, spec);
export const udp6 = (spec: PacketSpec = {}): Uint8Array => build(6, 17, spec);

export type PacketKind = "tcp4" | "tcp6" | "udp4" | "udp6";
export const builders: Record<PacketKind, (spec?: PacketSpec) => Uint8Array> = { tcp4, tcp6, udp4, udp6 };

export interface VnetSpec {
  flags?: number;
  gsoType?: number;
  hdrLen?: number;
  gsoSize?: number;
  csumStart?: number;
  csumOffset?: number;
}

/** withVnetHeader prepends a 10-byte virtio_net_hdr to pkt. */
export function withVnetHeader(pkt: Uint8Array, h: VnetSpec): Uint8Array {
  const out = new Uint8Array(10 + pkt.length);
  out[0] = h.flags ?? 0;
  out[1] = h.gsoType ?? 0;
  const le = (off: number, v: number) => {
    out[off] = v & 0xff;
    out[off + 1] = (v >>> 8) & 0xff;
  };
  le(2, h.hdrLen ?? 0);
  le(4, h.gsoSize ?? 0);
  le(6, h.csumStart ?? 0);
  le(8, h.csumOffset ?? 0);
  out.set(pkt, 10);
  return out;
}

/** l4Offset returns the IP header length (extension headers included) of pkt. */
export function l4Offset(pkt: Uint8Array): number {
  if (pkt[0]! >>> 4 === 4) return (pkt[0]! & 0x0f) * 4;
  return pkt[6] === 0 ? 48 : 40;
}

/**
 * toPartialChecksum rewrites pkt's L4 checksum the way the kernel hands out
 * CHECKSUM_PARTIAL packets: the folded, non-complemented pseudo-header sum
 * for the packet's full L4 length (dossier 1.4).
 */
export function toPartialChecksum(pkt: Uint8Array): Uint8Array {
  const out = pkt.slice();
  const iph = l4Offset(out);
  const isTcp = (out[0]! >>> 4 === 4 ? out[9] : out[iph === 48 ? 40 : 6]) === 6;
  put16(out, iph + (isTcp ? 16 : 6), refPseudoSum(out, 0, isTcp ? 6 : 17, out.length - iph));
  return out;
}

/**
 * superPacket builds what a TUN read returns for a TSO/USO packet: the
 * vnet header (NEEDS_CSUM, csum_start = IP header length) and the packet in
 * partial-checksum form. hdrLen defaults to the true header length.
 */
export function superPacket(kind: PacketKind, spec: PacketSpec, gsoSize: number, vnet: VnetSpec = {}): Uint8Array {
  const pkt = toPartialChecksum(builders[kind](spec));
  const iph = l4Offset(pkt);
  const isTcp = kind.startsWith("tcp");
  const l4h = isTcp ? (pkt[iph + 12]! >>> 4) * 4 : 8;
  const gsoType = kind === "tcp4" ? 1 : kind === "tcp6" ? 4 : 5;
  return withVnetHeader(pkt, {
    flags: 1,
    gsoType,
    hdrLen: iph + l4h,
    gsoSize,
    csumStart: iph,
    csumOffset: isTcp ? 16 : 6,
    ...vnet,
  });
}
