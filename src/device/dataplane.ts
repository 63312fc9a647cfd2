// The data plane: one synchronous loop, run inside dataplane.worker.ts, that
// owns the protocol state (DeviceState + one Tunn per peer) and every packet
// buffer. Design (and why):
//   - One worker, one epoll set over the TUN fd, the IPv4 and IPv6 UDP fds
//     and an eventfd the main thread writes to wake us. The Tunn state
//     machines are not shared across threads (src/wireguard contract), so TX
//     and RX live on the same thread; the main thread stays free for UAPI,
//     logs and status, and reads our counters from a SharedArrayBuffer.
//   - The loop never returns to the worker's event loop (yielding with
//     setImmediate starved message delivery in Bun 1.4.4, measured); control
//     messages are pulled synchronously with receiveMessageOnPort when the
//     shared mailbox counter moved, so a config change costs nothing per packet.
//   - Level-triggered epoll, bounded work per readiness (≤ TUN_READS_PER_TURN
//     super-packets, ≤ RECV_DATAGRAMS_PER_TURN datagrams), then handshakes
//     (≤ HANDSHAKE_BUDGET_MS from a bounded queue), then timers: no
//     direction starves.
//   - Outbound: each TUN read lands in an extra slot of the TX slab, the
//     offload engine splits it into MTU-sized segments in the slab's slots
//     (16 bytes headroom for the transport header, ≥31 bytes tailroom), each
//     segment is routed by destination and encrypted in place, and the
//     in-place messages are gathered (one iovec each) into sendmmsg messages
//     with UDP_SEGMENT (udp-sender.ts). Reads accumulate until the slab is
//     nearly full or the TUN is empty, so small packets batch too.
//   - Inbound: recvmmsg lands datagrams (up to 64 per UDP_GRO message) in a
//     landing zone at the end of the RX slab; each datagram is decrypted in
//     place and checked (replay, source) by the protocol, and stays there:
//     the coalescer copies a packet into its RX slot only when it heads a
//     merge, merged packets are copied once into their head, and packets
//     that never merge are written to the TUN straight from the landing
//     zone. Every batch is flushed before the next recvmmsg reuses it.
//   - Handshake messages are copied to a bounded queue (handshake-queue.ts:
//     wireguard-go's size and threshold, a per-source share, a priority lane
//     for mac2-verified retries) and processed after the data; a deep or
//     overflowing queue is the "under load" signal that makes the protocol
//     demand cookies. Under a flood the socket is drained as fast as
//     datagrams arrive, surplus handshakes are dropped at the queue (counted)
//     and cookie replies go out in batches; the path allocates nothing.
//   - Sticky sources (dossier 4.8; wireguard-go conn/sticky_linux.go, the
//     kernel's endpoint src4/src6): each received message's IP_PKTINFO /
//     IPV6_PKTINFO cmsg is parsed into rxSrc, and every authenticated packet
//     that roams a peer also records that local address and interface in
//     the peer's `src`. Everything sent to the peer (data, handshakes,
//     keepalives, cookie replies to the packet's source) carries it as a
//     pktinfo cmsg, so a multi-homed host answers from the address the peer
//     dialled. An endpoint set by configuration, a handshake retry
//     (retransmit/new-handshake timers) or a send the kernel refuses
//     (udp-sender.ts) clears it: routing decides until the next packet.
// No per-packet allocation on the data path: slabs, batches, iovecs and
// result objects are preallocated; Map lookups by Tunn identity only.
// Speed (issue 6). Measure with `bun bench/stages.ts` (this code driven with
// synthetic super-packets, ns per stage) and `bun bench/profile.ts` (perf +
// jitdump on two real daemons under iperf3: CPU by component and function).
// Done: one sealBatch per run of segments to a peer; the seal tag read with
// get_params; the AEAD through the OpenSSL 3 provider's dispatch functions
// (EVP re-asked the provider for the IV length on every packet); incremental
// header checksums in split; a WebAssembly SIMD checksum over the slabs and
// a fused copy+checksum for every payload split or appended; zero-copy
// receive. Where the time goes now (profile.ts, 2-core VM, per 1420-byte
// packet, both daemons): libcrypto's ChaCha20-Poly1305 ~1.9 µs (~0.9 µs per
// seal or open: ChaCha20 ~0.4, Poly1305 and finalisation ~0.5; the EVP
// layer it bypasses was ~0.05-0.1), kernel work in the daemons' threads
// ~1.3 µs (the four copies: TUN read, UDP send, UDP receive, TUN write,
// plus the inner TCP receive that TUN writes run), JS ~0.5 µs, Bun runtime
// and libc ~0.4 µs. Levers measured and not taken:
//   - A TX/RX worker split (both cores). In the e2e bench both daemons, both
//     iperf3 ends and the veth softirqs share the 2 cores and the machine is
//     saturated, so a second worker only adds hand-off cost; it would pay on
//     a host with one daemon and spare cores. Design, if a host needs it:
//     the RX worker keeps DeviceState, handshakes, timers and every Tunn;
//     the TX worker owns TUN reads, split, route (its own AllowedIps copy)
//     and sealing, gets each send keypair posted on install/rotation, owns
//     sendCounter (published per peer in a SharedArrayBuffer for the RX
//     side's timers), hands packets it cannot send to the RX side through a
//     SAB ring, and frees a keypair's AEAD context when told to drop it.
//   - openBatch on RX (group datagrams by receiver index, open all, then
//     replay/timers/source check in order): ~40-90 ns per packet.
//   - A C shim (bun:ffi cc) merging the AEAD calls: an FFI crossing costs
//     < 10 ns, so it saves < 40 ns per packet. libsodium is slower here.
// The floor with this libcrypto and these syscalls is ~3.2 µs per packet
// for both daemons together (crypto + kernel), ~2.3 CPU-s/GB.
import { receiveMessageOnPort, type MessagePort } from "node:worker_threads";
import { selectBackend } from "../crypto/select.ts";
import type { CryptoBackend } from "../crypto/types.ts";
import { Coalescer, createPacketBatch, splitSuperPacket, VNET_HDR_LEN, type PacketBatch } from "../offload/index.ts";
import { EPOLLERR, EPOLLHUP, EPOLLIN, EPOLL_CLOEXEC, EPOLL_CTL_ADD, EPOLL_CTL_DEL, MSG_TRUNC } from "../sys/constants.ts";
import { EAGAIN, EBADF, EBADFD, EINTR, ENODEV, errnoName } from "../sys/errno.ts";
import { close, epollCreate1, epollCtl, epollWait, errno, rawLibc, WOULD_BLOCK } from "../sys/libc.ts";
import { LAYOUT, readEpollEvents, readEpollToken, writeEpollEvent, writeSockaddrIn, writeSockaddrIn6 } from "../sys/layout.ts";
import { addressOf, MmsgBatch } from "../sys/msgvec.ts";
import { setNonBlocking } from "../sys/tun.ts";
import {
  clearLocalSource,
  copyLocalSource,
  groSegmentSize,
  newLocalSource,
  RECV_CONTROL_SIZE,
  recvBatch,
  recvPktinfo,
  sameLocalSource,
  type LocalSource,
} from "../sys/udp.ts";
import {
  MAC_LEN,
  MAX_STAGED_PACKETS,
  MESSAGE_COOKIE_REPLY_SIZE,
  MESSAGE_COOKIE_REPLY_TYPE,
  MESSAGE_INITIATION_OFFSET_MAC1,
  MESSAGE_INITIATION_SIZE,
  MESSAGE_INITIATION_TYPE,
  MESSAGE_RESPONSE_OFFSET_MAC1,
  MESSAGE_RESPONSE_SIZE,
} from "../wireguard/constants.ts";
import { isMac2Zero, type SourceAddr } from "../wireguard/cookie.ts";
import { DeviceState } from "../wireguard/device-state.ts";
import type { WireGuardErrorCode } from "../wireguard/errors.ts";
import type { Tunn } from "../wireguard/peer.ts";
import type { TunnResult } from "../wireguard/results.ts";
import type { FromWorker, ToWorker, WorkerInit, WorkerPeerConfig, WorkerSocket } from "./dataplane-messages.ts";
import { HeapDebug } from "./debug-heap.ts";
import { HandshakeQueue, MESSAGE_MAX, type OfferRefusal } from "./handshake-queue.ts";
import { C, SharedStats } from "./shared-stats.ts";
import { TUN_READ_BUFFER_LEN } from "./tun-device.ts";
import { UdpSender } from "./udp-sender.ts";

/** SLOTS is the segment capacity of the TX and RX slabs (wireguard-go's 128). */
const SLOTS = 128;
/** STRIDE lets an RX head slot grow to a full 64 KiB super-packet. */
const STRIDE = 65535;
const HEADROOM = 16;
/** A TX batch is flushed when fewer slots than this are left (max segments of one super-packet). */
const TX_MIN_FREE = 64;
const TUN_READS_PER_TURN = 16;
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
 * HANDSHAKE_BUDGET_MS bounds handshake work per turn, by time rather than by
 * count: a Diffie-Hellman costs ~0.2 ms, so a few fit. Under load a message
 * costs microseconds (mac checks, a cookie reply) and the budget shrinks to
 * HANDSHAKE_BUDGET_UNDER_LOAD_MS (some 30-50 cookie replies, tens of
 * thousands a second): a flood then fills the queue and the surplus is
 * dropped on arrival for the price of a read, while data keeps the rest.
 */
const HANDSHAKE_BUDGET_MS = 1;
const HANDSHAKE_BUDGET_UNDER_LOAD_MS = 0.25;
/**
 * RX landing zone, LANDING_SLOTS slab slots: 16 messages × 64 KiB with
 * UDP_GRO, else 128 × 8 KiB. Under a flood of small datagrams (which GRO
 * does not merge across sources) the message count is what drains the
 * socket, so the backlog reaches the handshake queue instead of piling up
 * in the kernel's receive buffer.
 */
const LANDING_SLOTS = 16;
/** Cookie replies batched per sendmmsg (a flood can need thousands per second). */
const COOKIE_REPLIES_PER_FLUSH = 64;
const LANDING_GRO = { count: 16, size: 65552 };
const LANDING_PLAIN = { count: 128, size: 8192 };
/** Largest inner packet we encrypt in a slot without spilling into the next one. */
const MAX_TX_PACKET = STRIDE - 48;
const TOKEN_TUN = 0;
const TOKEN_V4 = 1;
const TOKEN_V6 = 2;
const TOKEN_WAKE = 3;

interface PeerCtx {
  tunn: Tunn;
  slot: number;
  keyHex: string;
  /** Endpoint as a ready sockaddr (16 or 28 bytes) in a long-lived buffer. */
  epFamily: 0 | 4 | 6;
  readonly epSockaddr: Uint8Array;
  readonly epAddr: number;
  epLen: number;
  epPort: number;
  readonly epIp: Uint8Array;
  /** Sticky local source replies to this peer leave from (family 0: routing decides). */
  readonly src: LocalSource;
  /** Whether a non-empty src is what the stats slot shows (the sender may clear src behind our back). */
  srcPublished: boolean;
  touched: number;
  txBase: number;
  rxBase: number;
  txPacketsBase: number;
  rxPacketsBase: number;
  /** Times roam() moved the endpoint (published as the peer's endpoint roams). */
  roams: number;
  lastHs: number;
}

interface RxSocket {
  sock: WorkerSocket;
  mb: MmsgBatch;
  namesAddr: number;
  sender: UdpSender;
}

function hex(k: Uint8Array): string {
  let s = "";
  for (let i = 0; i < k.length; i++) s += k[i]!.toString(16).padStart(2, "0");
  return s;
}

function sameBytes(a: Uint8Array | null, b: Uint8Array | null): boolean {
  if (a === null || b === null) return a === b;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export class DataPlane {
  private readonly L = rawLibc();
  private readonly crypto: CryptoBackend;
  private readonly stats: SharedStats;
  private readonly c: Float64Array;
  private readonly mailbox: Int32Array;
  private mailSeen = 0;
  private readonly port: MessagePort;
  private readonly tunFd: number;
  private readonly wakeFd: number;
  private readonly vnet: boolean;
  private mtu: number;
  private stopping = false;
  private closed = false;

  private device: DeviceState | null = null;
  private privateKey: Uint8Array | null = null;
  private readonly peers = new Map<Tunn, PeerCtx>();
  private readonly byKey = new Map<string, PeerCtx>();
  private touchedList: PeerCtx[] = [];
  private epoch = 1;

  private readonly epfd: number;
  private readonly events = new Uint8Array(8 * LAYOUT.epollEvent.size);
  private readonly eventsView = new DataView(this.events.buffer);
  private readonly eventOne = new Uint8Array(LAYOUT.epollEvent.size);
  private readonly wakeBuf = new Uint8Array(8);
  private v4: RxSocket | null = null;
  private v6: RxSocket | null = null;

  // TX slab: SLOTS segment slots + 1 read slot.
  private readonly tx: PacketBatch;
  private readonly txViews: PacketBatch[] = [];
  private readonly txAddr: number;
  private readonly txReadOff: number;
  // RX slab: SLOTS slots + landing zone.
  private readonly rx: PacketBatch;
  private readonly rxAll: PacketBatch;
  private readonly rxAddr: number;
  private readonly landingOff: number;
  private rxCount = 0;
  /**
   * The RX batch handed to the coalescer: same slab and lens as rx, but
   * offs point at each plaintext where it was decrypted in the landing
   * zone; rx.offs are the packets' home slots (Coalescer homes).
   */
  private readonly rxBatch: PacketBatch;
  private readonly coalescer: Coalescer;
  private readonly keepaliveBuf = new Uint8Array(64);
  /** Wire lengths of the TX slots sealed by encapsulateBatch. */
  private readonly sealedLens = new Int32Array(SLOTS);

  private readonly hq = new HandshakeQueue();
  private readonly hqNameAddr: number;
  /** Cookie replies of one handshake turn, sent in one batch at its end. */
  private readonly replies = new Uint8Array(COOKIE_REPLIES_PER_FLUSH * MESSAGE_COOKIE_REPLY_SIZE);
  private readonly repliesAddr: number;
  private replyCount = 0;
  /** The local end of the received message being processed (from its pktinfo cmsg). */
  private readonly rxSrc: LocalSource = newLocalSource();
  private readonly replySrc: LocalSource = newLocalSource();
  private readonly src4: SourceAddr = { ip: new Uint8Array(4), port: 0 };
  private readonly src6: SourceAddr = { ip: new Uint8Array(16), port: 0 };

  private nextTimerAt = 0;
  private lastDeviceTick = 0;
  private dirty = false;
  private logged = 0;
  private readonly heapDebug: HeapDebug | null;

  constructor(init: WorkerInit) {
    this.heapDebug = HeapDebug.from(init.env, "worker");
    const sel = selectBackend(init.env);
    this.crypto = sel.backend;
    this.stats = new SharedStats(init.stats);
    this.c = this.stats.counters;
    this.mailbox = new Int32Array(init.mailbox);
    this.port = init.port;
    this.tunFd = init.tunFd;
    this.wakeFd = init.wakeFd;
    this.vnet = init.vnetHeader;
    this.mtu = init.mtu;
    setNonBlocking(this.tunFd);

    const txSlab = createPacketBatch(SLOTS + 1, STRIDE, HEADROOM);
    this.tx = { ...txSlab, capacity: SLOTS, offs: txSlab.offs.subarray(0, SLOTS), lens: txSlab.lens.subarray(0, SLOTS), count: 0 };
    for (let k = 0; k < SLOTS; k++) {
      this.txViews.push({ ...txSlab, capacity: SLOTS - k, offs: txSlab.offs.subarray(k, SLOTS), lens: txSlab.lens.subarray(k, SLOTS), count: 0 });
    }
    this.txAddr = addressOf(txSlab.buf);
    this.txReadOff = txSlab.offs[SLOTS]! - VNET_HDR_LEN;

    const rxSlab = createPacketBatch(SLOTS + LANDING_SLOTS, STRIDE, HEADROOM);
    this.rxAll = rxSlab;
    this.rx = { ...rxSlab, capacity: SLOTS, offs: rxSlab.offs.subarray(0, SLOTS), lens: rxSlab.lens.subarray(0, SLOTS), count: 0 };
    this.rxAddr = addressOf(rxSlab.buf);
    this.landingOff = rxSlab.offs[SLOTS]! - HEADROOM;
    this.rxBatch = { ...this.rx, offs: new Int32Array(SLOTS), count: 0 };
    this.coalescer = new Coalescer({ tcp: init.tcpGro, udp: init.udpGro, maxBatch: SLOTS });
    this.hqNameAddr = addressOf(this.hq.names);
    this.repliesAddr = addressOf(this.replies);

    this.epfd = epollCreate1(EPOLL_CLOEXEC);
    this.watch(this.tunFd, TOKEN_TUN);
    this.watch(this.wakeFd, TOKEN_WAKE);
  }

  // ------------------------------------------------------------------ loop

  run(): void {
    this.post({ type: "ready" });
    while (!this.stopping && !this.closed) {
      try {
        this.turn();
      } catch (e) {
        // A bug must not take the tunnel down: count it, log a few, go on.
        this.c[C.dropOther]!++;
        this.log(`data plane: unexpected error: ${(e as Error)?.stack ?? String(e)}`);
      }
    }
    this.shutdown();
  }

  private turn(): void {
    this.c[C.loopIterations]!++;
    if (Atomics.load(this.mailbox, 0) !== this.mailSeen) this.pollControl();
    let now = performance.now();
    // Handshakes left over from the last turn's budget: look, don't sleep.
    const timeout = this.hq.depth > 0 ? 0 : Math.max(0, Math.min(this.nextTimerAt - now, this.dirty ? 50 : 1000));
    const n = epollWait(this.epfd, this.events, 8, Math.ceil(timeout));
    let tun = false;
    let u4 = false;
    let u6 = false;
    for (let i = 0; i < n; i++) {
      const token = readEpollToken(this.eventsView, i);
      const ev = readEpollEvents(this.eventsView, i);
      if (token === TOKEN_TUN) {
        tun = true;
        if (ev & (EPOLLERR | EPOLLHUP) && !(ev & EPOLLIN)) this.tunGone(`epoll reported ${ev & EPOLLHUP ? "HUP" : "ERR"} on the TUN`);
      } else if (token === TOKEN_V4) u4 = true;
      else if (token === TOKEN_V6) u6 = true;
      else if (token === TOKEN_WAKE) this.L.read(this.wakeFd, this.wakeBuf, 8);
    }
    now = performance.now();
    if (tun && !this.closed) this.txWork(now);
    if (u4 && this.v4 !== null) this.rxWork(now, this.v4);
    if (u6 && this.v6 !== null) this.rxWork(now, this.v6);
    if (this.hq.depth > 0) this.processHandshakes(performance.now());
    now = performance.now();
    if (now >= this.nextTimerAt || (this.dirty && n === 0)) this.timers(now);
  }

  private watch(fd: number, token: number): void {
    writeEpollEvent(new DataView(this.eventOne.buffer), 0, EPOLLIN, token);
    epollCtl(this.epfd, EPOLL_CTL_ADD, fd, this.eventOne);
  }

  private unwatch(fd: number): void {
    try {
      epollCtl(this.epfd, EPOLL_CTL_DEL, fd, null);
    } catch {
      // already gone
    }
  }

  private tunGone(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.post({ type: "closed", reason });
  }

  private shutdown(): void {
    this.publish();
    for (const s of [this.v4, this.v6]) if (s !== null) s.sender.flush();
    try {
      close(this.epfd);
    } catch {
      // ignore
    }
    this.post({ type: "stopped" });
  }

  private post(m: FromWorker): void {
    this.port.postMessage(m);
  }

  private log(message: string): void {
    if (this.logged >= 100) return;
    this.logged++;
    this.post({ type: "log", message });
  }

  // --------------------------------------------------------------- control

  private pollControl(): void {
    const seen = Atomics.load(this.mailbox, 0);
    let got = 0;
    for (;;) {
      const m = receiveMessageOnPort(this.port);
      if (m === undefined) break;
      got++;
      this.c[C.controlMessages]!++;
      this.onControl(m.message as ToWorker);
    }
    // Only acknowledge what we saw arrive; otherwise look again next turn.
    if (got > 0) this.mailSeen = seen;
    else this.nextTimerAt = Math.min(this.nextTimerAt, performance.now() + 1);
  }

  private onControl(m: ToWorker): void {
    switch (m.type) {
      case "config":
        return this.applyConfig(m.privateKey, m.peers);
      case "sockets":
        return this.setSockets(m.v4, m.v6);
      case "offloads":
        this.coalescer.enableTcp = m.tcpGro;
        this.coalescer.enableUdp = m.udpGro;
        return;
      case "mtu":
        this.mtu = m.mtu;
        for (const ctx of this.peers.values()) ctx.tunn.mtu = m.mtu;
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

  private setSockets(v4: WorkerSocket | null, v6: WorkerSocket | null): void {
    for (const old of [this.v4, this.v6]) {
      if (old === null) continue;
      old.sender.flush();
      this.unwatch(old.sock.fd);
      try {
        close(old.sock.fd);
      } catch {
        // ignore
      }
    }
    this.v4 = v4 === null ? null : this.rxSocket(v4);
    this.v6 = v6 === null ? null : this.rxSocket(v6);
    if (this.v4 !== null) this.watch(this.v4.sock.fd, TOKEN_V4);
    if (this.v6 !== null) this.watch(this.v6.sock.fd, TOKEN_V6);
  }

  private rxSocket(sock: WorkerSocket): RxSocket {
    const land = sock.gro ? LANDING_GRO : LANDING_PLAIN;
    const bufSize = sock.gro ? 65535 : land.size;
    // The batch's own payload slab goes unused: every iovec points into the
    // landing zone of the RX slab, so decrypted packets can be copied into RX
    // slots within one buffer. prepareRecv only restores iov_len (= bufSize).
    const mb = new MmsgBatch({ count: land.count, bufSize, controlSize: RECV_CONTROL_SIZE });
    for (let i = 0; i < land.count; i++) mb.setPayloadRaw(i, this.rxAddr + this.landingOff + i * land.size, bufSize);
    return { sock, mb, namesAddr: addressOf(mb.names), sender: new UdpSender(sock.fd, sock.family, sock.gso, this.c) };
  }

  private applyConfig(privateKey: Uint8Array | null, peers: WorkerPeerConfig[]): void {
    const now = performance.now();
    if (!sameBytes(privateKey, this.privateKey)) {
      // A new identity invalidates every handshake and session: rebuild the
      // protocol state, keep learned endpoints and byte counts.
      if (this.device !== null) {
        for (const ctx of this.peers.values()) {
          ctx.txBase += ctx.tunn.txBytes;
          ctx.rxBase += ctx.tunn.rxBytes;
          ctx.txPacketsBase += ctx.tunn.txPackets;
          ctx.rxPacketsBase += ctx.tunn.rxPackets;
          this.device.removePeer(ctx.tunn);
        }
      }
      this.peers.clear();
      this.privateKey = privateKey === null ? null : privateKey.slice();
      this.device =
        privateKey === null ? null : new DeviceState(this.crypto, privateKey, { wallClockOffsetMs: Date.now() - performance.now() });
    }
    const device = this.device;
    const wanted = new Set<string>();
    for (const p of peers) {
      const key = hex(p.publicKey);
      wanted.add(key);
      let ctx = this.byKey.get(key);
      if (ctx !== undefined && ctx.slot !== p.slot) {
        this.byKey.delete(key);
        ctx = undefined;
      }
      if (device === null) continue;
      if (ctx === undefined || !this.peers.has(ctx.tunn) || ctx.tunn.device !== device) {
        const t = device.addPeer(p.publicKey, { presharedKey: p.presharedKey, persistentKeepaliveMs: p.persistentKeepaliveSec * 1000, mtu: this.mtu });
        if (typeof t === "string") {
          this.log(`peer ${key.slice(0, 8)}…: ${t}`);
          continue;
        }
        if (ctx === undefined) {
          const epSockaddr = new Uint8Array(32);
          // Touch .buffer before taking the address: JSC moves a small typed
          // array's storage out of line the first time its buffer is used.
          void epSockaddr.buffer;
          ctx = {
            tunn: t,
            slot: p.slot,
            keyHex: key,
            epFamily: 0,
            epSockaddr,
            epAddr: addressOf(epSockaddr),
            epLen: 0,
            epPort: 0,
            epIp: new Uint8Array(16),
            src: newLocalSource(),
            srcPublished: false,
            touched: 0,
            txBase: 0,
            rxBase: 0,
            txPacketsBase: 0,
            rxPacketsBase: 0,
            roams: 0,
            lastHs: 0,
          };
          this.stats.resetSlot(p.slot);
          this.byKey.set(key, ctx);
        } else {
          ctx.tunn = t;
        }
        this.peers.set(t, ctx);
      } else {
        ctx.tunn.setPresharedKey(p.presharedKey);
        ctx.tunn.timers.persistentKeepaliveIntervalMs = p.persistentKeepaliveSec * 1000;
      }
      const tunn = ctx.tunn;
      device.allowedIps.removeByValue(tunn);
      for (const a of p.allowedIps) device.allowedIps.insert(a.addr, a.cidr, tunn);
      if (p.endpoint !== undefined) this.setEndpoint(ctx, p.endpoint.addr, p.endpoint.port);
      if (p.keepaliveNow) {
        const r = tunn.encapsulate(now, this.keepaliveBuf, 0, 0);
        this.sendResult(r, ctx);
        this.drainPeer(now, ctx);
      }
    }
    for (const [key, ctx] of this.byKey) {
      if (wanted.has(key)) continue;
      this.byKey.delete(key);
      this.peers.delete(ctx.tunn);
      if (device !== null && ctx.tunn.device === device) device.removePeer(ctx.tunn);
    }
    this.nextTimerAt = 0;
    this.publish();
  }

  private setEndpoint(ctx: PeerCtx, addr: Uint8Array, port: number): void {
    const v = new DataView(ctx.epSockaddr.buffer);
    if (addr.length === 4) {
      ctx.epLen = writeSockaddrIn(v, 0, addr, port);
      ctx.epFamily = 4;
    } else {
      ctx.epLen = writeSockaddrIn6(v, 0, addr, port);
      ctx.epFamily = 6;
    }
    ctx.epIp.fill(0);
    ctx.epIp.set(addr);
    ctx.epPort = port;
    this.stats.writeEndpoint(ctx.slot, ctx.epFamily, ctx.epIp, port);
    // A configured endpoint: routing picks our address until the peer's next packet.
    this.clearSource(ctx);
  }

  /**
   * roam points ctx at the sockaddr at names[off] when it differs, and
   * records src (the local end the packet arrived on) as the peer's sticky
   * source when that differs (dossier 4.8). A packet of the other family
   * brings its own source, so a family change never keeps a stale one.
   */
  private roam(ctx: PeerCtx, names: Uint8Array, off: number, src: LocalSource): void {
    const fam = names[off]! | (names[off + 1]! << 8);
    const family = fam === 2 ? 4 : fam === 10 ? 6 : 0;
    if (family === 0) return;
    if (!sameLocalSource(ctx.src, src)) {
      if (src.family === family) copyLocalSource(ctx.src, src);
      else clearLocalSource(ctx.src);
      this.publishSource(ctx);
    }
    const port = (names[off + 2]! << 8) | names[off + 3]!;
    const ipOff = family === 4 ? off + 4 : off + 8;
    const ipLen = family === 4 ? 4 : 16;
    if (ctx.epFamily === family && ctx.epPort === port) {
      let same = true;
      for (let i = 0; i < ipLen; i++) {
        if (ctx.epIp[i] !== names[ipOff + i]) {
          same = false;
          break;
        }
      }
      if (same) return;
    }
    const len = family === 4 ? 16 : 28;
    for (let i = 0; i < len; i++) ctx.epSockaddr[i] = names[off + i]!;
    ctx.epLen = len;
    ctx.epFamily = family;
    ctx.epPort = port;
    ctx.epIp.fill(0);
    for (let i = 0; i < ipLen; i++) ctx.epIp[i] = names[ipOff + i]!;
    ctx.roams++;
    this.stats.writeEndpoint(ctx.slot, family, ctx.epIp, port);
  }

  // -------------------------------------------------------------- outbound

  private txWork(now: number): void {
    const buf = this.tx.buf;
    let k = 0;
    for (let reads = 0; reads < TUN_READS_PER_TURN; reads++) {
      const dst = this.vnet ? this.txAddr + this.txReadOff : this.txAddr + this.tx.offs[k]!;
      const n = this.L.read(this.tunFd, dst, this.vnet ? TUN_READ_BUFFER_LEN : STRIDE);
      if (n < 0) {
        const e = errno();
        if (e === EINTR) continue;
        if (e === EAGAIN) break;
        if (e === EBADFD || e === ENODEV || e === EBADF) this.tunGone(`TUN read failed with ${errnoName(e)}`);
        else this.log(`TUN read failed with ${errnoName(e)}`);
        break;
      }
      if (n === 0) break;
      this.c[C.tunReads]!++;
      this.c[C.tunReadBytes]! += n;
      this.dirty = true;
      let segs: number;
      if (this.vnet) {
        if (n >= TUN_READ_BUFFER_LEN) {
          this.c[C.dropTruncated]!++;
          continue;
        }
        let r = splitSuperPacket(buf, this.txReadOff, n, this.txViews[k]!);
        if (r === "too-many-segments" && k > 0) {
          this.flushTx(now);
          k = 0;
          r = splitSuperPacket(buf, this.txReadOff, n, this.txViews[0]!);
        }
        if (typeof r === "string") {
          this.c[C.dropMalformed]!++;
          continue;
        }
        segs = r;
        if (segs > 1) this.c[C.superPackets]!++;
      } else {
        if (n >= STRIDE) {
          this.c[C.dropTruncated]!++;
          continue;
        }
        this.tx.lens[k] = n;
        segs = 1;
      }
      this.c[C.segments]! += segs;
      this.encryptRange(now, k, k + segs);
      k += segs;
      if (SLOTS - k < (this.vnet ? TX_MIN_FREE : 1)) {
        this.flushTx(now);
        k = 0;
      }
    }
    this.flushTx(now);
  }

  private encryptRange(now: number, from: number, to: number): void {
    const offs = this.tx.offs;
    const lens = this.tx.lens;
    let i = from;
    // Each slot is routed exactly once (routeTx counts the drops).
    let tunn = i < to ? this.routeTx(i) : undefined;
    while (i < to) {
      if (tunn === undefined) {
        i++;
        tunn = i < to ? this.routeTx(i) : undefined;
        continue;
      }
      // A run of consecutive segments to the same peer (all segments of one
      // super-packet share their destination) is sealed in one backend call.
      let j = i + 1;
      let next: Tunn | undefined = undefined;
      while (j < to) {
        next = this.routeTx(j);
        if (next !== tunn) break;
        j++;
      }
      if (j === to) next = undefined;
      const ctx = this.peers.get(tunn)!;
      const sock = ctx.epFamily === 4 ? this.v4 : ctx.epFamily === 6 ? this.v6 : null;
      if (sock === null) {
        this.c[C.dropNoEndpoint]! += j - i;
        i = j;
        tunn = next;
        continue;
      }
      if (j - i > 1 && tunn.encapsulateBatch(now, this.tx.buf, offs, lens, i, j, this.sealedLens) === j - i) {
        this.touch(ctx);
        const sender = sock.sender;
        let bytes = 0;
        for (let k = i; k < j; k++) {
          const n = this.sealedLens[k]!;
          sender.add(this.txAddr + offs[k]! - 16, n, ctx.epAddr, ctx.epLen, ctx.src);
          bytes += n;
        }
        this.c[C.txPackets]! += j - i;
        this.c[C.txBytes]! += bytes;
      } else {
        for (let k = i; k < j; k++) this.encryptOne(now, k, tunn, ctx, sock);
      }
      i = j;
      tunn = next;
    }
  }

  /**
   * routeTx returns the peer TX slot i goes to, or undefined after counting
   * why it is dropped (no device, malformed, no route, unknown peer, too long).
   */
  private routeTx(i: number): Tunn | undefined {
    const buf = this.tx.buf;
    const off = this.tx.offs[i]!;
    const len = this.tx.lens[i]!;
    const device = this.device;
    if (device === null) {
      this.c[C.dropNoRoute]!++;
      return undefined;
    }
    const v = buf[off]! >>> 4;
    let tunn: Tunn | undefined;
    if (v === 4 && len >= 20) tunn = device.allowedIps.lookup(buf, off + 16, 4);
    else if (v === 6 && len >= 40) tunn = device.allowedIps.lookup(buf, off + 24, 16);
    else {
      this.c[C.dropMalformed]!++;
      return undefined;
    }
    if (tunn === undefined) {
      this.c[C.dropNoRoute]!++;
      return undefined;
    }
    if (!this.peers.has(tunn) || len > MAX_TX_PACKET) {
      this.c[C.dropOther]!++;
      return undefined;
    }
    return tunn;
  }

  private encryptOne(now: number, i: number, tunn: Tunn, ctx: PeerCtx, sock: RxSocket): void {
    const buf = this.tx.buf;
    const stagedBefore = tunn.stagedCount;
    const r = tunn.encapsulate(now, buf, this.tx.offs[i]! - 16, this.tx.lens[i]!);
    this.touch(ctx);
    if (r.kind === "network") {
      if (r.buf === buf) {
        sock.sender.add(this.txAddr + r.off, r.len, ctx.epAddr, ctx.epLen, ctx.src);
        this.c[C.txPackets]!++;
        this.c[C.txBytes]! += r.len;
      } else {
        this.sendResult(r, ctx);
      }
    } else if (r.kind === "done") {
      if (stagedBefore >= MAX_STAGED_PACKETS) this.c[C.dropStagedOverflow]!++;
    } else if (r.kind === "error") {
      this.countError(r.code);
    }
  }

  private flushTx(now: number): void {
    if (this.v4 !== null) this.flushSender(this.v4);
    if (this.v6 !== null) this.flushSender(this.v6);
    this.drainTouched(now);
  }

  private flushSender(rs: RxSocket): void {
    rs.sender.flush();
    if (rs.sender.lastErrno !== 0) {
      this.log(`IPv${rs.sock.family} send failed with ${errnoName(rs.sender.lastErrno)}`);
      rs.sender.lastErrno = 0;
    }
    if (rs.sender.lastSourceErrno !== 0) {
      this.log(`IPv${rs.sock.family} send from a peer's sticky source address refused with ${errnoName(rs.sender.lastSourceErrno)} (address gone?): resent from the address routing picks`);
      rs.sender.lastSourceErrno = 0;
    }
    if (rs.sender.gso !== rs.sock.gso) {
      // The kernel answered EIO to a GSO send: off for this family from now on (dossier 3.4).
      rs.sock.gso = rs.sender.gso;
      this.post({ type: "gso", family: rs.sock.family, enabled: rs.sock.gso });
      this.log(`IPv${rs.sock.family} UDP GSO turned off: the kernel answered EIO (egress without checksum offload?)`);
    }
  }

  private touch(ctx: PeerCtx): void {
    if (ctx.touched === this.epoch) return;
    ctx.touched = this.epoch;
    this.touchedList.push(ctx);
  }

  private drainTouched(now: number): void {
    const list = this.touchedList;
    for (let i = 0; i < list.length; i++) this.drainPeer(now, list[i]!);
    list.length = 0;
    this.epoch++;
  }

  private drainPeer(now: number, ctx: PeerCtx): void {
    for (let guard = 0; guard < 1024; guard++) {
      const r = ctx.tunn.drain(now);
      if (r.kind === "done") return;
      if (r.kind === "error") this.countError(r.code);
      else this.sendResult(r, ctx);
    }
  }

  /** sendResult sends a network result that is not in the TX slab to ctx's endpoint, at once. */
  private sendResult(r: TunnResult, ctx: PeerCtx): void {
    if (r.kind === "error") return this.countError(r.code);
    if (r.kind !== "network") return;
    const sock = ctx.epFamily === 4 ? this.v4 : ctx.epFamily === 6 ? this.v6 : null;
    if (sock === null) {
      this.c[C.dropNoEndpoint]!++;
      return;
    }
    if (r.isHandshake) this.c[C.handshakesSent]!++;
    else {
      this.c[C.txPackets]!++;
      this.c[C.txBytes]! += r.len;
    }
    sock.sender.add(addressOf(r.buf, r.off), r.len, ctx.epAddr, ctx.epLen, ctx.src);
    this.flushSender(sock);
  }

  // --------------------------------------------------------------- inbound

  private rxWork(now: number, rs: RxSocket): void {
    const mb = rs.mb;
    const land = rs.sock.gro ? LANDING_GRO : LANDING_PLAIN;
    const slab = this.rxAll.buf;
    // Packets wait in the landing zone until flushRx; never let a recvmmsg
    // overwrite them (only reachable after an exception mid-batch).
    if (this.rxCount > 0) this.flushRx();
    const firstDatagram = this.c[C.recvDatagrams]!;
    for (let calls = 0; calls < RECV_CALLS_PER_TURN && this.c[C.recvDatagrams]! - firstDatagram < RECV_DATAGRAMS_PER_TURN; calls++) {
      let n: number;
      try {
        n = recvBatch(rs.sock.fd, mb, mb.count);
      } catch (e) {
        this.log(`recvmmsg: ${(e as Error).message}`);
        break;
      }
      this.c[C.recvCalls]!++;
      if (n === WOULD_BLOCK || n <= 0) break;
      this.dirty = true;
      this.c[C.recvMessages]! += n;
      for (let i = 0; i < n; i++) {
        const len = mb.msgLen(i);
        if (mb.flags(i) & MSG_TRUNC) {
          this.c[C.dropTruncated]!++;
          continue;
        }
        const base = this.landingOff + i * land.size;
        const nameOff = mb.nameOffset(i);
        const gso = rs.sock.gro ? groSegmentSize(mb, i) : 0;
        // Every datagram of a GRO message shares the local address it came to.
        recvPktinfo(mb, i, this.rxSrc);
        if (gso > 0 && len > gso) {
          this.c[C.groMessages]!++;
          for (let p = 0; p < len; p += gso) {
            this.c[C.groDatagrams]!++;
            this.rxDatagram(now, rs, slab, base + p, Math.min(gso, len - p), mb.names, nameOff);
          }
        } else {
          this.rxDatagram(now, rs, slab, base, len, mb.names, nameOff);
        }
      }
      this.flushRx();
      this.drainTouched(now);
      if (n < mb.count) break;
    }
  }

  private rxDatagram(now: number, rs: RxSocket, buf: Uint8Array, off: number, len: number, names: Uint8Array, nameOff: number): void {
    this.c[C.recvDatagrams]!++;
    const device = this.device;
    if (len < 4) {
      this.c[C.dropMalformed]!++;
      return;
    }
    const type = buf[off]!;
    if (type >= 1 && type <= 3) return this.enqueueHandshake(now, type, buf, off, len, names, nameOff);
    if (device === null) {
      this.c[C.dropOther]!++;
      return;
    }
    const r = device.decapsulate(now, this.src4, buf, off, len, false);
    switch (r.kind) {
      case "tunnel": {
        const ctx = this.peers.get(r.peer);
        if (ctx !== undefined) {
          this.roam(ctx, names, nameOff, this.rxSrc);
          this.touch(ctx);
        }
        if (this.rxCount === SLOTS) this.flushRx();
        const k = this.rxCount++;
        // Zero-copy: the packet stays where it was decrypted (its 16-byte
        // transport header is the headroom for the virtio_net_hdr) until
        // flushRx, which runs before the landing zone is reused; the
        // coalescer moves it to its home slot only if it heads a merge.
        if (r.buf === buf) {
          this.rxBatch.offs[k] = r.off;
        } else {
          const dst = this.rx.offs[k]!;
          buf.set(r.buf.subarray(r.off, r.off + r.len), dst);
          this.rxBatch.offs[k] = dst;
        }
        this.rx.lens[k] = r.len;
        this.c[C.rxPackets]!++;
        this.c[C.rxBytes]! += r.len;
        return;
      }
      case "done": {
        if (r.peer !== null) {
          const ctx = this.peers.get(r.peer);
          if (ctx !== undefined) {
            this.roam(ctx, names, nameOff, this.rxSrc);
            this.touch(ctx);
          }
        }
        return;
      }
      case "network":
        // Not produced for data messages today; answer the source if it ever is.
        // A copy: the sender clears a source the kernel refuses, and rxSrc
        // still serves the rest of this GRO message.
        copyLocalSource(this.replySrc, this.rxSrc);
        rs.sender.add(addressOf(r.buf, r.off), r.len, rs.namesAddr + nameOff, this.nameLenAt(names, nameOff), this.replySrc);
        rs.sender.flush();
        return;
      case "error":
        // An error naming a peer authenticated but failed an inner check (the
        // allowed-IPs source, a bad inner header): the kernel (receive.c) and
        // wireguard-go (receive.go) take the endpoint from it all the same.
        if (r.peer !== null) {
          const ctx = this.peers.get(r.peer);
          if (ctx !== undefined) {
            this.roam(ctx, names, nameOff, this.rxSrc);
            this.touch(ctx);
          }
        }
        return this.countError(r.code);
    }
  }

  private nameLenAt(names: Uint8Array, off: number): number {
    return names[off] === 10 ? 28 : 16;
  }

  private flushRx(): void {
    const count = this.rxCount;
    if (count === 0) return;
    this.rxCount = 0;
    const rx = this.rxBatch;
    if (this.vnet) {
      rx.count = count;
      const w = this.coalescer.coalesce(rx, this.rx.offs);
      if (typeof w === "string") {
        this.c[C.dropMalformed]! += count;
        return;
      }
      this.c[C.coalesceIn]! += count;
      this.c[C.coalesceOut]! += w;
      for (let k = 0; k < w; k++) {
        const j = this.coalescer.writeIdx[k]!;
        this.tunWrite(this.rxAddr + rx.offs[j]! - VNET_HDR_LEN, rx.lens[j]! + VNET_HDR_LEN);
      }
    } else {
      for (let j = 0; j < count; j++) this.tunWrite(this.rxAddr + rx.offs[j]!, rx.lens[j]!);
    }
  }

  private tunWrite(addr: number, len: number): void {
    for (;;) {
      const n = this.L.write(this.tunFd, addr, len);
      if (n === len) {
        this.c[C.tunWrites]!++;
        return;
      }
      if (n < 0 && errno() === EINTR) continue;
      this.c[C.tunWriteErrors]!++;
      return;
    }
  }

  // ------------------------------------------------------------ handshakes

  /**
   * enqueueHandshake queues a handshake message for processHandshakes. mac1
   * is checked on arrival (one BLAKE2s MAC, ~1 µs): a flood of messages that
   * do not even name us is dropped here and never makes the queue look
   * loaded, so it costs legitimate peers no cookie round trip. Under load, a
   * message carrying a mac2 is checked at once too and, when valid, goes to
   * the priority lane: it is the retry of a peer that proved its address
   * with our cookie.
   */
  private enqueueHandshake(now: number, type: number, buf: Uint8Array, off: number, len: number, names: Uint8Array, nameOff: number): void {
    if (len > MESSAGE_MAX) {
      this.c[C.dropMalformed]!++;
      return;
    }
    let priority = false;
    if (type !== MESSAGE_COOKIE_REPLY_TYPE && this.device !== null) {
      const initiation = type === MESSAGE_INITIATION_TYPE;
      if (len !== (initiation ? MESSAGE_INITIATION_SIZE : MESSAGE_RESPONSE_SIZE)) {
        this.c[C.dropMalformed]!++;
        return;
      }
      const mac1Off = initiation ? MESSAGE_INITIATION_OFFSET_MAC1 : MESSAGE_RESPONSE_OFFSET_MAC1;
      const mac2Off = mac1Off + MAC_LEN;
      const carriesMac2 = !isMac2Zero(buf, off, mac2Off);
      const underLoad = this.hq.underLoad(now);
      if (!carriesMac2) {
        // Under load it would only earn a cookie reply: within its source's budget, and if the queue takes it.
        if (underLoad && !this.hq.allowCookieReply(now, names, nameOff)) {
          this.c[C.dropCookieRateLimit]!++;
          return;
        }
        // Without a mac2 it can only queue normally: when the queue refuses it anyway, no MAC is spent on it.
        if (this.countRefusal(this.hq.refusal(now, names, nameOff))) return;
      }
      const checker = this.device.cookieChecker;
      if (!checker.checkMac1(buf, off, mac1Off)) {
        this.c[C.dropBadMac]!++;
        return;
      }
      priority = carriesMac2 && underLoad && checker.checkMac2(now, buf, off, mac2Off, this.sourceFromName(names, nameOff));
    }
    const r = this.hq.offer(now, buf, off, len, names, nameOff, this.nameLenAt(names, nameOff), this.rxSrc, priority);
    if (typeof r !== "number") this.countRefusal(r);
  }

  /** countRefusal counts a queue refusal by its reason; false when there was none. */
  private countRefusal(r: OfferRefusal | null): boolean {
    if (r === null) return false;
    if (r === "full") this.c[C.handshakeQueueDrops]!++;
    else this.c[C.dropHandshakeSourceShare]!++;
    return true;
  }

  /** sourceFromName fills src4 or src6 from the sockaddr at names[nameOff] and returns it. */
  private sourceFromName(names: Uint8Array, nameOff: number): SourceAddr {
    const v6 = names[nameOff] === 10;
    const src = v6 ? this.src6 : this.src4;
    src.port = (names[nameOff + 2]! << 8) | names[nameOff + 3]!;
    const ipOff = nameOff + (v6 ? 8 : 4);
    for (let i = 0; i < src.ip.length; i++) src.ip[i] = names[ipOff + i]!;
    return src;
  }

  /**
   * processHandshakes works through the queue, priority lane first, for at
   * most HANDSHAKE_BUDGET_MS. Cookie replies are batched and sent at the
   * end; the slots they name stay untouched until then (no offer() runs
   * while this does).
   */
  private processHandshakes(start: number): void {
    const device = this.device;
    const hq = this.hq;
    let now = start;
    let done = 0;
    let budget = HANDSHAKE_BUDGET_MS;
    while (hq.depth > 0 && now - start < budget) {
      const underLoad = hq.underLoad(now);
      if (underLoad) budget = HANDSHAKE_BUDGET_UNDER_LOAD_MS;
      const slot = hq.take();
      if (device === null) {
        this.c[C.dropOther]!++;
        continue;
      }
      if (slot >= hq.capacity) this.c[C.handshakesPrioritized]!++;
      if (underLoad) this.c[C.handshakesUnderLoad]!++;
      this.processHandshake(now, device, slot, underLoad);
      // performance.now() costs ~30 ns; a message under load costs microseconds.
      if ((++done & 7) === 0 || !underLoad) now = performance.now();
    }
    this.flushReplies();
    this.c[C.handshakeQueueDepth] = hq.depth;
  }

  private processHandshake(now: number, device: DeviceState, slot: number, underLoad: boolean): void {
    const hq = this.hq;
    this.c[C.handshakesReceived]!++;
    const nOff = hq.nameOffset(slot);
    const src = this.sourceFromName(hq.names, nOff);
    const family = src === this.src6 ? 6 : 4;
    const local = hq.sources[slot]!;
    const r = device.decapsulate(now, src, hq.data, hq.messageOffset(slot), hq.lens[slot]!, underLoad);
    if (r.kind === "error") return this.countError(r.code);
    const ctx = r.peer === null ? undefined : this.peers.get(r.peer);
    if (ctx !== undefined) this.roam(ctx, hq.names, nOff, local);
    if (r.kind === "network") {
      const sock = family === 4 ? this.v4 : this.v6;
      if (sock !== null) {
        const nameAddr = this.hqNameAddr + nOff;
        const nameLen = family === 4 ? 16 : 28;
        if (r.isHandshake) {
          this.c[C.handshakesSent]!++;
          // A response answers from the address the initiation came to (now the peer's sticky source).
          sock.sender.add(addressOf(r.buf, r.off), r.len, nameAddr, nameLen, ctx !== undefined ? ctx.src : local);
          sock.sender.flush();
        } else if (r.peer === null) {
          this.queueReply(sock, r.buf, r.off, r.len, nameAddr, nameLen, local);
        } else {
          sock.sender.add(addressOf(r.buf, r.off), r.len, nameAddr, nameLen, ctx !== undefined ? ctx.src : local);
          sock.sender.flush();
        }
      }
    }
    if (ctx !== undefined) {
      this.drainPeer(now, ctx);
      this.checkHandshake(ctx);
    }
  }

  /** queueReply copies a cookie reply (the protocol reuses its buffer) into the reply batch. */
  private queueReply(sock: RxSocket, buf: Uint8Array, off: number, len: number, nameAddr: number, nameLen: number, local: LocalSource): void {
    if (this.replyCount === COOKIE_REPLIES_PER_FLUSH) this.flushReplies();
    const at = this.replyCount++ * MESSAGE_COOKIE_REPLY_SIZE;
    const d = this.replies;
    for (let i = 0; i < len; i++) d[at + i] = buf[off + i]!;
    this.c[C.cookieRepliesSent]!++;
    // A cookie reply leaves from the address the message came to.
    sock.sender.add(this.repliesAddr + at, len, nameAddr, nameLen, local);
  }

  private flushReplies(): void {
    if (this.replyCount === 0) return;
    this.replyCount = 0;
    if (this.v4 !== null) this.v4.sender.flush();
    if (this.v6 !== null) this.v6.sender.flush();
  }

  private checkHandshake(ctx: PeerCtx): void {
    const hs = ctx.tunn.lastHandshakeWallMs;
    if (hs !== ctx.lastHs) {
      ctx.lastHs = hs;
      this.c[C.handshakesCompleted]!++;
      this.publishPeer(ctx);
    }
  }

  // ---------------------------------------------------------------- timers

  private timers(now: number): void {
    let deadline = now + 1000;
    for (const ctx of this.peers.values()) {
      const rs = ctx.tunn.tick(now);
      if (ctx.tunn.endpointSourceStale) {
        // A handshake retry: perhaps our sticky source is why it went unanswered.
        ctx.tunn.endpointSourceStale = false;
        this.clearSource(ctx);
      }
      for (const r of rs) this.sendResult(r, ctx);
      this.checkHandshake(ctx);
      deadline = Math.min(deadline, ctx.tunn.nextDeadline());
    }
    if (this.device !== null && now - this.lastDeviceTick >= 1000) {
      this.device.tick(now);
      this.device.wallClockOffsetMs = Date.now() - performance.now();
      this.lastDeviceTick = now;
    }
    this.publish();
    this.dirty = false;
    this.nextTimerAt = Math.max(deadline, now + 1);
    if (this.heapDebug !== null) this.heapDebug.maybe(now);
  }

  private publish(): void {
    for (const ctx of this.peers.values()) this.publishPeer(ctx);
  }

  private publishPeer(ctx: PeerCtx): void {
    const t = ctx.tunn;
    this.stats.writePeer(ctx.slot, ctx.txBase + t.txBytes, ctx.rxBase + t.rxBytes, t.lastHandshakeWallMs, ctx.txPacketsBase + t.txPackets, ctx.rxPacketsBase + t.rxPackets, ctx.roams);
    // The sender clears a source the kernel refused without telling us.
    if (ctx.srcPublished && ctx.src.family === 0) this.publishSource(ctx);
  }

  private publishSource(ctx: PeerCtx): void {
    this.stats.writeSource(ctx.slot, ctx.src.family, ctx.src.addr, ctx.src.ifindex);
    ctx.srcPublished = ctx.src.family !== 0;
  }

  /** clearSource forgets ctx's sticky source: routing picks our address until the peer's next packet. */
  private clearSource(ctx: PeerCtx): void {
    if (ctx.src.family === 0 && !ctx.srcPublished) return;
    clearLocalSource(ctx.src);
    this.publishSource(ctx);
  }

  private countError(code: WireGuardErrorCode): void {
    const c = this.c;
    switch (code) {
      case "decrypt-failed":
      case "invalid-mac1":
        c[C.dropBadMac]!++;
        return;
      case "duplicate-counter":
      case "counter-too-large":
        c[C.dropReplay]!++;
        return;
      case "forged-source":
        c[C.dropSourceCheck]!++;
        return;
      case "truncated":
      case "oversized":
      case "unknown-type":
      case "bad-reserved":
      case "invalid-packet":
        c[C.dropMalformed]!++;
        return;
      case "unknown-index":
        c[C.dropUnknownIndex]!++;
        return;
      case "invalid-mac2":
      case "under-load":
      case "rate-limited":
      case "unknown-peer":
      case "zero-dh":
      case "replayed-timestamp":
      case "initiation-flood":
      case "unexpected-state":
      case "wrong-peer":
      case "invalid-cookie-reply":
        c[C.dropHandshake]!++;
        return;
      default:
        c[C.dropOther]!++;
    }
  }
}
