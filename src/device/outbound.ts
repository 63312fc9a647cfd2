// Outbound: TUN → peers (the kernel's send.c, wireguard-go's send.go).
//   1. Read: each TUN read lands in the TX slab's spare slot, a 64 KiB
//      super-packet behind its virtio-net header when offloads are on.
//      Reads accumulate until the slab is nearly full or the TUN is empty,
//      so small packets batch too.
//   2. Split: the offload engine cuts a super-packet into MTU-sized
//      segments in the slab's slots (16 bytes headroom for the transport
//      header, ≥ 31 bytes tailroom), with their checksums.
//   3. Route: each segment's destination picks its peer (allowed IPs).
//   4. Seal: a run of consecutive segments to one peer (all segments of a
//      super-packet share their destination) is sealed in place in one
//      backend call; without a session the packets are staged and a
//      handshake starts.
//   5. Send: the sealed messages are gathered, one iovec each, into
//      sendmmsg messages with UDP GSO (udp-sender.ts), flushed per batch.
import {
  createPacketBatch,
  IPV4_DST_ADDR_OFFSET,
  IPV4_HEADER_MIN_LEN,
  IPV6_DST_ADDR_OFFSET,
  IPV6_HEADER_LEN,
  splitSuperPacket,
  VNET_HDR_LEN,
  type PacketBatch,
} from "../offload/index.ts";
import { EBADF, EBADFD, ENODEV, errnoName } from "../sys/errno.ts";
import { MAX_STAGED_PACKETS, MESSAGE_TRANSPORT_HEADER_SIZE } from "../wireguard/constants.ts";
import type { Tunn } from "../wireguard/peer.ts";
import { countError } from "./drop-reasons.ts";
import type { DatagramSocket } from "./io.ts";
import { HEADROOM, SLOTS, STRIDE, type PlaneContext } from "./plane-context.ts";
import type { PlanePeer } from "./plane-peer.ts";
import { C } from "./shared-stats.ts";
import type { Transmitter } from "./transmit.ts";
import { TUN_READ_BUFFER_LEN } from "./tun-device.ts";

/** TUN_READS_PER_TURN bounds the TUN reads of one turn, so the receive side gets its share. */
const TUN_READS_PER_TURN = 16;
/** A TX batch is flushed when fewer slots than this are left: the most segments one super-packet splits into. */
const TX_MIN_FREE = 64;
/** MAX_TX_PACKET is the largest inner packet sealed in a slot without spilling into the next (header, tag, padding). */
const MAX_TX_PACKET = STRIDE - 48;
const SPLIT_NO_ROOM = 0;
const SPLIT_DROPPED = -1;

export class Outbound {
  /** The TX slab: SLOTS segment slots, then one read slot. */
  private readonly tx: PacketBatch;
  /** txViews[k] is the slab from slot k on, for a split that appends to a batch. */
  private readonly txViews: PacketBatch[] = [];
  private readonly txAddr: number;
  private readonly readOff: number;
  /** Wire lengths of the TX slots sealed by encapsulateBatch. */
  private readonly sealedLens = new Int32Array(SLOTS);

  constructor(
    private readonly ctx: PlaneContext,
    private readonly out: Transmitter,
  ) {
    const slab = createPacketBatch(SLOTS + 1, STRIDE, HEADROOM);
    this.tx = { ...slab, capacity: SLOTS, offs: slab.offs.subarray(0, SLOTS), lens: slab.lens.subarray(0, SLOTS), count: 0 };
    for (let k = 0; k < SLOTS; k++) {
      this.txViews.push({ ...slab, capacity: SLOTS - k, offs: slab.offs.subarray(k, SLOTS), lens: slab.lens.subarray(k, SLOTS), count: 0 });
    }
    this.txAddr = ctx.memory.addressOf(slab.buf);
    this.readOff = slab.offs[SLOTS]! - VNET_HDR_LEN;
  }

  /** work reads and sends up to TUN_READS_PER_TURN packets from the TUN. */
  work(now: number): void {
    const ctx = this.ctx;
    const c = ctx.c;
    const vnet = ctx.vnet;
    let k = 0;
    for (let reads = 0; reads < TUN_READS_PER_TURN; reads++) {
      // 1. Read.
      const dst = vnet ? this.txAddr + this.readOff : this.txAddr + this.tx.offs[k]!;
      const n = ctx.io.tun.read(dst, vnet ? TUN_READ_BUFFER_LEN : STRIDE);
      if (n <= 0) {
        if (n < 0) this.readFailed(-n);
        break;
      }
      c[C.tunReads]!++;
      c[C.tunReadBytes]! += n;
      ctx.dirty = true;
      // 2. Split.
      let segs = vnet ? this.split(n, k) : this.single(n, k);
      if (segs === SPLIT_NO_ROOM) {
        // The batch cannot take this super-packet: send it, then split into the empty slab.
        this.out.flushAll(now);
        k = 0;
        segs = this.split(n, 0);
      }
      if (segs < 0) continue;
      c[C.segments]! += segs;
      // 3-4. Route and seal.
      this.sealRange(now, k, k + segs);
      k += segs;
      if (SLOTS - k < (vnet ? TX_MIN_FREE : 1)) {
        // 5. Send (the slab is nearly full).
        this.out.flushAll(now);
        k = 0;
      }
    }
    // 5. Send.
    this.out.flushAll(now);
  }

  /**
   * split cuts the super-packet in the read slot into slots k…: the segment
   * count, SPLIT_NO_ROOM when they do not fit behind slot k > 0, or
   * SPLIT_DROPPED after counting why.
   */
  private split(n: number, k: number): number {
    const c = this.ctx.c;
    if (n >= TUN_READ_BUFFER_LEN) {
      c[C.dropTruncated]!++;
      return SPLIT_DROPPED;
    }
    const r = splitSuperPacket(this.tx.buf, this.readOff, n, this.txViews[k]!);
    if (r === "too-many-segments" && k > 0) return SPLIT_NO_ROOM;
    if (typeof r === "string") {
      c[C.dropMalformed]!++;
      return SPLIT_DROPPED;
    }
    if (r > 1) c[C.superPackets]!++;
    return r;
  }

  /** single takes a packet read straight into slot k (no virtio-net header): 1, or SPLIT_DROPPED. */
  private single(n: number, k: number): number {
    if (n >= STRIDE) {
      this.ctx.c[C.dropTruncated]!++;
      return SPLIT_DROPPED;
    }
    this.tx.lens[k] = n;
    return 1;
  }

  private readFailed(e: number): void {
    if (e === EBADFD || e === ENODEV || e === EBADF) this.ctx.tunGone(`TUN read failed with ${errnoName(e)}`);
    else this.ctx.log(`TUN read failed with ${errnoName(e)}`);
  }

  /** sealRange routes slots [from, to) and seals each run of slots to one peer together. */
  private sealRange(now: number, from: number, to: number): void {
    const ctx = this.ctx;
    const c = ctx.c;
    let i = from;
    // Each slot is routed exactly once (route counts the drops).
    let tunn = i < to ? this.route(i) : undefined;
    while (i < to) {
      if (tunn === undefined) {
        i++;
        tunn = i < to ? this.route(i) : undefined;
        continue;
      }
      let j = i + 1;
      let next: Tunn | undefined = undefined;
      while (j < to) {
        next = this.route(j);
        if (next !== tunn) break;
        j++;
      }
      if (j === to) next = undefined;
      const peer = ctx.peers.get(tunn)!;
      const sock = ctx.socketFor(peer.epFamily);
      if (sock === null) c[C.dropNoEndpoint]! += j - i;
      else if (j - i === 1 || !this.sealRun(now, tunn, peer, sock, i, j)) {
        for (let s = i; s < j; s++) this.sealOne(now, s, tunn, peer, sock);
      }
      i = j;
      tunn = next;
    }
  }

  /** sealRun seals slots [i, j) for peer in one backend call and queues them; false when no session can take them all. */
  private sealRun(now: number, tunn: Tunn, peer: PlanePeer, sock: DatagramSocket, i: number, j: number): boolean {
    const offs = this.tx.offs;
    if (tunn.encapsulateBatch(now, this.tx.buf, offs, this.tx.lens, i, j, this.sealedLens) !== j - i) return false;
    this.out.touch(peer);
    const sender = sock.sender;
    let bytes = 0;
    for (let k = i; k < j; k++) {
      const n = this.sealedLens[k]!;
      sender.add(this.txAddr + offs[k]! - MESSAGE_TRANSPORT_HEADER_SIZE, n, peer.epAddr, peer.epLen, peer.src);
      bytes += n;
    }
    this.ctx.c[C.txPackets]! += j - i;
    this.ctx.c[C.txBytes]! += bytes;
    return true;
  }

  /** sealOne seals slot i alone: sent if a session takes it, else staged behind a handshake. */
  private sealOne(now: number, i: number, tunn: Tunn, peer: PlanePeer, sock: DatagramSocket): void {
    const c = this.ctx.c;
    const buf = this.tx.buf;
    const stagedBefore = tunn.stagedCount;
    const r = tunn.encapsulate(now, buf, this.tx.offs[i]! - MESSAGE_TRANSPORT_HEADER_SIZE, this.tx.lens[i]!);
    this.out.touch(peer);
    if (r.kind === "network") {
      if (r.buf === buf) {
        sock.sender.add(this.txAddr + r.off, r.len, peer.epAddr, peer.epLen, peer.src);
        c[C.txPackets]!++;
        c[C.txBytes]! += r.len;
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
  private route(i: number): Tunn | undefined {
    const ctx = this.ctx;
    const c = ctx.c;
    const buf = this.tx.buf;
    const off = this.tx.offs[i]!;
    const len = this.tx.lens[i]!;
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
