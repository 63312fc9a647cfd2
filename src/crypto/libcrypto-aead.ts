// ChaCha20-Poly1305 through libcrypto's EVP interface, in place, with no
// allocation per packet. Design (numbers in bench/crypto.ts):
//
// - One EVP_CIPHER_CTX per direction per key. The cipher and key are set once
//   at creation; each packet only re-initialises the IV with
//   EVP_CipherInit_ex(ctx, NULL, NULL, NULL, iv, enc), which resets the
//   Poly1305 state without re-running the key schedule.
// - All pointers are Numbers: the IV, the out-length scratch and the tag
//   parameter live in buffers whose addresses are taken once, and the packet
//   buffer's address is cached per buffer object (the data plane reuses a few
//   large buffers), so a packet costs no ptr() call.
// - seal = Init(iv) + Update(in place) + Final + get tag: 4 crossings.
//   OpenSSL 3's provider only computes the tag in Final and only hands it out
//   as a context parameter, so neither call can be dropped (Final without
//   fetching the tag leaves it inside the context; measured, see bench). On
//   OpenSSL 3 the tag is fetched with EVP_CIPHER_CTX_get_params: the crossing
//   count is the same, but ctrl(GET_TAG) is a compatibility shim that builds
//   the same OSSL_PARAM list itself and costs ~150 ns more per packet
//   (1085 → 936 ns per 1420-byte seal, measured on the 2-core VM).
//   OpenSSL 1.1 keeps ctrl(GET_TAG).
// - open (OpenSSL 3) = EVP_CipherInit_ex2(iv, params{tag}) + Update + Final:
//   3 crossings, because the expected tag travels in the OSSL_PARAM list of the
//   IV re-init instead of a separate ctrl(SET_TAG). OpenSSL 1.1 uses 4.
// - Batch forms run the same sequence in a loop with the buffer address taken
//   once; without a C shim (forbidden: no build step) the crossings per packet
//   cannot be merged further.

import type { AeadKey } from "./types.ts";
import {
  addressOf,
  cstring,
  EVP_CTRL_AEAD_GET_TAG,
  EVP_CTRL_AEAD_SET_TAG,
  OSSL_PARAM_OCTET_STRING,
  OSSL_PARAM_SIZE,
  type Libcrypto,
} from "../sys/libcrypto.ts";
import { AEAD_TAG_LEN } from "./types.ts";

const TWO32 = 0x100000000;

/** checkRange throws unless buf[off, off+len) is a valid, in-bounds range (C must never write out of bounds). */
function checkRange(buf: Uint8Array, off: number, len: number): void {
  if (!(off >= 0 && len >= 0 && (off | 0) === off && (len | 0) === len && off + len <= buf.length)) {
    throw new RangeError(`AEAD range [${off}, ${off}+${len}) outside buffer of ${buf.length} bytes`);
  }
}

export class LibcryptoAeadKey implements AeadKey {
  private sealCtx: number;
  private openCtx: number;
  // iv[0..4) stays zero; iv[4..12) is the LE u64 counter, written as two u32.
  private readonly ivBytes = new Uint8Array(16);
  private readonly iv32 = new Uint32Array(this.ivBytes.buffer);
  private readonly ivAddr = addressOf(this.ivBytes);
  private readonly outl = new Int32Array(2);
  private readonly outlAddr = addressOf(this.outl);
  // OSSL_PARAM[2]: {"tag", OCTET_STRING, data, 16, return_size} then the end marker.
  private readonly params = new Uint8Array(2 * OSSL_PARAM_SIZE);
  private readonly params32 = new Uint32Array(this.params.buffer);
  private readonly paramsAddr = addressOf(this.params);
  // Same layout for the seal side: {"tag", OCTET_STRING, out, 16}; its data
  // pointer is set per packet to where the tag goes.
  private readonly sealParams = new Uint8Array(2 * OSSL_PARAM_SIZE);
  private readonly sealParams32 = new Uint32Array(this.sealParams.buffer);
  private readonly sealParamsAddr = addressOf(this.sealParams);
  // "tag" (OSSL_CIPHER_PARAM_AEAD_TAG), referenced by params[0].key. It must be
  // a field: a module-level const that no function reads is not kept alive by
  // JSC once the module has run, and the freed bytes then silently turn the
  // parameter into an unknown key, so the expected tag is never set (a forged
  // packet then verifies against the previous packet's tag).
  private readonly tagParamName = cstring("tag");
  private lastBuf: Uint8Array | null = null;
  private lastAddr = 0;

  constructor(
    private readonly lib: Libcrypto,
    key: Uint8Array,
  ) {
    if (key.length !== 32) throw new RangeError("ChaCha20-Poly1305 key must be 32 bytes");
    const s = lib.sym;
    const keyCopy = Uint8Array.from(key);
    const keyAddr = addressOf(keyCopy);
    this.sealCtx = s.EVP_CIPHER_CTX_new() as number;
    this.openCtx = s.EVP_CIPHER_CTX_new() as number;
    try {
      if (!this.sealCtx || !this.openCtx) throw new Error("EVP_CIPHER_CTX_new failed");
      if (s.EVP_CipherInit_ex(this.sealCtx, lib.chacha20poly1305, null, keyAddr, null, 1) !== 1 ||
          s.EVP_CipherInit_ex(this.openCtx, lib.chacha20poly1305, null, keyAddr, null, 0) !== 1) {
        throw new Error("EVP_CipherInit_ex(chacha20-poly1305) failed");
      }
    } catch (e) {
      this.destroy();
      throw e;
    } finally {
      keyCopy.fill(0); // libcrypto holds its own copy now
    }
    const dv = new DataView(this.params.buffer);
    dv.setBigUint64(0, BigInt(addressOf(this.tagParamName)), true);
    dv.setUint32(8, OSSL_PARAM_OCTET_STRING, true);
    dv.setBigUint64(24, BigInt(AEAD_TAG_LEN), true);
    dv.setBigUint64(32, 0xffffffffffffffffn, true); // OSSL_PARAM_UNMODIFIED
    // Second element stays all-zero: the terminating {NULL, ...} entry.
    this.sealParams.set(this.params);
  }

  private addressOfBuf(buf: Uint8Array): number {
    if (buf !== this.lastBuf) {
      this.lastAddr = addressOf(buf);
      this.lastBuf = buf;
    }
    return this.lastAddr;
  }

  private setCounter(counter: number): void {
    this.iv32[1] = counter >>> 0; // ToUint32 = counter mod 2^32 for any Number up to 2^53
    this.iv32[2] = (counter / TWO32) >>> 0;
  }

  /** sealAt runs the seal sequence on raw addresses; the IV must already be in ivBytes. */
  private sealAt(p: number, len: number, aad: Uint8Array | undefined): void {
    const s = this.lib.sym;
    const ctx = this.sealCtx;
    let ok = s.EVP_CipherInit_ex(ctx, null, null, null, this.ivAddr, 1);
    if (aad !== undefined && aad.length > 0) {
      ok &= s.EVP_CipherUpdate(ctx, null, this.outlAddr, addressOf(aad), aad.length);
    }
    if (len > 0) ok &= s.EVP_CipherUpdate(ctx, p, this.outlAddr, p, len);
    ok &= s.EVP_CipherFinal_ex(ctx, p + len, this.outlAddr);
    const v3 = this.lib.v3;
    if (v3 !== null) {
      const tagAddr = p + len;
      this.sealParams32[4] = tagAddr >>> 0;
      this.sealParams32[5] = (tagAddr / TWO32) >>> 0;
      ok &= v3.EVP_CIPHER_CTX_get_params(ctx, this.sealParamsAddr);
    } else {
      ok &= s.EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, AEAD_TAG_LEN, p + len);
    }
    if (ok !== 1) {
      this.lib.sym.ERR_clear_error();
      throw new Error("libcrypto ChaCha20-Poly1305 seal failed");
    }
  }

  /** openAt runs the open sequence on raw addresses (len includes the tag). */
  private openAt(p: number, len: number, aad: Uint8Array | undefined): boolean {
    const s = this.lib.sym;
    const ctx = this.openCtx;
    const n = len - AEAD_TAG_LEN;
    const tagAddr = p + n;
    let ok: number;
    const v3 = this.lib.v3;
    if (v3 !== null) {
      this.params32[4] = tagAddr >>> 0;
      this.params32[5] = (tagAddr / TWO32) >>> 0;
      ok = v3.EVP_CipherInit_ex2(ctx, null, null, this.ivAddr, 0, this.paramsAddr);
    } else {
      ok = s.EVP_CipherInit_ex(ctx, null, null, null, this.ivAddr, 0);
      ok &= s.EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, AEAD_TAG_LEN, tagAddr);
    }
    if (aad !== undefined && aad.length > 0) {
      ok &= s.EVP_CipherUpdate(ctx, null, this.outlAddr, addressOf(aad), aad.length);
    }
    // OpenSSL 3 and 1.1 both allow in == out for this cipher (it is a stream cipher).
    if (n > 0) ok &= s.EVP_CipherUpdate(ctx, p, this.outlAddr, p, n);
    ok &= s.EVP_CipherFinal_ex(ctx, tagAddr, this.outlAddr);
    if (ok !== 1) {
      s.ERR_clear_error(); // keep the per-thread error queue from growing on forged packets
      return false;
    }
    return true;
  }

  seal(counter: number, buf: Uint8Array, off: number, len: number, aad?: Uint8Array): void {
    checkRange(buf, off, len + AEAD_TAG_LEN);
    this.setCounter(counter);
    this.sealAt(this.addressOfBuf(buf) + off, len, aad);
  }

  open(counter: number, buf: Uint8Array, off: number, len: number, aad?: Uint8Array): boolean {
    if (len < AEAD_TAG_LEN) return false;
    checkRange(buf, off, len);
    this.setCounter(counter);
    return this.openAt(this.addressOfBuf(buf) + off, len, aad);
  }

  /** sealNonce is seal with an arbitrary 12-byte nonce (known-answer tests, one-shot API). */
  sealNonce(nonce: Uint8Array, buf: Uint8Array, off: number, len: number, aad?: Uint8Array): void {
    if (nonce.length !== 12) throw new RangeError("nonce must be 12 bytes");
    checkRange(buf, off, len + AEAD_TAG_LEN);
    this.ivBytes.set(nonce);
    this.sealAt(this.addressOfBuf(buf) + off, len, aad);
    this.ivBytes.fill(0, 0, 4); // restore the WireGuard invariant: first 4 IV bytes are zero
  }

  /** openNonce is open with an arbitrary 12-byte nonce. */
  openNonce(nonce: Uint8Array, buf: Uint8Array, off: number, len: number, aad?: Uint8Array): boolean {
    if (nonce.length !== 12) throw new RangeError("nonce must be 12 bytes");
    if (len < AEAD_TAG_LEN) return false;
    checkRange(buf, off, len);
    this.ivBytes.set(nonce);
    const ok = this.openAt(this.addressOfBuf(buf) + off, len, aad);
    this.ivBytes.fill(0, 0, 4);
    return ok;
  }

  sealBatch(count: number, counters: Float64Array, buf: Uint8Array, offs: Int32Array, lens: Int32Array): void {
    for (let i = 0; i < count; i++) checkRange(buf, offs[i]!, lens[i]! + AEAD_TAG_LEN);
    const base = this.addressOfBuf(buf);
    for (let i = 0; i < count; i++) {
      this.setCounter(counters[i]!);
      this.sealAt(base + offs[i]!, lens[i]!, undefined);
    }
  }

  openBatch(count: number, counters: Float64Array, buf: Uint8Array, offs: Int32Array, lens: Int32Array, ok: Uint8Array): void {
    const base = this.addressOfBuf(buf);
    for (let i = 0; i < count; i++) {
      const off = offs[i]!;
      const len = lens[i]!;
      if (len < AEAD_TAG_LEN) {
        ok[i] = 0;
        continue;
      }
      checkRange(buf, off, len);
      this.setCounter(counters[i]!);
      ok[i] = this.openAt(base + off, len, undefined) ? 1 : 0;
    }
  }

  destroy(): void {
    // EVP_CIPHER_CTX_free cleanses the key schedule (OPENSSL_clear_free in the provider).
    if (this.sealCtx) this.lib.sym.EVP_CIPHER_CTX_free(this.sealCtx);
    if (this.openCtx) this.lib.sym.EVP_CIPHER_CTX_free(this.openCtx);
    this.sealCtx = 0;
    this.openCtx = 0;
    this.ivBytes.fill(0);
    this.lastBuf = null;
    // Any later use must fail loudly rather than pass NULL contexts to C.
    const dead = (): never => {
      throw new Error("AeadKey used after destroy()");
    };
    this.seal = dead;
    this.open = dead;
    this.sealBatch = dead;
    this.openBatch = dead;
    this.sealNonce = dead;
    this.openNonce = dead;
  }
}
