// What both libcrypto AEAD paths share: the WireGuard nonce in a fixed IV
// buffer, range checks before any pointer reaches C, the packet buffer's
// address cached per buffer object, the OSSL_PARAM lists that carry a tag,
// batch loops and destroy. Subclasses supply only the per-packet call
// sequence (sealAt/openAt on raw addresses) and how their contexts are freed:
// libcrypto-aead.ts goes through EVP, libcrypto-provider-aead.ts calls the
// provider's dispatch functions directly.

import type { RawAeadKey } from "./types.ts";
import { addressOf, cstring, OSSL_PARAM_OCTET_STRING, OSSL_PARAM_SIZE, type Libcrypto } from "../sys/libcrypto.ts";
import { AEAD_TAG_LEN, disarm } from "./types.ts";

export const TWO32 = 0x100000000;

/** checkRange throws unless buf[off, off+len) is a valid, in-bounds range (C must never write out of bounds). */
function checkRange(buf: Uint8Array, off: number, len: number): void {
  if (!(off >= 0 && len >= 0 && (off | 0) === off && (len | 0) === len && off + len <= buf.length)) {
    throw new RangeError(`AEAD range [${off}, ${off}+${len}) outside buffer of ${buf.length} bytes`);
  }
}

/** TagParams is a one-entry OSSL_PARAM list {"tag", OCTET_STRING, data, 16} whose data pointer is set per packet. */
export class TagParams {
  private readonly bytes = new Uint8Array(2 * OSSL_PARAM_SIZE);
  private readonly words = new Uint32Array(this.bytes.buffer);
  readonly address = addressOf(this.bytes);
  // "tag" (OSSL_CIPHER_PARAM_AEAD_TAG), referenced by entry 0's key. It must be
  // a field: a module-level const that no function reads is not kept alive by
  // JSC once the module has run, and the freed bytes then silently turn the
  // parameter into an unknown key, so the expected tag is never set (a forged
  // packet then verifies against the previous packet's tag).
  private readonly name = cstring("tag");

  constructor() {
    const dv = new DataView(this.bytes.buffer);
    dv.setBigUint64(0, BigInt(addressOf(this.name)), true);
    dv.setUint32(8, OSSL_PARAM_OCTET_STRING, true);
    dv.setBigUint64(24, BigInt(AEAD_TAG_LEN), true);
    dv.setBigUint64(32, 0xffffffffffffffffn, true); // OSSL_PARAM_UNMODIFIED
    // The second entry stays all-zero: the terminating {NULL, ...} marker.
  }

  /** pointAt sets where the tag is read from (open) or written to (seal). */
  pointAt(tagAddr: number): void {
    this.words[4] = tagAddr >>> 0;
    this.words[5] = (tagAddr / TWO32) >>> 0;
  }
}

export abstract class InPlaceAeadKey implements RawAeadKey {
  // iv[0..4) stays zero; iv[4..12) is the LE u64 counter, written as two u32.
  protected readonly ivBytes = new Uint8Array(16);
  private readonly iv32 = new Uint32Array(this.ivBytes.buffer);
  protected readonly ivAddr = addressOf(this.ivBytes);
  /** Out-length scratch (EVP writes an int, the provider a size_t: 8 bytes fit both). */
  private readonly outl = new BigUint64Array(1);
  protected readonly outlAddr = addressOf(this.outl);
  protected readonly sealTag = new TagParams();
  protected readonly openTag = new TagParams();
  private lastBuf: Uint8Array | null = null;
  private lastAddr = 0;

  protected constructor(protected readonly lib: Libcrypto) {}

  /** sealAt encrypts len bytes at p in place and writes the tag at p+len; the IV is already in ivBytes. */
  protected abstract sealAt(p: number, len: number, aad: Uint8Array | undefined): void;
  /** openAt verifies and decrypts len bytes at p (len includes the tag). */
  protected abstract openAt(p: number, len: number, aad: Uint8Array | undefined): boolean;
  /** freeContexts releases the native contexts (which cleanse the key schedule). */
  protected abstract freeContexts(): void;

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

  /** failed clears libcrypto's per-thread error queue, which would otherwise grow on forged packets. */
  protected failed(): void {
    this.lib.sym.ERR_clear_error();
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

  sealRaw(counter: number, addr: number, len: number): void {
    this.setCounter(counter);
    this.sealAt(addr, len, undefined);
  }

  openRaw(counter: number, addr: number, len: number): boolean {
    if (len < AEAD_TAG_LEN) return false;
    this.setCounter(counter);
    return this.openAt(addr, len, undefined);
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
    this.freeContexts();
    this.ivBytes.fill(0);
    this.lastBuf = null;
    disarm(this); // any later use must fail loudly rather than pass freed contexts to C
  }
}
