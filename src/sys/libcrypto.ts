// bun:ffi binding to the system OpenSSL libcrypto (3.x preferred, 1.1.1 accepted).
// Self-contained on purpose: src/crypto/ may not import bun:ffi, so everything
// the crypto backends need from FFI (symbols, ptr(), raw reads) is re-exported
// from here, and nothing else in src/sys is imported except library-dirs.ts,
// which has no dependencies (separate owners, and the compiled binary must be
// able to load this alone). The library is opened by absolute path only: see
// library-dirs.ts for why a bare soname is unsafe.
//
// Conventions: pointer arguments are declared "ptr" and always passed as plain
// numbers computed once with ptr() (a TypedArray argument costs an extra
// conversion per call); int returns are "i32" so no BigInt is ever allocated on
// the data path. size_t arguments are "u64" (only used off the data path).

import { CFunction, CString, dlopen, ptr, read, type FFIFunction, type Pointer } from "bun:ffi";
import { systemLibraryCandidates, systemLibraryDirs } from "./library-dirs.ts";

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
  EVP_CIPHER_fetch: { args: ["ptr", "ptr", "ptr"], returns: "ptr" },
  EVP_CIPHER_get0_provider: { args: ["ptr"], returns: "ptr" },
  OSSL_PROVIDER_get0_provider_ctx: { args: ["ptr"], returns: "ptr" },
  OSSL_PROVIDER_query_operation: { args: ["ptr", "i32", "ptr"], returns: "ptr" },
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
type Ret<R> = R extends "void" ? undefined : R extends "ptr" ? number | null : number;
type Symbols<T extends Record<string, { args: readonly string[]; returns: string }>> = {
  readonly [K in keyof T]: (...args: (number | null)[]) => Ret<T[K]["returns"]>;
};
type CoreSymbols = Symbols<typeof CORE>;
type V3Symbols = Symbols<typeof V3>;

export interface Libcrypto {
  /** Absolute path that was loaded. */
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
  const dirs = systemLibraryDirs();
  const paths = systemLibraryCandidates(LIBCRYPTO_SONAMES, dirs);
  if (paths.length === 0) errors.push(`none of ${LIBCRYPTO_SONAMES.join(", ")} in ${dirs.join(", ")}`);
  for (const path of paths) {
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
  return new TextEncoder().encode(`${s}\0`);
}

/** readPtr reads a pointer-sized value at address+offset. */
export function readPtr(address: number, offset = 0): number {
  return read.ptr(address as Pointer, offset) as number;
}

/**
 * ProviderCipher is ChaCha20-Poly1305 as the OpenSSL 3 provider implements it:
 * the functions EVP_Cipher* call after their own checks (provider-cipher(7)).
 * Calling them directly skips EVP's per-call work, which on OpenSSL 3.0
 * includes re-asking the provider for the IV length on every re-init
 * (EVP_CIPHER_CTX_get_iv_length's uncached path plus OSSL_PARAM string
 * compares: ~4 % of all CPU under load in bench/profile.ts). Signatures:
 *   newctx(provctx) -> ctx          freectx(ctx)
 *   encryptInit/decryptInit(ctx, key, keylen, iv, ivlen, params) -> int
 *   update(ctx, out, size_t *outl, outsize, in, inl) -> int
 *   final(ctx, out, size_t *outl, outsize) -> int
 *   getCtxParams(ctx, params) -> int
 */
export interface ProviderCipher {
  readonly provctx: number;
  readonly newctx: (provctx: number) => number | null;
  readonly freectx: (ctx: number) => void;
  readonly encryptInit: (ctx: number, key: number | null, keylen: number, iv: number | null, ivlen: number, params: number | null) => number;
  readonly decryptInit: (ctx: number, key: number | null, keylen: number, iv: number | null, ivlen: number, params: number | null) => number;
  readonly update: (ctx: number, out: number | null, outl: number, outsize: number, inp: number, inl: number) => number;
  readonly final: (ctx: number, out: number, outl: number, outsize: number) => number;
  readonly getCtxParams: (ctx: number, params: number) => number;
}

/** OSSL_OP_CIPHER and the OSSL_FUNC_CIPHER_* ids (include/openssl/core_dispatch.h). */
const OSSL_OP_CIPHER = 2;
const FUNC_NEWCTX = 1;
const FUNC_ENCRYPT_INIT = 2;
const FUNC_DECRYPT_INIT = 3;
const FUNC_UPDATE = 4;
const FUNC_FINAL = 5;
const FUNC_FREECTX = 7;
const FUNC_GET_CTX_PARAMS = 10;
/** sizeof(OSSL_ALGORITHM) (names*, properties*, implementation*, description*) and sizeof(OSSL_DISPATCH) on LP64. */
const OSSL_ALGORITHM_SIZE = 32;
const OSSL_DISPATCH_SIZE = 16;

const providerCache = new WeakMap<Libcrypto, ProviderCipher | null>();

/**
 * loadChacha20Poly1305Provider finds the dispatch table of the provider that
 * EVP would use for ChaCha20-Poly1305 (the default provider) through public
 * OpenSSL 3 API: EVP_CIPHER_fetch, EVP_CIPHER_get0_provider,
 * OSSL_PROVIDER_query_operation. null on OpenSSL 1.1 or if anything is
 * missing; callers then use the EVP path.
 */
export function loadChacha20Poly1305Provider(lib: Libcrypto): ProviderCipher | null {
  const hit = providerCache.get(lib);
  if (hit !== undefined) return hit;
  let found: ProviderCipher | null = null;
  try {
    found = queryProvider(lib);
  } catch {
    found = null;
  }
  providerCache.set(lib, found);
  return found;
}

function queryProvider(lib: Libcrypto): ProviderCipher | null {
  const v3 = lib.v3;
  if (v3 === null) return null;
  const name = cstring("ChaCha20-Poly1305");
  // The fetched EVP_CIPHER is never freed: it holds the provider (and so the
  // dispatch functions below) loaded for the life of the process.
  const cipher = v3.EVP_CIPHER_fetch(null, addressOf(name), null);
  if (!cipher) return null;
  const provider = v3.EVP_CIPHER_get0_provider(cipher);
  if (!provider) return null;
  const provctx = v3.OSSL_PROVIDER_get0_provider_ctx(provider);
  const noCache = new Int32Array(new ArrayBuffer(8));
  const algorithms = v3.OSSL_PROVIDER_query_operation(provider, OSSL_OP_CIPHER, addressOf(noCache));
  if (!algorithms) return null;
  let table = 0;
  for (let i = 0; ; i++) {
    const names = readPtr(algorithms, i * OSSL_ALGORITHM_SIZE);
    if (!names) break;
    const aliases = new CString(names as unknown as Pointer).toString().split(":");
    if (aliases.some((a) => a.toLowerCase() === "chacha20-poly1305")) {
      table = readPtr(algorithms, i * OSSL_ALGORITHM_SIZE + 16);
      break;
    }
  }
  if (!table) return null;
  const fns = new Map<number, number>();
  for (let i = 0; ; i++) {
    const id = read.i32(table as unknown as Pointer, i * OSSL_DISPATCH_SIZE);
    if (id === 0) break;
    fns.set(id, readPtr(table, i * OSSL_DISPATCH_SIZE + 8));
  }
  const need = [FUNC_NEWCTX, FUNC_ENCRYPT_INIT, FUNC_DECRYPT_INIT, FUNC_UPDATE, FUNC_FINAL, FUNC_FREECTX, FUNC_GET_CTX_PARAMS];
  if (need.some((id) => !fns.get(id))) return null;
  const fn = (id: number, args: FFIFunction["args"], returns: FFIFunction["returns"]) =>
    CFunction({ ptr: fns.get(id)! as unknown as Pointer, args, returns }) as unknown as (...a: (number | null)[]) => number;
  const init = ["ptr", "ptr", "u64", "ptr", "u64", "ptr"] as const;
  return {
    provctx: provctx ?? 0,
    newctx: fn(FUNC_NEWCTX, ["ptr"], "ptr") as ProviderCipher["newctx"],
    freectx: fn(FUNC_FREECTX, ["ptr"], "void") as ProviderCipher["freectx"],
    encryptInit: fn(FUNC_ENCRYPT_INIT, [...init], "i32"),
    decryptInit: fn(FUNC_DECRYPT_INIT, [...init], "i32"),
    update: fn(FUNC_UPDATE, ["ptr", "ptr", "ptr", "u64", "ptr", "u64"], "i32"),
    final: fn(FUNC_FINAL, ["ptr", "ptr", "ptr", "u64"], "i32"),
    getCtxParams: fn(FUNC_GET_CTX_PARAMS, ["ptr", "ptr"], "i32"),
  };
}
