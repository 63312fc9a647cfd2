// Sliding-window replay filter for transport-data counters (RFC 6479 ring).
// Direct translation of wireguard-go replay/replay.go, whose window equals the
// kernel's (WG-KMOD messages.h COUNTER_BITS_TOTAL 8192, one 64-bit word of
// redundancy ⇒ 8128). The ring is 128 blocks of 64 bits; JS bitwise operators
// are 32-bit, so each block is two Uint32Array words (lo, hi) and every block
// operation touches both — the acceptance set is bit-for-bit wireguard-go's.
// Call validateCounter only after the packet has been authenticated.

/** COUNTER_BITS_TOTAL is the size of the bit ring (WG-KMOD messages.h). */
export const COUNTER_BITS_TOTAL = 8192;
/** COUNTER_REDUNDANT_BITS is one 64-bit block, kept so the ring never aliases the top. */
export const COUNTER_REDUNDANT_BITS = 64;
/** REPLAY_WINDOW_SIZE is how far behind the highest counter a packet may be: 8128. */
export const REPLAY_WINDOW_SIZE = COUNTER_BITS_TOTAL - COUNTER_REDUNDANT_BITS;

const BLOCK_BITS = 64;
const BLOCKS = COUNTER_BITS_TOTAL / BLOCK_BITS; // 128

/**
 * ReplayFilter tracks which counters of one receiving keypair were seen.
 * Not shared across workers; one instance per keypair.
 */
export class ReplayFilter {
  // Block b occupies words 2b (bits 0..31) and 2b+1 (bits 32..63).
  private readonly ring = new Uint32Array(BLOCKS * 2);
  private last = 0;

  /** reset forgets every counter; the filter then behaves as freshly created. */
  reset(): void {
    this.last = 0;
    this.ring.fill(0);
  }

  /**
   * validateCounter returns true and marks `counter` as seen if it is below
   * `limit`, not older than REPLAY_WINDOW_SIZE behind the highest counter seen,
   * and not seen before; otherwise false. Counters must be integers < 2^53: the
   * caller decoding the LE u64 must reject larger ones before calling (we also
   * reject non-safe integers here, since their low bits are not exact).
   * Allocation-free.
   */
  validateCounter(counter: number, limit: number): boolean {
    if (!(counter < limit) || !(counter >= 0) || counter > Number.MAX_SAFE_INTEGER) return false;
    const ring = this.ring;
    const indexBlock = Math.floor(counter / BLOCK_BITS);
    if (counter > this.last) {
      // Move the window forward, clearing the blocks it slides over (at most the whole ring).
      const current = Math.floor(this.last / BLOCK_BITS);
      const diff = Math.min(indexBlock - current, BLOCKS);
      for (let i = 1; i <= diff; i++) {
        const w = ((current + i) % BLOCKS) * 2;
        ring[w] = 0;
        ring[w + 1] = 0;
      }
      this.last = counter;
    } else if (this.last - counter > REPLAY_WINDOW_SIZE) {
      return false; // behind the window
    }
    const bit = counter - indexBlock * BLOCK_BITS; // 0..63 within the 64-bit block
    const w = (indexBlock % BLOCKS) * 2 + (bit >>> 5);
    const mask = 1 << (bit & 31);
    const old = ring[w]!;
    if ((old & mask) !== 0) return false;
    ring[w] = old | mask;
    return true;
  }
}
