// Sending to a peer, shared by every path: a protocol result that is not in
// the TX slab (handshakes, keepalives, staged packets released by a new
// session) goes to the peer's endpoint at once; peers that received or sent
// in this batch are drained of what their state machine queued (the
// kernel's wg_packet_send_staged_packets after a handshake); and a flushed
// socket reports what the kernel refused (a GSO send answered with EIO turns
// GSO off for that family for good, dossier 3.4).
import { errnoName } from "../sys/errno.ts";
import type { TunnResult } from "../wireguard/results.ts";
import { countError } from "./drop-reasons.ts";
import type { DatagramSocket } from "./io.ts";
import type { PlaneContext } from "./plane-context.ts";
import { publishPeer, type PlanePeer } from "./plane-peer.ts";
import { C } from "./shared-stats.ts";

/** DRAIN_RESULTS_MAX bounds one drain of a peer's queue (a bug must not spin the loop). */
const DRAIN_RESULTS_MAX = 1024;

export class Transmitter {
  private readonly touchedList: PlanePeer[] = [];
  private epoch = 1;

  constructor(private readonly ctx: PlaneContext) {}

  /** touch queues peer for drainTouched (once per batch). */
  touch(peer: PlanePeer): void {
    if (peer.touched === this.epoch) return;
    peer.touched = this.epoch;
    this.touchedList.push(peer);
  }

  drainTouched(now: number): void {
    const list = this.touchedList;
    for (let i = 0; i < list.length; i++) this.drainPeer(now, list[i]!);
    list.length = 0;
    this.epoch++;
  }

  /** drainPeer sends whatever peer's state machine has queued (handshake retries, staged packets). */
  drainPeer(now: number, peer: PlanePeer): void {
    for (let guard = 0; guard < DRAIN_RESULTS_MAX; guard++) {
      const r = peer.tunn.drain(now);
      if (r.kind === "done") return;
      if (r.kind === "error") countError(this.ctx.c, r.code);
      else this.sendResult(r, peer);
    }
  }

  /** sendResult sends a network result that is not in the TX slab to peer's endpoint, at once. */
  sendResult(r: TunnResult, peer: PlanePeer): void {
    const c = this.ctx.c;
    if (r.kind === "error") return countError(c, r.code);
    if (r.kind !== "network") return;
    const sock = this.ctx.socketFor(peer.epFamily);
    if (sock === null) {
      c[C.dropNoEndpoint]!++;
      return;
    }
    if (r.isHandshake) c[C.handshakesSent]!++;
    else {
      c[C.txPackets]!++;
      c[C.txBytes]! += r.len;
    }
    sock.sender.add(this.ctx.memory.addressOf(r.buf, r.off), r.len, peer.epAddr, peer.epLen, peer.src);
    this.flushSocket(sock);
  }

  /** flushAll sends both sockets' batches, then drains the peers they touched. */
  flushAll(now: number): void {
    if (this.ctx.v4 !== null) this.flushSocket(this.ctx.v4);
    if (this.ctx.v6 !== null) this.flushSocket(this.ctx.v6);
    this.drainTouched(now);
  }

  flushSocket(sock: DatagramSocket): void {
    const sender = sock.sender;
    const family = sock.desc.family;
    sender.flush();
    if (sender.lastErrno !== 0) {
      this.ctx.log(`IPv${family} send failed with ${errnoName(sender.lastErrno)}`);
      sender.lastErrno = 0;
    }
    if (sender.lastSourceErrno !== 0) {
      this.ctx.log(
        `IPv${family} send from a peer's sticky source address refused with ${errnoName(sender.lastSourceErrno)} (address gone?): resent from the address routing picks`,
      );
      sender.lastSourceErrno = 0;
    }
    if (sender.gso !== sock.desc.gso) {
      sock.desc.gso = sender.gso;
      this.ctx.post({ type: "gso", family, enabled: sender.gso });
      this.ctx.log(`IPv${family} UDP GSO turned off: the kernel answered EIO (egress without checksum offload?)`);
    }
  }

  /** noteHandshake counts and publishes a handshake peer completed since we last looked. */
  noteHandshake(peer: PlanePeer): void {
    const hs = peer.tunn.lastHandshakeWallMs;
    if (hs === peer.lastHs) return;
    peer.lastHs = hs;
    this.ctx.c[C.handshakesCompleted]!++;
    publishPeer(this.ctx.stats, peer);
  }
}
