// XChaCha20-Poly1305 seal for cookie replies, allocation-free (xaead.ts has
// the construction). Under a handshake flood the responder seals one cookie
// reply per message it gets to: the generic path built a throwaway AEAD key
// (two EVP contexts) and five arrays per reply, ~7.7 µs and garbage a
// never-yielding worker keeps. Here one EVP context is created once and
// re-keyed per reply with EVP_CipherInit_ex(ctx, NULL, NULL, key, iv, 1),
// and the HChaCha20 subkey (hchacha.ts) is written straight into the key
// buffer libcrypto reads from.
import { addressOf, EVP_CTRL_AEAD_GET_TAG, type Libcrypto } from "../sys/libcrypto.ts";
import { hchacha20 } from "./hchacha.ts";
import { TagParams } from "./libcrypto-aead-base.ts";
import { AEAD_TAG_LEN, XAEAD_NONCE_LEN } from "./types.ts";

export class LibcryptoXaeadSealer {
  private ctx: number;
  // Out-of-line buffers from the start (addressOf would move inline ones and leave copies behind).
  private readonly key32 = new Uint32Array(new ArrayBuffer(32));
  private readonly nonce32 = new Uint32Array(new ArrayBuffer(16));
  private readonly key8 = new Uint8Array(this.key32.buffer);
  private readonly nonce8 = new Uint8Array(this.nonce32.buffer);
  private readonly subkey32 = new Uint32Array(new ArrayBuffer(32));
  private readonly subkeyAddr = addressOf(this.subkey32);
  private readonly iv = new Uint8Array(new ArrayBuffer(12));
  private readonly ivAddr = addressOf(this.iv);
  private readonly outl = new BigUint64Array(1);
  private readonly outlAddr = addressOf(this.outl);
  private readonly tag = new TagParams();

  constructor(private readonly lib: Libcrypto) {
    this.ctx = lib.sym.EVP_CIPHER_CTX_new() as number;
    if (!this.ctx) throw new Error("EVP_CIPHER_CTX_new failed");
    if (lib.sym.EVP_CipherInit_ex(this.ctx, lib.chacha20poly1305, null, null, null, 1) !== 1) {
      this.destroy();
      throw new Error("EVP_CipherInit_ex(chacha20-poly1305) failed");
    }
  }

  /** seal writes XChaCha20-Poly1305(key, nonce, plaintext, aad) = ciphertext‖tag into out. */
  seal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array, out: Uint8Array): void {
    if (key.length !== 32) throw new RangeError("XChaCha20-Poly1305 key must be 32 bytes");
    if (nonce.length !== XAEAD_NONCE_LEN) throw new RangeError("XChaCha20-Poly1305 nonce must be 24 bytes");
    const n = plaintext.length;
    if (out.length < n + AEAD_TAG_LEN) throw new RangeError("xaeadSeal: out too small");
    const k8 = this.key8;
    const n8 = this.nonce8;
    for (let i = 0; i < 32; i++) k8[i] = key[i]!;
    for (let i = 0; i < 16; i++) n8[i] = nonce[i]!;
    hchacha20(this.key32, this.nonce32, this.subkey32);
    this.key32.fill(0);
    const iv = this.iv;
    for (let i = 0; i < 4; i++) iv[i] = 0;
    for (let i = 0; i < 8; i++) iv[4 + i] = nonce[16 + i]!;
    for (let i = 0; i < n; i++) out[i] = plaintext[i]!;
    const s = this.lib.sym;
    const ctx = this.ctx;
    const p = addressOf(out);
    let ok = s.EVP_CipherInit_ex(ctx, null, null, this.subkeyAddr, this.ivAddr, 1);
    this.subkey32.fill(0); // libcrypto holds the key schedule now
    if (aad.length > 0) ok &= s.EVP_CipherUpdate(ctx, null, this.outlAddr, addressOf(aad), aad.length);
    if (n > 0) ok &= s.EVP_CipherUpdate(ctx, p, this.outlAddr, p, n);
    ok &= s.EVP_CipherFinal_ex(ctx, p + n, this.outlAddr);
    const v3 = this.lib.v3;
    if (v3 !== null) {
      this.tag.pointAt(p + n);
      ok &= v3.EVP_CIPHER_CTX_get_params(ctx, this.tag.address);
    } else {
      ok &= s.EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, AEAD_TAG_LEN, p + n);
    }
    if (ok !== 1) {
      s.ERR_clear_error();
      throw new Error("libcrypto XChaCha20-Poly1305 seal failed");
    }
  }

  destroy(): void {
    // EVP_CIPHER_CTX_free cleanses the last key schedule.
    if (this.ctx) this.lib.sym.EVP_CIPHER_CTX_free(this.ctx);
    this.ctx = 0;
  }
}
