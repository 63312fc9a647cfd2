// The memory the data plane and its crypto helpers share (crypto-pool.ts,
// crypto-helper.ts): one SharedArrayBuffer, laid out the same on every
// thread, holding a few job slots. A job is one batch of AEAD operations on
// one slab (a TX batch to seal, or an RX batch to open): per packet its
// offset in the slab, length, counter and key, and its result. Work is
// handed out in chunks of CHUNK_PACKETS that any thread claims with a
// compare-and-swap, so the data plane and every helper share a batch and a
// stalled thread never holds more than one chunk.
//
// Why this shape:
//   - Never a postMessage per batch (issue 12): a job is published by plain
//     writes followed by one Atomics store; helpers sleep on a futex word.
//   - Helpers reach the slabs by address (they live in the data plane's
//     memory), so only libcrypto, which takes raw pointers, can run there.
//   - The keys of a job travel with it (at most SLOT_KEYS per job), so a
//     helper never needs the protocol state; it caches one context per key id.
//
// Claiming (claimChunk): NEXT only grows while a job is live and is reset
// last when a slot is reused, after every descriptor is written; a claimer
// re-reads CHUNKS after winning, so a claim that raced a reuse either lands
// on a real chunk of the new job (whose descriptors are complete) or on none.

/** SLOT_COUNT job slots: two in flight per direction (the pipeline depth). */
export const SLOT_COUNT = 4;
/** SLOT_PACKETS bounds a job: the largest receive, 16 GRO messages of 64 datagrams. */
export const SLOT_PACKETS = 1024;
/** SLOT_KEYS bounds the distinct keys in one job (an RX batch from many peers). */
export const SLOT_KEYS = 32;
export const KEY_BYTES = 32;
/** CHUNK_PACKETS packets make one claim: small enough to balance, large enough to amortise the atomics. */
export const CHUNK_PACKETS = 8;
const CHUNKS_MAX = SLOT_PACKETS / CHUNK_PACKETS;
/** CACHE_LINE: the results of one chunk get a line of their own (64 bytes on x86-64 and arm64). */
const CACHE_LINE = 64;
/** RAN_BY_AT: where in its chunk's line who ran it is kept (after its CHUNK_PACKETS ok bytes). */
const RAN_BY_AT = CHUNK_PACKETS;

export const OP_SEAL = 1;
export const OP_OPEN = 2;

/** KEY_DONE_AT_ADD marks a packet the publisher already handled itself (its job had no room for its key). */
export const KEY_DONE_AT_ADD = 255;
/** CHUNKS_NEVER_CLAIMABLE parks NEXT above any job's chunk count while a slot is rewritten. */
export const CHUNKS_NEVER_CLAIMABLE = 0x7fffffff;

/** Who ran a chunk, so the data plane can count what the helpers took. */
export const RAN_BY_PLANE = 1;
export const RAN_BY_HELPER = 2;

// Global words.
/** G_WAKE is bumped for every published job; sleeping helpers wait on it. */
export const G_WAKE = 0;
/** G_SLEEPERS counts helpers asleep on G_WAKE (the publisher notifies only when > 0). */
export const G_SLEEPERS = 1;
/** G_STOP asks helpers to exit. */
export const G_STOP = 2;
/** G_RETIRED is how many key ids were written to the retire ring. */
export const G_RETIRED = 3;
/** G_STARTED counts helpers that are up. */
export const G_STARTED = 4;
/** G_WANTED: helpers whose index is at or above it exit (the pool shrinks). */
export const G_WANTED = 5;
const GLOBAL_WORDS = 8;

// Per-slot words.
/** S_SEQ: the job's sequence number while published (claimers take the oldest first), 0 when free. */
export const S_SEQ = 0;
export const S_OP = 1;
export const S_COUNT = 2;
export const S_CHUNKS = 3;
/** S_NEXT: the next chunk to claim. */
export const S_NEXT = 4;
/** S_DONE: chunks finished; the thread finishing the last one notifies on this word. */
export const S_DONE = 5;
/** S_BASE_LO/HI: the slab's address, as two u32 (helpers add offsets to it). */
export const S_BASE_LO = 6;
export const S_BASE_HI = 7;
const SLOT_WORDS = 8;

/** CryptoHelperInit is a helper thread's one message (crypto.worker.ts). */
export interface CryptoHelperInit {
  buffer: SharedArrayBuffer;
  /** env: for the backend choice (TUNNEL_CRYPTO), as the data plane got it. */
  env: Record<string, string | undefined>;
  /** index: the helper's place (it exits when the pool wants fewer). */
  index: number;
}

/** RETIRE_RING holds the ids of destroyed keys, for helpers to drop their contexts. */
export const RETIRE_RING = 256;

const TWO32 = 0x100000000;

/** JobSlot is one job slot's views. */
export class JobSlot {
  /** Index of this slot's first word in JobArea.ctl. */
  readonly w: number;
  readonly offs: Int32Array;
  readonly lens: Int32Array;
  readonly counters: Float64Array;
  /** keyIndex[i]: which of the job's keys packet i uses. */
  readonly keyIndex: Uint8Array;
  /**
   * results holds what the threads write while a job runs, one cache line
   * per chunk: its packets' ok bytes, then who ran it. Packed, the 8 chunks
   * sharing a line were written by the data plane and a helper at once,
   * and every packet's result moved the line between their cores.
   */
  private readonly results: Uint8Array;
  readonly keyIds: Uint32Array;
  readonly keyBytes: Uint8Array;

  constructor(
    readonly index: number,
    readonly ctl: Int32Array,
    buffer: SharedArrayBuffer,
    at: number,
  ) {
    this.w = GLOBAL_WORDS + index * SLOT_WORDS;
    this.counters = new Float64Array(buffer, at, SLOT_PACKETS);
    at += SLOT_PACKETS * 8;
    this.offs = new Int32Array(buffer, at, SLOT_PACKETS);
    at += SLOT_PACKETS * 4;
    this.lens = new Int32Array(buffer, at, SLOT_PACKETS);
    at += SLOT_PACKETS * 4;
    this.keyIds = new Uint32Array(buffer, at, SLOT_KEYS);
    at += SLOT_KEYS * 4;
    this.keyIndex = new Uint8Array(buffer, at, SLOT_PACKETS);
    at += SLOT_PACKETS;
    this.keyBytes = new Uint8Array(buffer, at, SLOT_KEYS * KEY_BYTES);
    at += SLOT_KEYS * KEY_BYTES;
    at = alignLine(at);
    this.results = new Uint8Array(buffer, at, CHUNKS_MAX * CACHE_LINE);
  }

  static readonly BYTES = SLOT_PACKETS * (8 + 4 + 4 + 1) + SLOT_KEYS * (4 + KEY_BYTES) + CACHE_LINE + CHUNKS_MAX * CACHE_LINE;

  /** ok: packet i was sealed, or opened with a good tag. */
  ok(i: number): boolean {
    return this.results[resultAt(i)] === 1;
  }

  setOk(i: number, ok: boolean): void {
    this.results[resultAt(i)] = ok ? 1 : 0;
  }

  /** ranBy: RAN_BY_PLANE or RAN_BY_HELPER once chunk c is done, 0 before. */
  ranBy(c: number): number {
    return this.results[ranByAt(c)]!;
  }

  /** clearRanBy marks chunks [0, chunks) not run yet. */
  clearRanBy(chunks: number): void {
    for (let c = 0; c < chunks; c++) this.results[ranByAt(c)] = 0;
  }

  /** base is the slab address the job's offsets are relative to. */
  get base(): number {
    return (this.ctl[this.w + S_BASE_LO]! >>> 0) + (this.ctl[this.w + S_BASE_HI]! >>> 0) * TWO32;
  }

  setBase(addr: number): void {
    this.ctl[this.w + S_BASE_LO] = addr >>> 0;
    this.ctl[this.w + S_BASE_HI] = (addr / TWO32) >>> 0;
  }

  /** claimChunk takes the next unclaimed chunk of the live job: its index, or -1. */
  claimChunk(): number {
    const ctl = this.ctl;
    const w = this.w;
    for (;;) {
      const n = Atomics.load(ctl, w + S_NEXT);
      if (n >= Atomics.load(ctl, w + S_CHUNKS)) return -1;
      if (Atomics.compareExchange(ctl, w + S_NEXT, n, n + 1) !== n) continue;
      // Won: but if the slot was reused under us, n may be past the new job's end.
      return n < Atomics.load(ctl, w + S_CHUNKS) ? n : -1;
    }
  }

  /** finishChunk records chunk c done by `by`; the thread finishing the last chunk wakes a waiting publisher. */
  finishChunk(c: number, by: number): void {
    this.results[ranByAt(c)] = by;
    const done = Atomics.add(this.ctl, this.w + S_DONE, 1) + 1;
    if (done === Atomics.load(this.ctl, this.w + S_CHUNKS)) Atomics.notify(this.ctl, this.w + S_DONE);
  }

  get chunks(): number {
    return Atomics.load(this.ctl, this.w + S_CHUNKS);
  }

  get done(): number {
    return Atomics.load(this.ctl, this.w + S_DONE);
  }
}

/** JobArea is the shared memory's views; build one per thread over the same buffer. */
export class JobArea {
  readonly ctl: Int32Array;
  readonly retired: Uint32Array;
  readonly slots: JobSlot[] = [];

  constructor(readonly buffer: SharedArrayBuffer) {
    const ctlWords = GLOBAL_WORDS + SLOT_COUNT * SLOT_WORDS;
    this.ctl = new Int32Array(buffer, 0, ctlWords);
    this.retired = new Uint32Array(buffer, ctlWords * 4, RETIRE_RING);
    let at = align8(ctlWords * 4 + RETIRE_RING * 4);
    for (let s = 0; s < SLOT_COUNT; s++) {
      this.slots.push(new JobSlot(s, this.ctl, buffer, at));
      at = align8(at + JobSlot.BYTES);
    }
  }

  static allocate(): JobArea {
    const ctlBytes = (GLOBAL_WORDS + SLOT_COUNT * SLOT_WORDS) * 4 + RETIRE_RING * 4;
    return new JobArea(new SharedArrayBuffer(align8(ctlBytes) + SLOT_COUNT * align8(JobSlot.BYTES)));
  }

  /** oldestClaimable is the published slot with unclaimed chunks and the lowest sequence, or null. */
  oldestClaimable(): JobSlot | null {
    let best: JobSlot | null = null;
    let bestSeq = 0;
    for (let s = 0; s < SLOT_COUNT; s++) {
      const slot = this.slots[s]!;
      const seq = Atomics.load(this.ctl, slot.w + S_SEQ);
      if (seq === 0 || Atomics.load(this.ctl, slot.w + S_NEXT) >= Atomics.load(this.ctl, slot.w + S_CHUNKS)) continue;
      if (best === null || seq < bestSeq) {
        best = slot;
        bestSeq = seq;
      }
    }
    return best;
  }
}

function align8(n: number): number {
  return (n + 7) & ~7;
}

function alignLine(n: number): number {
  return (n + CACHE_LINE - 1) & ~(CACHE_LINE - 1);
}

/** ranByAt is where chunk c's "ran by" byte is in a slot's results: after its ok bytes, in its line. */
function ranByAt(c: number): number {
  return c * CACHE_LINE + RAN_BY_AT;
}

/** resultAt is where packet i's ok byte is in a slot's results: its chunk's line, its place in the chunk. */
function resultAt(i: number): number {
  return Math.floor(i / CHUNK_PACKETS) * CACHE_LINE + (i % CHUNK_PACKETS);
}
