// An in-process network behind the I/O seam (io.ts), after wireguard-go's
// tuntest and bindtest: TUN queues the test writes packets into and reads
// packets from, UDP sockets bound to addresses in one MemoryNetwork, a
// manual clock, and a loss hook. It keeps the shapes the kernel gives: a
// sender with GSO on coalesces datagrams as udp-sender.ts does (same
// destination and source, same size with one shorter tail, ≤ 64), a
// receiving socket with GRO gets such a run as one message with its segment
// size, and without GRO as separate datagrams. Addresses are handles: a
// buffer's id in the high bits, its byte offset in the low 32, resolved back
// to the buffer on every read and write, so nothing here needs raw memory.
// Used by the in-process two-device tests and bench/pipeline.ts; never by
// the daemon.
import type { WorkerSocket } from "./dataplane-messages.ts";
import {
  READY_TUN,
  READY_V4,
  READY_V6,
  TUN_WOULD_BLOCK,
  type DataPlaneIo,
  type DatagramLanding,
  type DatagramSocket,
  type IoClock,
  type IoMemory,
  type IoPoller,
  type TunQueue,
} from "./io.ts";
import { addressKeyOf, MemorySocket } from "./io-memory-socket.ts";

export { MemorySocket } from "./io-memory-socket.ts";

const OFFSET_SPAN = 2 ** 32;

/**
 * BUFFER_COPY is Buffer.prototype.copy, which takes source and target
 * ranges, so a copy makes no subarray: the kernel's copy is a memcpy, and a
 * view per datagram cost more than the copy itself (74–90 against 32–41 ns
 * for 1436 bytes), time bench/pipeline.ts would charge to the data plane.
 */
const BUFFER_COPY = Buffer.prototype.copy;

/** copyBytes copies src[srcOff, srcOff+len) to dst[dstOff…]; out of range throws, as set() would (Buffer's copy would truncate). */
function copyBytes(src: Uint8Array, srcOff: number, dst: Uint8Array, dstOff: number, len: number): void {
  if (srcOff < 0 || dstOff < 0 || len < 0 || srcOff + len > src.length || dstOff + len > dst.length) {
    throw new RangeError(`memory: copy of ${len} bytes from ${srcOff} of ${src.length} to ${dstOff} of ${dst.length}`);
  }
  BUFFER_COPY.call(src, dst, dstOff, srcOff, srcOff + len);
}

/** MemoryAddresses hands out resolvable handles for buffers. */
export class MemoryAddresses implements IoMemory {
  private readonly ids = new WeakMap<ArrayBufferLike, number>();
  private readonly buffers: ArrayBufferLike[] = [];
  private readonly views: Uint8Array[] = [];

  addressOf(buf: Uint8Array, off = 0): number {
    let id = this.ids.get(buf.buffer);
    if (id === undefined) {
      id = this.buffers.length + 1;
      this.ids.set(buf.buffer, id);
      this.buffers.push(buf.buffer);
    }
    return id * OFFSET_SPAN + buf.byteOffset + off;
  }

  /** bytes returns len bytes at addr (a view, not a copy). */
  bytes(addr: number, len: number): Uint8Array {
    const id = Math.floor(addr / OFFSET_SPAN);
    const buffer = this.buffers[id - 1];
    if (buffer === undefined) throw new Error(`memory: ${addr} is no buffer's address`);
    return new Uint8Array(buffer, addr - id * OFFSET_SPAN, len);
  }

  /** copyOut copies len bytes at addr into dst[dstOff…]. */
  copyOut(addr: number, len: number, dst: Uint8Array, dstOff: number): void {
    const id = Math.floor(addr / OFFSET_SPAN);
    const whole = this.whole(id);
    const off = addr - id * OFFSET_SPAN;
    copyBytes(whole, off, dst, dstOff, len);
  }

  /** copyIn copies src[srcOff, srcOff+len) to addr. */
  copyIn(src: Uint8Array, srcOff: number, len: number, addr: number): void {
    const id = Math.floor(addr / OFFSET_SPAN);
    copyBytes(src, srcOff, this.whole(id), addr - id * OFFSET_SPAN, len);
  }

  /** whole is a view of all of buffer id (made once, so a copy needs no view of its own). */
  private whole(id: number): Uint8Array {
    let v = this.views[id - 1];
    if (v === undefined || v.byteLength !== this.buffers[id - 1]?.byteLength) {
      const buffer = this.buffers[id - 1];
      if (buffer === undefined) throw new Error(`memory: buffer ${id} is unknown`);
      v = new Uint8Array(buffer);
      this.views[id - 1] = v;
    }
    return v;
  }
}

/** ManualClock moves only when told to. */
export class ManualClock implements IoClock {
  private t = 1000;
  constructor(private readonly epochMs = Date.UTC(2026, 0, 1)) {}
  now(): number {
    return this.t;
  }
  wallNow(): number {
    return this.epochMs + this.t;
  }
  advance(ms: number): void {
    this.t += ms;
  }
}

/** MemoryTun is a TUN queue: inject() is what the kernel would route into it, written is what the device wrote. */
export class MemoryTun implements TunQueue {
  private readonly toDevice: Uint8Array[] = [];
  readonly written: Uint8Array[] = [];
  constructor(
    private readonly memory: MemoryAddresses,
    readonly vnetHeader: boolean,
  ) {}

  /** keepWrites: keep a copy of every write for take(); benchmarks turn it off and only count. */
  keepWrites = true;
  writtenBytes = 0;
  writtenPackets = 0;

  /** inject queues a packet (with its virtio-net header when vnetHeader) for the device to read; it must not change until read. */
  inject(packet: Uint8Array): void {
    this.toDevice.push(packet);
  }

  get pending(): number {
    return this.toDevice.length;
  }

  read(addr: number, max: number): number {
    const p = this.toDevice.shift();
    if (p === undefined) return TUN_WOULD_BLOCK;
    // A read into a short buffer truncates, as the kernel's tun_put_user does.
    const n = Math.min(p.length, max);
    this.memory.copyIn(p, 0, n, addr);
    return n;
  }

  write(addr: number, len: number): number {
    this.writtenBytes += len;
    this.writtenPackets++;
    if (this.keepWrites) this.written.push(this.memory.bytes(addr, len).slice());
    return len;
  }

  /** take returns and forgets what the device wrote so far. */
  take(): Uint8Array[] {
    return this.written.splice(0);
  }
}
/** MemoryNetwork connects MemorySockets by address and decides which datagrams are lost. */
export class MemoryNetwork {
  readonly memory = new MemoryAddresses();
  readonly clock = new ManualClock();
  private readonly sockets = new Map<string, MemorySocket>();
  /** lose, when set, is asked about every datagram; true drops it. */
  lose: ((datagram: Uint8Array, from: string, to: string) => boolean) | null = null;
  delivered = 0;
  lost = 0;
  private nextFd = 1000;
  private readonly keptAddrs = new Float64Array(256);
  private readonly keptLens = new Int32Array(256);

  /** host makes the I/O of one device: a TUN and sockets at ip4 and/or ip6 on port. */
  host(opts: { ip4?: string; ip6?: string; port: number; vnetHeader?: boolean; gso?: boolean; gro?: boolean }): MemoryHost {
    return new MemoryHost(this, opts);
  }

  /** bind registers a socket at ip:port (replacing none: the address must be free). */
  bind(sock: MemorySocket): void {
    const key = sock.addressKey;
    if (this.sockets.has(key)) throw new Error(`memory network: ${key} is taken`);
    this.sockets.set(key, sock);
  }

  unbind(sock: MemorySocket): void {
    if (this.sockets.get(sock.addressKey) === sock) this.sockets.delete(sock.addressKey);
  }

  allocateFd(): number {
    return this.nextFd++;
  }

  /**
   * route delivers one send from sock to the sockaddr `to`: the datagrams
   * lens[i..j) at addrs[i..j) (one, or a GSO run), copied into the
   * destination's queue. Lost ones (no such socket, or the lose hook) are
   * counted and left out.
   */
  route(from: MemorySocket, to: Uint8Array, addrs: Float64Array, lens: Int32Array, i: number, j: number): void {
    const destKey = addressKeyOf(to, 0);
    const dest = this.sockets.get(destKey);
    if (dest === undefined) {
      this.lost += j - i;
      return;
    }
    if (this.lose === null) {
      this.delivered += j - i;
      return dest.arrive(this.memory, addrs, lens, i, j, from.sockaddr);
    }
    let kept = 0;
    for (let d = i; d < j; d++) {
      if (this.lose(this.memory.bytes(addrs[d]!, lens[d]!), from.addressKey, destKey)) {
        this.lost++;
        continue;
      }
      this.keptAddrs[kept] = addrs[d]!;
      this.keptLens[kept++] = lens[d]!;
    }
    this.delivered += kept;
    dest.arrive(this.memory, this.keptAddrs, this.keptLens, 0, kept, from.sockaddr);
  }
}

/** MemoryHost is one device's view of the network: its DataPlaneIo, TUN and sockets. */
export class MemoryHost {
  readonly tun: MemoryTun;
  readonly io: DataPlaneIo;
  readonly v4: WorkerSocket | null;
  readonly v6: WorkerSocket | null;
  private readonly bound = new Map<number, MemorySocket>();
  private readonly poller: MemoryPoller;

  constructor(
    readonly net: MemoryNetwork,
    opts: { ip4?: string; ip6?: string; port: number; vnetHeader?: boolean; gso?: boolean; gro?: boolean },
  ) {
    this.tun = new MemoryTun(net.memory, opts.vnetHeader ?? true);
    this.poller = new MemoryPoller(this.tun);
    const desc = (family: 4 | 6): WorkerSocket => ({ fd: net.allocateFd(), family, gso: opts.gso ?? true, gro: opts.gro ?? true });
    this.v4 = opts.ip4 === undefined ? null : desc(4);
    this.v6 = opts.ip6 === undefined ? null : desc(6);
    const addresses = new Map<number, { ip: Uint8Array; port: number }>();
    if (this.v4 !== null) addresses.set(this.v4.fd, { ip: parseIp(opts.ip4!), port: opts.port });
    if (this.v6 !== null) addresses.set(this.v6.fd, { ip: parseIp(opts.ip6!), port: opts.port });
    this.io = {
      memory: net.memory,
      clock: net.clock,
      tun: this.tun,
      poller: this.poller,
      openSocket: (d: WorkerSocket, landing: DatagramLanding): DatagramSocket => {
        const a = addresses.get(d.fd);
        if (a === undefined) throw new Error(`memory host: socket ${d.fd} is not one of this host's`);
        const sock = new MemorySocket(net, d, a.ip, a.port, landing);
        net.bind(sock);
        this.bound.set(d.fd, sock);
        return sock;
      },
    };
  }

  /** socket returns the bound socket of family 4 or 6 (after the data plane opened it). */
  socket(family: 4 | 6): MemorySocket {
    const d = family === 4 ? this.v4 : this.v6;
    const s = d === null ? undefined : this.bound.get(d.fd);
    if (s === undefined) throw new Error(`memory host: no IPv${family} socket open`);
    return s;
  }

  /** moveTo rebinds the socket of ip's family to ip (the host roamed). */
  moveTo(ip: string): void {
    const addr = parseIp(ip);
    this.socket(addr.length === 4 ? 4 : 6).rebind(addr);
  }

  /** idle reports whether nothing waits to be read by the device. */
  get idle(): boolean {
    return this.poller.peek() === 0;
  }
}

class MemoryPoller implements IoPoller {
  private readonly watched: MemorySocket[] = [];
  constructor(private readonly tun: MemoryTun) {}

  /** wait never blocks: the test's pump decides when time passes. */
  wait(_timeoutMs: number): number {
    return this.peek();
  }

  peek(): number {
    let ready = this.tun.pending > 0 ? READY_TUN : 0;
    for (const s of this.watched) if (s.pending > 0) ready |= s.desc.family === 4 ? READY_V4 : READY_V6;
    return ready;
  }

  watchSocket(socket: DatagramSocket): void {
    this.watched.push(socket as MemorySocket);
  }

  unwatchSocket(socket: DatagramSocket): void {
    const i = this.watched.indexOf(socket as MemorySocket);
    if (i >= 0) this.watched.splice(i, 1);
  }

  close(): void {
    this.watched.length = 0;
  }
}
/** parseIp reads a dotted IPv4 or a full/compressed IPv6 literal. */
export function parseIp(s: string): Uint8Array {
  if (s.includes(".")) {
    const parts = s.split(".").map(Number);
    if (parts.length !== 4 || parts.some((p) => !(p >= 0 && p <= 255))) throw new Error(`bad IPv4 address ${s}`);
    return Uint8Array.from(parts);
  }
  const [head, tail] = s.split("::") as [string, string | undefined];
  const h = head === "" ? [] : head.split(":");
  const t = tail === undefined || tail === "" ? [] : tail.split(":");
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill("0"), ...t];
  if (groups.length !== 8) throw new Error(`bad IPv6 address ${s}`);
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    const v = parseInt(g, 16);
    out[i * 2] = v >> 8;
    out[i * 2 + 1] = v & 0xff;
  });
  return out;
}
