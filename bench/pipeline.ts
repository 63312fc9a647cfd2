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
// With --workers, each count runs in turn (each side gets that many threads:
// itself and workers − 1 crypto helpers), and the times are wall-clock, so
// the ratio against 1 worker is what the extra cores bring (issue 12 §2:
// ≥ 1.8× at 2 workers on two idle cores). Needs the machine to itself.
import { planePair } from "../test/support/plane-pair.ts";
import { superPacket, TCP_ACK, TCP_PSH } from "../test/offload/packets.ts";

const MSS = 1368;
const SEGMENTS = 46;
const SUPER_PACKETS_PER_ROUND = 32;
const SEGMENT_BYTES = MSS + 52;

export interface PipelineResult {
  packets: number;
  outboundNs: number;
  inboundNs: number;
  pipelineGbps: number;
  heapObjectsPerPacket: number;
  /** Share of the seals (A) and opens (B) the crypto helpers did. */
  helperShare: { seal: number; open: number };
}

export async function measurePipeline(seconds: number, workers = 1): Promise<PipelineResult> {
  const p = planePair({ workers });
  p.configure();
  await p.helpersUp();
  const { a, b } = p;
  const packets: Uint8Array[] = [];
  let seq = 1;
  const next = () => {
    const pkt = superPacket(
      "tcp4",
      { src: a.inner4, dst: b.inner4, sport: 40000, dport: 5201, seq, ack: 1, flags: TCP_ACK | TCP_PSH, payload: SEGMENTS * MSS },
      MSS,
    );
    seq = (seq + SEGMENTS * MSS) >>> 0;
    return pkt;
  };
  for (let i = 0; i < 64; i++) packets.push(next());
  // Handshake, then warm the JIT.
  a.host.tun.inject(packets[0]!);
  p.pump();
  b.host.tun.take();
  b.host.tun.keepWrites = false;
  let outNs = 0;
  let inNs = 0;
  let sent = 0;
  const round = (timed: boolean) => {
    for (let i = 0; i < SUPER_PACKETS_PER_ROUND; i++) a.host.tun.inject(packets[(sent / SEGMENTS + i) % packets.length]!);
    const t0 = Bun.nanoseconds();
    while (!a.host.idle || a.plane.inFlight) a.plane.turn();
    const t1 = Bun.nanoseconds();
    while (!b.host.idle || b.plane.inFlight) b.plane.turn();
    const t2 = Bun.nanoseconds();
    b.host.tun.take();
    if (timed) {
      outNs += t1 - t0;
      inNs += t2 - t1;
      sent += SUPER_PACKETS_PER_ROUND * SEGMENTS;
    }
  };
  const warmUntil = performance.now() + 1000;
  while (performance.now() < warmUntil) round(false);
  Bun.gc(true);
  const heap0 = heapObjects();
  const until = performance.now() + seconds * 1000;
  while (performance.now() < until) round(true);
  const heap1 = heapObjects();
  const total = outNs + inNs;
  const share = (s: typeof a) => s.counter("cryptoPacketsHelpers") / Math.max(1, s.counter("cryptoPacketsHelpers") + s.counter("cryptoPacketsInline"));
  const helperShare = { seal: share(a), open: share(b) };
  p.close();
  return {
    packets: sent,
    outboundNs: outNs / sent,
    inboundNs: inNs / sent,
    pipelineGbps: (sent * SEGMENT_BYTES * 8) / total,
    heapObjectsPerPacket: (heap1 - heap0) / sent,
    helperShare,
  };
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
  const results: [number, PipelineResult][] = [];
  for (const w of counts) results.push([w, await measurePipeline(seconds, w)]);
  console.log(`In-process pipeline, real data planes over memory I/O, 1420-byte segments, ${seconds} s per worker count:`);
  console.log("| workers | outbound ns/packet | inbound ns/packet | pipeline Gb/s | × 1 worker | helpers' share of seals / opens | heap objects/packet |");
  console.log("|---|---|---|---|---|---|---|");
  const base = results.find(([w]) => w === 1)?.[1];
  for (const [w, r] of results) {
    const ratio = base === undefined ? "n/a" : `${(r.pipelineGbps / base.pipelineGbps).toFixed(2)}×`;
    const share = `${Math.round(r.helperShare.seal * 100)} % / ${Math.round(r.helperShare.open * 100)} %`;
    console.log(
      `| ${w} | ${r.outboundNs.toFixed(0)} | ${r.inboundNs.toFixed(0)} | ${r.pipelineGbps.toFixed(2)} | ${ratio} | ${share} | ${r.heapObjectsPerPacket.toFixed(3)} |`,
    );
  }
  const two = results.find(([w]) => w === 2)?.[1];
  if (base !== undefined && two !== undefined) {
    // Amdahl from the one point measured: the speed-up at 2 gives the share that does not spread.
    const s2 = two.pipelineGbps / base.pipelineGbps;
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
