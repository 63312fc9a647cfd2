// Per-source token bucket for handshake messages while under load (dossier
// 4.4; WG-KMOD ratelimiter.c). 20 packets/s with a burst of 5, tokens counted
// in nanoseconds exactly as the kernel does. Sources are keyed like the
// kernel: IPv4 by full address, IPv6 by its /64 (one host usually owns a
// whole /64, so per-address buckets would be trivially evaded).
// Time is passed in; `now` must come from a monotonic millisecond clock.
// Table growth is bounded: gc() drops entries idle for more than 1 s, and when
// the table holds maxEntries sources a new source is REFUSED (not admitted, no
// eviction) — the kernel's choice (err_oom path; selftest capacity_test), so a
// flood of spoofed sources cannot push out a legitimate bucket.

/** PACKETS_PER_SECOND is the sustained handshake rate per source. */
export const PACKETS_PER_SECOND = 20;
/** PACKETS_BURSTABLE is how many handshakes a fresh or idle source may send at once. */
export const PACKETS_BURSTABLE = 5;
/** PACKET_COST_NS is the token price of one packet. */
export const PACKET_COST_NS = 1_000_000_000 / PACKETS_PER_SECOND;
/** TOKEN_MAX_NS caps the bucket: the burst is part of the maximum, not of the rate. */
export const TOKEN_MAX_NS = PACKET_COST_NS * PACKETS_BURSTABLE;
/** RATELIMITER_GC_IDLE_MS is how long an entry may sit unused before gc drops it. */
export const RATELIMITER_GC_IDLE_MS = 1000;
/** RATELIMITER_MAX_ENTRIES is the default table bound. */
export const RATELIMITER_MAX_ENTRIES = 8192;

interface Entry {
  lastMs: number;
  tokensNs: number;
}

/**
 * HandshakeRateLimiter decides whether a handshake from `ip` may be processed.
 * One instance per device; call gc(now) about once a second.
 */
export class HandshakeRateLimiter {
  // IPv4 keys are the u32 address; IPv6 keys are the /64 as a 16-hex-digit
  // string (64 bits do not fit a Number exactly). Separate maps keep the two
  // families from colliding.
  private readonly v4 = new Map<number, Entry>();
  private readonly v6 = new Map<string, Entry>();
  private readonly maxEntries: number;

  constructor(opts: { maxEntries?: number } = {}) {
    this.maxEntries = opts.maxEntries ?? RATELIMITER_MAX_ENTRIES;
  }

  /** size is the number of tracked sources (both families). */
  get size(): number {
    return this.v4.size + this.v6.size;
  }

  /**
   * allow returns true if a handshake from `ip` (4 or 16 bytes) at time `now`
   * (ms) fits its source's bucket, consuming one packet's worth of tokens.
   * Other address lengths are refused.
   */
  allow(now: number, ip: Uint8Array): boolean {
    let entry: Entry | undefined;
    if (ip.length === 4) {
      const key = ((ip[0]! << 24) | (ip[1]! << 16) | (ip[2]! << 8) | ip[3]!) >>> 0;
      entry = this.v4.get(key);
      if (entry === undefined) return this.admit(now, this.v4, key);
    } else if (ip.length === 16) {
      const key = v6PrefixKey(ip);
      entry = this.v6.get(key);
      if (entry === undefined) return this.admit(now, this.v6, key);
    } else {
      return false;
    }
    // Kernel: tokens = min(TOKEN_MAX, tokens + now - last); last = now. A clock
    // that steps backwards must not mint tokens (the kernel's u64 would wrap to
    // a full bucket), so negative elapsed time counts as zero.
    const elapsedNs = Math.max(0, now - entry.lastMs) * 1e6;
    const tokens = Math.min(TOKEN_MAX_NS, entry.tokensNs + elapsedNs);
    entry.lastMs = now;
    const ok = tokens >= PACKET_COST_NS;
    entry.tokensNs = ok ? tokens - PACKET_COST_NS : tokens;
    return ok;
  }

  /** gc drops every source idle for more than RATELIMITER_GC_IDLE_MS at `now`. */
  gc(now: number): void {
    for (const [k, e] of this.v4) if (now - e.lastMs > RATELIMITER_GC_IDLE_MS) this.v4.delete(k);
    for (const [k, e] of this.v6) if (now - e.lastMs > RATELIMITER_GC_IDLE_MS) this.v6.delete(k);
  }

  /** clear drops every source (device teardown). */
  clear(): void {
    this.v4.clear();
    this.v6.clear();
  }

  private admit<K>(now: number, table: Map<K, Entry>, key: K): boolean {
    if (this.size >= this.maxEntries) return false;
    // A new source starts with a full bucket minus this packet (kernel).
    table.set(key, { lastMs: now, tokensNs: TOKEN_MAX_NS - PACKET_COST_NS });
    return true;
  }
}

const HEX = "0123456789abcdef";

function v6PrefixKey(ip: Uint8Array): string {
  let s = "";
  for (let i = 0; i < 8; i++) {
    const b = ip[i]!;
    s += HEX[b >>> 4]! + HEX[b & 15]!;
  }
  return s;
}
