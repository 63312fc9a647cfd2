// The data plane's scheduler: one synchronous loop that owns the protocol
// state and every packet buffer, and hands each turn to its parts:
//   outbound.ts   TUN → peers (read, split, route, frame; seal; send)
//   inbound.ts    sockets → TUN (receive, classify; open; accept, coalesce, write)
//   crypto-pool.ts  the seals and opens, shared with helper threads
//   handshakes.ts handshake messages (arrival checks, bounded queue, answers)
//   plane-timers.ts  retransmits, keepalives, rekeys, stats publication
//   peer-table.ts configuration reconciled with protocol state
// All I/O goes through the seam in io.ts: io-linux.ts in the daemon's
// worker (dataplane.worker.ts), io-memory.ts in tests and benchmarks.
// Why it is built this way:
//   - The Tunn state machines are not shared across threads (src/wireguard
//     contract), so TX and RX live on this one thread; the main thread stays
//     free for UAPI, logs and status, and reads counters from shared memory.
//   - The AEAD, most of the cost, is what spreads over cores: with workers
//     > 1 each batch's seals or opens go to the crypto pool and this thread
//     reads the next batch meanwhile (two batches in flight per direction).
//     Batches are sent and written in the order they were read, so no flow
//     is reordered, and a turn that found nothing new settles them all
//     before the loop sleeps, so a lone packet never waits.
//   - The worker never returns to its event loop (yielding with setImmediate
//     starved message delivery in Bun 1.4.4, measured); control messages are
//     pulled between turns when the shared mailbox counter moved, so a
//     config change costs nothing per packet.
//   - Level-triggered readiness and bounded work per turn (outbound's and
//     inbound's budgets), then handshakes (bounded by time), then timers: no
//     direction starves. A turn waits only when nothing is left over.
//   - No per-packet allocation: slabs, batches, iovecs and result objects
//     are preallocated; Map lookups by Tunn identity only.
//   - Sticky sources (dossier 4.8): each received message's pktinfo names
//     the local address it came to; authenticated packets record it as the
//     peer's source and everything sent to the peer carries it (plane-peer.ts,
//     udp-sender.ts); a configured endpoint, a handshake retry or a refused
//     send clears it.
// Where the time goes and which levers were measured: README "Performance"
// and bench/profile.ts (perf + jitdump on two daemons under iperf3).
import { selectBackend } from "../crypto/select.ts";
import { CryptoPool } from "./crypto-pool.ts";
import type { ToWorker, WorkerSocket } from "./dataplane-messages.ts";
import { HeapDebug } from "./debug-heap.ts";
import { Handshakes } from "./handshakes.ts";
import { Inbound } from "./inbound.ts";
import { READY_TUN, READY_TUN_GONE, READY_V4, READY_V6, type DataPlaneIo, type DatagramSocket } from "./io.ts";
import { Outbound } from "./outbound.ts";
import { PeerTable } from "./peer-table.ts";
import { PlaneContext, type PlaneEvents } from "./plane-context.ts";
import { PlaneTimers } from "./plane-timers.ts";
import { C } from "./shared-stats.ts";
import { Transmitter } from "./transmit.ts";
import { Warmup, warmupSkipReason } from "./warmup.ts";

/** While traffic flows, counters are published at least this often. */
const BUSY_PUBLISH_MS = 50;
/** An idle loop still wakes this often. */
const IDLE_WAIT_MS = 1000;
/** After the mailbox moved without a message (still in flight), look again this soon. */
const CONTROL_RETRY_MS = 1;
/** WARMUP_SLICE_MS bounds one idle turn's JIT warm-up (it also stops as soon as real traffic arrives). */
const WARMUP_SLICE_MS = 2;

export interface DataPlaneOptions {
  tcpGro: boolean;
  udpGro: boolean;
  mtu: number;
  /** workers: threads for the data plane, itself included (≥ 1; the rest are crypto helpers). */
  workers?: number;
  /** Environment for the crypto backend choice (TUNNEL_CRYPTO) and TUNNEL_DEBUG_HEAP. */
  env: Record<string, string | undefined>;
  /** The shared stats buffer (shared-stats.ts) the main thread reads. */
  stats: SharedArrayBuffer;
  /** warmup: run the JIT warm-up (warmup.ts) in idle turns after start; the daemon does, tests and benches do not. */
  warmup?: boolean;
  /** loadedInMs: how long the worker took from its creation to building this plane (the warm-up's measure of the machine). */
  loadedInMs?: number;
}

export class DataPlane {
  readonly ctx: PlaneContext;
  readonly pool: CryptoPool;
  private readonly out: Transmitter;
  private readonly table: PeerTable;
  private readonly outbound: Outbound;
  private readonly inbound: Inbound;
  private readonly handshakes: Handshakes;
  private readonly timers: PlaneTimers;
  private readonly heapDebug: HeapDebug | null;
  private nextTimerAt = 0;
  private stopping = false;
  /** The JIT warm-up still to run (null: none, or done), and whether it was started. */
  private warmup: Warmup | null = null;
  private warmupPending: boolean;
  /** Readiness a warm-up slice saw (and took from epoll) when it stopped for real work; the next turn serves it. */
  private readyAhead = 0;

  private readonly opts: DataPlaneOptions;

  constructor(
    private readonly io: DataPlaneIo,
    opts: DataPlaneOptions,
    events: PlaneEvents,
  ) {
    this.heapDebug = HeapDebug.from(opts.env, "worker");
    const skipWarmup = warmupSkipReason(opts.loadedInMs ?? 0);
    this.warmupPending = opts.warmup === true && opts.env.TUNNEL_JIT_WARMUP !== "0" && skipWarmup === null;
    this.opts = opts;
    let log = (_: string): void => {};
    this.pool = new CryptoPool(selectBackend(opts.env).backend, { helpers: (opts.workers ?? 1) - 1, env: opts.env, log: (m) => log(m) });
    this.ctx = new PlaneContext(io, this.pool.backend, opts.stats, opts.mtu, events);
    log = (m) => this.ctx.log(m);
    this.pool.c = this.ctx.c;
    this.out = new Transmitter(this.ctx);
    this.table = new PeerTable(this.ctx, this.out);
    this.outbound = new Outbound(this.ctx, this.out, this.pool);
    this.handshakes = new Handshakes(this.ctx, this.out);
    this.inbound = new Inbound(this.ctx, this.out, this.handshakes, opts, this.pool);
    this.timers = new PlaneTimers(this.ctx, this.out, this.table);
    if (opts.warmup === true && skipWarmup !== null) this.ctx.log(skipWarmup);
  }

  /** warmingUp: a JIT warm-up is still to run or running. */
  get warmingUp(): boolean {
    return this.warmupPending;
  }

  /** inFlight: a batch is still being sealed or opened (a turn with nothing new settles it). */
  get inFlight(): boolean {
    return this.outbound.inFlight || this.inbound.inFlight;
  }

  /** finished: a stop was asked for, or the TUN is gone. */
  get finished(): boolean {
    return this.stopping || this.ctx.closed;
  }

  /**
   * run turns until finished, calling beforeTurn (the worker's mailbox
   * check) first each time. A bug must not take the tunnel down: an
   * exception is counted and logged, and the loop goes on.
   */
  run(beforeTurn: () => void): void {
    this.ctx.post({ type: "ready" });
    while (!this.finished) {
      try {
        beforeTurn();
        this.turn();
      } catch (e) {
        this.ctx.c[C.dropOther]!++;
        this.ctx.log(`data plane: unexpected error: ${(e as Error)?.stack ?? String(e)}`);
      }
    }
    this.shutdown();
  }

  /** turn waits for work (unless some is left over), then does one bounded round of it. */
  turn(): void {
    const ctx = this.ctx;
    const clock = ctx.clock;
    ctx.c[C.loopIterations]!++;
    let now = clock.now();
    const busy = this.handshakes.pending > 0 || this.outbound.inFlight || this.inbound.inFlight || this.warmupPending;
    const timeout = busy ? 0 : Math.max(0, Math.min(this.nextTimerAt - now, ctx.dirty ? BUSY_PUBLISH_MS : IDLE_WAIT_MS));
    const ready = this.readyAhead !== 0 ? this.readyAhead : this.io.poller.wait(timeout);
    this.readyAhead = 0;
    if (ready & READY_TUN_GONE) ctx.tunGone("epoll reported HUP or ERR on the TUN");
    now = clock.now();
    if (ready & READY_TUN && !ctx.closed) this.outbound.work(now);
    if (ready & READY_V4 && ctx.v4 !== null) this.inbound.work(now, ctx.v4);
    if (ready & READY_V6 && ctx.v6 !== null) this.inbound.work(now, ctx.v6);
    // Nothing new arrived: send and write what is still being sealed or opened.
    if ((ready & (READY_TUN | READY_V4 | READY_V6)) === 0) {
      this.settle(now);
      if (this.warmupPending && !this.inFlight && this.handshakes.pending === 0) this.warmUp();
    }
    if (this.handshakes.pending > 0) this.handshakes.process(clock.now());
    now = clock.now();
    if (now >= this.nextTimerAt || (ctx.dirty && ready === 0)) {
      this.nextTimerAt = this.timers.pass(now);
      ctx.c[C.cryptoHelpersUp] = Math.min(this.pool.helpers, this.pool.started);
      if (this.heapDebug !== null) this.heapDebug.maybe(now);
    }
  }

  /** warmUp runs one slice of the JIT warm-up; a failure only costs the warm-up. */
  private warmUp(): void {
    const clock = this.ctx.clock;
    try {
      this.warmup ??= new Warmup(this.ctx.crypto, this.opts, (io, o) => new DataPlane(io, o, { post: () => {} }));
      const interrupted = () => {
        this.readyAhead = this.io.poller.wait(0);
        return this.readyAhead !== 0;
      };
      if (!this.warmup.slice(WARMUP_SLICE_MS, () => clock.now(), interrupted)) return;
      this.warmup = null;
    } catch (e) {
      this.ctx.log(`JIT warm-up stopped: ${(e as Error)?.message ?? String(e)}`);
      this.abandonWarmup();
    }
    this.warmupPending = false;
  }

  /** abandonWarmup frees an unfinished warm-up's pair (its loopback sockets and fds). */
  private abandonWarmup(): void {
    const w = this.warmup;
    this.warmup = null;
    this.warmupPending = false;
    try {
      w?.close();
    } catch {
      // what could be closed was
    }
  }

  /** settle sends and writes every batch still in flight (oldest first). */
  settle(now: number): void {
    if (this.outbound.inFlight) this.outbound.settle(now);
    if (this.inbound.inFlight) this.inbound.settle(now);
  }

  /** control applies one message from the main thread, with no batch in flight (they hold peers, keys and sockets). */
  control(m: ToWorker): void {
    this.settle(this.ctx.clock.now());
    this.ctx.c[C.controlMessages]!++;
    switch (m.type) {
      case "config":
        this.table.apply(m.privateKey, m.peers);
        this.nextTimerAt = 0;
        return;
      case "sockets":
        return this.setSockets(m.v4, m.v6);
      case "offloads":
        this.inbound.coalescer.enableTcp = m.tcpGro;
        this.inbound.coalescer.enableUdp = m.udpGro;
        return;
      case "workers":
        this.pool.resize(m.workers - 1);
        return;
      case "mtu":
        this.ctx.mtu = m.mtu;
        for (const peer of this.ctx.peers.values()) peer.tunn.mtu = m.mtu;
        return;
      case "stop":
        this.stopping = true;
        return;
      case "wedgeForTest":
        // A stuck worker, as a deadlock would leave it: the thread blocks and the loop counter stops.
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
        return;
    }
  }

  /** lookAgainSoon makes the next turn wait at most CONTROL_RETRY_MS (a control message is on its way). */
  lookAgainSoon(): void {
    this.nextTimerAt = Math.min(this.nextTimerAt, this.ctx.clock.now() + CONTROL_RETRY_MS);
  }

  shutdown(): void {
    this.abandonWarmup();
    this.settle(this.ctx.clock.now());
    this.pool.stop();
    this.table.publishAll();
    for (const s of [this.ctx.v4, this.ctx.v6]) if (s !== null) s.sender.flush();
    this.io.poller.close();
    this.ctx.post({ type: "stopped" });
  }

  private setSockets(v4: WorkerSocket | null, v6: WorkerSocket | null): void {
    const ctx = this.ctx;
    for (const old of [ctx.v4, ctx.v6]) {
      if (old === null) continue;
      old.sender.flush();
      this.io.poller.unwatchSocket(old);
      old.close();
    }
    ctx.v4 = v4 === null ? null : this.openSocket(v4);
    ctx.v6 = v6 === null ? null : this.openSocket(v6);
  }

  private openSocket(desc: WorkerSocket): DatagramSocket {
    const sock = this.io.openSocket(desc, this.inbound.landing(desc.gro), this.ctx.c);
    this.io.poller.watchSocket(sock);
    return sock;
  }
}
