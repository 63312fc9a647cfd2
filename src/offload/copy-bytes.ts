// Copying packet bytes inside and between packet buffers without allocating
// on the hot path (split copies headers and payloads into segment slots).

/** COPY_LOOP_MAX: below this a byte loop is cheaper than set(subarray(...)). */
const COPY_LOOP_MAX = 64;

/**
 * copyBytes copies src[srcOff, srcOff+len) to dst[dstOff, ...). Within one
 * buffer it uses copyWithin (no allocation, overlap-safe); across buffers it
 * uses set(subarray) for long ranges, whose only cost is a short-lived view.
 */
export function copyBytes(dst: Uint8Array, dstOff: number, src: Uint8Array, srcOff: number, len: number): void {
  if (len <= 0) return;
  if (dst === src) {
    dst.copyWithin(dstOff, srcOff, srcOff + len);
  } else if (len <= COPY_LOOP_MAX) {
    for (let i = 0; i < len; i++) dst[dstOff + i] = src[srcOff + i]!;
  } else {
    dst.set(src.subarray(srcOff, srcOff + len), dstOff);
  }
}
