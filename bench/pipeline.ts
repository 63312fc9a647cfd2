// bun bench/pipeline.ts [--seconds N] [--workers 1,2] — the data plane's own cost, in one
// process, on the real modules: two DataPlanes (src/device/dataplane.ts and
// its parts, libcrypto, the offload engine) wired through the in-memory I/O
// of src/device/io-memory.ts (test/support/plane-pair.ts). A's TUN is fed
// TSO super-packets (46 × 1368-byte TCPv4 segments, as a 1420-MTU tunnel
// carries them); A reads, splits, routes, seals and sends them (GSO runs),
// B receives the GRO messages, opens, coalesces and writes them. Each
// side's turns are timed separately, so the figures are per core:
//   outbound ns/packet  A's work per 1420-byte segment
//   inbound ns/packet   B's work per segment
//   pipeline Gb/s       inner bytes over both sides' time on one core
// The in-memory I/O does the copies the kernel would (TUN read, UDP send
// and receive; the TUN write only counts), in JS, and they are included.
// With --workers, each count gets its own pair (each side gets that many
// threads: itself and workers − 1 crypto helpers), and the counts take turns
// in 250 ms slices, so a change in the machine's speed during the run (seen
// here: ±20 % between runs a minute apart) weighs on every count alike. The
// times are wall-clock, so the ratio against 1 worker is what the extra
// cores bring (issue 12 §2: ≥ 1.8× at 2 workers on two idle cores); the
// slices' own ratios give its spread. Needs the machine to itself.
import { planePair } from "../test/support/plane-pair.ts";
import { superPacket, TCP_ACK, TCP_PSH } from "../test/offload/packets.ts";

const MSS = 1368;
const SEGMENTS = 46;
const SUPER_PACKETS_PER_ROUND = 32;
const SEGMENT_BYTES = MSS + 52;
/** SLICE_MS: one measured stretch of one worker count before the next count takes its turn. */
const SLICE_MS = 250;
const WARM_MS = 1000;

export interface PipelineResult {
  packets: number;
  outboundNs: number;
  inboundNs: number;
  pipelineGbps: number;
  heapObjectsPerPacket: number;
  /** Share of the seals (A) and opens (B) the crypto helpers did. */
  helperShare: { seal: number; open: number };
}

/** One plane pair at one worker count, measured in slices that may be interleaved with another pair's. */
class PipelineRun {
  private readonly p;
  private readonly packets: Uint8Array[] = [];
  private seq = 1;
  private outNs = 0;
  private inNs = 0;
  private sent = 0;
  private heapObjects = 0;
  /** sliceGbps: each measured slice's pipeline Gb/s, for the spread of the ratios. */
  readonly sliceGbps: number[] = [];

  constructor(readonly workers: number) {
    this.p = planePair({ workers });
    this.p.configure();
  }

  /** start waits for the helpers, shakes hands and warms the JIT for warmMs. */
  async start(warmMs: number): Promise<void> {
    const { a, b } = this.p;
    await this.p.helpersUp();
    for (let i = 0; i < 64; i++) this.packets.push(this.next());
    a.host.tun.inject(this.packets[0]!);
    this.p.pump();
    b.host.tun.take();
    b.host.tun.keepWrites = false;
    const warmUntil = performance.now() + warmMs;
    while (performance.now() < warmUntil) this.round(false);
  }

  /** slice runs timed rounds for ms. */
  slice(ms: number): void {
    const heap0 = heapObjects();
    const [out0, in0, sent0] = [this.outNs, this.inNs, this.sent];
    const until = performance.now() + ms;
    while (performance.now() < until) this.round(true);
    this.heapObjects += heapObjects() - heap0;
    this.sliceGbps.push(((this.sent - sent0) * SEGMENT_BYTES * 8) / (this.outNs - out0 + this.inNs - in0));
  }

  result(): PipelineResult {
    const { a, b } = this.p;
    const share = (s: typeof a) => s.counter("cryptoPacketsHelpers") / Math.max(1, s.counter("cryptoPacketsHelpers") + s.counter("cryptoPacketsInline"));
    return {
      packets: this.sent,
      outboundNs: this.outNs / this.sent,
      inboundNs: this.inNs / this.sent,
      pipelineGbps: (this.sent * SEGMENT_BYTES * 8) / (this.outNs + this.inNs),
      heapObjectsPerPacket: this.heapObjects / this.sent,
      helperShare: { seal: share(a), open: share(b) },
    };
  }

  close(): void {
    this.p.close();
  }

  private next(): Uint8Array {
    const { a, b } = this.p;
    const pkt = superPacket(
      "tcp4",
      { src: a.inner4, dst: b.inner4, sport: 40000, dport: 5201, seq: this.seq, ack: 1, flags: TCP_ACK | TCP_PSH, payload: SEGMENTS * MSS },
      MSS,
    );
    this.seq = (this.seq + SEGMENTS * MSS) >>> 0;
    return pkt;
  }

  private round(timed: boolean): void {
    const { a, b } = this.p;
    for (let i = 0; i < SUPER_PACKETS_PER_ROUND; i++) a.host.tun.inject(this.packets[(this.sent / SEGMENTS + i) % this.packets.length]!);
    const t0 = Bun.nanoseconds();
    while (!a.host.idle || a.plane.inFlight) a.plane.turn();
    const t1 = Bun.nanoseconds();
    while (!b.host.idle || b.plane.inFlight) b.plane.turn();
    const t2 = Bun.nanoseconds();
    b.host.tun.take();
    if (timed) {
      this.outNs += t1 - t0;
      this.inNs += t2 - t1;
      this.sent += SUPER_PACKETS_PER_ROUND * SEGMENTS;
    }
  }
}

/** measurePipeline measures one worker count for seconds. */
export async function measurePipeline(seconds: number, workers = 1): Promise<PipelineResult> {
  return (await comparePipelines(seconds, [workers]))[0]!.result;
}

export interface PipelineComparison {
  workers: number;
  result: PipelineResult;
  sliceGbps: number[];
}

/**
 * comparePipelines measures each worker count for seconds, in slices of
 * SLICE_MS taken in turn (the order reversed every other time), so a drift
 * in the machine's speed during the run falls on every count alike instead
 * of on whichever ran last.
 */
export async function comparePipelines(seconds: number, counts: number[]): Promise<PipelineComparison[]> {
  const runs = counts.map((w) => new PipelineRun(w));
  try {
    for (const r of runs) await r.start(WARM_MS);
    Bun.gc(true);
    const slices = Math.max(1, Math.round((seconds * 1000) / SLICE_MS));
    for (let s = 0; s < slices; s++) {
      const order = s % 2 === 0 ? runs : [...runs].reverse();
      for (const r of order) r.slice(SLICE_MS);
    }
    return runs.map((r) => ({ workers: r.workers, result: r.result(), sliceGbps: r.sliceGbps }));
  } finally {
    for (const r of runs) r.close();
  }
}

function heapObjects(): number {
  const { heapStats } = require("bun:jsc") as { heapStats: () => { objectCount: number } };
  return heapStats().objectCount;
}

if (import.meta.main) {
  const arg = (name: string) => {
    const i = process.argv.indexOf(name);
    return i >= 0 ? process.argv[i + 1] : undefined;
  };
  const seconds = Number(arg("--seconds") ?? 5);
  const counts = (arg("--workers") ?? "1").split(",").map(Number);
  const results = await comparePipelines(seconds, counts);
  console.log(
    `In-process pipeline, real data planes over memory I/O, 1420-byte segments, ${seconds} s per worker count in ${SLICE_MS} ms slices taken in turn:`,
  );
  console.log(
    "| workers | outbound ns/packet | inbound ns/packet | pipeline Gb/s | × 1 worker (slices: median, range) | helpers' share of seals / opens | heap objects/packet |",
  );
  console.log("|---|---|---|---|---|---|---|");
  const base = results.find((r) => r.workers === 1);
  for (const { workers, result: r, sliceGbps } of results) {
    let ratio = "n/a";
    if (base !== undefined) {
      const perSlice = sliceGbps.map((g, i) => g / base.sliceGbps[i]!).sort((x, y) => x - y);
      const median = perSlice[Math.floor(perSlice.length / 2)]!;
      ratio = `${(r.pipelineGbps / base.result.pipelineGbps).toFixed(2)}× (${median.toFixed(2)}, ${perSlice[0]!.toFixed(2)}–${perSlice.at(-1)!.toFixed(2)})`;
    }
    const share = `${Math.round(r.helperShare.seal * 100)} % / ${Math.round(r.helperShare.open * 100)} %`;
    console.log(
      `| ${workers} | ${r.outboundNs.toFixed(0)} | ${r.inboundNs.toFixed(0)} | ${r.pipelineGbps.toFixed(2)} | ${ratio} | ${share} | ${r.heapObjectsPerPacket.toFixed(3)} |`,
    );
  }
  const two = results.find((r) => r.workers === 2);
  if (base !== undefined && two !== undefined) {
    // Amdahl from the one point measured: the speed-up at 2 gives the share that does not spread.
    const s2 = two.result.pipelineGbps / base.result.pipelineGbps;
    const serial = Math.min(1, Math.max(0, 2 / s2 - 1));
    const predict = (n: number) => 1 / (serial + (1 - serial) / n);
    console.log(
      `Amdahl from 1 → 2 workers: ${(serial * 100).toFixed(0)} % of the work does not spread; predicted ${predict(4).toFixed(2)}× at 4, ${predict(8).toFixed(2)}× at 8, ${predict(16).toFixed(2)}× at 16 workers (cores to themselves).`,
    );
  }
  console.log("outbound: read, split, route, frame, seal, send; inbound: receive, classify, open, accept, coalesce, write (wall-clock per packet).");
  console.log("Heap objects: the memory I/O allocates; the data plane must not.");
  process.exit(0);
}
