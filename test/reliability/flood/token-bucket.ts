// The flood generator's pacing: a token bucket refilled at `rate` packets per
// second, holding at most `burst` tokens, so a sender that falls behind (a
// descheduled process on a busy machine) catches up by at most one burst
// rather than by everything it missed. Pure: time comes in as milliseconds.

export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    readonly rate: number,
    readonly burst: number,
    nowMs: number,
  ) {
    if (!(rate > 0) || !(burst >= 1)) throw new RangeError("TokenBucket needs rate > 0 and burst ≥ 1");
    this.tokens = burst;
    this.last = nowMs;
  }

  /** take returns how many packets (≤ want) may go now and spends their tokens. */
  take(nowMs: number, want: number): number {
    this.refill(nowMs);
    const n = Math.min(want, Math.floor(this.tokens));
    this.tokens -= n;
    return n;
  }

  /** giveBack returns tokens for packets the socket did not take. */
  giveBack(n: number): void {
    this.tokens = Math.min(this.burst, this.tokens + n);
  }

  /** waitMs is how long until `want` tokens are there (0 when they already are). */
  waitMs(nowMs: number, want: number): number {
    this.refill(nowMs);
    const missing = Math.min(want, this.burst) - this.tokens;
    return missing <= 0 ? 0 : (missing / this.rate) * 1000;
  }

  private refill(nowMs: number): void {
    const dt = nowMs - this.last;
    if (dt > 0) {
      this.tokens = Math.min(this.burst, this.tokens + (dt * this.rate) / 1000);
      this.last = nowMs;
    }
  }
}
