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
import { sockaddrFamilyAt, sockaddrIpOffset, sockaddrLength, sockaddrPortAt, writeSockaddrIn, writeSockaddrIn6 } from "../sys/layout.ts";
import { copyLocalSource, newLocalSource, type LocalSource } from "../sys/udp.ts";
import type { WorkerSocket } from "./dataplane-messages.ts";
import {
  READY_TUN,
  READY_V4,
  READY_V6,
  TUN_WOULD_BLOCK,
  type DataPlaneIo,
  type DatagramLanding,
  type DatagramSender,
  type DatagramSocket,
  type IoClock,
  type IoMemory,
  type IoPoller,
  type ReceivedBatch,
  type TunQueue,
} from "./io.ts";

const OFFSET_SPAN = 2 ** 32;
const EAFNOSUPPORT = 97;
const STAGING_BYTES = 4 << 20;
const RECORDS_MAX = 256;
/** The kernel's UDP_MAX_SEGMENTS and the largest UDP payload of one GSO send. */
const GSO_SEGMENTS_MAX = 64;
const GSO_BYTES_MAX = 65535 - 8 - 40;
const NAME_STRIDE = 32;

/** MemoryAddresses hands out resolvable handles for buffers. */
export class MemoryAddresses implements IoMemory {
  private readonly ids = new WeakMap<ArrayBufferLike, number>();
  private readonly buffers: ArrayBufferLike[] = [];

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
    this.memory.bytes(addr, n).set(p.subarray(0, n));
    return n;
  }

  write(addr: number, len: number): number {
    this.writtenBytes += len;
    if (this.keepWrites) this.written.push(this.memory.bytes(addr, len).slice());
    return len;
  }

  /** take returns and forgets what the device wrote so far. */
  take(): Uint8Array[] {
    return this.written.splice(0);
  }
}

interface InFlight {
  data: Uint8Array;
  /** Segment size when data is several datagrams (GRO), 0 for one. */
  segment: number;
  from: Uint8Array;
  to: LocalSource;
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

  /** route delivers one send (a datagram, or a GSO run of segments) from sock to the sockaddr `to`. */
  route(from: MemorySocket, to: Uint8Array, data: Uint8Array, segment: number): void {
    const dest = this.sockets.get(addressKeyOf(to, 0));
    const fromKey = from.addressKey;
    const destKey = addressKeyOf(to, 0);
    const size = segment > 0 ? segment : data.length;
    const kept: Uint8Array[] = [];
    for (let p = 0; p < data.length; p += size) {
      const d = data.subarray(p, Math.min(p + size, data.length));
      if (dest === undefined || (this.lose !== null && this.lose(d, fromKey, destKey))) this.lost++;
      else kept.push(d);
    }
    if (dest === undefined || kept.length === 0) return;
    this.delivered += kept.length;
    dest.arrive(kept, from.sockaddr);
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

/** MemorySocket is a bound UDP socket of the MemoryNetwork. */
export class MemorySocket implements DatagramSocket {
  readonly sender: MemorySender;
  readonly received: MemoryReceived;
  private readonly queue: InFlight[] = [];
  sockaddr: Uint8Array;
  addressKey: string;
  private readonly local: LocalSource = newLocalSource();
  /** Messages and datagrams that arrived, for tests of the shapes. */
  messagesIn = 0;
  datagramsIn = 0;

  constructor(
    private readonly net: MemoryNetwork,
    readonly desc: WorkerSocket,
    ip: Uint8Array,
    readonly port: number,
    private readonly landing: DatagramLanding,
  ) {
    this.sockaddr = sockaddrOf(ip, port);
    this.addressKey = addressKeyOf(this.sockaddr, 0);
    this.setLocal(ip);
    this.sender = new MemorySender(net, this);
    this.received = new MemoryReceived(net.memory, landing.count);
  }

  get pending(): number {
    return this.queue.length;
  }

  rebind(ip: Uint8Array): void {
    this.net.unbind(this);
    this.sockaddr = sockaddrOf(ip, this.port);
    this.addressKey = addressKeyOf(this.sockaddr, 0);
    this.setLocal(ip);
    this.net.bind(this);
  }

  /** arrive queues datagrams sent to us from the sockaddr `from`, as GRO would merge them. */
  arrive(datagrams: Uint8Array[], from: Uint8Array): void {
    this.datagramsIn += datagrams.length;
    let i = 0;
    while (i < datagrams.length) {
      // GRO merges a run of equal-sized datagrams (one shorter tail) from one source.
      let j = i + 1;
      const size = datagrams[i]!.length;
      let bytes = size;
      if (this.desc.gro) {
        while (
          j < datagrams.length &&
          j - i < GSO_SEGMENTS_MAX &&
          datagrams[j - 1]!.length === size &&
          datagrams[j]!.length <= size &&
          bytes + datagrams[j]!.length <= this.landing.size
        ) {
          bytes += datagrams[j]!.length;
          j++;
        }
      }
      const data = new Uint8Array(bytes);
      let at = 0;
      for (let k = i; k < j; k++) {
        data.set(datagrams[k]!, at);
        at += datagrams[k]!.length;
      }
      this.queue.push({ data, segment: j - i > 1 ? size : 0, from: from.slice(), to: this.local });
      i = j;
    }
  }

  receive(): number {
    const n = Math.min(this.queue.length, this.landing.count);
    const r = this.received;
    for (let i = 0; i < n; i++) {
      const m = this.queue.shift()!;
      const len = Math.min(m.data.length, this.landing.size);
      this.net.memory.bytes(this.landing.addr + i * this.landing.stride, len).set(m.data.subarray(0, len));
      r.fill(i, len, m.data.length > this.landing.size, m.segment, m.from, m.to);
      this.messagesIn++;
    }
    return n;
  }

  close(): void {
    this.net.unbind(this);
  }

  private setLocal(ip: Uint8Array): void {
    this.local.family = ip.length === 4 ? 4 : 6;
    this.local.ifindex = 1;
    this.local.addr.fill(0);
    this.local.addr.set(ip);
  }
}

class MemoryReceived implements ReceivedBatch {
  readonly names: Uint8Array;
  readonly namesAddr: number;
  private readonly lens: Int32Array;
  private readonly trunc: Uint8Array;
  private readonly segs: Int32Array;
  private readonly locals: LocalSource[];

  constructor(memory: MemoryAddresses, count: number) {
    this.names = new Uint8Array(count * NAME_STRIDE);
    this.namesAddr = memory.addressOf(this.names);
    this.lens = new Int32Array(count);
    this.trunc = new Uint8Array(count);
    this.segs = new Int32Array(count);
    this.locals = Array.from({ length: count }, newLocalSource);
  }

  fill(i: number, len: number, truncated: boolean, segment: number, from: Uint8Array, local: LocalSource): void {
    this.lens[i] = len;
    this.trunc[i] = truncated ? 1 : 0;
    this.segs[i] = segment;
    this.names.fill(0, i * NAME_STRIDE, (i + 1) * NAME_STRIDE);
    this.names.set(from, i * NAME_STRIDE);
    copyLocalSource(this.locals[i]!, local);
  }

  length(i: number): number {
    return this.lens[i]!;
  }
  truncated(i: number): boolean {
    return this.trunc[i] === 1;
  }
  nameOffset(i: number): number {
    return i * NAME_STRIDE;
  }
  segmentSize(i: number): number {
    return this.segs[i]!;
  }
  localSource(i: number, out: LocalSource): boolean {
    copyLocalSource(out, this.locals[i]!);
    return true;
  }
}

/** MemorySender batches like udp-sender.ts and hands each message to the network on flush. */
class MemorySender implements DatagramSender {
  gso: boolean;
  lastErrno = 0;
  lastSourceErrno = 0;
  /** Added datagrams are copied here at once: the caller may reuse its buffer after flush. */
  private readonly staging = new Uint8Array(STAGING_BYTES);
  private staged = 0;
  private readonly recOff = new Int32Array(RECORDS_MAX);
  private readonly recLen = new Int32Array(RECORDS_MAX);
  private readonly recName = new Float64Array(RECORDS_MAX);
  private readonly recNameLen = new Int32Array(RECORDS_MAX);
  private readonly recSrc: (LocalSource | null)[] = new Array(RECORDS_MAX).fill(null);
  private records = 0;
  /** Sends made (one per GSO run or datagram), for tests of the shapes. */
  messagesOut = 0;
  datagramsOut = 0;

  constructor(
    private readonly net: MemoryNetwork,
    private readonly sock: MemorySocket,
  ) {
    this.gso = sock.desc.gso;
  }

  add(dataAddr: number, len: number, nameAddr: number, nameLen: number, src: LocalSource | null): void {
    if (this.records === RECORDS_MAX || this.staged + len > STAGING_BYTES) this.flush();
    const r = this.records++;
    this.staging.set(this.net.memory.bytes(dataAddr, len), this.staged);
    this.recOff[r] = this.staged;
    this.recLen[r] = len;
    this.recName[r] = nameAddr;
    this.recNameLen[r] = nameLen;
    this.recSrc[r] = src;
    this.staged += len;
  }

  flush(): number {
    const n = this.records;
    let sent = 0;
    let i = 0;
    while (i < n) {
      const size = this.recLen[i]!;
      let j = i + 1;
      let bytes = size;
      if (this.gso) {
        while (
          j < n &&
          j - i < GSO_SEGMENTS_MAX &&
          this.recName[j] === this.recName[i] &&
          this.recSrc[j] === this.recSrc[i] &&
          this.recLen[j - 1] === size &&
          this.recLen[j]! <= size &&
          bytes + this.recLen[j]! <= GSO_BYTES_MAX
        ) {
          bytes += this.recLen[j]!;
          j++;
        }
      }
      const name = this.net.memory.bytes(this.recName[i]!, this.recNameLen[i]!);
      if (sockaddrFamilyAt(name, 0) !== this.sock.desc.family) {
        this.lastErrno = EAFNOSUPPORT;
      } else {
        // Records of a run are contiguous in staging: the run is one view.
        this.net.route(this.sock, name, this.staging.subarray(this.recOff[i]!, this.recOff[i]! + bytes), j - i > 1 ? size : 0);
        this.messagesOut++;
        this.datagramsOut += j - i;
        sent += j - i;
      }
      i = j;
    }
    this.recSrc.fill(null, 0, n);
    this.records = 0;
    this.staged = 0;
    return sent;
  }
}

function sockaddrOf(ip: Uint8Array, port: number): Uint8Array {
  const family = ip.length === 4 ? 4 : 6;
  const b = new Uint8Array(sockaddrLength(family));
  const v = new DataView(b.buffer);
  if (family === 4) writeSockaddrIn(v, 0, ip, port);
  else writeSockaddrIn6(v, 0, ip, port);
  return b;
}

/** addressKeyOf names the sockaddr at b[off] as "ip:port" (hex ip) for the network's table. */
function addressKeyOf(b: Uint8Array, off: number): string {
  const family = sockaddrFamilyAt(b, off);
  if (family === 0) return "none";
  const ipOff = off + sockaddrIpOffset(family);
  const ipLen = family === 4 ? 4 : 16;
  let s = "";
  for (let i = 0; i < ipLen; i++) s += b[ipOff + i]!.toString(16).padStart(2, "0");
  return `${s}:${sockaddrPortAt(b, off)}`;
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
