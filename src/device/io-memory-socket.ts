// The sockets of the in-memory network (io-memory.ts): a bound UDP socket
// with a receive queue that merges runs of datagrams as UDP GRO does, the
// batch the data plane reads after a receive, and a sender that coalesces
// as udp-sender.ts does with UDP GSO.
import { sockaddrFamilyAt, sockaddrIpOffset, sockaddrLength, sockaddrPortAt, writeSockaddrIn, writeSockaddrIn6 } from "../sys/layout.ts";
import { copyLocalSource, newLocalSource, type LocalSource } from "../sys/udp.ts";
import type { WorkerSocket } from "./dataplane-messages.ts";
import type { DatagramLanding, DatagramSender, DatagramSocket, ReceivedBatch } from "./io.ts";
import type { MemoryAddresses, MemoryNetwork } from "./io-memory.ts";

const EAFNOSUPPORT = 97;
const STAGING_BYTES = 4 << 20;
const RECORDS_MAX = 256;
/** The kernel's UDP_MAX_SEGMENTS and the largest UDP payload of one GSO send. */
const GSO_SEGMENTS_MAX = 64;
const GSO_BYTES_MAX = 65535 - 8 - 40;
const NAME_STRIDE = 32;

interface InFlight {
  data: Uint8Array;
  /** Segment size when data is several datagrams (GRO), 0 for one. */
  segment: number;
  from: Uint8Array;
  to: LocalSource;
}

/** MemorySocket is a bound UDP socket of the MemoryNetwork. */
export class MemorySocket implements DatagramSocket {
  readonly sender: MemorySender;
  readonly received: MemoryReceived[] = [];
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
    for (let z = 0; z < landing.zones; z++) this.received.push(new MemoryReceived(net.memory, landing.count));
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

  receive(zone: number): number {
    const n = Math.min(this.queue.length, this.landing.count);
    const r = this.received[zone]!;
    const base = this.landing.addr + zone * this.landing.zoneStride;
    for (let i = 0; i < n; i++) {
      const m = this.queue.shift()!;
      const len = Math.min(m.data.length, this.landing.size);
      this.net.memory.bytes(base + i * this.landing.stride, len).set(m.data.subarray(0, len));
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
export function addressKeyOf(b: Uint8Array, off: number): string {
  const family = sockaddrFamilyAt(b, off);
  if (family === 0) return "none";
  const ipOff = off + sockaddrIpOffset(family);
  const ipLen = family === 4 ? 4 : 16;
  let s = "";
  for (let i = 0; i < ipLen; i++) s += b[ipOff + i]!.toString(16).padStart(2, "0");
  return `${s}:${sockaddrPortAt(b, off)}`;
}
