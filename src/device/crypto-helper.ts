// A crypto helper: the loop of one helper thread (crypto.worker.ts). It
// takes chunks of the oldest published job (crypto-jobs.ts) and seals or
// opens them in the data plane's slabs through libcrypto, by address; it
// never sees the protocol, only offsets, lengths, counters and keys.
//   1. Look for a chunk: the oldest job first, so batches finish in the
//      order the data plane will send or write them.
//   2. Run it: each packet with its job's key (one libcrypto context per
//      key id, cached; ids the data plane retired are dropped first, so key
//      material does not outlive its session here).
//   3. Nothing to take: spin for a few microseconds (back-to-back batches
//      under load), then sleep on the wake word until the next job.
import type { CryptoBackend, RawAeadKey } from "../crypto/types.ts";
import {
  CHUNK_PACKETS,
  G_RETIRED,
  G_SLEEPERS,
  G_STARTED,
  G_STOP,
  G_WAKE,
  G_WANTED,
  KEY_BYTES,
  KEY_DONE_AT_ADD,
  OP_SEAL,
  RAN_BY_HELPER,
  RETIRE_RING,
  S_COUNT,
  S_OP,
  type JobArea,
  type JobSlot,
} from "./crypto-jobs.ts";

/** SPIN_MS: how long an idle helper keeps looking before it sleeps. */
const SPIN_MS = 0.05;
/** SLEEP_MS bounds one sleep, so a stop is seen even if its wake-up is lost. */
const SLEEP_MS = 1000;
/** KEYS_CACHED bounds the contexts a helper keeps (a device has at most a few live keys per peer). */
const KEYS_CACHED = 64;

export class CryptoHelper {
  private readonly keys = new Map<number, RawAeadKey>();
  private retiredSeen = 0;
  /** Chunks this helper ran, for tests. */
  chunksRun = 0;

  /** cachedKeys: libcrypto contexts held (one per key id), for tests. */
  get cachedKeys(): number {
    return this.keys.size;
  }

  constructor(
    private readonly area: JobArea,
    private readonly backend: CryptoBackend,
    /** index: this helper's place; it exits once the pool wants fewer than index + 1. */
    private readonly index = 0,
  ) {
    if (backend.rawAeadKey === undefined) throw new Error(`crypto helper: the ${backend.name} backend cannot work by address`);
  }

  /** run loops until the data plane sets G_STOP or wants fewer helpers, then frees every context. */
  run(): void {
    const ctl = this.area.ctl;
    Atomics.add(ctl, G_STARTED, 1);
    let idleSince = -1;
    while (this.wanted()) {
      if (this.step()) {
        idleSince = -1;
        continue;
      }
      const now = performance.now();
      if (idleSince < 0) idleSince = now;
      if (now - idleSince < SPIN_MS) continue;
      this.sleep();
      idleSince = -1;
    }
    for (const key of this.keys.values()) key.destroy();
    this.keys.clear();
    Atomics.sub(ctl, G_STARTED, 1);
  }

  private wanted(): boolean {
    const ctl = this.area.ctl;
    return Atomics.load(ctl, G_STOP) === 0 && this.index < Atomics.load(ctl, G_WANTED);
  }

  /** step runs one chunk of the oldest job that has one; false when there is none. */
  step(): boolean {
    this.dropRetired();
    const slot = this.area.oldestClaimable();
    if (slot === null) return false;
    const c = slot.claimChunk();
    if (c < 0) return true; // lost the race: look again at once
    this.runChunk(slot, c);
    slot.finishChunk(c, RAN_BY_HELPER);
    this.chunksRun++;
    return true;
  }

  private sleep(): void {
    const ctl = this.area.ctl;
    Atomics.add(ctl, G_SLEEPERS, 1);
    // Read the wake word before the last look: a job published after the
    // look bumps it, and the wait then returns at once.
    const wake = Atomics.load(ctl, G_WAKE);
    if (this.area.oldestClaimable() === null && this.wanted()) Atomics.wait(ctl, G_WAKE, wake, SLEEP_MS);
    Atomics.sub(ctl, G_SLEEPERS, 1);
  }

  private runChunk(slot: JobSlot, c: number): void {
    const ctl = slot.ctl;
    const seal = Atomics.load(ctl, slot.w + S_OP) === OP_SEAL;
    const from = c * CHUNK_PACKETS;
    const to = Math.min(Atomics.load(ctl, slot.w + S_COUNT), from + CHUNK_PACKETS);
    const base = slot.base;
    for (let i = from; i < to; i++) {
      const k = slot.keyIndex[i]!;
      if (k === KEY_DONE_AT_ADD) continue;
      let ok = false;
      try {
        const key = this.keyFor(slot, k);
        if (seal) {
          key.sealRaw(slot.counters[i]!, base + slot.offs[i]!, slot.lens[i]!);
          ok = true;
        } else {
          ok = key.openRaw(slot.counters[i]!, base + slot.offs[i]!, slot.lens[i]!);
        }
      } catch {
        // A failed seal must never be sent: ok stays 0 and the data plane drops it.
      }
      slot.setOk(i, ok);
    }
  }

  private keyFor(slot: JobSlot, k: number): RawAeadKey {
    const id = slot.keyIds[k]!;
    const cached = this.keys.get(id);
    if (cached !== undefined) return cached;
    if (this.keys.size >= KEYS_CACHED) {
      const [oldest, key] = this.keys.entries().next().value as [number, RawAeadKey];
      key.destroy();
      this.keys.delete(oldest);
    }
    const key = this.backend.rawAeadKey!(slot.keyBytes.subarray(k * KEY_BYTES, (k + 1) * KEY_BYTES));
    this.keys.set(id, key);
    return key;
  }

  /** dropRetired frees the contexts of keys the data plane destroyed since the last look. */
  private dropRetired(): void {
    const written = Atomics.load(this.area.ctl, G_RETIRED);
    if (written === this.retiredSeen) return;
    if (written - this.retiredSeen > RETIRE_RING) {
      // Fell behind the ring: forget every context (they are rebuilt from the jobs' keys).
      for (const key of this.keys.values()) key.destroy();
      this.keys.clear();
    } else {
      for (let n = this.retiredSeen; n < written; n++) {
        const id = this.area.retired[n % RETIRE_RING]!;
        const key = this.keys.get(id);
        if (key === undefined) continue;
        key.destroy();
        this.keys.delete(id);
      }
    }
    this.retiredSeen = written;
  }
}
