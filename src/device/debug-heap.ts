// TUNNEL_DEBUG_HEAP: a memory-debugging switch, off (and free) by default.
//   TUNNEL_DEBUG_HEAP=1          every 5 s, one line per thread on stderr
//   TUNNEL_DEBUG_HEAP=/some/file the same lines appended to that file (both
//                                threads append; the bench captures only the
//                                last 8 KiB of a daemon's stderr)
//   TUNNEL_DEBUG_HEAP_GC=1       run a full collection before each sample, so
//                                the numbers are live objects, not garbage
// A line: thread, seconds since start, process RSS, JSC heap size/capacity,
// "extra" (out-of-heap memory JSC knows about: ArrayBuffer stores), the
// memory mimalloc (Bun's native allocator) has committed, the object count and the most numerous types. The
// main thread samples from a timer, the data-plane worker from its timer pass
// (at most once a second already), so an enabled switch costs one
// performance.now() comparison per timer pass and nothing per packet.
// A sample itself allocates (~500 objects: the type-count table and this
// line), which grows the worker's heap capacity by ~1 MB per 3 min (the
// worker never idles, so JSC never sweeps it in the background): judge RSS
// flatness with the switch off. Found with it (2026-11-25): the worker
// allocated ~2000 Uint8Array views/s (crypto/random.ts), heap size flat at
// 42.6 MB while capacity and RSS grew ~0.1 MB/s.
import { appendFileSync } from "node:fs";

const PERIOD_MS = 5000;

export class HeapDebug {
  private next = 0;
  private lastCounts: Record<string, number> = {};
  private readonly t0 = performance.now();

  private constructor(
    private readonly who: string,
    private readonly file: string | null,
    private readonly gc: boolean,
  ) {}

  /** from returns a HeapDebug when TUNNEL_DEBUG_HEAP is set, else null. */
  static from(env: Record<string, string | undefined>, who: string): HeapDebug | null {
    const v = env.TUNNEL_DEBUG_HEAP;
    if (v === undefined || v === "" || v === "0") return null;
    return new HeapDebug(who, v.startsWith("/") ? v : null, env.TUNNEL_DEBUG_HEAP_GC === "1");
  }

  /** maybe writes a sample when the period elapsed. */
  maybe(now: number): void {
    if (now < this.next) return;
    this.next = now + PERIOD_MS;
    this.sample(now);
  }

  private sample(now: number): void {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const jsc = require("bun:jsc") as typeof import("bun:jsc");
      if (this.gc) Bun.gc(true);
      const h = jsc.heapStats();
      const m = jsc.memoryUsage();
      // Counts include objects allocated since the last collection (garbage
      // too), so "new" shows what the thread allocates, live or not.
      const counts = h.objectTypeCounts;
      const grown = Object.entries(counts)
        .map(([k, n]): [string, number] => [k, n - (this.lastCounts[k] ?? 0)])
        .filter(([, d]) => d > 0)
        .sort((a, b) => b[1] - a[1])
        .slice(0, 8)
        .map(([k, d]) => `${k}+${d}`)
        .join(" ");
      this.lastCounts = counts;
      const mb = (x: number) => (x / 1048576).toFixed(1);
      const line =
        `heap pid=${process.pid} ${this.who} t=${((now - this.t0) / 1000).toFixed(0)}s rss=${mb(m.current)}MB ` +
        `heap=${mb(h.heapSize)}/${mb(h.heapCapacity)}MB extra=${mb(h.extraMemorySize)}MB ` +
        `mimalloc=${mb(m.currentCommit)}MB objects=${h.objectCount} new: ${grown}\n`;
      if (this.file !== null) appendFileSync(this.file, line);
      else process.stderr.write(line);
    } catch {
      // debugging aid only
    }
  }
}
