// The GRO write probe (dossier 3.5). Some kernels (6.6.44/6.6.45, 6.10.3,
// vendor builds) reject valid coalesced TUN writes with EINVAL, which would
// turn every coalesced write into a lost burst. Once the link is up we write
// one real coalesced super-packet per protocol; if the kernel refuses it,
// coalescing is switched off for that protocol and the reason is reported.
//
// The probe packets go from 127.0.0.1 to 127.0.0.1 on a non-loopback device:
// the kernel validates the virtio_net_hdr at write() time and then drops the
// packet as martian during routing, so nothing is delivered or answered.
import { Coalescer, VNET_HDR_LEN, checksum, createPacketBatch, pseudoHeaderChecksumNoFold, type PacketBatch } from "../offload/index.ts";

const PROBE_PAYLOAD_LEN = 100;
const PROBE_SEGMENTS = 2;
const LOOPBACK = [127, 0, 0, 1] as const;

/** ProbeProtocol names what a probe write exercises. */
export type ProbeProtocol = "tcp" | "udp";

/** writeIpv4Header writes a 20-byte IPv4 header with a valid checksum. */
function writeIpv4Header(buf: Uint8Array, off: number, proto: number, totalLen: number, id: number): void {
  buf.fill(0, off, off + 20);
  buf[off] = 0x45;
  buf[off + 2] = totalLen >>> 8;
  buf[off + 3] = totalLen & 0xff;
  buf[off + 4] = id >>> 8;
  buf[off + 5] = id & 0xff;
  buf[off + 6] = 0x40; // DF
  buf[off + 8] = 64;
  buf[off + 9] = proto;
  buf.set(LOOPBACK, off + 12);
  buf.set(LOOPBACK, off + 16);
  const sum = checksum(buf, off, 20, 0);
  buf[off + 10] = sum >>> 8;
  buf[off + 11] = sum & 0xff;
}

/** writeL4Checksum completes the TCP/UDP checksum at csumAt over the segment. */
function writeL4Checksum(buf: Uint8Array, off: number, proto: number, l4Len: number, csumAt: number): void {
  const pseudo = pseudoHeaderChecksumNoFold(buf, off + 12, 4, proto, l4Len);
  let sum = checksum(buf, off + 20, l4Len, pseudo);
  if (proto === 17 && sum === 0) sum = 0xffff;
  buf[csumAt] = sum >>> 8;
  buf[csumAt + 1] = sum & 0xff;
}

/** writeProbeSegment writes segment i of a two-segment TCP or UDP flow and returns its length. */
function writeProbeSegment(buf: Uint8Array, off: number, protocol: ProbeProtocol, i: number): number {
  const isTcp = protocol === "tcp";
  const l4HeaderLen = isTcp ? 20 : 8;
  const l4Len = l4HeaderLen + PROBE_PAYLOAD_LEN;
  const totalLen = 20 + l4Len;
  writeIpv4Header(buf, off, isTcp ? 6 : 17, totalLen, 0x5050 + i);
  const l4 = off + 20;
  buf.fill(0, l4, l4 + l4HeaderLen);
  buf[l4] = 0xc3; // source port 50000
  buf[l4 + 1] = 0x50;
  buf[l4 + 2] = 0xc3; // destination port 50001
  buf[l4 + 3] = 0x51;
  if (isTcp) {
    const seq = 0x10000000 + i * PROBE_PAYLOAD_LEN;
    new DataView(buf.buffer, buf.byteOffset).setUint32(l4 + 4, seq);
    buf[l4 + 12] = 5 << 4; // data offset: 20 bytes
    buf[l4 + 13] = 0x10; // ACK
    buf[l4 + 14] = 0xff; // window
  } else {
    buf[l4 + 4] = l4Len >>> 8;
    buf[l4 + 5] = l4Len & 0xff;
  }
  for (let b = 0; b < PROBE_PAYLOAD_LEN; b++) buf[l4 + l4HeaderLen + b] = (i * 7 + b) & 0xff;
  writeL4Checksum(buf, off, isTcp ? 6 : 17, l4Len, l4 + (isTcp ? 16 : 6));
  return totalLen;
}

/**
 * buildProbeWrite coalesces two probe segments with the real Coalescer and
 * returns the bytes of the single resulting write (virtio_net_hdr first), or
 * null if the coalescer did not merge them (which would be a bug in the
 * offload engine, reported as such by the caller).
 */
export function buildProbeWrite(protocol: ProbeProtocol): Uint8Array | null {
  const batch: PacketBatch = createPacketBatch(PROBE_SEGMENTS, 65535, VNET_HDR_LEN);
  for (let i = 0; i < PROBE_SEGMENTS; i++) batch.lens[i] = writeProbeSegment(batch.buf, batch.offs[i]!, protocol, i);
  batch.count = PROBE_SEGMENTS;
  const coalescer = new Coalescer({ tcp: protocol === "tcp", udp: protocol === "udp", maxBatch: PROBE_SEGMENTS });
  if (coalescer.coalesce(batch) !== 1) return null;
  const slot = coalescer.writeIdx[0]!;
  const start = batch.offs[slot]! - VNET_HDR_LEN;
  return batch.buf.slice(start, batch.offs[slot]! + batch.lens[slot]!);
}
