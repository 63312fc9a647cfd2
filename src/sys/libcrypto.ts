// bun:ffi binding to the system OpenSSL libcrypto (3.x preferred, 1.1.1 accepted).
// Self-contained on purpose: src/crypto/ may not import bun:ffi, so everything
// the crypto backends need from FFI (symbols, ptr(), raw reads) is re-exported
// from here, and nothing else in src/sys is imported (separate owners, and the
// compiled binary must be able to load this alone).
//
// Conventions: pointer arguments are declared "ptr" and always passed as plain
// numbers computed once with ptr() (a TypedArray argument costs an extra
// conversion per call); int returns are "i32" so no BigInt is ever allocated on
// the data path. size_t arguments are "u64" (only used off the data path).

import { dlopen, ptr, read, type FFIFunction, type Pointer } from "bun:ffi";

/** Shared objects tried in order. 1.1 still ships on older distributions. */
export const LIBCRYPTO_SONAMES = [
  "libcrypto.so.3",
  "libcrypto.so.1.1",
  // Unversioned dev symlink, present when the -dev package is installed.
  "libcrypto.so",
] as const;

// Symbols present in both 1.1.1 and 3.x.
const CORE = {
  OpenSSL_version_num: { args: [], returns: "u64_fast" },
  EVP_chacha20_poly1305: { args: [], returns: "ptr" },
  EVP_CIPHER_CTX_new: { args: [], returns: "ptr" },
  EVP_CIPHER_CTX_free: { args: ["ptr"], returns: "void" },
  EVP_CipherInit_ex: { args: ["ptr", "ptr", "ptr", "ptr", "ptr", "i32"], returns: "i32" },
  EVP_CipherUpdate: { args: ["ptr", "ptr", "ptr", "ptr", "i32"], returns: "i32" },
  EVP_CipherFinal_ex: { args: ["ptr", "ptr", "ptr"], returns: "i32" },
  EVP_CIPHER_CTX_ctrl: { args: ["ptr", "i32", "i32", "ptr"], returns: "i32" },
  EVP_PKEY_new_raw_private_key: { args: ["i32", "ptr", "ptr", "u64"], returns: "ptr" },
  EVP_PKEY_new_raw_public_key: { args: ["i32", "ptr", "ptr", "u64"], returns: "ptr" },
  EVP_PKEY_get_raw_public_key: { args: ["ptr", "ptr", "ptr"], returns: "i32" },
  EVP_PKEY_free: { args: ["ptr"], returns: "void" },
  EVP_PKEY_CTX_new: { args: ["ptr", "ptr"], returns: "ptr" },
  EVP_PKEY_CTX_free: { args: ["ptr"], returns: "void" },
  EVP_PKEY_derive_init: { args: ["ptr"], returns: "i32" },
  EVP_PKEY_derive_set_peer: { args: ["ptr", "ptr"], returns: "i32" },
  EVP_PKEY_derive: { args: ["ptr", "ptr", "ptr"], returns: "i32" },
  EVP_get_digestbyname: { args: ["ptr"], returns: "ptr" },
  EVP_MD_CTX_new: { args: [], returns: "ptr" },
  EVP_MD_CTX_free: { args: ["ptr"], returns: "void" },
  EVP_DigestInit_ex: { args: ["ptr", "ptr", "ptr"], returns: "i32" },
  EVP_DigestUpdate: { args: ["ptr", "ptr", "u64"], returns: "i32" },
  EVP_DigestFinal_ex: { args: ["ptr", "ptr", "ptr"], returns: "i32" },
  RAND_bytes: { args: ["ptr", "i32"], returns: "i32" },
  ERR_clear_error: { args: [], returns: "void" },
  OPENSSL_cleanse: { args: ["ptr", "u64"], returns: "void" },
} as const;

// OpenSSL 3.0 only: EVP_CipherInit_ex2 takes an OSSL_PARAM list, which lets an
// open() set the IV and the expected tag in one crossing;
// EVP_CIPHER_CTX_get_params reads a seal's tag straight from the provider
// (ctrl(GET_TAG) first translates itself into the same OSSL_PARAM call,
// ~150 ns more per packet, measured); EVP_MAC gives keyed
// BLAKE2s (BLAKE2SMAC) and HMAC with any digest.
const V3 = {
  EVP_CipherInit_ex2: { args: ["ptr", "ptr", "ptr", "ptr", "i32", "ptr"], returns: "i32" },
  EVP_CIPHER_CTX_get_params: { args: ["ptr", "ptr"], returns: "i32" },
  EVP_MAC_fetch: { args: ["ptr", "ptr", "ptr"], returns: "ptr" },
  EVP_MAC_free: { args: ["ptr"], returns: "void" },
  EVP_MAC_CTX_new: { args: ["ptr"], returns: "ptr" },
  EVP_MAC_CTX_free: { args: ["ptr"], returns: "void" },
  EVP_MAC_init: { args: ["ptr", "ptr", "u64", "ptr"], returns: "i32" },
  EVP_MAC_update: { args: ["ptr", "ptr", "u64"], returns: "i32" },
  EVP_MAC_final: { args: ["ptr", "ptr", "ptr", "u64"], returns: "i32" },
} as const;

/** EVP_CIPHER_CTX_ctrl commands (include/openssl/evp.h). */
export const EVP_CTRL_AEAD_SET_IVLEN = 0x9;
export const EVP_CTRL_AEAD_GET_TAG = 0x10;
export const EVP_CTRL_AEAD_SET_TAG = 0x11;
/** NID_X25519 (include/openssl/obj_mac.h). */
export const NID_X25519 = 1034;
/** OSSL_PARAM data types (include/openssl/core.h). */
export const OSSL_PARAM_INTEGER = 1;
export const OSSL_PARAM_UNSIGNED_INTEGER = 2;
export const OSSL_PARAM_UTF8_STRING = 4;
export const OSSL_PARAM_OCTET_STRING = 5;
/** sizeof(OSSL_PARAM) on LP64: key*, u32 type (+4 pad), data*, size_t size, size_t return_size. */
export const OSSL_PARAM_SIZE = 40;

// Typed view of the symbols as this project calls them: pointers are plain
// Numbers (or null), "ptr" returns are Number | null, everything else a Number.
type Ret<R> = R extends "void" ? void : R extends "ptr" ? number | null : number;
type Symbols<T extends Record<string, { args: readonly string[]; returns: string }>> = {
  readonly [K in keyof T]: (...args: (number | null)[]) => Ret<T[K]["returns"]>;
};
type CoreSymbols = Symbols<typeof CORE>;
type V3Symbols = Symbols<typeof V3>;

export interface Libcrypto {
  /** soname that was loaded. */
  readonly path: string;
  /** OpenSSL_version_num(), e.g. 0x30000130 for 3.0.19. */
  readonly version: number;
  readonly sym: CoreSymbols;
  /** Present only on OpenSSL 3.x. */
  readonly v3: V3Symbols | null;
  /** EVP_chacha20_poly1305(), fetched once. */
  readonly chacha20poly1305: number;
}

let cached: Libcrypto | null | undefined;
let loadError = "";

/**
 * loadLibcrypto opens the first usable libcrypto and checks it has
 * ChaCha20-Poly1305; returns null (see libcryptoLoadError) if none does.
 * The result is cached per thread (each Worker has its own module instance).
 */
export function loadLibcrypto(): Libcrypto | null {
  if (cached !== undefined) return cached;
  const errors: string[] = [];
  for (const path of LIBCRYPTO_SONAMES) {
    let lib: { symbols: CoreSymbols; close(): void };
    try {
      lib = dlopen(path, CORE as unknown as Record<string, FFIFunction>) as unknown as { symbols: CoreSymbols; close(): void };
    } catch (e) {
      errors.push(`${path}: ${(e as Error).message}`);
      continue;
    }
    const cipher = lib.symbols.EVP_chacha20_poly1305();
    if (!cipher) {
      errors.push(`${path}: EVP_chacha20_poly1305() returned NULL`);
      lib.close();
      continue;
    }
    let v3: V3Symbols | null = null;
    try {
      v3 = dlopen(path, V3 as unknown as Record<string, FFIFunction>).symbols as unknown as V3Symbols;
    } catch {
      v3 = null; // 1.1.1: no EVP_MAC / EVP_CipherInit_ex2; callers fall back.
    }
    cached = {
      path,
      version: Number(lib.symbols.OpenSSL_version_num()),
      sym: lib.symbols,
      v3,
      chacha20poly1305: cipher,
    };
    return cached;
  }
  loadError = errors.join("; ");
  cached = null;
  return null;
}

/** libcryptoLoadError explains why loadLibcrypto() returned null. */
export function libcryptoLoadError(): string {
  return loadError;
}

/**
 * addressOf returns the raw address of view[byteOffset] (~16 ns: cache it).
 *
 * JSC keeps small typed arrays (under ~1000 bytes, created without an explicit
 * ArrayBuffer) inline and copies their bytes elsewhere the first time anything
 * asks for `.buffer` (also subarray(), DataView over it, ...). An address taken
 * before that would then dangle. Touching `.buffer` first makes the storage
 * final, so addresses from here stay valid for the life of the array (as long
 * as its ArrayBuffer is not transferred or resized).
 */
export function addressOf(view: ArrayBufferView, byteOffset = 0): number {
  void view.buffer;
  return ptr(view as Uint8Array, byteOffset) as number;
}

/** cstring returns a NUL-terminated copy of s; keep it referenced while C may read it. */
export function cstring(s: string): Uint8Array {
  return new TextEncoder().encode(s + "\0");
}

/** readPtr reads a pointer-sized value at address+offset. */
export function readPtr(address: number, offset = 0): number {
  return read.ptr(address as Pointer, offset) as number;
}
