// ChaCha20-Poly1305 through the OpenSSL 3 provider's own dispatch functions
// (sys/libcrypto.ts loadChacha20Poly1305Provider): the same code EVP ends up
// in, minus EVP's per-call bookkeeping. On OpenSSL 3.0 that bookkeeping
// includes EVP_CIPHER_CTX_get_iv_length on every IV re-init, which asks the
// provider again each time (OSSL_PARAM construction and string compares):
// bench/profile.ts put it and its strcmp at ~4 % of all CPU under load.
//
// Per packet, like the EVP path:
//   seal = encrypt_init(iv) + update(in place) + final + get_ctx_params(tag)
//   open = decrypt_init(iv, params{expected tag}) + update + final
// The provider checks what EVP checked for us that matters here: the IV
// length against the cipher's, a tag only read on encryption and set on
// decryption, and final's constant-time tag comparison.

import { addressOf, type Libcrypto, type ProviderCipher } from "../sys/libcrypto.ts";
import { InPlaceAeadKey } from "./libcrypto-aead-base.ts";
import { AEAD_TAG_LEN } from "./types.ts";

const KEY_LEN = 32;
const KEY_BYTES = KEY_LEN;
const NONCE_LEN = 12;

export class ProviderAeadKey extends InPlaceAeadKey {
  private sealCtx: number;
  private openCtx: number;

  constructor(
    lib: Libcrypto,
    private readonly p: ProviderCipher,
    key: Uint8Array,
  ) {
    super(lib);
    if (key.length !== KEY_LEN) throw new RangeError("ChaCha20-Poly1305 key must be 32 bytes");
    // An out-of-line buffer from the start: addressOf() would move a small
    // inline array's bytes and leave the original copy of the key behind.
    const keyCopy = new Uint8Array(new ArrayBuffer(KEY_BYTES));
    keyCopy.set(key);
    const keyAddr = addressOf(keyCopy);
    this.sealCtx = p.newctx(p.provctx) ?? 0;
    this.openCtx = p.newctx(p.provctx) ?? 0;
    try {
      if (!this.sealCtx || !this.openCtx) throw new Error("ChaCha20-Poly1305 provider newctx failed");
      // The open context starts with its tag length set to 16 (a tag
      // parameter with no data): a fresh provider context has tag_len 0, and
      // final() would then compare 0 bytes and accept anything if a packet's
      // own tag parameter were ever lost.
      this.openTag.pointAt(0);
      if (
        p.encryptInit(this.sealCtx, keyAddr, KEY_LEN, null, 0, null) !== 1 ||
        p.decryptInit(this.openCtx, keyAddr, KEY_LEN, null, 0, this.openTag.address) !== 1
      ) {
        throw new Error("ChaCha20-Poly1305 provider init failed");
      }
    } catch (e) {
      this.failed();
      this.freeContexts();
      throw e;
    } finally {
      keyCopy.fill(0); // the provider context holds its own copy now
    }
  }

  protected sealAt(p: number, len: number, aad: Uint8Array | undefined): void {
    const c = this.p;
    const ctx = this.sealCtx;
    let ok = c.encryptInit(ctx, null, 0, this.ivAddr, NONCE_LEN, null);
    // AAD goes in as an update with no output buffer; outsize must still cover it.
    if (aad !== undefined && aad.length > 0) ok &= c.update(ctx, null, this.outlAddr, aad.length, addressOf(aad), aad.length);
    if (len > 0) ok &= c.update(ctx, p, this.outlAddr, len, p, len);
    ok &= c.final(ctx, p + len, this.outlAddr, AEAD_TAG_LEN);
    this.sealTag.pointAt(p + len);
    ok &= c.getCtxParams(ctx, this.sealTag.address);
    if (ok !== 1) {
      this.failed();
      throw new Error("libcrypto ChaCha20-Poly1305 seal failed");
    }
  }

  protected openAt(p: number, len: number, aad: Uint8Array | undefined): boolean {
    const c = this.p;
    const ctx = this.openCtx;
    const n = len - AEAD_TAG_LEN;
    const tagAddr = p + n;
    this.openTag.pointAt(tagAddr);
    let ok = c.decryptInit(ctx, null, 0, this.ivAddr, NONCE_LEN, this.openTag.address);
    if (aad !== undefined && aad.length > 0) ok &= c.update(ctx, null, this.outlAddr, aad.length, addressOf(aad), aad.length);
    if (n > 0) ok &= c.update(ctx, p, this.outlAddr, n, p, n);
    ok &= c.final(ctx, tagAddr, this.outlAddr, AEAD_TAG_LEN);
    if (ok !== 1) {
      this.failed();
      return false;
    }
    return true;
  }

  protected freeContexts(): void {
    // The provider's freectx cleanses the key schedule (OPENSSL_clear_free).
    if (this.sealCtx) this.p.freectx(this.sealCtx);
    if (this.openCtx) this.p.freectx(this.openCtx);
    this.sealCtx = 0;
    this.openCtx = 0;
  }
}
