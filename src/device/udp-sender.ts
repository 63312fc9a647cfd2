// Batched UDP send for one outer socket: sendmmsg over messages that each
// gather one or more in-place transport messages with an iovec per datagram,
// so encrypted segments never move. With UDP GSO (dossier 3.4, after
// wireguard-go conn/gso_linux.go coalesceMessages) consecutive datagrams to
// the same endpoint from the same local source with the same size (one
// shorter tail allowed, ≤ 64 per message, ≤ 64 KiB in total) become one
// message with a UDP_SEGMENT cmsg.
// Sticky sources (dossier 4.8, wireguard-go conn/sticky_linux.go): a datagram
// added with a non-empty LocalSource also carries an IP_PKTINFO or
// IPV6_PKTINFO cmsg, so it leaves from the local address (and interface) the
// peer last reached us on. The source is read when the batch is built, so a
// peer whose source changed or was cleared since add() sends with the
// current one. When the kernel refuses a message because of its source (the
// address is no longer ours: EINVAL for IPv6 and ENETUNREACH for IPv4 on
// Linux 6.x, ENODEV when the interface is gone), the source is cleared for
// the peer, counted (stickySourceResets) and the rest of the batch is resent
// without it, as wireguard-go's Linux bind did for EINVAL; routing picks the
// address again until the peer's next packet.
// EIO on a GSO message means the route cannot do it (no TX checksum offload,
// xfrm): GSO is switched off for this socket (one family) for good and the
// rest of the batch is resent without it. Other per-message errors drop that
// message only (counted). The buffers the iovecs point at must stay
// untouched until flush() returns.
import { POLLOUT, SOL_UDP, UDP_SEGMENT } from "../sys/constants.ts";
import { EADDRNOTAVAIL, EAGAIN, EINTR, EINVAL, EIO, ENETUNREACH, ENODEV } from "../sys/errno.ts";
import { errno, rawLibc } from "../sys/libc.ts";
import { LAYOUT, writeCmsgU16, writePollfd, writeU64 } from "../sys/layout.ts";
import { addressOf } from "../sys/msgvec.ts";
import { clearLocalSource, SEND_CONTROL_SIZE, writePktinfoCmsg, type LocalSource } from "../sys/udp.ts";
import { C } from "./shared-stats.ts";

const MM = LAYOUT.mmsghdr.size;
const MSG = LAYOUT.msghdr;
const IOV = LAYOUT.iovec.size;
const CONTROL = SEND_CONTROL_SIZE;

/** GSO_MAX_SEGMENTS is the kernel's UDP_MAX_SEGMENTS (64). */
export const GSO_MAX_SEGMENTS = 64;

export class UdpSender {
  /** gso is whether UDP_SEGMENT may be used on this socket now. */
  gso: boolean;
  /** lastErrno is the errno of the last failed send, for logs. */
  lastErrno = 0;
  /** lastSourceErrno is the errno of the last send refused for its sticky source (then resent without), for logs. */
  lastSourceErrno = 0;
  private readonly maxMessages: number;
  private readonly maxRecords: number;
  private readonly headers: Uint8Array;
  private readonly hv: DataView;
  private readonly iovs: Uint8Array;
  private readonly iv: DataView;
  private readonly controls: Uint8Array;
  private readonly cv: DataView;
  private readonly pollfd = new Uint8Array(8);
  private readonly pv = new DataView(this.pollfd.buffer);
  private readonly headerBase: number;
  private readonly iovBase: number;
  private readonly controlBase: number;
  // Records: one per datagram added since the last flush.
  private readonly recAddr: Float64Array;
  private readonly recLen: Int32Array;
  private readonly recName: Float64Array;
  private readonly recNameLen: Int32Array;
  /** The local source each record was added with (null = routing decides); references only, never copied. */
  private readonly recSrc: (LocalSource | null)[];
  private records = 0;
  // Messages: first record, record count, segment size.
  private readonly msgFirst: Int32Array;
  private readonly msgCount: Int32Array;
  private readonly msgSeg: Int32Array;
  private readonly msgBytes: Int32Array;
  private readonly msgTail: Uint8Array;
  /** Whether message m was built with a pktinfo cmsg. */
  private readonly msgSrc: Uint8Array;
  private messages = 0;
  private readonly maxBytes: number;

  constructor(
    public fd: number,
    readonly family: 4 | 6,
    gso: boolean,
    /** c: the shared counters (shared-stats.ts) this sender adds to. */
    private readonly c: Float64Array,
    maxRecords = 256,
  ) {
    this.gso = gso;
    this.maxRecords = maxRecords;
    this.maxMessages = maxRecords;
    this.headers = new Uint8Array(this.maxMessages * MM);
    this.hv = new DataView(this.headers.buffer);
    this.iovs = new Uint8Array(maxRecords * IOV);
    this.iv = new DataView(this.iovs.buffer);
    this.controls = new Uint8Array(this.maxMessages * CONTROL);
    this.cv = new DataView(this.controls.buffer);
    this.headerBase = addressOf(this.headers);
    this.iovBase = addressOf(this.iovs);
    this.controlBase = addressOf(this.controls);
    this.recAddr = new Float64Array(maxRecords);
    this.recLen = new Int32Array(maxRecords);
    this.recName = new Float64Array(maxRecords);
    this.recNameLen = new Int32Array(maxRecords);
    this.recSrc = new Array<LocalSource | null>(maxRecords).fill(null);
    this.msgFirst = new Int32Array(this.maxMessages);
    this.msgCount = new Int32Array(this.maxMessages);
    this.msgSeg = new Int32Array(this.maxMessages);
    this.msgBytes = new Int32Array(this.maxMessages);
    this.msgTail = new Uint8Array(this.maxMessages);
    this.msgSrc = new Uint8Array(this.maxMessages);
    // IPv4 total length includes the IP header; IPv6 payload length does not.
    this.maxBytes = family === 4 ? 65535 - 20 - 8 : 65535 - 8;
  }

  get pending(): number {
    return this.records;
  }

  /**
   * add queues one datagram of len bytes at raw address dataAddr to the
   * sockaddr at nameAddr (nameLen bytes), from the local source src (null or
   * empty: routing decides; it must stay alive, and is cleared here if the
   * kernel refuses it). Flushes first when full.
   */
  add(dataAddr: number, len: number, nameAddr: number, nameLen: number, src: LocalSource | null = null): void {
    if (this.records === this.maxRecords) this.flush();
    const r = this.records++;
    this.recAddr[r] = dataAddr;
    this.recLen[r] = len;
    this.recName[r] = nameAddr;
    this.recNameLen[r] = nameLen;
    this.recSrc[r] = src;
    const m = this.messages - 1;
    if (
      this.gso &&
      m >= 0 &&
      this.recName[this.msgFirst[m]!] === nameAddr &&
      this.recSrc[this.msgFirst[m]!] === src &&
      this.msgTail[m] === 0 &&
      this.msgCount[m]! < GSO_MAX_SEGMENTS &&
      len <= this.msgSeg[m]! &&
      this.msgBytes[m]! + len <= this.maxBytes
    ) {
      this.msgCount[m]!++;
      this.msgBytes[m]! += len;
      if (len < this.msgSeg[m]!) this.msgTail[m] = 1;
      return;
    }
    const n = this.messages++;
    this.msgFirst[n] = r;
    this.msgCount[n] = 1;
    this.msgSeg[n] = len;
    this.msgBytes[n] = len;
    this.msgTail[n] = 0;
  }

  /** flush sends everything queued; returns the number of datagrams the kernel accepted. */
  flush(): number {
    if (this.records === 0) return 0;
    let accepted = 0;
    let from = 0;
    try {
      for (let i = 0; i < this.messages; i++) this.build(i);
      while (from < this.messages) {
        const r = rawLibc().sendmmsg(this.fd, this.headerBase + from * MM, this.messages - from, 0);
        this.c[C.sendCalls]!++;
        if (r > 0) {
          for (let i = from; i < from + r; i++) {
            accepted += this.msgCount[i]!;
            if (this.msgCount[i]! > 1) {
              this.c[C.gsoBatches]!++;
              this.c[C.gsoDatagrams]! += this.msgCount[i]!;
            }
          }
          this.c[C.sendMessages]! += r;
          from += r;
          continue;
        }
        const e = errno();
        if (e === EINTR) continue;
        if (e === EAGAIN) {
          // Socket buffer full: wait (briefly) for room rather than drop.
          writePollfd(this.pv, 0, this.fd, POLLOUT);
          if (rawLibc().poll(this.pollfd, 1, 100) > 0) continue;
        }
        // A GSO message is first resent as single datagrams (below): EINVAL
        // there can come from GSO itself (segment size above the path MTU on
        // older kernels, no_check_tx), and must not cost a peer its source.
        if (this.msgSrc[from] === 1 && this.msgCount[from] === 1 && (e === EINVAL || e === ENETUNREACH || e === ENODEV || e === EADDRNOTAVAIL)) {
          // The sticky source is not usable any more (the address was
          // removed, the interface is gone): forget it for this peer and
          // resend the rest of the batch, which now builds without it.
          clearLocalSource(this.recSrc[this.msgFirst[from]!]!);
          this.c[C.stickySourceResets]!++;
          this.lastSourceErrno = e;
          for (let m = from; m < this.messages; m++) this.build(m);
          continue;
        }
        this.lastErrno = e;
        if (this.msgCount[from]! > 1) {
          // A GSO message failed: EIO means never again on this socket; other
          // errors (EMSGSIZE after a path MTU drop, EINVAL) only for this batch.
          if (e === EIO && this.gso) {
            this.gso = false;
            this.c[C.gsoDisabledEio]!++;
          }
          this.rebuildWithoutGso(from);
          continue;
        }
        this.c[C.sendErrors]!++;
        from++;
      }
    } finally {
      // Drop the references so a removed peer's source can be collected.
      for (let r = 0; r < this.records; r++) this.recSrc[r] = null;
      this.records = 0;
      this.messages = 0;
    }
    return accepted;
  }

  /** rebuildWithoutGso turns messages [from, end) into one message per datagram. */
  private rebuildWithoutGso(from: number): void {
    const firstRec = this.msgFirst[from]!;
    const n = this.records - firstRec;
    // There are never more messages than records, so this always fits.
    for (let k = 0; k < n; k++) {
      const m = from + k;
      this.msgFirst[m] = firstRec + k;
      this.msgCount[m] = 1;
      this.msgSeg[m] = this.recLen[firstRec + k]!;
      this.msgBytes[m] = this.msgSeg[m]!;
      this.msgTail[m] = 0;
      this.build(m);
    }
    this.messages = from + n;
  }

  private build(m: number): void {
    const first = this.msgFirst[m]!;
    const count = this.msgCount[m]!;
    for (let k = 0; k < count; k++) {
      const r = first + k;
      writeU64(this.iv, r * IOV, this.recAddr[r]!);
      writeU64(this.iv, r * IOV + 8, this.recLen[r]!);
    }
    const o = m * MM;
    const h = this.hv;
    writeU64(h, o + MSG.name, this.recName[first]!);
    h.setUint32(o + MSG.namelen, this.recNameLen[first]!, true);
    writeU64(h, o + MSG.iov, this.iovBase + first * IOV);
    writeU64(h, o + MSG.iovlen, count);
    const cOff = m * CONTROL;
    let clen = count > 1 ? writeCmsgU16(this.cv, cOff, SOL_UDP, UDP_SEGMENT, this.msgSeg[m]!) : 0;
    const src = this.recSrc[first]!;
    // A source of the other family (the peer roamed since add) is not attached.
    const withSrc = src !== null && src.family === this.family;
    if (withSrc) clen += writePktinfoCmsg(this.cv, cOff + clen, src);
    this.msgSrc[m] = withSrc ? 1 : 0;
    writeU64(h, o + MSG.control, clen > 0 ? this.controlBase + cOff : 0);
    writeU64(h, o + MSG.controllen, clen);
    h.setInt32(o + MSG.flags, 0, true);
    h.setUint32(o + LAYOUT.mmsghdr.len, 0, true);
  }
}
