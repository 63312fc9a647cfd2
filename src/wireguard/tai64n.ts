// TAI64N timestamps for the handshake initiation (dossier 4.3; WG-KMOD noise.c
// tai64n_now, WG-GO tai64n/tai64n.go). 12 bytes: BE u64 0x400000000000000a +
// unix seconds, BE u32 nanoseconds. The nanoseconds are rounded down to a
// multiple of 2^24 (the largest power of two below 1e9/50 — the responder's
// INITIATIONS_PER_SECOND) so the timestamp does not leak a precise clock while
// still increasing between two allowed initiations. The responder only needs
// a strictly-greater bytewise comparison.

/** TAI64N_LEN is the encoded size in bytes. */
export const TAI64N_LEN = 12;

// 2^62 + 10: TAI64 label of the Unix epoch (10 leap-second offset as in the spec).
const BASE_HI = 0x40000000;
const BASE_LO = 0x0000000a;
const WHITENER_MASK = 0xffffff;
const TWO32 = 0x1_0000_0000;

/**
 * tai64nInto writes the whitened TAI64N of `unixMs` into out[off..off+12).
 * `nanosWithinSecond`, if given, replaces the sub-second part derived from
 * unixMs (for callers with a finer clock); it must be in [0, 1e9).
 * Negative unixMs (before 1970) is encoded correctly; nothing is allocated.
 */
export function tai64nInto(out: Uint8Array, off: number, unixMs: number, nanosWithinSecond?: number): void {
  const secs = Math.floor(unixMs / 1000);
  const nanos = nanosWithinSecond ?? Math.floor((unixMs - secs * 1000) * 1e6);
  const secsHi = Math.floor(secs / TWO32);
  let lo = secs - secsHi * TWO32 + BASE_LO;
  let hi = secsHi + BASE_HI;
  if (lo >= TWO32) {
    lo -= TWO32;
    hi += 1;
  }
  writeU32BE(out, off, hi);
  writeU32BE(out, off + 4, lo);
  writeU32BE(out, off + 8, (nanos & ~WHITENER_MASK) >>> 0);
}

/**
 * compareTai64n compares two 12-byte timestamps bytewise (big-endian, so
 * bytewise order is time order): negative if a < b, 0 if equal, positive if
 * a > b. A handshake initiation is fresh only if compareTai64n(new, last) > 0.
 */
export function compareTai64n(a: Uint8Array, aOff: number, b: Uint8Array, bOff: number): number {
  for (let i = 0; i < TAI64N_LEN; i++) {
    const d = a[aOff + i]! - b[bOff + i]!;
    if (d !== 0) return d;
  }
  return 0;
}

function writeU32BE(out: Uint8Array, off: number, v: number): void {
  out[off] = v >>> 24;
  out[off + 1] = v >>> 16;
  out[off + 2] = v >>> 8;
  out[off + 3] = v;
}
