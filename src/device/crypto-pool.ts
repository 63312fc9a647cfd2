// Every core for the AEAD (wireguard-go's encryption and decryption workers,
// issue 12 §2), as the data plane sees it. The data plane keeps doing all the
// protocol work on its one thread: it reads, splits, routes and assigns
// nonces in order (outbound), or receives, classifies and checks counters
// (inbound), then hands the batch's seals or opens to the pool as one job,
// and goes on with its next batch. Helpers (crypto-helper.ts, one thread
// each) take the job in chunks; the data plane takes chunks too whenever it
// comes back to a job that is not finished, so it never waits on a helper for
// work nobody has started. Jobs complete in the order they were published,
// and only then are their packets sent or written: a flow's packets leave
// in the order they came, however many threads sealed them.
//
//   job life: PoolBatch.begin → add × n → submit → (helpers and finish share
//             the chunks) → finish → ok(i) per packet → begin again
//
// With no helpers (workers = 1, or a backend that cannot work by address),
// submit runs the whole job at once on the data plane's thread: the same code
// path, no shared-memory traffic. The number of helpers can change while the
// device runs (resize): session keys are always made poolable, so a helper
// added later can take every session at once.
import type { AeadKey, CryptoBackend } from "../crypto/types.ts";
import { addressOf } from "../sys/msgvec.ts";
import {
  CHUNK_PACKETS,
  CHUNKS_NEVER_CLAIMABLE,
  G_RETIRED,
  G_SLEEPERS,
  G_STARTED,
  G_STOP,
  G_WAKE,
  G_WANTED,
  JobArea,
  type CryptoHelperInit,
  KEY_BYTES,
  KEY_DONE_AT_ADD,
  OP_SEAL,
  RAN_BY_HELPER,
  RAN_BY_PLANE,
  RETIRE_RING,
  S_CHUNKS,
  S_COUNT,
  S_DONE,
  S_NEXT,
  S_OP,
  S_SEQ,
  SLOT_KEYS,
  SLOT_PACKETS,
  type JobSlot,
} from "./crypto-jobs.ts";
import { PooledKey, pooledBackend } from "./pooled-key.ts";
import { C } from "./shared-stats.ts";
import { workerUrl } from "./worker-url.ts";

/** INLINE_PACKETS: a job this small is run at once by the data plane (a lone ping must not wait for a thread hand-off). */
const INLINE_PACKETS = 2 * CHUNK_PACKETS;
/** SPIN_MS: how long finish spins on a helper's last chunk before it sleeps. */
const SPIN_MS = 0.1;
/** STALL_MS: a helper that holds a chunk this long is taken as stuck (see finish). */
const STALL_MS = 2000;

/** MAX_HELPERS bounds the crypto helpers of one device (workers ≤ 64). */
export const MAX_HELPERS = 63;

export interface CryptoPoolOptions {
  /** helpers: extra threads for the AEAD (workers − 1). */
  helpers: number;
  /** env: for the helpers' backend choice (TUNNEL_CRYPTO). */
  env: Record<string, string | undefined>;
  log(message: string): void;
  /** spawn: start helper threads (default); false lets a test drive CryptoHelper instances itself. */
  spawn?: boolean;
  /** stallMs: how long a chunk may stay out before its helper is given up on (default STALL_MS). */
  stallMs?: number;
}

export class CryptoPool {
  readonly area: JobArea;
  /** backend: what the protocol must use, so its session keys can travel to helpers. */
  readonly backend: CryptoBackend;
  /** helpers that may take work; 0 after a stall (everything then runs on the data plane's thread). */
  helpers = 0;
  /** c: the shared counters (set by the data plane once its context exists). */
  c: Float64Array = new Float64Array(64);
  /** poolable: the backend can work by address (libcrypto); otherwise there are never helpers. */
  private readonly poolable: boolean;
  private spawned = 0;
  private gaveUp = false;
  private seq = 0;
  private nextKeyId = 1;

  constructor(
    inner: CryptoBackend,
    private readonly opts: CryptoPoolOptions,
  ) {
    this.area = JobArea.allocate();
    this.poolable = inner.rawAeadKey !== undefined;
    this.backend = this.poolable
      ? pooledBackend(
          inner,
          () => this.nextKeyId++,
          (id) => this.retire(id),
        )
      : inner;
    if (opts.helpers > 0 && !this.poolable) opts.log(`crypto: the ${inner.name} backend runs on the data plane's thread only; no crypto helpers`);
    this.resize(opts.helpers);
  }

  /**
   * resize sets how many helpers take work: new ones are started, surplus
   * ones exit after the chunk in hand. Returns the count now in effect (0
   * without a poolable backend, or after helpers were given up on).
   */
  resize(helpers: number): number {
    const n = this.poolable && !this.gaveUp ? Math.max(0, Math.min(MAX_HELPERS, Math.floor(helpers))) : 0;
    const ctl = this.area.ctl;
    Atomics.store(ctl, G_WANTED, n);
    Atomics.notify(ctl, G_WAKE);
    if (this.opts.spawn !== false) for (; this.spawned < n; this.spawned++) this.spawn(this.spawned);
    if (n < this.spawned) this.spawned = n;
    this.helpers = n;
    return n;
  }

  /** batch returns the job slot s's batch (each user owns its slots for good). */
  batch(s: number, op: number): PoolBatch {
    return new PoolBatch(this, this.area.slots[s]!, op);
  }

  /** started is how many helpers are up (they start asynchronously). */
  get started(): number {
    return Atomics.load(this.area.ctl, G_STARTED);
  }

  /** publish makes slot's job visible to helpers (the caller wrote every descriptor). */
  publish(slot: JobSlot, chunks: number): void {
    const ctl = this.area.ctl;
    Atomics.store(ctl, slot.w + S_DONE, 0);
    Atomics.store(ctl, slot.w + S_CHUNKS, chunks);
    Atomics.store(ctl, slot.w + S_NEXT, 0);
    Atomics.store(ctl, slot.w + S_SEQ, ++this.seq);
    Atomics.add(ctl, G_WAKE, 1);
    if (Atomics.load(ctl, G_SLEEPERS) > 0) Atomics.notify(ctl, G_WAKE);
  }

  /** stallMs: how long finish waits for a helper's chunk before giving up on helpers. */
  get stallMs(): number {
    return this.opts.stallMs ?? STALL_MS;
  }

  /** stalled: a helper kept a chunk for stallMs. Helpers are not trusted again: everything runs here from now on. */
  stalled(): void {
    this.c[C.cryptoHelperStalls]!++;
    this.opts.log(`crypto: a helper thread held a chunk for ${this.stallMs} ms; its packets were dropped and the data plane seals and opens alone from now on`);
    this.resize(0);
    this.gaveUp = true;
  }

  /** stop tells the helpers to exit (they finish the chunk in hand) and starts no more. */
  stop(): void {
    this.gaveUp = true;
    this.helpers = 0;
    Atomics.store(this.area.ctl, G_STOP, 1);
    Atomics.notify(this.area.ctl, G_WAKE);
  }

  private spawn(index: number): void {
    const init: CryptoHelperInit = { buffer: this.area.buffer, env: this.opts.env, index };
    new Worker(workerUrl("device/crypto.worker.ts", import.meta.url, "device/crypto-pool.ts")).postMessage(init);
  }

  private retire(id: number): void {
    const ctl = this.area.ctl;
    const n = Atomics.load(ctl, G_RETIRED);
    this.area.retired[n % RETIRE_RING] = id;
    Atomics.store(ctl, G_RETIRED, n + 1);
  }
}

/** PoolBatch is one job slot as its owner (outbound or inbound) fills, submits and finishes it. */
export class PoolBatch {
  /** Packets added since begin. */
  size = 0;
  private keyCount = 0;
  private readonly keys: (AeadKey | null)[] = new Array(SLOT_KEYS).fill(null);
  private buf: Uint8Array = new Uint8Array(0);
  private published = false;
  private chunks = 0;

  constructor(
    private readonly pool: CryptoPool,
    private readonly slot: JobSlot,
    private readonly op: number,
  ) {}

  /** begin starts a job on buf (every offset added is into it). The previous job must be finished. */
  begin(buf: Uint8Array): void {
    this.buf = buf;
    this.size = 0;
    this.keyCount = 0;
  }

  /** add queues one seal or open: len bytes at buf[off] (open: len includes the tag) under key with counter. */
  add(key: AeadKey, off: number, len: number, counter: number): void {
    const slot = this.slot;
    const i = this.size++;
    slot.offs[i] = off;
    slot.lens[i] = len;
    slot.counters[i] = counter;
    slot.setOk(i, false);
    const k = this.keyIndex(key);
    slot.keyIndex[i] = k;
    if (k === KEY_DONE_AT_ADD) slot.setOk(i, this.runOne(key, i));
  }

  /** full: add may not be called again before submit and finish. */
  get full(): boolean {
    return this.size === SLOT_PACKETS;
  }

  /** submit hands the job to the helpers, or runs it here when it is small or there are none. */
  submit(): void {
    const n = this.size;
    if (n === 0) return;
    this.chunks = Math.ceil(n / CHUNK_PACKETS);
    const pool = this.pool;
    if (pool.helpers === 0 || n <= INLINE_PACKETS) {
      for (let c = 0; c < this.chunks; c++) this.runChunk(c);
      pool.c[C.cryptoPacketsInline]! += n;
      this.clearKeys();
      return;
    }
    const slot = this.slot;
    const ctl = slot.ctl;
    // No claim may land while the descriptors below are rewritten (crypto-jobs.ts).
    Atomics.store(ctl, slot.w + S_NEXT, CHUNKS_NEVER_CLAIMABLE);
    ctl[slot.w + S_OP] = this.op;
    ctl[slot.w + S_COUNT] = n;
    slot.setBase(addressOf(this.buf));
    slot.clearRanBy(this.chunks);
    pool.publish(slot, this.chunks);
    this.published = true;
  }

  /** finish takes the chunks nobody has claimed, then waits for the helpers' last ones; ok(i) is valid afterwards. */
  finish(): void {
    if (!this.published) return;
    const slot = this.slot;
    for (let c = slot.claimChunk(); c >= 0; c = slot.claimChunk()) {
      this.runChunk(c);
      slot.finishChunk(c, RAN_BY_PLANE);
    }
    if (slot.done < this.chunks) this.waitForHelpers();
    let helped = 0;
    for (let c = 0; c < this.chunks; c++) if (slot.ranBy(c) === RAN_BY_HELPER) helped += Math.min(CHUNK_PACKETS, this.size - c * CHUNK_PACKETS);
    const c = this.pool.c;
    c[C.cryptoPacketsHelpers]! += helped;
    c[C.cryptoPacketsInline]! += this.size - helped;
    Atomics.store(slot.ctl, slot.w + S_SEQ, 0);
    this.published = false;
    this.clearKeys();
  }

  ok(i: number): boolean {
    return this.slot.ok(i);
  }

  /** pending: submitted to the helpers and not finished yet (a job run at submit is never pending). */
  get pending(): boolean {
    return this.published;
  }

  private waitForHelpers(): void {
    const slot = this.slot;
    const ctl = slot.ctl;
    this.pool.c[C.cryptoWaits]!++;
    const t0 = performance.now();
    for (;;) {
      const done = slot.done;
      if (done >= this.chunks) return;
      const waited = performance.now() - t0;
      if (waited > this.pool.stallMs) break;
      if (waited > SPIN_MS) Atomics.wait(ctl, slot.w + S_DONE, done, 1);
    }
    // A chunk never came back. Its packets are dropped (a packet that may
    // not be sealed must never be sent), and no helper gets work again: one
    // that wakes later can then only touch a slot nobody reads.
    for (let c = 0; c < this.chunks; c++) {
      if (slot.ranBy(c) !== 0) continue;
      for (let i = c * CHUNK_PACKETS; i < Math.min(this.size, (c + 1) * CHUNK_PACKETS); i++) slot.setOk(i, false);
    }
    this.pool.stalled();
  }

  private keyIndex(key: AeadKey): number {
    const keys = this.keys;
    for (let k = 0; k < this.keyCount; k++) if (keys[k] === key) return k;
    if (this.keyCount === SLOT_KEYS || (this.pool.helpers > 0 && !(key instanceof PooledKey))) return KEY_DONE_AT_ADD;
    const k = this.keyCount++;
    keys[k] = key;
    if (key instanceof PooledKey) {
      this.slot.keyIds[k] = key.id;
      this.slot.keyBytes.set(key.bytes, k * KEY_BYTES);
    }
    return k;
  }

  private runChunk(c: number): void {
    const slot = this.slot;
    const to = Math.min(this.size, (c + 1) * CHUNK_PACKETS);
    for (let i = c * CHUNK_PACKETS; i < to; i++) {
      const k = slot.keyIndex[i]!;
      if (k !== KEY_DONE_AT_ADD) slot.setOk(i, this.runOne(this.keys[k]!, i));
    }
  }

  private runOne(key: AeadKey, i: number): boolean {
    const slot = this.slot;
    try {
      if (this.op !== OP_SEAL) return key.open(slot.counters[i]!, this.buf, slot.offs[i]!, slot.lens[i]!);
      key.seal(slot.counters[i]!, this.buf, slot.offs[i]!, slot.lens[i]!);
      return true;
    } catch {
      // A key destroyed while its packet waited (the session ended): drop it.
      return false;
    }
  }

  private clearKeys(): void {
    this.slot.keyBytes.fill(0, 0, this.keyCount * KEY_BYTES);
    this.keys.fill(null, 0, this.keyCount);
    this.keyCount = 0;
  }
}
