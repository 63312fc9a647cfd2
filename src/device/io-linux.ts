// The kernel behind the I/O seam (io.ts): the TUN fd, the UDP sockets the
// main thread opened (recvmmsg into the data plane's landing zone, UdpSender
// for sendmmsg with UDP GSO), one level-triggered epoll set over them and
// the eventfd the main thread writes to wake the loop.
import { EPOLLERR, EPOLLHUP, EPOLLIN, EPOLL_CLOEXEC, EPOLL_CTL_ADD, EPOLL_CTL_DEL, MSG_TRUNC } from "../sys/constants.ts";
import { close, epollCreate1, epollCtl, epollWait, errno, rawLibc, WOULD_BLOCK } from "../sys/libc.ts";
import { LAYOUT, readEpollEvents, readEpollToken, writeEpollEvent } from "../sys/layout.ts";
import { addressOf, MmsgBatch } from "../sys/msgvec.ts";
import { setNonBlocking } from "../sys/tun.ts";
import { groSegmentSize, RECV_CONTROL_SIZE, recvBatch, recvPktinfo, type LocalSource } from "../sys/udp.ts";
import { EAGAIN, EINTR } from "../sys/errno.ts";
import type { WorkerSocket } from "./dataplane-messages.ts";
import {
  READY_TUN,
  READY_TUN_GONE,
  READY_V4,
  READY_V6,
  READY_WAKE,
  TUN_WOULD_BLOCK,
  type DataPlaneIo,
  type DatagramLanding,
  type DatagramSocket,
  type IoPoller,
  type ReceivedBatch,
  type TunQueue,
} from "./io.ts";
import { UdpSender } from "./udp-sender.ts";

const TOKEN_TUN = 0;
const TOKEN_V4 = 1;
const TOKEN_V6 = 2;
const TOKEN_WAKE = 3;
const MAX_EVENTS = 8;

class LinuxTun implements TunQueue {
  private readonly L = rawLibc();
  constructor(
    private readonly fd: number,
    readonly vnetHeader: boolean,
  ) {
    setNonBlocking(fd);
  }

  read(addr: number, max: number): number {
    for (;;) {
      const n = this.L.read(this.fd, addr, max);
      if (n >= 0) return n;
      const e = errno();
      if (e === EINTR) continue;
      return e === EAGAIN ? TUN_WOULD_BLOCK : -e;
    }
  }

  write(addr: number, len: number): number {
    for (;;) {
      const n = this.L.write(this.fd, addr, len);
      if (n >= 0) return n;
      const e = errno();
      if (e !== EINTR) return -e;
    }
  }
}

/** MmsgReceived reads an MmsgBatch that recvmmsg filled. */
class MmsgReceived implements ReceivedBatch {
  readonly names: Uint8Array;
  readonly namesAddr: number;
  constructor(private readonly mb: MmsgBatch) {
    this.names = mb.names;
    this.namesAddr = addressOf(mb.names);
  }
  length(i: number): number {
    return this.mb.msgLen(i);
  }
  truncated(i: number): boolean {
    return (this.mb.flags(i) & MSG_TRUNC) !== 0;
  }
  nameOffset(i: number): number {
    return this.mb.nameOffset(i);
  }
  segmentSize(i: number): number {
    return groSegmentSize(this.mb, i);
  }
  localSource(i: number, out: LocalSource): boolean {
    return recvPktinfo(this.mb, i, out);
  }
}

class LinuxSocket implements DatagramSocket {
  readonly sender: UdpSender;
  readonly received: MmsgReceived[] = [];
  /** One mmsghdr set per landing zone: names and control data must survive until that zone is processed. */
  private readonly zones: MmsgBatch[] = [];

  constructor(
    readonly desc: WorkerSocket,
    landing: DatagramLanding,
    counters: Float64Array,
  ) {
    // The batches' own payload slabs go unused: every iovec points into the
    // data plane's landing zones, so decrypted packets never leave its slab.
    // prepareRecv only restores iov_len (= size).
    for (let z = 0; z < landing.zones; z++) {
      const mb = new MmsgBatch({ count: landing.count, bufSize: landing.size, controlSize: RECV_CONTROL_SIZE });
      const zone = landing.addr + z * landing.zoneStride;
      for (let i = 0; i < landing.count; i++) mb.setPayloadRaw(i, zone + i * landing.stride, landing.size);
      this.zones.push(mb);
      this.received.push(new MmsgReceived(mb));
    }
    this.sender = new UdpSender(desc.fd, desc.family, desc.gso, counters);
  }

  receive(zone: number): number {
    const mb = this.zones[zone]!;
    const n = recvBatch(this.desc.fd, mb, mb.count);
    return n === WOULD_BLOCK || n < 0 ? 0 : n;
  }

  close(): void {
    try {
      close(this.desc.fd);
    } catch {
      // already closed
    }
  }
}

class LinuxPoller implements IoPoller {
  private readonly L = rawLibc();
  private readonly epfd: number;
  private readonly events = new Uint8Array(MAX_EVENTS * LAYOUT.epollEvent.size);
  private readonly eventsView = new DataView(this.events.buffer);
  private readonly eventOne = new Uint8Array(LAYOUT.epollEvent.size);
  private readonly wakeBuf = new Uint8Array(8);
  private closed = false;

  constructor(
    tunFd: number,
    private readonly wakeFd: number,
  ) {
    this.epfd = epollCreate1(EPOLL_CLOEXEC);
    this.watch(tunFd, TOKEN_TUN);
    this.watch(wakeFd, TOKEN_WAKE);
  }

  wait(timeoutMs: number): number {
    const n = epollWait(this.epfd, this.events, MAX_EVENTS, Math.ceil(timeoutMs));
    let ready = 0;
    for (let i = 0; i < n; i++) {
      const token = readEpollToken(this.eventsView, i);
      if (token === TOKEN_TUN) {
        ready |= READY_TUN;
        const ev = readEpollEvents(this.eventsView, i);
        if (ev & (EPOLLERR | EPOLLHUP) && !(ev & EPOLLIN)) ready |= READY_TUN_GONE;
      } else if (token === TOKEN_V4) ready |= READY_V4;
      else if (token === TOKEN_V6) ready |= READY_V6;
      else if (token === TOKEN_WAKE) {
        this.L.read(this.wakeFd, this.wakeBuf, 8);
        ready |= READY_WAKE;
      }
    }
    return ready;
  }

  watchSocket(socket: DatagramSocket): void {
    this.watch(socket.desc.fd, socket.desc.family === 4 ? TOKEN_V4 : TOKEN_V6);
  }

  unwatchSocket(socket: DatagramSocket): void {
    try {
      epollCtl(this.epfd, EPOLL_CTL_DEL, socket.desc.fd, null);
    } catch {
      // already gone
    }
  }

  /** close closes the epoll fd once: a second close could hit an fd the number was reused for. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      close(this.epfd);
    } catch {
      // already closed
    }
  }

  private watch(fd: number, token: number): void {
    writeEpollEvent(new DataView(this.eventOne.buffer), 0, EPOLLIN, token);
    epollCtl(this.epfd, EPOLL_CTL_ADD, fd, this.eventOne);
  }
}

/** linuxIo is the kernel I/O for a data plane over tunFd, woken through wakeFd. */
export function linuxIo(tunFd: number, vnetHeader: boolean, wakeFd: number): DataPlaneIo {
  return {
    memory: { addressOf: (buf, off = 0) => addressOf(buf, off) },
    clock: { now: () => performance.now(), wallNow: () => Date.now() },
    tun: new LinuxTun(tunFd, vnetHeader),
    poller: new LinuxPoller(tunFd, wakeFd),
    openSocket: (desc, landing, counters) => new LinuxSocket(desc, landing, counters),
  };
}
