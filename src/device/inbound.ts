// Inbound: sockets → TUN (the kernel's receive.c, wireguard-go's receive.go).
//   1. Receive: recvmmsg lands messages (up to 64 datagrams each with
//      UDP_GRO) in the landing zone at the end of the RX slab; a turn reads
//      until the socket is empty or its datagram budget is spent.
//   2. Sort: handshake messages go to the handshake queue (handshakes.ts),
//      to be processed after the data; everything else is a data message.
//   3. Classify: each data message is matched to its keypair (receiver
//      index) and its counter checked; its open joins the batch's crypto
//      job, which is submitted to the crypto pool (crypto-pool.ts) once the
//      receive is sorted. Helpers open it while this thread receives the
//      next batch into the other landing zone.
//   4. Accept: the older batch, once every open is done, is taken message by
//      message in arrival order: the protocol records the counter in the
//      replay window (only after the tag verified), checks the inner packet
//      and its allowed-IPs source; an authenticated packet roams its peer to
//      where it came from.
//   5. Coalesce: the batch's packets are merged into TCP/UDP super-packets
//      (offload/coalesce.ts). A packet stays where it was decrypted (its
//      16-byte transport header becomes the virtio-net header's room) and
//      moves to its RX slot only if it heads a merge.
//   6. Write: one TUN write per super-packet or lone packet. Every batch is
//      written before its landing zone is received into again.
import { Coalescer, createPacketBatch, VNET_HDR_LEN, type PacketBatch } from "../offload/index.ts";
import { copyLocalSource, newLocalSource, type LocalSource } from "../sys/udp.ts";
import { sockaddrLengthAt } from "../sys/layout.ts";
import { MESSAGE_COOKIE_REPLY_TYPE, MESSAGE_INITIATION_TYPE, MESSAGE_TRANSPORT_HEADER_SIZE } from "../wireguard/constants.ts";
import { checkTransport } from "../wireguard/transport.ts";
import type { TunnResult } from "../wireguard/results.ts";
import { OP_OPEN } from "./crypto-jobs.ts";
import type { CryptoPool } from "./crypto-pool.ts";
import { countError } from "./drop-reasons.ts";
import type { Handshakes } from "./handshakes.ts";
import { InboundBatch } from "./inbound-batch.ts";
import type { DatagramLanding, DatagramSocket, ReceivedBatch } from "./io.ts";
import { HEADROOM, SLOTS, STRIDE, type PlaneContext } from "./plane-context.ts";
import { roam } from "./plane-peer.ts";
import { C } from "./shared-stats.ts";
import type { Transmitter } from "./transmit.ts";

/**
 * A turn reads until the socket is empty, up to RECV_DATAGRAMS_PER_TURN
 * datagrams or RECV_CALLS_PER_TURN calls. Counting datagrams, not calls,
 * keeps bulk data (GRO: ~45 per message) and floods of small datagrams (one
 * per message) to the same share of a turn, and lets a flood be drained as
 * fast as it arrives: what stays in the kernel's buffer delays and drops
 * the established sessions' packets queued behind it.
 */
const RECV_DATAGRAMS_PER_TURN = 1024;
const RECV_CALLS_PER_TURN = 64;
/**
 * A landing zone is LANDING_SLOTS slab slots: 16 messages × 64 KiB with
 * UDP_GRO, else 128 × 8 KiB. Under a flood of small datagrams (which GRO
 * does not merge across sources) the message count is what drains the
 * socket, so the backlog reaches the handshake queue instead of piling up
 * in the kernel's receive buffer. There are two zones (inbound-batch.ts).
 */
const LANDING_SLOTS = 16;
const LANDING_ZONES = 2;
const LANDING_GRO = { count: 16, stride: 65552, size: 65535 };
const LANDING_PLAIN = { count: 128, stride: 8192, size: 8192 };
/** The smallest message worth reading a type from (type byte and reserved bytes). */
const MESSAGE_MIN_SIZE = 4;
/** The crypto pool's job slots of the two inbound batches. */
const JOB_SLOTS = [2, 3];

export class Inbound {
  /** The RX slab's first SLOTS slots: the packets' home slots (Coalescer homes). */
  private readonly rx: PacketBatch;
  private readonly slab: Uint8Array;
  private readonly rxAddr: number;
  /** landingOff[z]: where landing zone z starts in the slab. */
  private readonly landingOff: number[] = [];
  /**
   * The batch handed to the coalescer: same slab and lens as rx, but offs
   * point at each plaintext where it was decrypted in the landing zone.
   */
  private readonly batch: PacketBatch;
  private count = 0;
  readonly coalescer: Coalescer;
  /** The batch being received into; the other one may be in flight (being opened). */
  private lane: InboundBatch;
  private other: InboundBatch;
  /** The local end of the message being processed (from its pktinfo cmsg). */
  private readonly rxSrc: LocalSource = newLocalSource();
  private readonly replySrc: LocalSource = newLocalSource();

  constructor(
    private readonly ctx: PlaneContext,
    private readonly out: Transmitter,
    private readonly handshakes: Handshakes,
    offloads: { tcpGro: boolean; udpGro: boolean },
    pool: CryptoPool,
  ) {
    const slab = createPacketBatch(SLOTS + LANDING_ZONES * LANDING_SLOTS, STRIDE, HEADROOM);
    this.slab = slab.buf;
    this.rx = { ...slab, capacity: SLOTS, offs: slab.offs.subarray(0, SLOTS), lens: slab.lens.subarray(0, SLOTS), count: 0 };
    this.rxAddr = ctx.memory.addressOf(slab.buf);
    for (let z = 0; z < LANDING_ZONES; z++) this.landingOff.push(slab.offs[SLOTS + z * LANDING_SLOTS]! - HEADROOM);
    this.batch = { ...this.rx, offs: new Int32Array(SLOTS), count: 0 };
    this.coalescer = new Coalescer({ tcp: offloads.tcpGro, udp: offloads.udpGro, maxBatch: SLOTS });
    this.lane = new InboundBatch(0, pool.batch(JOB_SLOTS[0]!, OP_OPEN), slab.buf);
    this.other = new InboundBatch(1, pool.batch(JOB_SLOTS[1]!, OP_OPEN), slab.buf);
  }

  /** landing is where a socket with (gro) or without UDP_GRO receives. */
  landing(gro: boolean): DatagramLanding {
    const l = gro ? LANDING_GRO : LANDING_PLAIN;
    return {
      addr: this.rxAddr + this.landingOff[0]!,
      count: l.count,
      stride: l.stride,
      size: l.size,
      zones: LANDING_ZONES,
      zoneStride: this.landingOff[1]! - this.landingOff[0]!,
    };
  }

  /** inFlight: a batch is being opened and not yet written (settle writes it). */
  get inFlight(): boolean {
    return this.other.inFlight || this.lane.inFlight;
  }

  /** work receives from sock until it is empty or this turn's budget is spent; the last batch may stay in flight. */
  work(now: number, sock: DatagramSocket): void {
    const c = this.ctx.c;
    const stride = sock.desc.gro ? LANDING_GRO.stride : LANDING_PLAIN.stride;
    // Packets wait in the landing zone until flush; never let a receive
    // overwrite them (only reachable after an exception mid-batch).
    if (this.count > 0) this.flush();
    const firstDatagram = c[C.recvDatagrams]!;
    for (let calls = 0; calls < RECV_CALLS_PER_TURN && c[C.recvDatagrams]! - firstDatagram < RECV_DATAGRAMS_PER_TURN; calls++) {
      // 1. Receive.
      const lane = this.lane;
      let n: number;
      try {
        n = sock.receive(lane.zone);
      } catch (e) {
        this.ctx.log(`recvmmsg: ${(e as Error).message}`);
        break;
      }
      c[C.recvCalls]!++;
      if (n <= 0) break;
      this.ctx.dirty = true;
      c[C.recvMessages]! += n;
      const received = sock.received[lane.zone]!;
      const zoneOff = this.landingOff[lane.zone]!;
      for (let i = 0; i < n; i++) {
        if (received.truncated(i)) {
          c[C.dropTruncated]!++;
          continue;
        }
        const len = received.length(i);
        const base = zoneOff + i * stride;
        const gso = sock.desc.gro ? received.segmentSize(i) : 0;
        if (gso > 0 && len > gso) {
          c[C.groMessages]!++;
          for (let p = 0; p < len; p += gso) {
            c[C.groDatagrams]!++;
            this.classify(now, sock, lane, base + p, Math.min(gso, len - p), received, i);
          }
        } else {
          this.classify(now, sock, lane, base, len, received, i);
        }
      }
      // 3-6. Open (on the pool), then accept, coalesce and write the batch before.
      this.dispatch(now);
      if (n < (sock.desc.gro ? LANDING_GRO.count : LANDING_PLAIN.count)) break;
    }
  }

  /** settle writes every batch still in flight, oldest first (before the loop sleeps, on control messages, at shutdown). */
  settle(now: number): void {
    if (this.other.inFlight) this.complete(now, this.other);
    if (this.lane.inFlight) this.complete(now, this.lane);
  }

  /** dispatch submits the current batch's opens, completes the one before it, and makes that one current. */
  private dispatch(now: number): void {
    const b = this.lane;
    const older = this.other;
    b.crypto.submit();
    b.inFlight = true;
    if (older.inFlight) this.complete(now, older);
    this.lane = older;
    this.other = b;
    // Opened here already (small, or no helpers): nothing to overlap, write it now.
    if (!b.crypto.pending) this.complete(now, b);
  }

  /** classify handles one datagram of message i at slab[off, off+len): 2. Sort and 3. Classify. */
  private classify(now: number, sock: DatagramSocket, lane: InboundBatch, off: number, len: number, received: ReceivedBatch, i: number): void {
    const ctx = this.ctx;
    const c = ctx.c;
    const buf = this.slab;
    c[C.recvDatagrams]!++;
    if (len < MESSAGE_MIN_SIZE) {
      c[C.dropMalformed]!++;
      return;
    }
    // 2. Sort.
    const type = buf[off]!;
    if (type >= MESSAGE_INITIATION_TYPE && type <= MESSAGE_COOKIE_REPLY_TYPE) {
      received.localSource(i, this.rxSrc);
      return this.handshakes.enqueue(now, type, buf, off, len, received.names, received.nameOffset(i), this.rxSrc);
    }
    const device = ctx.device;
    if (device === null) {
      c[C.dropOther]!++;
      return;
    }
    // 3. Classify.
    const entry = device.transportEntry(buf, off, len);
    if (typeof entry === "string") return countError(c, entry);
    const kp = entry.keypair!;
    const counter = checkTransport(kp, now, buf, off);
    if (typeof counter === "string") return countError(c, counter);
    if (lane.full) {
      c[C.dropOther]!++;
      return;
    }
    lane.record(sock, off, len, i, entry.peer, kp, counter, off + MESSAGE_TRANSPORT_HEADER_SIZE, len - MESSAGE_TRANSPORT_HEADER_SIZE);
  }

  /** complete waits for b's opens (helping with them), then accepts, coalesces and writes b's packets in order. */
  private complete(now: number, b: InboundBatch): void {
    b.crypto.finish();
    const sock = b.sock;
    if (sock !== null && b.count > 0) {
      const received = sock.received[b.zone]!;
      let message = -1;
      for (let d = 0; d < b.count; d++) {
        // Every datagram of a GRO message shares the local address it came to.
        const i = b.message[d]!;
        if (i !== message) {
          received.localSource(i, this.rxSrc);
          message = i;
        }
        const r = b.peers[d]!.onOpened(now, b.keypairs[d]!, b.counters[d]!, this.slab, b.offs[d]!, b.lens[d]!, b.crypto.ok(d));
        this.accept(sock, r, received, i);
      }
    }
    // 5-6. Coalesce and write, then send what the packets released.
    this.flush();
    this.out.drainTouched(now);
    b.reset();
  }

  /** accept is step 4 for one opened message of received message i. */
  private accept(sock: DatagramSocket, r: TunnResult, received: ReceivedBatch, i: number): void {
    const ctx = this.ctx;
    const c = ctx.c;
    const buf = this.slab;
    const names = received.names;
    const nameOff = received.nameOffset(i);
    const peer = r.kind === "tunnel" ? ctx.peers.get(r.peer) : r.kind !== "network" && r.peer !== null ? ctx.peers.get(r.peer) : undefined;
    if (peer !== undefined) {
      // An error naming a peer authenticated but failed an inner check (the
      // allowed-IPs source, a bad inner header): the kernel (receive.c) and
      // wireguard-go (receive.go) take the endpoint from it all the same.
      roam(ctx.stats, peer, names, nameOff, this.rxSrc);
      this.out.touch(peer);
    }
    switch (r.kind) {
      case "tunnel": {
        if (this.count === SLOTS) this.flush();
        const k = this.count++;
        // Zero-copy: the packet stays where it was decrypted until flush.
        if (r.buf === buf) {
          this.batch.offs[k] = r.off;
        } else {
          const dst = this.rx.offs[k]!;
          buf.set(r.buf.subarray(r.off, r.off + r.len), dst);
          this.batch.offs[k] = dst;
        }
        this.rx.lens[k] = r.len;
        c[C.rxPackets]!++;
        c[C.rxBytes]! += r.len;
        return;
      }
      case "network":
        // Not produced for data messages today; answer the source if it ever
        // is. A copy: the sender clears a source the kernel refuses, and
        // rxSrc still serves the rest of this GRO message.
        copyLocalSource(this.replySrc, this.rxSrc);
        sock.sender.add(ctx.memory.addressOf(r.buf, r.off), r.len, received.namesAddr + nameOff, sockaddrLengthAt(names, nameOff), this.replySrc);
        sock.sender.flush();
        return;
      case "error":
        return countError(c, r.code);
      case "done":
        return;
    }
  }

  /** flush coalesces the batch and writes it to the TUN. */
  flush(): void {
    const count = this.count;
    if (count === 0) return;
    this.count = 0;
    const c = this.ctx.c;
    const batch = this.batch;
    if (!this.ctx.vnet) {
      for (let j = 0; j < count; j++) this.write(this.rxAddr + batch.offs[j]!, this.rx.lens[j]!);
      return;
    }
    batch.count = count;
    const w = this.coalescer.coalesce(batch, this.rx.offs);
    if (typeof w === "string") {
      c[C.dropMalformed]! += count;
      return;
    }
    c[C.coalesceIn]! += count;
    c[C.coalesceOut]! += w;
    for (let k = 0; k < w; k++) {
      const j = this.coalescer.writeIdx[k]!;
      this.write(this.rxAddr + batch.offs[j]! - VNET_HDR_LEN, batch.lens[j]! + VNET_HDR_LEN);
    }
  }

  private write(addr: number, len: number): void {
    if (this.ctx.io.tun.write(addr, len) === len) this.ctx.c[C.tunWrites]!++;
    else this.ctx.c[C.tunWriteErrors]!++;
  }
}
