// ChaCha20-Poly1305 through libcrypto's EVP interface, in place, with no
// allocation per packet: the portable path (OpenSSL 1.1 and 3), used when the
// provider's dispatch table cannot be reached (libcrypto-provider-aead.ts) or
// when TUNNEL_CRYPTO=libcrypto-evp asks for it. Design (numbers in
// bench/crypto.ts):
//
// - One EVP_CIPHER_CTX per direction per key. The cipher and key are set once
//   at creation; each packet only re-initialises the IV with
//   EVP_CipherInit_ex(ctx, NULL, NULL, NULL, iv, enc), which resets the
//   Poly1305 state without re-running the key schedule.
// - All pointers are Numbers computed once (IV, out-length scratch, tag
//   parameter; the packet buffer's address is cached per buffer object).
// - seal = Init(iv) + Update(in place) + Final + get tag: 4 crossings.
//   OpenSSL 3's provider only computes the tag in Final and only hands it out
//   as a context parameter, so neither call can be dropped. On OpenSSL 3 the
//   tag is fetched with EVP_CIPHER_CTX_get_params: ctrl(GET_TAG) is a
//   compatibility shim that builds the same OSSL_PARAM list itself and costs
//   ~150 ns more per packet (1085 → 936 ns per 1420-byte seal).
//   OpenSSL 1.1 keeps ctrl(GET_TAG).
// - open (OpenSSL 3) = EVP_CipherInit_ex2(iv, params{tag}) + Update + Final:
//   3 crossings, because the expected tag travels in the OSSL_PARAM list of the
//   IV re-init instead of a separate ctrl(SET_TAG). OpenSSL 1.1 uses 4.

import { addressOf, EVP_CTRL_AEAD_GET_TAG, EVP_CTRL_AEAD_SET_TAG, type Libcrypto } from "../sys/libcrypto.ts";
import { InPlaceAeadKey } from "./libcrypto-aead-base.ts";
import { AEAD_TAG_LEN } from "./types.ts";

const KEY_BYTES = 32;

export class EvpAeadKey extends InPlaceAeadKey {
  private sealCtx: number;
  private openCtx: number;

  constructor(lib: Libcrypto, key: Uint8Array) {
    super(lib);
    if (key.length !== KEY_BYTES) throw new RangeError("ChaCha20-Poly1305 key must be 32 bytes");
    const s = lib.sym;
    // An out-of-line buffer from the start: addressOf() would move a small
    // inline array's bytes and leave the original copy of the key behind.
    const keyCopy = new Uint8Array(new ArrayBuffer(KEY_BYTES));
    keyCopy.set(key);
    const keyAddr = addressOf(keyCopy);
    this.sealCtx = s.EVP_CIPHER_CTX_new() as number;
    this.openCtx = s.EVP_CIPHER_CTX_new() as number;
    try {
      if (!this.sealCtx || !this.openCtx) throw new Error("EVP_CIPHER_CTX_new failed");
      if (
        s.EVP_CipherInit_ex(this.sealCtx, lib.chacha20poly1305, null, keyAddr, null, 1) !== 1 ||
        s.EVP_CipherInit_ex(this.openCtx, lib.chacha20poly1305, null, keyAddr, null, 0) !== 1
      ) {
        throw new Error("EVP_CipherInit_ex(chacha20-poly1305) failed");
      }
    } catch (e) {
      this.freeContexts();
      throw e;
    } finally {
      keyCopy.fill(0); // libcrypto holds its own copy now
    }
  }

  protected sealAt(p: number, len: number, aad: Uint8Array | undefined): void {
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
      this.sealTag.pointAt(p + len);
      ok &= v3.EVP_CIPHER_CTX_get_params(ctx, this.sealTag.address);
    } else {
      ok &= s.EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, AEAD_TAG_LEN, p + len);
    }
    if (ok !== 1) {
      this.failed();
      throw new Error("libcrypto ChaCha20-Poly1305 seal failed");
    }
  }

  protected openAt(p: number, len: number, aad: Uint8Array | undefined): boolean {
    const s = this.lib.sym;
    const ctx = this.openCtx;
    const n = len - AEAD_TAG_LEN;
    const tagAddr = p + n;
    let ok: number;
    const v3 = this.lib.v3;
    if (v3 !== null) {
      this.openTag.pointAt(tagAddr);
      ok = v3.EVP_CipherInit_ex2(ctx, null, null, this.ivAddr, 0, this.openTag.address);
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
      this.failed();
      return false;
    }
    return true;
  }

  protected freeContexts(): void {
    // EVP_CIPHER_CTX_free cleanses the key schedule (OPENSSL_clear_free in the provider).
    if (this.sealCtx) this.lib.sym.EVP_CIPHER_CTX_free(this.sealCtx);
    if (this.openCtx) this.lib.sym.EVP_CIPHER_CTX_free(this.openCtx);
    this.sealCtx = 0;
    this.openCtx = 0;
  }
}
