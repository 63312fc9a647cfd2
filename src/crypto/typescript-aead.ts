// ChaCha20-Poly1305 in pure TypeScript (@noble/ciphers building blocks), for
// hosts without libcrypto. It works in place like the libcrypto version but is
// roughly 20x slower (bench/crypto.ts); select.ts warns when it is chosen.
// noble's chacha20 xor stream and poly1305 are used directly (rather than its
// chacha20poly1305 wrapper) so the ciphertext never leaves the caller's buffer.

import { chacha20 } from "@noble/ciphers/chacha.js";
import { poly1305 } from "@noble/ciphers/_poly1305.js";
import { AEAD_TAG_LEN, disarm, type AeadKey } from "./types.ts";

const ZEROS = new Uint8Array(32);

function checkRange(buf: Uint8Array, off: number, len: number): void {
  if (!(off >= 0 && len >= 0 && Number.isInteger(off) && Number.isInteger(len) && off + len <= buf.length)) {
    throw new RangeError(`AEAD range [${off}, ${off}+${len}) outside buffer of ${buf.length} bytes`);
  }
}

/** Constant-time comparison of a[ao, ao+16) and b[0, 16). */
function tagEqual(a: Uint8Array, ao: number, b: Uint8Array): boolean {
  let d = 0;
  for (let i = 0; i < AEAD_TAG_LEN; i++) d |= a[ao + i]! ^ b[i]!;
  return d === 0;
}

export class TypeScriptAeadKey implements AeadKey {
  private readonly key: Uint8Array;
  private readonly nonce = new Uint8Array(12);
  private readonly nonceView = new DataView(this.nonce.buffer);
  private readonly otk = new Uint8Array(32);
  private readonly lengths = new Uint8Array(16);
  private readonly lengthsView = new DataView(this.lengths.buffer);

  constructor(key: Uint8Array) {
    if (key.length !== 32) throw new RangeError("ChaCha20-Poly1305 key must be 32 bytes");
    this.key = Uint8Array.from(key);
  }

  private setCounter(counter: number): void {
    this.nonceView.setUint32(0, 0, true);
    this.nonceView.setUint32(4, counter >>> 0, true);
    this.nonceView.setUint32(8, Math.floor(counter / 0x100000000) >>> 0, true);
  }

  /** tag computes the RFC 8439 §2.8 Poly1305 tag over aad and ct = buf[off, off+len). */
  private tag(buf: Uint8Array, off: number, len: number, aad: Uint8Array | undefined): Uint8Array {
    chacha20(this.key, this.nonce, ZEROS, this.otk, 0); // one-time key = block 0
    const h = poly1305.create(this.otk);
    const aadLen = aad ? aad.length : 0;
    if (aad && aadLen > 0) {
      h.update(aad);
      if (aadLen % 16) h.update(ZEROS.subarray(0, 16 - (aadLen % 16)));
    }
    if (len > 0) {
      h.update(buf.subarray(off, off + len));
      if (len % 16) h.update(ZEROS.subarray(0, 16 - (len % 16)));
    }
    this.lengthsView.setUint32(0, aadLen, true);
    this.lengthsView.setUint32(4, 0, true);
    this.lengthsView.setUint32(8, len, true);
    this.lengthsView.setUint32(12, 0, true);
    h.update(this.lengths);
    const t = h.digest();
    this.otk.fill(0);
    return t;
  }

  private sealCurrent(buf: Uint8Array, off: number, len: number, aad: Uint8Array | undefined): void {
    checkRange(buf, off, len + AEAD_TAG_LEN);
    if (len > 0) {
      const data = buf.subarray(off, off + len);
      chacha20(this.key, this.nonce, data, data, 1); // payload starts at block 1
    }
    const t = this.tag(buf, off, len, aad);
    buf.set(t, off + len);
    t.fill(0);
  }

  private openCurrent(buf: Uint8Array, off: number, len: number, aad: Uint8Array | undefined): boolean {
    if (len < AEAD_TAG_LEN) return false;
    checkRange(buf, off, len);
    const n = len - AEAD_TAG_LEN;
    const t = this.tag(buf, off, n, aad);
    const good = tagEqual(buf, off + n, t);
    t.fill(0);
    if (!good) return false; // authenticate before decrypting
    if (n > 0) {
      const data = buf.subarray(off, off + n);
      chacha20(this.key, this.nonce, data, data, 1);
    }
    return true;
  }

  seal(counter: number, buf: Uint8Array, off: number, len: number, aad?: Uint8Array): void {
    this.setCounter(counter);
    this.sealCurrent(buf, off, len, aad);
  }

  open(counter: number, buf: Uint8Array, off: number, len: number, aad?: Uint8Array): boolean {
    this.setCounter(counter);
    return this.openCurrent(buf, off, len, aad);
  }

  sealNonce(nonce: Uint8Array, buf: Uint8Array, off: number, len: number, aad?: Uint8Array): void {
    if (nonce.length !== 12) throw new RangeError("nonce must be 12 bytes");
    this.nonce.set(nonce);
    this.sealCurrent(buf, off, len, aad);
  }

  openNonce(nonce: Uint8Array, buf: Uint8Array, off: number, len: number, aad?: Uint8Array): boolean {
    if (nonce.length !== 12) throw new RangeError("nonce must be 12 bytes");
    this.nonce.set(nonce);
    return this.openCurrent(buf, off, len, aad);
  }

  sealBatch(count: number, counters: Float64Array, buf: Uint8Array, offs: Int32Array, lens: Int32Array): void {
    for (let i = 0; i < count; i++) this.seal(counters[i]!, buf, offs[i]!, lens[i]!);
  }

  openBatch(count: number, counters: Float64Array, buf: Uint8Array, offs: Int32Array, lens: Int32Array, ok: Uint8Array): void {
    for (let i = 0; i < count; i++) ok[i] = this.open(counters[i]!, buf, offs[i]!, lens[i]!) ? 1 : 0;
  }

  destroy(): void {
    this.key.fill(0);
    this.nonce.fill(0);
    this.otk.fill(0);
    disarm(this);
  }
}
