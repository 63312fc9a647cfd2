// HKDF over HMAC-BLAKE2s as WireGuard uses it (WG-KMOD noise.c `kdf`,
// RFC 5869 with the extract output as the PRK), plus the Noise symmetric
// helpers mixHash/mixKey. Outputs may alias inputs: every step writes into a
// scratch buffer first, and the scratch is zeroed before returning.
import type { CryptoBackend } from "../crypto/types.ts";

const ONE = Uint8Array.of(1);
const TWO = Uint8Array.of(2);
const THREE = Uint8Array.of(3);

/** Kdf binds the KDF and hash helpers to one backend with reusable scratch. */
export class Kdf {
  private readonly t0 = new Uint8Array(32);
  private readonly t = new Uint8Array(32);
  // Second scratch so no backend call has its output aliasing an input.
  private readonly u = new Uint8Array(32);

  constructor(readonly crypto: CryptoBackend) {}

  /** kdf1 writes T1 = KDF1(key, input) into t1. */
  kdf1(t1: Uint8Array, key: Uint8Array, input: Uint8Array): void {
    this.crypto.hmacBlake2s(key, this.t0, input);
    this.crypto.hmacBlake2s(this.t0, this.t, ONE);
    t1.set(this.t);
    this.wipe();
  }

  /** kdf2 writes (T1, T2) = KDF2(key, input). */
  kdf2(t1: Uint8Array, t2: Uint8Array, key: Uint8Array, input: Uint8Array): void {
    this.crypto.hmacBlake2s(key, this.t0, input);
    this.crypto.hmacBlake2s(this.t0, this.t, ONE);
    t1.set(this.t);
    this.crypto.hmacBlake2s(this.t0, this.u, this.t, TWO);
    t2.set(this.u);
    this.wipe();
  }

  /** kdf3 writes (T1, T2, T3) = KDF3(key, input). */
  kdf3(t1: Uint8Array, t2: Uint8Array, t3: Uint8Array, key: Uint8Array, input: Uint8Array): void {
    this.crypto.hmacBlake2s(key, this.t0, input);
    this.crypto.hmacBlake2s(this.t0, this.t, ONE);
    t1.set(this.t);
    this.crypto.hmacBlake2s(this.t0, this.u, this.t, TWO);
    t2.set(this.u);
    this.crypto.hmacBlake2s(this.t0, this.t, this.u, THREE);
    t3.set(this.t);
    this.wipe();
  }

  /** mixHash sets h = HASH(h ‖ data) in place. */
  mixHash(h: Uint8Array, data: Uint8Array): void {
    this.crypto.blake2s256(this.t, h, data);
    h.set(this.t);
    this.t.fill(0);
  }

  /** mixKey sets c = KDF1(c, data) in place (Noise MixKey without the key output). */
  mixKey(c: Uint8Array, data: Uint8Array): void {
    this.kdf1(c, c, data);
  }

  /** hash writes HASH(parts…) into out. */
  hash(out: Uint8Array, ...parts: Uint8Array[]): void {
    this.crypto.blake2s256(out, ...parts);
  }

  private wipe(): void {
    this.t0.fill(0);
    this.t.fill(0);
    this.u.fill(0);
  }
}

/** isZero reports whether every byte is zero, in time independent of the contents. */
export function isZero(b: Uint8Array): boolean {
  let acc = 0;
  for (let i = 0; i < b.length; i++) acc |= b[i]!;
  return acc === 0;
}

/** equalConstantTime compares two equal-length byte ranges without early exit. */
export function equalConstantTime(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let acc = 0;
  for (let i = 0; i < a.length; i++) acc |= a[i]! ^ b[i]!;
  return acc === 0;
}
