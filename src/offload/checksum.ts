// RFC 1071 Internet checksum, fast in JS (dossier 3.3).
// The one's-complement sum is byte-order independent: we sum the buffer as
// native little-endian 32-bit words through a cached Uint32Array view,
// accumulate in a Number (exact below 2^53, i.e. far beyond 64 KiB), fold
// to 16 bits and byte-swap once into network order. Unaligned starts fall
// back to a 16-bit prefix (2-aligned) or an RFC 1071 byte rotation (odd).

/** Below this length a plain byte loop beats the view lookup. */
const SMALL_LEN = 32;

// A few cached word views, keyed by ArrayBuffer: the data plane touches a
// handful of long-lived buffers (TUN read buffer, batch slabs), and creating
// a view per call would allocate on the hot path.
const VIEW_CACHE_SIZE = 4;
const cachedBuffers: (ArrayBufferLike | null)[] = [null, null, null, null];
const cachedU32: Uint32Array[] = [];
const cachedU16: Uint16Array[] = [];
let nextEvict = 0;
let lastHit = 0;

function viewIndex(buffer: ArrayBufferLike, endByte: number): number {
  if (cachedBuffers[lastHit] === buffer && cachedU16[lastHit]!.length * 2 >= endByte) return lastHit;
  for (let i = 0; i < VIEW_CACHE_SIZE; i++) {
    if (cachedBuffers[i] === buffer && cachedU16[i]!.length * 2 >= endByte) {
      lastHit = i;
      return i;
    }
  }
  const i = nextEvict;
  nextEvict = (nextEvict + 1) % VIEW_CACHE_SIZE;
  cachedBuffers[i] = buffer;
  cachedU32[i] = new Uint32Array(buffer, 0, Math.floor(buffer.byteLength / 4));
  cachedU16[i] = new Uint16Array(buffer, 0, Math.floor(buffer.byteLength / 2));
  lastHit = i;
  return i;
}

/** Sum of big-endian 16-bit words, plain loop; for short ranges. */
function sumBytesBE(buf: Uint8Array, off: number, len: number): number {
  let s = 0;
  const end = off + (len & ~1);
  for (let i = off; i < end; i += 2) s += (buf[i]! << 8) | buf[i + 1]!;
  if (len & 1) s += buf[off + len - 1]! << 8;
  return s;
}

/** Folds a non-negative integer sum below 2^53 to 16 bits with end-around carry. */
function fold16(s: number): number {
  const lo = s >>> 0;
  const hi = (s - lo) / 4294967296;
  let f = (lo >>> 16) + (lo & 0xffff) + (hi >>> 16) + (hi & 0xffff);
  f = (f >>> 16) + (f & 0xffff);
  f = (f >>> 16) + (f & 0xffff);
  return f;
}

function swap16(x: number): number {
  return ((x & 0xff) << 8) | (x >>> 8);
}

/**
 * checksumNoFold returns initial plus the one's-complement sum of
 * buf[off, off+len) as big-endian 16-bit words (an odd final byte is padded
 * with zero). The result is not folded: feed it back as `initial` to chain
 * ranges, then call foldChecksum. initial must be a non-negative integer and
 * the chain must stay below 2^53 (any realistic packet does).
 */
export function checksumNoFold(buf: Uint8Array, off: number, len: number, initial: number): number {
  if (len <= 0) return initial;
  if (len < SMALL_LEN) return initial + sumBytesBE(buf, off, len);
  let abs = buf.byteOffset + off;
  if (abs & 1) {
    // Odd start: the first byte is a high byte; the rest, summed in its own
    // framing, is the byte-swapped contribution (RFC 1071 section 2(B)).
    const rest = fold16(checksumNoFold(buf, off + 1, len - 1, 0));
    return initial + (buf[off]! << 8) + swap16(rest);
  }
  const end = abs + len;
  const v = viewIndex(buf.buffer, end - (end & 1));
  const u32 = cachedU32[v]!;
  const u16 = cachedU16[v]!;
  let s = 0;
  if (abs & 2) {
    s += u16[abs >>> 1]!;
    abs += 2;
  }
  let i = abs / 4;
  const words = Math.floor((end - abs) / 4);
  const wordsEnd = i + words;
  // Four independent adds per iteration: fewer loop checks, exact in a double.
  const unrolledEnd = wordsEnd - 3;
  for (; i < unrolledEnd; i += 4) s += u32[i]! + u32[i + 1]! + u32[i + 2]! + u32[i + 3]!;
  for (; i < wordsEnd; i++) s += u32[i]!;
  abs = wordsEnd * 4;
  if (end - abs >= 2) {
    s += u16[abs / 2]!;
    abs += 2;
  }
  // A trailing odd byte is the low byte of a little-endian word.
  if (end - abs === 1) s += buf[off + len - 1]!;
  return initial + swap16(fold16(s));
}

/** foldChecksum folds an unfolded sum (from checksumNoFold) to 16 bits, not complemented. */
export function foldChecksum(sum: number): number {
  return fold16(sum);
}

/** checksum returns the complemented, folded Internet checksum of buf[off, off+len) seeded with initial. */
export function checksum(buf: Uint8Array, off: number, len: number, initial: number): number {
  return ~fold16(checksumNoFold(buf, off, len, initial)) & 0xffff;
}

/**
 * pseudoHeaderChecksumNoFold returns the unfolded sum of the TCP/UDP
 * pseudo-header: source and destination addresses, read as addrLen bytes
 * each starting at buf[addrOff] (they are adjacent in both IPv4 and IPv6),
 * plus the protocol number and the L4 length.
 */
export function pseudoHeaderChecksumNoFold(
  buf: Uint8Array,
  addrOff: number,
  addrLen: number,
  proto: number,
  l4Len: number,
): number {
  return checksumNoFold(buf, addrOff, addrLen * 2, proto + l4Len);
}
