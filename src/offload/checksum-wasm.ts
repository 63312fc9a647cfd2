// WebAssembly SIMD kernel for the RFC 1071 sum (used by checksum.ts).
//
// The module is written out by hand below, instruction by instruction, so
// that there is no build step and no dependency; the WAT it encodes is:
//
// (module
//   (import "env" "memory" (memory 0))
//   ;; One's-complement sum of [p, p+n) read as little-endian u16 words (an
//   ;; odd last byte is a low byte), folded to 16 bits. The four u32 lanes
//   ;; each gain at most 2 * 0xffff per 16 bytes, so n <= WASM_SUM_MAX_LEN
//   ;; (512 KiB) cannot overflow them; the caller splits longer ranges.
//   (func (export "sum") (param $p i32) (param $n i32) (result i32)
//     (local $end i32) (local $tail i32) (local $acc v128) (local $s i64)
//     (local.set $end (i32.add (local.get $p) (local.get $n)))
//     (block $break (loop $by64
//       (br_if $break (i32.lt_u (i32.sub (local.get $end) (local.get $p)) (i32.const 64)))
//       (local.set $acc (i32x4.add (local.get $acc) (i32x4.add
//         (i32x4.add (i32x4.extadd_pairwise_i16x8_u (v128.load offset=0 align=1 (local.get $p)))
//                    (i32x4.extadd_pairwise_i16x8_u (v128.load offset=16 align=1 (local.get $p))))
//         (i32x4.add (i32x4.extadd_pairwise_i16x8_u (v128.load offset=32 align=1 (local.get $p)))
//                    (i32x4.extadd_pairwise_i16x8_u (v128.load offset=48 align=1 (local.get $p)))))))
//       (local.set $p (i32.add (local.get $p) (i32.const 64)))
//       (br $by64)))
//     (block $break (loop $by16
//       (br_if $break (i32.lt_u (i32.sub (local.get $end) (local.get $p)) (i32.const 16)))
//       (local.set $acc (i32x4.add (local.get $acc)
//         (i32x4.extadd_pairwise_i16x8_u (v128.load align=1 (local.get $p)))))
//       (local.set $p (i32.add (local.get $p) (i32.const 16)))
//       (br $by16)))
//     (block $break (loop $by2
//       (br_if $break (i32.lt_u (i32.sub (local.get $end) (local.get $p)) (i32.const 2)))
//       (local.set $tail (i32.add (local.get $tail) (i32.load16_u align=1 (local.get $p))))
//       (local.set $p (i32.add (local.get $p) (i32.const 2)))
//       (br $by2)))
//     (if (i32.lt_u (local.get $p) (local.get $end))
//       (then (local.set $tail (i32.add (local.get $tail) (i32.load8_u (local.get $p))))))
//     ;; Widen the lanes to i64 before adding them: four near-2^32 lanes overflow i32.
//     (local.set $acc (i64x2.add (i64x2.extend_low_i32x4_u (local.get $acc))
//                                (i64x2.extend_high_i32x4_u (local.get $acc))))
//     (local.set $s (i64.add (i64.add (i64x2.extract_lane 0 (local.get $acc))
//                                     (i64x2.extract_lane 1 (local.get $acc)))
//                            (i64.extend_i32_u (local.get $tail))))
//     ;; s < 2^35: three end-around-carry folds bring it to at most 0xffff.
//     (local.set $s (i64.add (i64.and (local.get $s) (i64.const 0xffff)) (i64.shr_u (local.get $s) (i64.const 16))))
//     (local.set $s (i64.add (i64.and (local.get $s) (i64.const 0xffff)) (i64.shr_u (local.get $s) (i64.const 16))))
//     (i32.wrap_i64 (i64.add (i64.and (local.get $s) (i64.const 0xffff)) (i64.shr_u (local.get $s) (i64.const 16)))))
//   ;; copy_sum: copy [p, p+n) to [d, d+n) (ranges must not overlap) and
//   ;; return the same folded sum of the bytes, in one pass: the split and
//   ;; coalesce paths copy every payload and checksum it anyway, and reading
//   ;; it once saves the separate memmove. Same loops as sum, each loaded
//   ;; vector (or u16, or byte) is also stored at the destination.
//   (func (export "copy_sum") (param $d i32) (param $p i32) (param $n i32) (result i32)
//     (local $end i32) (local $tail i32) (local $w i32) (local $acc v128) (local $v v128) (local $s i64)
//     (local.set $end (i32.add (local.get $p) (local.get $n)))
//     (block $break (loop $by64
//       (br_if $break (i32.lt_u (i32.sub (local.get $end) (local.get $p)) (i32.const 64)))
//       ;; for k in 0, 16, 32, 48:
//       (v128.store offset=k align=1 (local.get $d) (local.tee $v (v128.load offset=k align=1 (local.get $p))))
//       (local.set $acc (i32x4.add (local.get $acc) (i32x4.extadd_pairwise_i16x8_u (local.get $v))))
//       (local.set $p (i32.add (local.get $p) (i32.const 64)))
//       (local.set $d (i32.add (local.get $d) (i32.const 64)))
//       (br $by64)))
//     (block $break (loop $by16 ... the same with one vector ...))
//     (block $break (loop $by2
//       (br_if $break (i32.lt_u (i32.sub (local.get $end) (local.get $p)) (i32.const 2)))
//       (i32.store16 align=1 (local.get $d) (local.tee $w (i32.load16_u align=1 (local.get $p))))
//       (local.set $tail (i32.add (local.get $tail) (local.get $w)))
//       ... advance $p and $d by 2 ...))
//     (if (i32.lt_u (local.get $p) (local.get $end)) (then
//       (i32.store8 (local.get $d) (local.tee $w (i32.load8_u (local.get $p))))
//       (local.set $tail (i32.add (local.get $tail) (local.get $w)))))
//     ... widen, add and fold exactly as in sum ...))

/** WASM_SUM_MAX_LEN is the longest range one call of the kernel may sum (its u32 lanes must not overflow). */
export const WASM_SUM_MAX_LEN = 512 * 1024;

/** WasmSum is the kernel: the folded one's-complement sum of [ptr, ptr+len) as little-endian u16 words. */
export type WasmSum = (ptr: number, len: number) => number;
/** WasmCopySum copies [src, src+len) to [dst, dst+len) (no overlap) and returns WasmSum of the bytes. */
export type WasmCopySum = (dst: number, src: number, len: number) => number;

// Opcodes, named so that the body below reads like the WAT above.
const LOCAL_GET = 0x20;
const LOCAL_SET = 0x21;
const LOCAL_TEE = 0x22;
const I32_CONST = 0x41;
const I64_CONST = 0x42;
const I32_ADD = 0x6a;
const I32_SUB = 0x6b;
const I32_LT_U = 0x49;
const I32_LOAD8_U = 0x2d;
const I32_LOAD16_U = 0x2f;
const I32_STORE8 = 0x3a;
const I32_STORE16 = 0x3b;
const I32_WRAP_I64 = 0xa7;
const I64_EXTEND_I32_U = 0xad;
const I64_ADD = 0x7c;
const I64_AND = 0x83;
const I64_SHR_U = 0x88;
const BLOCK = 0x02;
const LOOP = 0x03;
const IF = 0x04;
const VOID = 0x40;
const BR = 0x0c;
const BR_IF = 0x0d;
const END = 0x0b;
// SIMD instructions are 0xfd followed by a LEB128 sub-opcode.
const V128_LOAD = [0xfd, 0x00];
const V128_STORE = [0xfd, 0x0b];
const I64X2_EXTRACT_LANE = [0xfd, 0x1d];
const I32X4_EXTADD_PAIRWISE_I16X8_U = [0xfd, 0x7f];
const I32X4_ADD = [0xfd, 0xae, 0x01]; // 174
const I64X2_EXTEND_LOW_I32X4_U = [0xfd, 0xc9, 0x01]; // 201
const I64X2_EXTEND_HIGH_I32X4_U = [0xfd, 0xca, 0x01]; // 202
const I64X2_ADD = [0xfd, 0xce, 0x01]; // 206
// memarg = alignment exponent, offset. Alignment 0: payloads start anywhere.
const at = (offset: number) => [0x00, offset];
// Signed LEB128 constants used below.
const C64 = [0xc0, 0x00];
const C16 = [0x10];
const C2 = [0x02];
const C_FFFF = [0xff, 0xff, 0x03];

// Locals: params first, then the declared ones.
const P = 0;
const N = 1;
const END_PTR = 2;
const TAIL = 3;
const ACC = 4;
const S = 5;

// Pieces both functions use, given their own local indices.
const breakIfFewerThan = (end: number, p: number, bytes: number[]) => [LOCAL_GET, end, LOCAL_GET, p, I32_SUB, I32_CONST, ...bytes, I32_LT_U, BR_IF, 1];
const advance = (local: number, bytes: number[]) => [LOCAL_GET, local, I32_CONST, ...bytes, I32_ADD, LOCAL_SET, local];
const foldS = (s: number) => [LOCAL_GET, s, I64_CONST, ...C_FFFF, I64_AND, LOCAL_GET, s, I64_CONST, ...C16, I64_SHR_U, I64_ADD];
/** Widens the lanes of acc, adds them and tail into s, folds s three times and leaves the i32 result. */
const finish = (acc: number, tail: number, s: number) => [
  LOCAL_GET,
  acc,
  ...I64X2_EXTEND_LOW_I32X4_U,
  LOCAL_GET,
  acc,
  ...I64X2_EXTEND_HIGH_I32X4_U,
  ...I64X2_ADD,
  LOCAL_TEE,
  acc,
  ...I64X2_EXTRACT_LANE,
  0,
  LOCAL_GET,
  acc,
  ...I64X2_EXTRACT_LANE,
  1,
  I64_ADD,
  LOCAL_GET,
  tail,
  I64_EXTEND_I32_U,
  I64_ADD,
  LOCAL_SET,
  s,
  ...foldS(s),
  LOCAL_SET,
  s,
  ...foldS(s),
  LOCAL_SET,
  s,
  ...foldS(s),
  I32_WRAP_I64,
];

const loadExtadd = (offset: number) => [LOCAL_GET, P, ...V128_LOAD, ...at(offset), ...I32X4_EXTADD_PAIRWISE_I16X8_U];

const body = [
  // locals: 2 x i32 ($end, $tail), 1 x v128 ($acc), 1 x i64 ($s)
  0x03,
  0x02,
  0x7f,
  0x01,
  0x7b,
  0x01,
  0x7e,
  LOCAL_GET,
  P,
  LOCAL_GET,
  N,
  I32_ADD,
  LOCAL_SET,
  END_PTR,
  BLOCK,
  VOID,
  LOOP,
  VOID,
  ...breakIfFewerThan(END_PTR, P, C64),
  LOCAL_GET,
  ACC,
  ...loadExtadd(0),
  ...loadExtadd(16),
  ...I32X4_ADD,
  ...loadExtadd(32),
  ...loadExtadd(48),
  ...I32X4_ADD,
  ...I32X4_ADD,
  ...I32X4_ADD,
  LOCAL_SET,
  ACC,
  ...advance(P, C64),
  BR,
  0,
  END,
  END,
  BLOCK,
  VOID,
  LOOP,
  VOID,
  ...breakIfFewerThan(END_PTR, P, C16),
  LOCAL_GET,
  ACC,
  ...loadExtadd(0),
  ...I32X4_ADD,
  LOCAL_SET,
  ACC,
  ...advance(P, C16),
  BR,
  0,
  END,
  END,
  BLOCK,
  VOID,
  LOOP,
  VOID,
  ...breakIfFewerThan(END_PTR, P, C2),
  LOCAL_GET,
  TAIL,
  LOCAL_GET,
  P,
  I32_LOAD16_U,
  ...at(0),
  I32_ADD,
  LOCAL_SET,
  TAIL,
  ...advance(P, C2),
  BR,
  0,
  END,
  END,
  LOCAL_GET,
  P,
  LOCAL_GET,
  END_PTR,
  I32_LT_U,
  IF,
  VOID,
  LOCAL_GET,
  TAIL,
  LOCAL_GET,
  P,
  I32_LOAD8_U,
  ...at(0),
  I32_ADD,
  LOCAL_SET,
  TAIL,
  END,
  ...finish(ACC, TAIL, S),
  END,
];

// copy_sum's locals: $d, $p, $n, then $end, $tail, $w, $acc, $v, $s.
const CD = 0;
const CP = 1;
const CN = 2;
const C_END = 3;
const C_TAIL = 4;
const C_W = 5;
const C_ACC = 6;
const C_V = 7;
const C_S = 8;

const copyVector = (offset: number) => [
  LOCAL_GET,
  CD,
  LOCAL_GET,
  CP,
  ...V128_LOAD,
  ...at(offset),
  LOCAL_TEE,
  C_V,
  ...V128_STORE,
  ...at(offset),
  LOCAL_GET,
  C_ACC,
  LOCAL_GET,
  C_V,
  ...I32X4_EXTADD_PAIRWISE_I16X8_U,
  ...I32X4_ADD,
  LOCAL_SET,
  C_ACC,
];
const copyAdvance = (bytes: number[]) => [...advance(CP, bytes), ...advance(CD, bytes)];

const copySumBody = [
  // locals: 3 x i32 ($end, $tail, $w), 2 x v128 ($acc, $v), 1 x i64 ($s)
  0x03,
  0x03,
  0x7f,
  0x02,
  0x7b,
  0x01,
  0x7e,
  LOCAL_GET,
  CP,
  LOCAL_GET,
  CN,
  I32_ADD,
  LOCAL_SET,
  C_END,
  BLOCK,
  VOID,
  LOOP,
  VOID,
  ...breakIfFewerThan(C_END, CP, C64),
  ...copyVector(0),
  ...copyVector(16),
  ...copyVector(32),
  ...copyVector(48),
  ...copyAdvance(C64),
  BR,
  0,
  END,
  END,
  BLOCK,
  VOID,
  LOOP,
  VOID,
  ...breakIfFewerThan(C_END, CP, C16),
  ...copyVector(0),
  ...copyAdvance(C16),
  BR,
  0,
  END,
  END,
  BLOCK,
  VOID,
  LOOP,
  VOID,
  ...breakIfFewerThan(C_END, CP, C2),
  LOCAL_GET,
  CD,
  LOCAL_GET,
  CP,
  I32_LOAD16_U,
  ...at(0),
  LOCAL_TEE,
  C_W,
  I32_STORE16,
  ...at(0),
  LOCAL_GET,
  C_TAIL,
  LOCAL_GET,
  C_W,
  I32_ADD,
  LOCAL_SET,
  C_TAIL,
  ...copyAdvance(C2),
  BR,
  0,
  END,
  END,
  LOCAL_GET,
  CP,
  LOCAL_GET,
  C_END,
  I32_LT_U,
  IF,
  VOID,
  LOCAL_GET,
  CD,
  LOCAL_GET,
  CP,
  I32_LOAD8_U,
  ...at(0),
  LOCAL_TEE,
  C_W,
  I32_STORE8,
  ...at(0),
  LOCAL_GET,
  C_TAIL,
  LOCAL_GET,
  C_W,
  I32_ADD,
  LOCAL_SET,
  C_TAIL,
  END,
  ...finish(C_ACC, C_TAIL, C_S),
  END,
];

/** withSize prefixes bytes with their length as unsigned LEB128, as sections and bodies require. */
function withSize(bytes: number[]): number[] {
  const out: number[] = [];
  let n = bytes.length;
  do {
    const b = n & 0x7f;
    n >>>= 7;
    out.push(n === 0 ? b : b | 0x80);
  } while (n !== 0);
  return [...out, ...bytes];
}

const ascii = (s: string) => withSize([...s].map((c) => c.charCodeAt(0)));

/** CHECKSUM_WASM is the binary encoding of the module in the header comment. */
export const CHECKSUM_WASM = new Uint8Array([
  0x00,
  0x61,
  0x73,
  0x6d,
  0x01,
  0x00,
  0x00,
  0x00, // "\0asm", version 1
  // types: 0 = (i32, i32) -> i32, 1 = (i32, i32, i32) -> i32
  0x01,
  ...withSize([0x02, 0x60, 0x02, 0x7f, 0x7f, 0x01, 0x7f, 0x60, 0x03, 0x7f, 0x7f, 0x7f, 0x01, 0x7f]),
  0x02,
  ...withSize([0x01, ...ascii("env"), ...ascii("memory"), 0x02, 0x00, 0x00]), // import memory, min 0
  0x03,
  ...withSize([0x02, 0x00, 0x01]), // function 0 has type 0, function 1 type 1
  0x07,
  ...withSize([0x02, ...ascii("sum"), 0x00, 0x00, ...ascii("copy_sum"), 0x00, 0x01]), // exports
  0x0a,
  ...withSize([0x02, ...withSize(body), ...withSize(copySumBody)]), // code
]);

// undefined: not tried yet; null: WebAssembly or SIMD is unavailable here.
let compiled: WebAssembly.Module | null | undefined;

function checksumModule(): WebAssembly.Module | null {
  if (compiled === undefined) {
    try {
      compiled = new WebAssembly.Module(CHECKSUM_WASM);
    } catch {
      compiled = null;
    }
  }
  return compiled;
}

/** WasmChecksumMemory is byteLength bytes of WebAssembly memory and the kernel instantiated on it. */
export interface WasmChecksumMemory {
  readonly bytes: Uint8Array;
  readonly sum: WasmSum;
  readonly copySum: WasmCopySum;
}

const WASM_PAGE = 65536;

/**
 * createWasmChecksumMemory allocates byteLength zeroed bytes in a
 * WebAssembly.Memory with the kernel bound to it, or returns null when this
 * runtime cannot (no WebAssembly, no SIMD, no memory). The memory's size is
 * fixed: growing it would detach every view of it. JavaScriptCore reserves
 * about 4 GiB of address space per memory so that wasm loads need no bounds
 * checks; only touched pages count towards RSS, as with a plain buffer, but
 * each allocation costs ~0.1 ms, so allocate batches once, not per packet.
 */
export function createWasmChecksumMemory(byteLength: number): WasmChecksumMemory | null {
  const mod = checksumModule();
  if (mod === null) return null;
  try {
    const pages = Math.max(1, Math.ceil(byteLength / WASM_PAGE));
    const memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
    const instance = new WebAssembly.Instance(mod, { env: { memory } });
    const sum = instance.exports.sum as WasmSum;
    const copySum = instance.exports.copy_sum as WasmCopySum;
    return { bytes: new Uint8Array(memory.buffer, 0, byteLength), sum, copySum };
  } catch {
    return null;
  }
}
