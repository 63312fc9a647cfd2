// Handshake messages, from arrival to answer (the kernel's receive.c
// wg_packet_handshake_receive_worker, wireguard-go's RoutineHandshake):
//   1. Arrive: a message's size and mac1 are checked at once (one BLAKE2s
//      MAC, ~1 µs), so a flood that does not even name us never makes the
//      queue look loaded. Under load, a message without mac2 that is over
//      its source's cookie-reply budget, or that the queue would refuse, is
//      dropped before any MAC is spent; one with a valid mac2 (the retry of
//      a peer that proved its address with our cookie) takes the priority
//      lane (handshake-queue.ts).
//   2. Process: after the turn's data, the queue is worked for a bounded
//      time (a Diffie-Hellman costs ~0.2 ms; under load a message costs
//      microseconds: mac checks and a cookie reply).
//   3. Answer: responses go out at once, from the address the initiation
//      came to; cookie replies are batched into one send per turn. The path
//      allocates nothing.
import { sockaddrFamilyAt, sockaddrIpOffset, sockaddrLengthAt, sockaddrPortAt } from "../sys/layout.ts";
import type { LocalSource } from "../sys/udp.ts";
import {
  MAC_LEN,
  MESSAGE_COOKIE_REPLY_SIZE,
  MESSAGE_COOKIE_REPLY_TYPE,
  MESSAGE_INITIATION_OFFSET_MAC1,
  MESSAGE_INITIATION_TYPE,
  MESSAGE_RESPONSE_OFFSET_MAC1,
} from "../wireguard/constants.ts";
import { isMac2Zero, type SourceAddr } from "../wireguard/cookie.ts";
import { messageType } from "../wireguard/messages.ts";
import type { DeviceState } from "../wireguard/device-state.ts";
import { countError } from "./drop-reasons.ts";
import { HandshakeQueue, MESSAGE_MAX, type OfferRefusal } from "./handshake-queue.ts";
import type { DatagramSocket } from "./io.ts";
import type { PlaneContext } from "./plane-context.ts";
import { roam } from "./plane-peer.ts";
import { C } from "./shared-stats.ts";
import type { Transmitter } from "./transmit.ts";

/**
 * HANDSHAKE_BUDGET_MS bounds handshake work per turn, by time rather than by
 * count: a Diffie-Hellman costs ~0.2 ms, so a few fit. Under load the budget
 * shrinks to HANDSHAKE_BUDGET_UNDER_LOAD_MS (some 30-50 cookie replies, tens
 * of thousands a second): a flood then fills the queue and the surplus is
 * dropped on arrival for the price of a read, while data keeps the rest.
 */
const HANDSHAKE_BUDGET_MS = 1;
const HANDSHAKE_BUDGET_UNDER_LOAD_MS = 0.25;
/** Cookie replies batched per send (a flood can need thousands per second). */
const COOKIE_REPLIES_PER_FLUSH = 64;
/** Under load, the clock is read every CLOCK_EVERY messages (~30 ns a read, microseconds a message). */
const CLOCK_EVERY_MASK = 7;

export class Handshakes {
  readonly queue = new HandshakeQueue();
  private readonly namesAddr: number;
  /** Cookie replies of one processing pass, sent together at its end. */
  private readonly replies = new Uint8Array(COOKIE_REPLIES_PER_FLUSH * MESSAGE_COOKIE_REPLY_SIZE);
  private readonly repliesAddr: number;
  private replyCount = 0;
  private readonly src4: SourceAddr = { ip: new Uint8Array(4), port: 0 };
  private readonly src6: SourceAddr = { ip: new Uint8Array(16), port: 0 };

  constructor(
    private readonly ctx: PlaneContext,
    private readonly out: Transmitter,
  ) {
    this.namesAddr = ctx.memory.addressOf(this.queue.names);
    this.repliesAddr = ctx.memory.addressOf(this.replies);
  }

  get pending(): number {
    return this.queue.depth;
  }

  /** enqueue takes a handshake message that arrived from names[nameOff] on the local address local (step 1). */
  enqueue(now: number, type: number, buf: Uint8Array, off: number, len: number, names: Uint8Array, nameOff: number, local: LocalSource): void {
    const c = this.ctx.c;
    const hq = this.queue;
    // The whole header first (reserved bytes zero, exact size): junk with a
    // handshake type byte is malformed, and costs no MAC.
    const checked = messageType(buf, off, len);
    if (typeof checked === "string") return countError(c, checked);
    if (len > MESSAGE_MAX) {
      c[C.dropMalformed]!++;
      return;
    }
    let priority = false;
    const device = this.ctx.device;
    if (type !== MESSAGE_COOKIE_REPLY_TYPE && device !== null) {
      const initiation = type === MESSAGE_INITIATION_TYPE;
      const mac1Off = initiation ? MESSAGE_INITIATION_OFFSET_MAC1 : MESSAGE_RESPONSE_OFFSET_MAC1;
      const mac2Off = mac1Off + MAC_LEN;
      const carriesMac2 = !isMac2Zero(buf, off, mac2Off);
      const underLoad = hq.underLoad(now);
      if (!carriesMac2) {
        // Under load it would only earn a cookie reply: within its source's budget, and if the queue takes it.
        if (underLoad && !hq.allowCookieReply(now, names, nameOff)) {
          c[C.dropCookieRateLimit]!++;
          return;
        }
        // Without a mac2 it can only queue normally: when the queue refuses it anyway, no MAC is spent on it.
        if (this.countRefusal(hq.refusal(now, names, nameOff))) return;
      }
      const checker = device.cookieChecker;
      if (!checker.checkMac1(buf, off, mac1Off)) {
        c[C.dropBadMac]!++;
        return;
      }
      priority = carriesMac2 && underLoad && checker.checkMac2(now, buf, off, mac2Off, this.sourceAt(names, nameOff));
    }
    const r = hq.offer(now, buf, off, len, names, nameOff, sockaddrLengthAt(names, nameOff), local, priority);
    if (typeof r !== "number") this.countRefusal(r);
  }

  /** process works through the queue, priority lane first, for at most the turn's budget (steps 2-3). */
  process(start: number): void {
    const c = this.ctx.c;
    const device = this.ctx.device;
    const hq = this.queue;
    let now = start;
    let done = 0;
    let budget = HANDSHAKE_BUDGET_MS;
    while (hq.depth > 0 && now - start < budget) {
      const underLoad = hq.underLoad(now);
      if (underLoad) budget = HANDSHAKE_BUDGET_UNDER_LOAD_MS;
      const slot = hq.take();
      if (device === null) {
        c[C.dropOther]!++;
        continue;
      }
      if (slot >= hq.capacity) c[C.handshakesPrioritized]!++;
      if (underLoad) c[C.handshakesUnderLoad]!++;
      this.processOne(now, device, slot, underLoad);
      if ((++done & CLOCK_EVERY_MASK) === 0 || !underLoad) now = this.ctx.clock.now();
    }
    // The slots the replies name stay untouched until here: no enqueue runs while this does.
    this.flushReplies();
    c[C.handshakeQueueDepth] = hq.depth;
  }

  private processOne(now: number, device: DeviceState, slot: number, underLoad: boolean): void {
    const ctx = this.ctx;
    const hq = this.queue;
    ctx.c[C.handshakesReceived]!++;
    const nOff = hq.nameOffset(slot);
    const src = this.sourceAt(hq.names, nOff);
    const local = hq.sources[slot]!;
    const r = device.decapsulate(now, src, hq.data, hq.messageOffset(slot), hq.lens[slot]!, underLoad);
    if (r.kind === "error") return countError(ctx.c, r.code);
    const peer = r.peer === null ? undefined : ctx.peers.get(r.peer);
    if (peer !== undefined) roam(ctx.stats, peer, hq.names, nOff, local);
    if (r.kind === "network") {
      const sock = ctx.socketFor(src === this.src6 ? 6 : 4);
      if (sock !== null) {
        const nameAddr = this.namesAddr + nOff;
        const nameLen = sockaddrLengthAt(hq.names, nOff);
        if (r.isHandshake || r.peer !== null) {
          if (r.isHandshake) ctx.c[C.handshakesSent]!++;
          // A response answers from the address the initiation came to (now the peer's sticky source).
          sock.sender.add(ctx.memory.addressOf(r.buf, r.off), r.len, nameAddr, nameLen, peer !== undefined ? peer.src : local);
          sock.sender.flush();
        } else {
          this.queueReply(sock, r.buf, r.off, r.len, nameAddr, nameLen, local);
        }
      }
    }
    if (peer !== undefined) {
      this.out.drainPeer(now, peer);
      this.out.noteHandshake(peer);
    }
  }

  /** queueReply copies a cookie reply (the protocol reuses its buffer) into the reply batch. */
  private queueReply(sock: DatagramSocket, buf: Uint8Array, off: number, len: number, nameAddr: number, nameLen: number, local: LocalSource): void {
    if (this.replyCount === COOKIE_REPLIES_PER_FLUSH) this.flushReplies();
    const at = this.replyCount++ * MESSAGE_COOKIE_REPLY_SIZE;
    const d = this.replies;
    for (let i = 0; i < len; i++) d[at + i] = buf[off + i]!;
    this.ctx.c[C.cookieRepliesSent]!++;
    // A cookie reply leaves from the address the message came to.
    sock.sender.add(this.repliesAddr + at, len, nameAddr, nameLen, local);
  }

  private flushReplies(): void {
    if (this.replyCount === 0) return;
    this.replyCount = 0;
    if (this.ctx.v4 !== null) this.ctx.v4.sender.flush();
    if (this.ctx.v6 !== null) this.ctx.v6.sender.flush();
  }

  /** countRefusal counts a queue refusal by its reason; false when there was none. */
  private countRefusal(r: OfferRefusal | null): boolean {
    if (r === null) return false;
    if (r === "full") this.ctx.c[C.handshakeQueueDrops]!++;
    else this.ctx.c[C.dropHandshakeSourceShare]!++;
    return true;
  }

  /** sourceAt fills src4 or src6 from the sockaddr at names[off] and returns it. */
  private sourceAt(names: Uint8Array, off: number): SourceAddr {
    const family = sockaddrFamilyAt(names, off) === 6 ? 6 : 4;
    const src = family === 6 ? this.src6 : this.src4;
    src.port = sockaddrPortAt(names, off);
    const ipOff = off + sockaddrIpOffset(family);
    for (let i = 0; i < src.ip.length; i++) src.ip[i] = names[ipOff + i]!;
    return src;
  }
}
