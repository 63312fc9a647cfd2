// The bounded queue between the receive loop and handshake processing, and
// the "under load" verdict it gives (dossier 4.4; WG-GO device/device.go
// IsUnderLoad, WG-KMOD receive.c). Everything a handshake flood touches
// lives here, so the data plane can stay cheap for floods and fair to
// legitimate peers:
//   - Capacity and threshold are wireguard-go's: 1024 messages, under load
//     from 1/8 full, and for UNDER_LOAD_AFTER_MS after the last time it was.
//     Queue drops also count as load: a full queue is the deepest backlog.
//   - One source (an IPv4 address, an IPv6 /64) may hold at most a quarter of
//     the queue, so one flooding host cannot crowd out every other peer's
//     initiation (which then gets its cookie reply and comes back with mac2).
//   - A priority lane takes messages whose mac2 the data plane verified at
//     arrival while under load: the retry that proves a peer's address must
//     not wait behind thousands of cookie-less messages, and is taken first.
//   - Under load, each source gets at most COOKIE_REPLIES_PER_SECOND cookie
//     replies (burst the same): a peer needs one per retry (every 5 s), so
//     this serves hundreds of peers behind one NAT address, while a flooding
//     host's surplus is dropped before any MAC is computed for it. Neither
//     the kernel nor wireguard-go limits cookie replies; without it a 20k/s
//     flood from one host costs 20k MACs, seals and sends a second.
// Storage is one preallocated slab; nothing here allocates per message.
import { copyLocalSource, type LocalSource, newLocalSource } from "../sys/udp.ts";

/** HANDSHAKE_QUEUE_CAPACITY is wireguard-go's QueueHandshakeSize. */
export const HANDSHAKE_QUEUE_CAPACITY = 1024;
/** PRIORITY_CAPACITY bounds the lane for messages with a verified mac2. */
export const PRIORITY_CAPACITY = 64;
/** UNDER_LOAD_AFTER_MS is how long the verdict outlives the backlog (WG-GO UnderLoadAfterTime). */
export const UNDER_LOAD_AFTER_MS = 1000;
/** MESSAGE_MAX is the largest handshake message kept (initiations are 148 bytes). */
export const MESSAGE_MAX = 256;
/** NAME_MAX holds a sockaddr_in6. */
const NAME_MAX = 32;
/** Sources are hashed into this many buckets; a legitimate source shares the flooder's with odds 1 in 4096. */
const SOURCE_BUCKETS = 4096;
/** COOKIE_REPLIES_PER_SECOND is the per-source cookie-reply budget under load (also the burst). */
export const COOKIE_REPLIES_PER_SECOND = 500;

/** Why offer() refused a message. */
export type OfferRefusal = "full" | "source-share";

export class HandshakeQueue {
  /** data, lens, names and sources hold each slot's message, its sender's sockaddr and the local address it came to. */
  readonly data: Uint8Array;
  readonly lens: Int32Array;
  readonly names: Uint8Array;
  readonly sources: LocalSource[];
  private readonly bucketOfSlot: Uint16Array;
  private readonly perBucket: Uint16Array;
  private readonly shareLimit: number;
  private readonly loadDepth: number;
  private head = 0;
  private count = 0;
  private prioHead = 0;
  private prioCount = 0;
  private underLoadUntil = Number.NEGATIVE_INFINITY;
  private readonly cookieTokens = new Float64Array(SOURCE_BUCKETS);
  private readonly cookieStamp = new Float64Array(SOURCE_BUCKETS);

  constructor(
    readonly capacity = HANDSHAKE_QUEUE_CAPACITY,
    readonly priorityCapacity = PRIORITY_CAPACITY,
  ) {
    const slots = capacity + priorityCapacity;
    this.data = new Uint8Array(slots * MESSAGE_MAX);
    this.lens = new Int32Array(slots);
    this.names = new Uint8Array(slots * NAME_MAX);
    this.sources = Array.from({ length: slots }, newLocalSource);
    this.bucketOfSlot = new Uint16Array(slots);
    this.perBucket = new Uint16Array(SOURCE_BUCKETS);
    this.shareLimit = Math.max(1, capacity >> 2);
    this.loadDepth = Math.max(1, capacity >> 3);
  }

  /** depth is the number of queued messages, both lanes. */
  get depth(): number {
    return this.count + this.prioCount;
  }

  /** underLoad is the verdict for a message taken now: the queue is (or was, within a second) deep. */
  underLoad(now: number): boolean {
    if (this.count >= this.loadDepth) this.underLoadUntil = now + UNDER_LOAD_AFTER_MS;
    return now < this.underLoadUntil;
  }

  /**
   * offer copies buf[off, off+len) with its sender's sockaddr (names at
   * nameOff, nameLen bytes) and local source into a slot, on the priority
   * lane when `priority`. Returns the slot, or why it was refused; a refusal
   * puts the queue under load.
   */
  offer(
    now: number,
    buf: Uint8Array,
    off: number,
    len: number,
    names: Uint8Array,
    nameOff: number,
    nameLen: number,
    local: LocalSource,
    priority: boolean,
  ): number | OfferRefusal {
    let slot: number;
    if (priority && this.prioCount < this.priorityCapacity) {
      slot = this.capacity + ((this.prioHead + this.prioCount) % this.priorityCapacity);
      this.prioCount++;
    } else {
      const refused = this.refusal(now, names, nameOff);
      if (refused !== null) return refused;
      const bucket = sourceBucket(names, nameOff);
      this.perBucket[bucket]!++;
      slot = (this.head + this.count) % this.capacity;
      this.count++;
      this.bucketOfSlot[slot] = bucket;
    }
    const d = this.data;
    const base = slot * MESSAGE_MAX;
    for (let i = 0; i < len; i++) d[base + i] = buf[off + i]!;
    this.lens[slot] = len;
    const n = this.names;
    const nb = slot * NAME_MAX;
    for (let i = 0; i < nameLen; i++) n[nb + i] = names[nameOff + i]!;
    copyLocalSource(this.sources[slot]!, local);
    return slot;
  }

  /**
   * refusal says why a normal-lane offer from the sockaddr at names[nameOff]
   * would be refused now (and counts that as load), or null when it would be
   * taken. The data plane asks before spending a MAC on a message that could
   * not be queued anyway.
   */
  refusal(now: number, names: Uint8Array, nameOff: number): OfferRefusal | null {
    if (this.count === this.capacity) return this.refuse(now, "full");
    if (this.perBucket[sourceBucket(names, nameOff)]! >= this.shareLimit) return this.refuse(now, "source-share");
    return null;
  }

  /**
   * allowCookieReply spends one of the source's cookie-reply tokens (token
   * bucket, COOKIE_REPLIES_PER_SECOND, full at start); false when it has none
   * left, and the message should be dropped unanswered.
   */
  allowCookieReply(now: number, names: Uint8Array, nameOff: number): boolean {
    const b = sourceBucket(names, nameOff);
    const elapsed = now - this.cookieStamp[b]!;
    const tokens = Math.min(COOKIE_REPLIES_PER_SECOND, this.cookieTokens[b]! + (elapsed * COOKIE_REPLIES_PER_SECOND) / 1000);
    this.cookieStamp[b] = now;
    if (tokens < 1) {
      this.cookieTokens[b] = tokens;
      return false;
    }
    this.cookieTokens[b] = tokens - 1;
    return true;
  }

  /**
   * take removes the oldest message, priority lane first, and returns its
   * slot (-1 when empty). The slot's contents stay valid until the next
   * offer(), so callers finish with it (and flush sends naming it) first.
   */
  take(): number {
    if (this.prioCount > 0) {
      const slot = this.capacity + this.prioHead;
      this.prioHead = (this.prioHead + 1) % this.priorityCapacity;
      this.prioCount--;
      return slot;
    }
    if (this.count === 0) return -1;
    const slot = this.head;
    this.head = (this.head + 1) % this.capacity;
    this.count--;
    this.perBucket[this.bucketOfSlot[slot]!]!--;
    return slot;
  }

  /** messageOffset and nameOffset locate a slot's bytes in data and names. */
  messageOffset(slot: number): number {
    return slot * MESSAGE_MAX;
  }

  nameOffset(slot: number): number {
    return slot * NAME_MAX;
  }

  /** clear empties both lanes (a new identity makes queued messages meaningless). */
  clear(): void {
    this.head = this.count = this.prioHead = this.prioCount = 0;
    this.perBucket.fill(0);
  }

  private refuse(now: number, why: OfferRefusal): OfferRefusal {
    this.underLoadUntil = now + UNDER_LOAD_AFTER_MS;
    return why;
  }
}

/**
 * sourceBucket hashes a sockaddr's host part: the IPv4 address, or the /64
 * of an IPv6 address (as the kernel's rate limiter keys them), never the
 * port, which a flooding host chooses freely.
 */
export function sourceBucket(names: Uint8Array, nameOff: number): number {
  const v6 = names[nameOff] === 10;
  const start = nameOff + (v6 ? 8 : 4);
  const end = start + (v6 ? 8 : 4);
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) h = Math.imul(h ^ names[i]!, 0x01000193);
  return (h ^ (h >>> 16) ^ (h >>> 8)) & (SOURCE_BUCKETS - 1);
}
