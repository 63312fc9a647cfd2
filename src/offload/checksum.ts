// RFC 1071 Internet checksum, fast in JS (dossier 3.3).
// The one's-complement sum is byte-order independent: we sum the buffer as
// native little-endian 32-bit words through a cached Uint32Array view,
// accumulate in a Number (exact below 2^53, i.e. far beyond 64 KiB), fold
// to 16 bits and byte-swap once into network order. Unaligned starts fall
// back to a 16-bit prefix (2-aligned) or an RFC 1071 byte rotation (odd).
// Buffers allocated by allocateChecksummedBytes (every PacketBatch) live in
// WebAssembly memory and take a SIMD kernel instead (checksum-wasm.ts),
// about 3x faster on 1420 bytes (~41 ns against ~125 ns, call included);
// the JS code stays for every other buffer.

import { createWasmChecksumMemory, WASM_SUM_MAX_LEN, type WasmChecksumMemory, type WasmSum } from "./checksum-wasm.ts";
import { copyBytes } from "./copy-bytes.ts";

/**
 * Below this length a plain byte loop beats the view lookup; it is also
 * where the wasm kernel starts to win, call included (about 11 ns each at
 * 32 bytes), so the kernel takes every range from here up.
 */
const SMALL_LEN = 32;

// A few cached word views, keyed by ArrayBuffer: the data plane touches a
// handful of long-lived buffers (TUN read buffer, batch slabs), and creating
// a view per call would allocate on the hot path.
const VIEW_CACHE_SIZE = 4;
const cachedBuffers: (ArrayBufferLike | null)[] = [null, null, null, null];
const cachedU32: Uint32Array[] = [];
const cachedU16: Uint16Array[] = [];
// The wasm kernels bound to each cached buffer, or null for plain memory:
// read when a view is first seen, so the weak map is not consulted per call.
const cachedWasm: (WasmChecksumMemory | null)[] = [null, null, null, null];
const wasmMemories = new WeakMap<ArrayBufferLike, WasmChecksumMemory>();

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
  cachedWasm[i] = wasmMemories.get(buffer) ?? null;
  lastHit = i;
  return i;
}

// The view summed last, with what the wasm path needs from it. The data
// plane sums a whole batch in one slab (always the same Uint8Array) before it
// turns to the other, so one identity check usually decides; the .buffer and
// .byteOffset getters it saves cost about as much as the wasm call itself.
let lastView: Uint8Array | null = null;
let lastViewByteOffset = 0;
let lastViewWasm: WasmChecksumMemory | null = null;

function rememberView(buf: Uint8Array): void {
  lastView = buf;
  lastViewByteOffset = buf.byteOffset;
  lastViewWasm = cachedWasm[viewIndex(buf.buffer, 0)] as WasmChecksumMemory | null;
}

/** Sum of big-endian 16-bit words, plain loop; for short ranges. */
function sumBytesBE(buf: Uint8Array, off: number, len: number): number {
  let s = 0;
  const end = off + (len & ~1);
  for (let i = off; i < end; i += 2) s += (buf[i]! << 8) | buf[i + 1]!;
  if (len & 1) s += buf[off + len - 1]! << 8;
  return s;
}

/** Folded little-endian sum of [abs, abs+len) by the wasm kernel, in pieces it cannot overflow. */
function sumInWasm(sum: WasmSum, abs: number, len: number): number {
  if (len <= WASM_SUM_MAX_LEN) return sum(abs, len);
  let s = 0;
  for (; len > WASM_SUM_MAX_LEN; abs += WASM_SUM_MAX_LEN, len -= WASM_SUM_MAX_LEN) s += sum(abs, WASM_SUM_MAX_LEN);
  return fold16(s + sum(abs, len));
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
  if (buf !== lastView) rememberView(buf);
  let abs = lastViewByteOffset + off;
  // The kernel frames words from its start pointer, so odd starts need no rotation.
  if (lastViewWasm !== null) return initial + swap16(sumInWasm(lastViewWasm.sum, abs, len));
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

/**
 * copyAndChecksumNoFold copies buf[srcOff, srcOff+len) to buf[dstOff, ...)
 * and returns checksumNoFold of the copied bytes seeded with initial. In
 * WebAssembly-backed buffers it is one pass (the wasm copy_sum kernel), so
 * the payload a split or a merge moves anyway is read once instead of twice
 * (memmove, then the sum). Overlapping ranges take the two-step path.
 */
export function copyAndChecksumNoFold(buf: Uint8Array, dstOff: number, srcOff: number, len: number, initial: number): number {
  if (len >= SMALL_LEN && len <= WASM_SUM_MAX_LEN && (dstOff - srcOff >= len || srcOff - dstOff >= len)) {
    if (buf !== lastView) rememberView(buf);
    if (lastViewWasm !== null) {
      return initial + swap16(lastViewWasm.copySum(lastViewByteOffset + dstOff, lastViewByteOffset + srcOff, len));
    }
  }
  copyBytes(buf, dstOff, buf, srcOff, len);
  return checksumNoFold(buf, dstOff, len, initial);
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
export function pseudoHeaderChecksumNoFold(buf: Uint8Array, addrOff: number, addrLen: number, proto: number, l4Len: number): number {
  return checksumNoFold(buf, addrOff, addrLen * 2, proto + l4Len);
}

/**
 * allocateChecksummedBytes returns byteLength zeroed bytes on which
 * checksumNoFold takes the wasm SIMD kernel: the view covers the start of a
 * fixed-size WebAssembly.Memory. Where WebAssembly is unavailable it returns
 * a plain Uint8Array, which the JS code sums. The memory is freed with its
 * last view, like any ArrayBuffer.
 */
export function allocateChecksummedBytes(byteLength: number): Uint8Array {
  const wasm = createWasmChecksumMemory(byteLength);
  if (wasm === null) return new Uint8Array(byteLength);
  wasmMemories.set(wasm.bytes.buffer, wasm);
  return wasm.bytes;
}

/** hasWasmChecksum tells whether checksumNoFold sums buf with the wasm kernel (for tests and benchmarks). */
export function hasWasmChecksum(buf: Uint8Array): boolean {
  return wasmMemories.has(buf.buffer);
}
