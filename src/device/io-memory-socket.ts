// The sockets of the in-memory network (io-memory.ts): a bound UDP socket
// with a receive queue that merges runs of datagrams as UDP GRO does, the
// batch the data plane reads after a receive, and a sender that coalesces
// as udp-sender.ts does with UDP GSO. Like the kernel, a datagram is copied
// once on each side (out of the sender's slab into the receiver's queue on
// flush, out of the queue into the landing zone on receive), into memory
// allocated once: bench/pipeline.ts times the data plane on these sockets,
// and a fake that allocates and copies more than the kernel would hide what
// the data plane itself costs.
import { sockaddrFamilyAt, sockaddrIpOffset, sockaddrLength, sockaddrPortAt, writeSockaddrIn, writeSockaddrIn6 } from "../sys/layout.ts";
import { copyLocalSource, newLocalSource, type LocalSource } from "../sys/udp.ts";
import type { WorkerSocket } from "./dataplane-messages.ts";
import type { DatagramLanding, DatagramSender, DatagramSocket, ReceivedBatch } from "./io.ts";
import type { MemoryAddresses, MemoryNetwork } from "./io-memory.ts";

const EAFNOSUPPORT = 97;
const RECORDS_MAX = 256;
/** The kernel's UDP_MAX_SEGMENTS and the largest UDP payload of one GSO send. */
const GSO_SEGMENTS_MAX = 64;
const GSO_BYTES_MAX = 65535 - 8 - 40;
const NAME_STRIDE = 32;
/** A socket's receive queue: bytes (a ring) and messages (what is beyond is lost, as a full socket buffer drops). */
const QUEUE_BYTES = 16 << 20;
const QUEUE_MESSAGES = 4096;

/** MemorySocket is a bound UDP socket of the MemoryNetwork. */
export class MemorySocket implements DatagramSocket {
  readonly sender: MemorySender;
  readonly received: MemoryReceived[] = [];
  private readonly ring = new Uint8Array(QUEUE_BYTES);
  private ringHead = 0;
  private ringUsed = 0;
  /** Queued messages, a ring of QUEUE_MESSAGES: start in ring, length, GRO segment size (0: one datagram), sender. */
  private readonly qStart = new Int32Array(QUEUE_MESSAGES);
  private readonly qLen = new Int32Array(QUEUE_MESSAGES);
  private readonly qSegment = new Int32Array(QUEUE_MESSAGES);
  private readonly qFrom = new Uint8Array(QUEUE_MESSAGES * NAME_STRIDE);
  private qFirst = 0;
  private qCount = 0;
  sockaddr: Uint8Array;
  addressKey: string;
  private readonly local: LocalSource = newLocalSource();
  /** Messages and datagrams that arrived, and those dropped because the queue was full, for tests of the shapes. */
  messagesIn = 0;
  datagramsIn = 0;
  overflows = 0;

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
    return this.qCount;
  }

  rebind(ip: Uint8Array): void {
    this.net.unbind(this);
    this.sockaddr = sockaddrOf(ip, this.port);
    this.addressKey = addressKeyOf(this.sockaddr, 0);
    this.setLocal(ip);
    this.net.bind(this);
  }

  /**
   * arrive queues the datagrams lens[i..j) found at addrs[i..j) in memory,
   * sent from the sockaddr `from`, as GRO would merge them: a run of
   * equal-sized datagrams with at most one shorter tail, ≤ 64, fitting a
   * landing slot, becomes one message with that segment size.
   */
  arrive(memory: MemoryAddresses, addrs: Float64Array, lens: Int32Array, i: number, j: number, from: Uint8Array): void {
    this.datagramsIn += j - i;
    while (i < j) {
      let k = i + 1;
      const size = lens[i]!;
      let bytes = size;
      if (this.desc.gro) {
        while (k < j && k - i < GSO_SEGMENTS_MAX && lens[k - 1] === size && lens[k]! <= size && bytes + lens[k]! <= this.landing.size) {
          bytes += lens[k]!;
          k++;
        }
      }
      const at = this.reserve(bytes);
      if (at < 0) {
        this.overflows += k - i;
      } else {
        let p = at;
        for (let d = i; d < k; d++) {
          memory.copyOut(addrs[d]!, lens[d]!, this.ring, p);
          p += lens[d]!;
        }
        this.enqueue(at, bytes, k - i > 1 ? size : 0, from);
      }
      i = k;
    }
  }

  receive(zone: number): number {
    const n = Math.min(this.qCount, this.landing.count);
    const r = this.received[zone]!;
    const base = this.landing.addr + zone * this.landing.zoneStride;
    const memory = this.net.memory;
    for (let i = 0; i < n; i++) {
      const q = this.qFirst;
      const len = this.qLen[q]!;
      const kept = Math.min(len, this.landing.size);
      memory.copyIn(this.ring, this.qStart[q]!, kept, base + i * this.landing.stride);
      r.fill(i, kept, len > this.landing.size, this.qSegment[q]!, this.qFrom, q * NAME_STRIDE, this.local);
      this.qFirst = (q + 1) % QUEUE_MESSAGES;
      this.qCount--;
      this.ringUsed -= len;
      this.messagesIn++;
    }
    if (this.qCount === 0) {
      this.ringHead = 0;
      this.ringUsed = 0;
    }
    return n;
  }

  close(): void {
    this.net.unbind(this);
  }

  /** reserve finds bytes of contiguous room in the ring (wrapping to its start when the end is short), or -1 when full. */
  private reserve(bytes: number): number {
    if (this.qCount === QUEUE_MESSAGES || this.ringUsed + bytes > QUEUE_BYTES) return -1;
    if (this.ringHead + bytes > QUEUE_BYTES) {
      // The tail of the ring is wasted until the queue drains past it.
      if (this.qCount > 0 && this.qStart[this.qFirst]! < bytes) return -1;
      this.ringUsed += QUEUE_BYTES - this.ringHead;
      this.ringHead = 0;
    }
    const at = this.ringHead;
    this.ringHead += bytes;
    this.ringUsed += bytes;
    return at;
  }

  private enqueue(at: number, len: number, segment: number, from: Uint8Array): void {
    const q = (this.qFirst + this.qCount) % QUEUE_MESSAGES;
    this.qStart[q] = at;
    this.qLen[q] = len;
    this.qSegment[q] = segment;
    this.qFrom.fill(0, q * NAME_STRIDE, (q + 1) * NAME_STRIDE);
    this.qFrom.set(from, q * NAME_STRIDE);
    this.qCount++;
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

  fill(i: number, len: number, truncated: boolean, segment: number, names: Uint8Array, nameOff: number, local: LocalSource): void {
    this.lens[i] = len;
    this.trunc[i] = truncated ? 1 : 0;
    this.segs[i] = segment;
    for (let b = 0; b < NAME_STRIDE; b++) this.names[i * NAME_STRIDE + b] = names[nameOff + b]!;
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

/**
 * MemorySender batches like udp-sender.ts: add only records where each
 * datagram is (its memory stays untouched until flush, the DatagramSender
 * contract), and flush hands each GSO run to the network, which copies it
 * straight into the receiving socket's queue.
 */
class MemorySender implements DatagramSender {
  gso: boolean;
  lastErrno = 0;
  lastSourceErrno = 0;
  private readonly recAddr = new Float64Array(RECORDS_MAX);
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
    if (this.records === RECORDS_MAX) this.flush();
    const r = this.records++;
    this.recAddr[r] = dataAddr;
    this.recLen[r] = len;
    this.recName[r] = nameAddr;
    this.recNameLen[r] = nameLen;
    this.recSrc[r] = src;
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
        this.net.route(this.sock, name, this.recAddr, this.recLen, i, j);
        this.messagesOut++;
        this.datagramsOut += j - i;
        sent += j - i;
      }
      i = j;
    }
    this.recSrc.fill(null, 0, n);
    this.records = 0;
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

/** addressKeyOf names the sockaddr at b[off] as "ip:port" (the ip as numbers) for the network's table. */
export function addressKeyOf(b: Uint8Array, off: number): string {
  const family = sockaddrFamilyAt(b, off);
  if (family === 0) return "none";
  const ipOff = off + sockaddrIpOffset(family);
  const port = sockaddrPortAt(b, off);
  if (family === 4) return `${((b[ipOff]! << 24) | (b[ipOff + 1]! << 16) | (b[ipOff + 2]! << 8) | b[ipOff + 3]!) >>> 0}:${port}`;
  let s = "6";
  for (let i = 0; i < 16; i += 4) s += `.${((b[ipOff + i]! << 24) | (b[ipOff + i + 1]! << 16) | (b[ipOff + i + 2]! << 8) | b[ipOff + i + 3]!) >>> 0}`;
  return `${s}:${port}`;
}
