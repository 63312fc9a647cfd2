// Session keys that crypto helpers can use too. A helper thread cannot reach
// the data plane's key objects (they are JS objects of another thread), so a
// pooled key keeps a copy of its 32 bytes beside its own libcrypto contexts:
// a job carries the bytes of the keys it needs (crypto-jobs.ts), and the
// helper builds its own context once per key id. Destroying the key zeroes
// the copy and retires the id, so helpers drop their contexts as well.
import type { AeadKey, CryptoBackend, RawAeadKey } from "../crypto/types.ts";

const KEY_BYTES = 32;

export class PooledKey implements AeadKey {
  /** bytes: out of line from the start, so no stray copy of the key is left in the JS heap. */
  readonly bytes = new Uint8Array(new ArrayBuffer(KEY_BYTES));

  constructor(
    readonly inner: RawAeadKey,
    key: Uint8Array,
    readonly id: number,
    private readonly onDestroy: (id: number) => void,
  ) {
    this.bytes.set(key);
  }

  seal(counter: number, buf: Uint8Array, off: number, len: number, aad?: Uint8Array): void {
    this.inner.seal(counter, buf, off, len, aad);
  }

  open(counter: number, buf: Uint8Array, off: number, len: number, aad?: Uint8Array): boolean {
    return this.inner.open(counter, buf, off, len, aad);
  }

  sealBatch(count: number, counters: Float64Array, buf: Uint8Array, offs: Int32Array, lens: Int32Array): void {
    this.inner.sealBatch(count, counters, buf, offs, lens);
  }

  openBatch(count: number, counters: Float64Array, buf: Uint8Array, offs: Int32Array, lens: Int32Array, ok: Uint8Array): void {
    this.inner.openBatch(count, counters, buf, offs, lens, ok);
  }

  destroy(): void {
    this.inner.destroy();
    this.bytes.fill(0);
    this.onDestroy(this.id);
  }
}

/**
 * pooledBackend is inner with every session key made a PooledKey. Only
 * session keys change: the handshake primitives are inner's own.
 */
export function pooledBackend(inner: CryptoBackend, nextId: () => number, retire: (id: number) => void): CryptoBackend {
  const rawAeadKey = inner.rawAeadKey;
  if (rawAeadKey === undefined) throw new Error(`the ${inner.name} backend cannot be shared with crypto helpers`);
  return {
    name: inner.name,
    aeadKey: (key) => new PooledKey(rawAeadKey.call(inner, key), key, nextId(), retire),
    rawAeadKey: (key) => rawAeadKey.call(inner, key),
    // Bound, not wrapped: the handshake path must not allocate per message.
    xaeadSeal: inner.xaeadSeal.bind(inner),
    xaeadOpen: inner.xaeadOpen.bind(inner),
    x25519: inner.x25519.bind(inner),
    x25519Base: inner.x25519Base.bind(inner),
    blake2s256: inner.blake2s256.bind(inner),
    blake2sMac: inner.blake2sMac.bind(inner),
    hmacBlake2s: inner.hmacBlake2s.bind(inner),
    randomBytes: inner.randomBytes.bind(inner),
  };
}
