// The handshake primitives through libcrypto: X25519 via EVP_PKEY, BLAKE2s-256
// via EVP_Digest, keyed BLAKE2s via EVP_MAC "BLAKE2SMAC" and HMAC-BLAKE2s via
// EVP_MAC "HMAC" (the last two need OpenSSL 3). bench/crypto.ts measures them
// against the TypeScript and node:crypto versions; the libcrypto backend uses
// only those that won (see libcrypto-backend.ts).

import { addressOf, cstring, NID_X25519, OSSL_PARAM_SIZE, OSSL_PARAM_UNSIGNED_INTEGER, OSSL_PARAM_UTF8_STRING, type Libcrypto } from "../sys/libcrypto.ts";
import { isZero32 } from "./x25519.ts";

export class LibcryptoPrimitives {
  // Per-instance scratch whose addresses are taken once.
  private readonly len = new BigUint64Array(1);
  private readonly lenAddr = addressOf(this.len);
  private readonly keyBuf = new Uint8Array(32);
  private readonly keyAddr = addressOf(this.keyBuf);
  private readonly pubBuf = new Uint8Array(32);
  private readonly pubAddr = addressOf(this.pubBuf);
  private readonly outBuf = new Uint8Array(64);
  private readonly outAddr = addressOf(this.outBuf);
  private readonly mdCtx: number;
  private readonly blake2sMd: number;
  private macCtx128 = 0;
  private hmacCtx = 0;
  // Kept referenced: C reads these strings through OSSL_PARAM pointers.
  private readonly strings: Uint8Array[] = [];
  private readonly paramBufs: Uint8Array[] = [];

  constructor(private readonly lib: Libcrypto) {
    const s = lib.sym;
    const name = cstring("BLAKE2s256");
    this.blake2sMd = s.EVP_get_digestbyname(addressOf(name)) as number;
    this.mdCtx = s.EVP_MD_CTX_new() as number;
    if (!this.blake2sMd || !this.mdCtx) throw new Error("libcrypto has no BLAKE2s256 digest");
    const v3 = lib.v3;
    if (v3) {
      // BLAKE2SMAC with a 16-byte output: OSSL_MAC_PARAM_SIZE = "size" (size_t).
      const size = new BigUint64Array([16n]);
      this.macCtx128 = this.macCtx("BLAKE2SMAC", [["size", OSSL_PARAM_UNSIGNED_INTEGER, addressOf(size), 8]], size);
      // HMAC over BLAKE2s-256: OSSL_MAC_PARAM_DIGEST = "digest" (UTF-8 name).
      const digest = cstring("BLAKE2S-256");
      this.hmacCtx = this.macCtx("HMAC", [["digest", OSSL_PARAM_UTF8_STRING, addressOf(digest), digest.length - 1]], digest);
    }
  }

  /** macCtx fetches a MAC, makes a context and applies params once (they survive EVP_MAC_init with a new key). */
  private macCtx(alg: string, params: [string, number, number, number][], keepAlive: ArrayBufferView): number {
    const v3 = this.lib.v3!;
    const algName = cstring(alg);
    const mac = v3.EVP_MAC_fetch(null, addressOf(algName), null);
    if (!mac) return 0;
    const ctx = v3.EVP_MAC_CTX_new(mac) as number;
    v3.EVP_MAC_free(mac); // the context holds its own reference
    if (!ctx) return 0;
    const pbuf = new Uint8Array((params.length + 1) * OSSL_PARAM_SIZE);
    const dv = new DataView(pbuf.buffer);
    params.forEach(([key, type, data, size], i) => {
      const k = cstring(key);
      this.strings.push(k);
      const o = i * OSSL_PARAM_SIZE;
      dv.setBigUint64(o, BigInt(addressOf(k)), true);
      dv.setUint32(o + 8, type, true);
      dv.setBigUint64(o + 16, BigInt(data), true);
      dv.setBigUint64(o + 24, BigInt(size), true);
      dv.setBigUint64(o + 32, 0xffffffffffffffffn, true);
    });
    this.paramBufs.push(pbuf, new Uint8Array(keepAlive.buffer as ArrayBuffer));
    // A zero-length key would be rejected by BLAKE2SMAC; the real key comes per call.
    this.keyBuf.fill(0);
    if (v3.EVP_MAC_init(ctx, this.keyAddr, 32, addressOf(pbuf)) !== 1) {
      this.lib.sym.ERR_clear_error();
      v3.EVP_MAC_CTX_free(ctx);
      return 0;
    }
    return ctx;
  }

  get hasMac(): boolean {
    return this.macCtx128 !== 0 && this.hmacCtx !== 0;
  }

  /** x25519 computes DH via EVP_PKEY_derive; false on failure or an all-zero result. */
  x25519(priv: Uint8Array, pub: Uint8Array, out: Uint8Array): boolean {
    const s = this.lib.sym;
    this.keyBuf.set(priv);
    this.pubBuf.set(pub);
    const pk = s.EVP_PKEY_new_raw_private_key(NID_X25519, null, this.keyAddr, 32) as number;
    this.keyBuf.fill(0);
    const peer = s.EVP_PKEY_new_raw_public_key(NID_X25519, null, this.pubAddr, 32) as number;
    let ok = false;
    let ctx = 0;
    if (pk && peer) {
      ctx = s.EVP_PKEY_CTX_new(pk, null) as number;
      this.len[0] = 32n;
      ok =
        ctx !== 0 &&
        s.EVP_PKEY_derive_init(ctx) === 1 &&
        s.EVP_PKEY_derive_set_peer(ctx, peer) === 1 &&
        s.EVP_PKEY_derive(ctx, this.outAddr, this.lenAddr) === 1;
    }
    if (ctx) s.EVP_PKEY_CTX_free(ctx);
    if (peer) s.EVP_PKEY_free(peer);
    if (pk) s.EVP_PKEY_free(pk); // frees with OPENSSL_secure_clear_free
    if (!ok) {
      // OpenSSL refuses an all-zero shared secret (ossl_x25519 returns 0).
      s.ERR_clear_error();
      out.fill(0, 0, 32);
      this.outBuf.fill(0);
      return false;
    }
    out.set(this.outBuf.subarray(0, 32));
    this.outBuf.fill(0);
    return !isZero32(out);
  }

  /** x25519Base derives the public key via EVP_PKEY_get_raw_public_key. */
  x25519Base(priv: Uint8Array, out: Uint8Array): void {
    const s = this.lib.sym;
    this.keyBuf.set(priv);
    const pk = s.EVP_PKEY_new_raw_private_key(NID_X25519, null, this.keyAddr, 32) as number;
    this.keyBuf.fill(0);
    this.len[0] = 32n;
    const ok = pk !== 0 && s.EVP_PKEY_get_raw_public_key(pk, this.outAddr, this.lenAddr) === 1;
    if (pk) s.EVP_PKEY_free(pk);
    if (!ok) throw new Error("libcrypto X25519 public key derivation failed");
    out.set(this.outBuf.subarray(0, 32));
  }

  /** blake2s256 hashes the concatenated parts with EVP_Digest*. */
  blake2s256(out: Uint8Array, parts: readonly Uint8Array[]): void {
    const s = this.lib.sym;
    let ok = s.EVP_DigestInit_ex(this.mdCtx, this.blake2sMd, null);
    for (const p of parts) if (p.length > 0) ok &= s.EVP_DigestUpdate(this.mdCtx, addressOf(p), p.length);
    ok &= s.EVP_DigestFinal_ex(this.mdCtx, this.outAddr, null);
    if (ok !== 1) throw new Error("libcrypto BLAKE2s256 failed");
    out.set(this.outBuf.subarray(0, 32));
  }

  private mac(ctx: number, key: Uint8Array, parts: readonly Uint8Array[], out: Uint8Array, outLen: number): void {
    const v3 = this.lib.v3!;
    // A NULL key would mean "keep the previous key": an empty key still needs a real pointer.
    let ok = v3.EVP_MAC_init(ctx, key.length > 0 ? addressOf(key) : this.keyAddr, key.length, null);
    for (const p of parts) if (p.length > 0) ok &= v3.EVP_MAC_update(ctx, addressOf(p), p.length);
    ok &= v3.EVP_MAC_final(ctx, this.outAddr, this.lenAddr, 64);
    if (ok !== 1) {
      this.lib.sym.ERR_clear_error();
      throw new Error("libcrypto EVP_MAC failed");
    }
    out.set(this.outBuf.subarray(0, outLen));
    this.outBuf.fill(0, 0, outLen);
  }

  /**
   * blake2sMac128 is keyed BLAKE2s with a 16-byte digest via EVP_MAC
   * BLAKE2SMAC, over data[dataOff, dataOff+dataLen). It allocates nothing:
   * a handshake flood runs it for every message.
   */
  blake2sMac128(key: Uint8Array, data: Uint8Array, out: Uint8Array, dataOff = 0, dataLen = data.length - dataOff): void {
    if (!(dataOff >= 0 && dataLen >= 0 && dataOff + dataLen <= data.length)) throw new RangeError("blake2sMac128: range outside data");
    const v3 = this.lib.v3!;
    const ctx = this.macCtx128;
    let ok = v3.EVP_MAC_init(ctx, key.length > 0 ? addressOf(key) : this.keyAddr, key.length, null);
    if (dataLen > 0) ok &= v3.EVP_MAC_update(ctx, addressOf(data) + dataOff, dataLen);
    ok &= v3.EVP_MAC_final(ctx, this.outAddr, this.lenAddr, 64);
    if (ok !== 1) {
      this.lib.sym.ERR_clear_error();
      throw new Error("libcrypto EVP_MAC failed");
    }
    const o = this.outBuf;
    for (let i = 0; i < 16; i++) {
      out[i] = o[i]!;
      o[i] = 0;
    }
  }

  /** hmacBlake2s via EVP_MAC HMAC(digest=BLAKE2S-256). */
  hmacBlake2s(key: Uint8Array, out: Uint8Array, parts: readonly Uint8Array[]): void {
    this.mac(this.hmacCtx, key, parts, out, 32);
  }

  destroy(): void {
    const v3 = this.lib.v3;
    if (v3 && this.macCtx128) v3.EVP_MAC_CTX_free(this.macCtx128);
    if (v3 && this.hmacCtx) v3.EVP_MAC_CTX_free(this.hmacCtx);
    this.macCtx128 = 0;
    this.hmacCtx = 0;
    this.lib.sym.EVP_MD_CTX_free(this.mdCtx);
    this.keyBuf.fill(0);
    this.outBuf.fill(0);
  }
}
