// Inbound: sockets → TUN (the kernel's receive.c, wireguard-go's receive.go).
//   1. Receive: recvmmsg lands messages (up to 64 datagrams each with
//      UDP_GRO) in the landing zone at the end of the RX slab; a turn reads
//      until the socket is empty or its datagram budget is spent.
//   2. Sort: handshake messages go to the handshake queue (handshakes.ts),
//      to be processed after the data; everything else is a data message.
//   3. Open: each data message is decrypted in place and checked (replay
//      window, allowed-IPs source) by the protocol; an authenticated packet
//      roams its peer to where it came from.
//   4. Coalesce: the batch's packets are merged into TCP/UDP super-packets
//      (offload/coalesce.ts). A packet stays where it was decrypted (its
//      16-byte transport header becomes the virtio-net header's room) and
//      moves to its RX slot only if it heads a merge.
//   5. Write: one TUN write per super-packet or lone packet. Every batch is
//      written before the next recvmmsg reuses the landing zone.
import { Coalescer, createPacketBatch, VNET_HDR_LEN, type PacketBatch } from "../offload/index.ts";
import { copyLocalSource, newLocalSource, type LocalSource } from "../sys/udp.ts";
import { sockaddrLengthAt } from "../sys/layout.ts";
import { MESSAGE_COOKIE_REPLY_TYPE, MESSAGE_INITIATION_TYPE } from "../wireguard/constants.ts";
import type { SourceAddr } from "../wireguard/cookie.ts";
import { countError } from "./drop-reasons.ts";
import type { Handshakes } from "./handshakes.ts";
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
 * The landing zone is LANDING_SLOTS slab slots: 16 messages × 64 KiB with
 * UDP_GRO, else 128 × 8 KiB. Under a flood of small datagrams (which GRO
 * does not merge across sources) the message count is what drains the
 * socket, so the backlog reaches the handshake queue instead of piling up
 * in the kernel's receive buffer.
 */
const LANDING_SLOTS = 16;
const LANDING_GRO = { count: 16, stride: 65552, size: 65535 };
const LANDING_PLAIN = { count: 128, stride: 8192, size: 8192 };
/** The smallest message worth reading a type from (type byte and reserved bytes). */
const MESSAGE_MIN_SIZE = 4;

export class Inbound {
  /** The RX slab's first SLOTS slots: the packets' home slots (Coalescer homes). */
  private readonly rx: PacketBatch;
  private readonly slab: Uint8Array;
  private readonly rxAddr: number;
  private readonly landingOff: number;
  /**
   * The batch handed to the coalescer: same slab and lens as rx, but offs
   * point at each plaintext where it was decrypted in the landing zone.
   */
  private readonly batch: PacketBatch;
  private count = 0;
  readonly coalescer: Coalescer;
  /** The local end of the message being processed (from its pktinfo cmsg). */
  private readonly rxSrc: LocalSource = newLocalSource();
  private readonly replySrc: LocalSource = newLocalSource();
  /** The outer source handed to the protocol (data messages never read it; handshakes fill their own). */
  private readonly src4: SourceAddr = { ip: new Uint8Array(4), port: 0 };

  constructor(
    private readonly ctx: PlaneContext,
    private readonly out: Transmitter,
    private readonly handshakes: Handshakes,
    offloads: { tcpGro: boolean; udpGro: boolean },
  ) {
    const slab = createPacketBatch(SLOTS + LANDING_SLOTS, STRIDE, HEADROOM);
    this.slab = slab.buf;
    this.rx = { ...slab, capacity: SLOTS, offs: slab.offs.subarray(0, SLOTS), lens: slab.lens.subarray(0, SLOTS), count: 0 };
    this.rxAddr = ctx.memory.addressOf(slab.buf);
    this.landingOff = slab.offs[SLOTS]! - HEADROOM;
    this.batch = { ...this.rx, offs: new Int32Array(SLOTS), count: 0 };
    this.coalescer = new Coalescer({ tcp: offloads.tcpGro, udp: offloads.udpGro, maxBatch: SLOTS });
  }

  /** landing is where a socket with (gro) or without UDP_GRO receives. */
  landing(gro: boolean): DatagramLanding {
    const l = gro ? LANDING_GRO : LANDING_PLAIN;
    return { addr: this.rxAddr + this.landingOff, count: l.count, stride: l.stride, size: l.size };
  }

  /** work receives from sock until it is empty or this turn's budget is spent. */
  work(now: number, sock: DatagramSocket): void {
    const c = this.ctx.c;
    const stride = sock.desc.gro ? LANDING_GRO.stride : LANDING_PLAIN.stride;
    const received = sock.received;
    // Packets wait in the landing zone until flush; never let a receive
    // overwrite them (only reachable after an exception mid-batch).
    if (this.count > 0) this.flush();
    const firstDatagram = c[C.recvDatagrams]!;
    for (let calls = 0; calls < RECV_CALLS_PER_TURN && c[C.recvDatagrams]! - firstDatagram < RECV_DATAGRAMS_PER_TURN; calls++) {
      // 1. Receive.
      let n: number;
      try {
        n = sock.receive();
      } catch (e) {
        this.ctx.log(`recvmmsg: ${(e as Error).message}`);
        break;
      }
      c[C.recvCalls]!++;
      if (n <= 0) break;
      this.ctx.dirty = true;
      c[C.recvMessages]! += n;
      for (let i = 0; i < n; i++) {
        if (received.truncated(i)) {
          c[C.dropTruncated]!++;
          continue;
        }
        const len = received.length(i);
        const base = this.landingOff + i * stride;
        const gso = sock.desc.gro ? received.segmentSize(i) : 0;
        // Every datagram of a GRO message shares the local address it came to.
        received.localSource(i, this.rxSrc);
        if (gso > 0 && len > gso) {
          c[C.groMessages]!++;
          for (let p = 0; p < len; p += gso) {
            c[C.groDatagrams]!++;
            this.datagram(now, sock, base + p, Math.min(gso, len - p), received, i);
          }
        } else {
          this.datagram(now, sock, base, len, received, i);
        }
      }
      // 4-5. Coalesce and write, then send what the packets released.
      this.flush();
      this.out.drainTouched(now);
      if (n < (sock.desc.gro ? LANDING_GRO.count : LANDING_PLAIN.count)) break;
    }
  }

  /** datagram handles one datagram of message i at slab[off, off+len). */
  private datagram(now: number, sock: DatagramSocket, off: number, len: number, received: ReceivedBatch, i: number): void {
    const ctx = this.ctx;
    const c = ctx.c;
    const buf = this.slab;
    c[C.recvDatagrams]!++;
    if (len < MESSAGE_MIN_SIZE) {
      c[C.dropMalformed]!++;
      return;
    }
    const names = received.names;
    const nameOff = received.nameOffset(i);
    // 2. Sort.
    const type = buf[off]!;
    if (type >= MESSAGE_INITIATION_TYPE && type <= MESSAGE_COOKIE_REPLY_TYPE) {
      return this.handshakes.enqueue(now, type, buf, off, len, names, nameOff, this.rxSrc);
    }
    const device = ctx.device;
    if (device === null) {
      c[C.dropOther]!++;
      return;
    }
    // 3. Open.
    const r = device.decapsulate(now, this.src4, buf, off, len, false);
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
        sock.sender.add(
          ctx.memory.addressOf(r.buf, r.off),
          r.len,
          received.namesAddr + nameOff,
          sockaddrLengthAt(names, nameOff),
          this.replySrc,
        );
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
