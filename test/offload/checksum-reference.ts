// Plain RFC 1071 reference, byte by byte, for tests only: deliberately the
// most obvious code, independent of src/offload/checksum.ts.

/** refSum returns the folded (not complemented) one's-complement sum of big-endian words, seeded. */
export function refSum(buf: Uint8Array, off: number, len: number, initial = 0): number {
  let s = initial;
  for (let i = 0; i < len; i += 2) {
    const hi = buf[off + i]!;
    const lo = i + 1 < len ? buf[off + i + 1]! : 0;
    s += hi * 256 + lo;
    while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 65536);
  }
  return s;
}

/** refChecksum returns the complemented Internet checksum. */
export function refChecksum(buf: Uint8Array, off: number, len: number, initial = 0): number {
  return ~refSum(buf, off, len, initial) & 0xffff;
}

/** refIpv4HeaderValid verifies the IPv4 header checksum of the packet at off. */
export function refIpv4HeaderValid(pkt: Uint8Array, off = 0): boolean {
  const ihl = (pkt[off]! & 0x0f) * 4;
  return refSum(pkt, off, ihl) === 0xffff;
}

/** refPseudoSum: folded pseudo-header sum (addresses, proto, L4 length). */
export function refPseudoSum(pkt: Uint8Array, off: number, proto: number, l4Len: number): number {
  const v6 = pkt[off]! >>> 4 === 6;
  const addrOff = off + (v6 ? 8 : 12);
  return refSum(pkt, addrOff, v6 ? 32 : 8, proto + l4Len);
}

/** refL4Valid verifies the TCP/UDP checksum of the IP packet pkt[off, off+len) (no extension headers). */
export function refL4Valid(pkt: Uint8Array, off: number, len: number): boolean {
  const v6 = pkt[off]! >>> 4 === 6;
  const iphLen = v6 ? 40 : (pkt[off]! & 0x0f) * 4;
  const proto = v6 ? pkt[off + 6]! : pkt[off + 9]!;
  const l4Len = len - iphLen;
  return refSum(pkt, off + iphLen, l4Len, refPseudoSum(pkt, off, proto, l4Len)) === 0xffff;
}
