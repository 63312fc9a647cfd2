// Seeded PRNG for deterministic offload tests (mulberry32).

export class Prng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  /** u32 returns the next uniform 32-bit unsigned integer. */
  u32(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  /** int returns an integer in [lo, hi] inclusive. */
  int(lo: number, hi: number): number {
    return lo + (this.u32() % (hi - lo + 1));
  }
  bool(pTrue = 0.5): boolean {
    return this.u32() / 4294967296 < pTrue;
  }
  fill(buf: Uint8Array, off = 0, len = buf.length - off): void {
    for (let i = 0; i < len; i++) buf[off + i] = this.u32() & 0xff;
  }
  bytes(len: number): Uint8Array {
    const b = new Uint8Array(len);
    this.fill(b);
    return b;
  }
}
