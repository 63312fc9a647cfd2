// Outbound: TUN → peers (the kernel's send.c, wireguard-go's send.go).
//   1. Read: each TUN read lands in the TX slab's spare slot, a 64 KiB
//      super-packet behind its virtio-net header when offloads are on.
//      Reads accumulate until the slab is nearly full or the TUN is empty,
//      so small packets batch too.
//   2. Split: the offload engine cuts a super-packet into MTU-sized
//      segments in the slab's slots (16 bytes headroom for the transport
//      header, ≥ 31 bytes tailroom), with their checksums.
//   3. Route: each segment's destination picks its peer (allowed IPs).
//   4. Frame: a run of consecutive segments to one peer (all segments of a
//      super-packet share their destination) gets its nonces, in order, and
//      its headers in one protocol call; its seals join the batch's crypto
//      job. Without a session the packets are staged and a handshake starts.
//   5. Seal: a full batch (or the turn's last) is submitted to the crypto
//      pool (crypto-pool.ts), whose helpers seal it while this thread reads
//      and frames the next batch into the other slab.
//   6. Send: the older batch, once every seal is done, is gathered, one
//      iovec per message, into sendmmsg messages with UDP GSO
//      (udp-sender.ts), in the order it was read; then its slab is reused.
import { splitSuperPacket, IPV4_DST_ADDR_OFFSET, IPV4_HEADER_MIN_LEN, IPV6_DST_ADDR_OFFSET, IPV6_HEADER_LEN } from "../offload/index.ts";
import { EBADF, EBADFD, ENODEV, errnoName } from "../sys/errno.ts";
import { MAX_STAGED_PACKETS, MESSAGE_TRANSPORT_HEADER_SIZE } from "../wireguard/constants.ts";
import type { Tunn } from "../wireguard/peer.ts";
import { sealedPayloadLength } from "../wireguard/transport.ts";
import { OP_SEAL } from "./crypto-jobs.ts";
import type { CryptoPool } from "./crypto-pool.ts";
import { countError } from "./drop-reasons.ts";
import { OutboundBatch } from "./outbound-batch.ts";
import { SLOTS, STRIDE, type PlaneContext } from "./plane-context.ts";
import type { PlanePeer } from "./plane-peer.ts";
import { C } from "./shared-stats.ts";
import type { Transmitter } from "./transmit.ts";
import { TUN_READ_BUFFER_LEN } from "./tun-device.ts";

/** TUN_READS_PER_TURN bounds the TUN reads of one turn, so the receive side gets its share. */
const TUN_READS_PER_TURN = 16;
/** A TX batch is dispatched when fewer slots than this are left: the most segments one super-packet splits into. */
const TX_MIN_FREE = 64;
/** MAX_TX_PACKET is the largest inner packet sealed in a slot without spilling into the next (header, tag, padding). */
const MAX_TX_PACKET = STRIDE - 48;
const SPLIT_NO_ROOM = 0;
const SPLIT_DROPPED = -1;
/** The crypto pool's job slots of the two outbound batches. */
const JOB_SLOTS = [0, 1];

export class Outbound {
  /** The batch being read into; the other one may be in flight (being sealed). */
  private batch: OutboundBatch;
  private other: OutboundBatch;

  constructor(
    private readonly ctx: PlaneContext,
    private readonly out: Transmitter,
    pool: CryptoPool,
  ) {
    this.batch = new OutboundBatch(ctx, pool.batch(JOB_SLOTS[0]!, OP_SEAL));
    this.other = new OutboundBatch(ctx, pool.batch(JOB_SLOTS[1]!, OP_SEAL));
  }

  /** inFlight: a batch is being sealed and not yet sent (settle sends it). */
  get inFlight(): boolean {
    return this.other.inFlight || this.batch.inFlight;
  }

  /** work reads up to TUN_READS_PER_TURN packets from the TUN; the last batch may stay in flight. */
  work(now: number): void {
    const ctx = this.ctx;
    const c = ctx.c;
    const vnet = ctx.vnet;
    for (let reads = 0; reads < TUN_READS_PER_TURN; reads++) {
      let b = this.batch;
      // 1. Read.
      const dst = vnet ? b.addr + b.readOff : b.addr + b.slab.offs[b.used]!;
      const n = ctx.io.tun.read(dst, vnet ? TUN_READ_BUFFER_LEN : STRIDE);
      if (n <= 0) {
        if (n < 0) this.readFailed(-n);
        break;
      }
      c[C.tunReads]!++;
      c[C.tunReadBytes]! += n;
      ctx.dirty = true;
      // 2. Split.
      let segs = vnet ? this.split(b, n, b.used) : this.single(b, n, b.used);
      if (segs === SPLIT_NO_ROOM) {
        // This batch cannot take the super-packet: dispatch it, then split into the next.
        // The read landed in this batch's read slot; the next batch splits from there.
        const from = b;
        this.dispatch(now);
        b = this.batch;
        segs = this.splitFrom(from, b, n);
      }
      if (segs < 0) continue;
      c[C.segments]! += segs;
      // 3-4. Route and frame.
      this.frameRange(now, b, b.used, b.used + segs);
      b.used += segs;
      // 5-6. Seal, and send the batch before it.
      if (SLOTS - b.used < (vnet ? TX_MIN_FREE : 1)) this.dispatch(now);
    }
    if (this.batch.used > 0) this.dispatch(now);
  }

  /** settle sends every batch still in flight, oldest first (before the loop sleeps, on control messages, at shutdown). */
  settle(now: number): void {
    if (this.other.inFlight) this.complete(now, this.other);
    if (this.batch.inFlight) this.complete(now, this.batch);
  }

  /** dispatch submits the current batch for sealing, sends the one before it, and makes that one current. */
  private dispatch(now: number): void {
    const b = this.batch;
    const older = this.other;
    b.crypto.submit();
    b.inFlight = true;
    if (older.inFlight) this.complete(now, older);
    this.batch = older;
    this.other = b;
    // Sealed here already (small, or no helpers): nothing to overlap, send it now.
    if (!b.crypto.pending) this.complete(now, b);
  }

  /** complete waits for b's seals (helping with them), sends b in slot order and frees it. */
  private complete(now: number, b: OutboundBatch): void {
    const c = this.ctx.c;
    b.crypto.finish();
    const offs = b.slab.offs;
    for (let k = 0; k < b.used; k++) {
      const peer = b.peerOf[k];
      if (peer === null || peer === undefined) continue;
      const j = b.jobIndex[k]!;
      if (j >= 0 && !b.crypto.ok(j)) {
        // Its key was destroyed while it waited: never send what may not be sealed.
        c[C.dropOther]!++;
        continue;
      }
      const sock = this.ctx.socketFor(peer.epFamily);
      if (sock === null) {
        c[C.dropNoEndpoint]!++;
        continue;
      }
      const len = b.wireLens[k]!;
      sock.sender.add(b.addr + offs[k]! - MESSAGE_TRANSPORT_HEADER_SIZE, len, peer.epAddr, peer.epLen, peer.src);
      c[C.txPackets]!++;
      c[C.txBytes]! += len;
    }
    this.out.flushAll(now);
    b.reset();
  }

  /**
   * split cuts the super-packet in the read slot into slots k…: the segment
   * count, SPLIT_NO_ROOM when they do not fit behind slot k > 0, or
   * SPLIT_DROPPED after counting why.
   */
  private split(b: OutboundBatch, n: number, k: number): number {
    const c = this.ctx.c;
    if (n >= TUN_READ_BUFFER_LEN) {
      c[C.dropTruncated]!++;
      return SPLIT_DROPPED;
    }
    const r = splitSuperPacket(b.slab.buf, b.readOff, n, b.views[k]!);
    if (r === "too-many-segments" && k > 0) return SPLIT_NO_ROOM;
    if (typeof r === "string") {
      c[C.dropMalformed]!++;
      return SPLIT_DROPPED;
    }
    if (r > 1) c[C.superPackets]!++;
    return r;
  }

  /**
   * splitFrom splits the super-packet read into from's read slot into the
   * empty batch b (from is in flight now, but its read slot is not part of
   * the crypto job): the segment count, or SPLIT_DROPPED.
   */
  private splitFrom(from: OutboundBatch, b: OutboundBatch, n: number): number {
    const r = splitSuperPacket(from.slab.buf, from.readOff, n, b.views[0]!);
    if (typeof r === "string") {
      this.ctx.c[C.dropMalformed]!++;
      return SPLIT_DROPPED;
    }
    if (r > 1) this.ctx.c[C.superPackets]!++;
    return r;
  }

  /** single takes a packet read straight into slot k (no virtio-net header): 1, or SPLIT_DROPPED. */
  private single(b: OutboundBatch, n: number, k: number): number {
    if (n >= STRIDE) {
      this.ctx.c[C.dropTruncated]!++;
      return SPLIT_DROPPED;
    }
    b.slab.lens[k] = n;
    return 1;
  }

  private readFailed(e: number): void {
    if (e === EBADFD || e === ENODEV || e === EBADF) this.ctx.tunGone(`TUN read failed with ${errnoName(e)}`);
    else this.ctx.log(`TUN read failed with ${errnoName(e)}`);
  }

  /** frameRange routes slots [from, to) of b and frames each run of slots to one peer together. */
  private frameRange(now: number, b: OutboundBatch, from: number, to: number): void {
    const ctx = this.ctx;
    const c = ctx.c;
    let i = from;
    // Each slot is routed exactly once (route counts the drops).
    let tunn = i < to ? this.route(b, i) : undefined;
    while (i < to) {
      if (tunn === undefined) {
        i++;
        tunn = i < to ? this.route(b, i) : undefined;
        continue;
      }
      let j = i + 1;
      let next: Tunn | undefined;
      while (j < to) {
        next = this.route(b, j);
        if (next !== tunn) break;
        j++;
      }
      if (j === to) next = undefined;
      const peer = ctx.peers.get(tunn)!;
      if (ctx.socketFor(peer.epFamily) === null) c[C.dropNoEndpoint]! += j - i;
      else if (j - i === 1 || !this.frameRun(now, b, tunn, peer, i, j)) {
        for (let s = i; s < j; s++) this.sealOne(now, b, s, tunn, peer);
      }
      i = j;
      tunn = next;
    }
  }

  /** frameRun frames slots [i, j) of b for peer in one protocol call and adds their seals to b's crypto job; false when no session can take them all. */
  private frameRun(now: number, b: OutboundBatch, tunn: Tunn, peer: PlanePeer, i: number, j: number): boolean {
    const offs = b.slab.offs;
    const key = tunn.frameBatch(now, b.slab.buf, offs, b.slab.lens, i, j, b.wireLens, b.counters);
    if (key === null) return false;
    this.out.touch(peer);
    const job = b.crypto;
    for (let k = i; k < j; k++) {
      b.peerOf[k] = peer;
      b.jobIndex[k] = job.size;
      job.add(key, offs[k]!, sealedPayloadLength(b.wireLens[k]!), b.counters[k]!);
    }
    return true;
  }

  /** sealOne seals slot i of b alone: sent with b if a session takes it, else staged behind a handshake. */
  private sealOne(now: number, b: OutboundBatch, i: number, tunn: Tunn, peer: PlanePeer): void {
    const c = this.ctx.c;
    const buf = b.slab.buf;
    const stagedBefore = tunn.stagedCount;
    const r = tunn.encapsulate(now, buf, b.slab.offs[i]! - MESSAGE_TRANSPORT_HEADER_SIZE, b.slab.lens[i]!);
    this.out.touch(peer);
    if (r.kind === "network") {
      if (r.buf === buf) {
        // Sealed in place, at its slot: it leaves with the batch, in order.
        b.peerOf[i] = peer;
        b.jobIndex[i] = -1;
        b.wireLens[i] = r.len;
      } else {
        this.out.sendResult(r, peer);
      }
    } else if (r.kind === "done") {
      if (stagedBefore >= MAX_STAGED_PACKETS) c[C.dropStagedOverflow]!++;
    } else if (r.kind === "error") {
      countError(c, r.code);
    }
  }

  /** route returns the peer slot i goes to, or undefined after counting why it is dropped. */
  private route(b: OutboundBatch, i: number): Tunn | undefined {
    const ctx = this.ctx;
    const c = ctx.c;
    const buf = b.slab.buf;
    const off = b.slab.offs[i]!;
    const len = b.slab.lens[i]!;
    const device = ctx.device;
    if (device === null) {
      c[C.dropNoRoute]!++;
      return undefined;
    }
    const version = buf[off]! >>> 4;
    let tunn: Tunn | undefined;
    if (version === 4 && len >= IPV4_HEADER_MIN_LEN) tunn = device.allowedIps.lookup(buf, off + IPV4_DST_ADDR_OFFSET, 4);
    else if (version === 6 && len >= IPV6_HEADER_LEN) tunn = device.allowedIps.lookup(buf, off + IPV6_DST_ADDR_OFFSET, 16);
    else {
      c[C.dropMalformed]!++;
      return undefined;
    }
    if (tunn === undefined) {
      c[C.dropNoRoute]!++;
      return undefined;
    }
    if (!ctx.peers.has(tunn) || len > MAX_TX_PACKET) {
      c[C.dropOther]!++;
      return undefined;
    }
    return tunn;
  }
}
