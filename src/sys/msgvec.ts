// Reusable iovec and mmsghdr arrays for readv/writev, sendmsg/recvmsg and
// sendmmsg/recvmmsg. Everything (headers, iovecs, address and control
// buffers, payload slab) is allocated once and pointed at once; per call the
// caller only resets the fields the kernel overwrites. Instances own their
// buffers, so keeping the instance alive keeps every pointer in it valid.

import { ptr } from "bun:ffi";
import { LAYOUT, readU64, writeU64 } from "./layout.ts";

const MM = LAYOUT.mmsghdr.size;
const MSG = LAYOUT.msghdr;
const IOV = LAYOUT.iovec.size;

/** addressOf returns the raw address of buf[off] as a number, for iovecs that point into caller memory. */
export function addressOf(buf: NodeJS.TypedArray, off = 0): number {
  return ptr(buf, off);
}

/**
 * IovecArray is a fixed array of `capacity` iovecs. Entries point at caller
 * memory: the caller must keep those buffers alive while the array is in use.
 */
export class IovecArray {
  readonly capacity: number;
  /** bytes is the iovec array itself, to pass as readv/writev's iov argument. */
  readonly bytes: Uint8Array;
  private readonly view: DataView;

  constructor(capacity: number) {
    this.capacity = capacity;
    this.bytes = new Uint8Array(capacity * IOV);
    this.view = new DataView(this.bytes.buffer);
  }

  /** set points entry i at buf[off, off+len); len defaults to the rest of buf. */
  set(i: number, buf: NodeJS.TypedArray, off = 0, len = buf.byteLength - off): void {
    this.setRaw(i, len === 0 ? 0 : ptr(buf, off), len);
  }

  /** setRaw points entry i at a raw address (from addressOf) and length. */
  setRaw(i: number, address: number, len: number): void {
    writeU64(this.view, i * IOV, address);
    writeU64(this.view, i * IOV + 8, len);
  }

  /** length returns iov_len of entry i. */
  length(i: number): number {
    return readU64(this.view, i * IOV + 8);
  }
}

/** MmsgBatchOptions sizes an MmsgBatch. */
export interface MmsgBatchOptions {
  /** count is the number of messages (mmsghdr entries). */
  count: number;
  /** bufSize is the payload bytes reserved per message. */
  bufSize: number;
  /** controlSize is the control (cmsg) bytes per message, rounded up to 8; default 64. */
  controlSize?: number;
  /** nameSize is the address bytes per message; default 128 (sockaddr_storage). */
  nameSize?: number;
}

/**
 * MmsgBatch is `count` mmsghdrs, each with one iovec over its own slice of a
 * payload slab plus its own address and control buffers, all pre-pointed.
 * For receiving: call prepareRecv(n), then recvmmsg(fd, batch.headers, n),
 * then read msgLen/nameOffset/controlLen. For sending: fill bufs[i] (or point
 * the iovec elsewhere with setPayloadRaw), call setSend for each message, then
 * sendmmsg(fd, batch.headers, n). msghdrAddress(i) serves sendmsg/recvmsg.
 */
export class MmsgBatch {
  readonly count: number;
  readonly bufSize: number;
  readonly controlSize: number;
  readonly nameSize: number;
  /** headers is the mmsghdr array, to pass as sendmmsg/recvmmsg's msgvec. */
  readonly headers: Uint8Array;
  readonly headerView: DataView;
  readonly iovecs: Uint8Array;
  /** names holds message i's sockaddr at nameOffset(i). */
  readonly names: Uint8Array;
  readonly nameView: DataView;
  /** controls holds message i's cmsgs at controlOffset(i). */
  readonly controls: Uint8Array;
  readonly controlView: DataView;
  /** data is the payload slab; bufs[i] is message i's bufSize-byte slice of it. */
  readonly data: Uint8Array;
  readonly bufs: readonly Uint8Array[];
  private readonly iovView: DataView;
  private readonly headerBase: number;

  constructor(opts: MmsgBatchOptions) {
    const { count, bufSize } = opts;
    if (!(count > 0 && bufSize > 0)) throw new RangeError("MmsgBatch: count and bufSize must be positive");
    this.count = count;
    this.bufSize = bufSize;
    this.controlSize = ((opts.controlSize ?? 64) + 7) & ~7;
    this.nameSize = opts.nameSize ?? 128;
    this.headers = new Uint8Array(count * MM);
    this.headerView = new DataView(this.headers.buffer);
    this.iovecs = new Uint8Array(count * IOV);
    this.iovView = new DataView(this.iovecs.buffer);
    // Zero-length arrays have no stable address, so keep at least one byte.
    this.names = new Uint8Array(Math.max(1, count * this.nameSize));
    this.nameView = new DataView(this.names.buffer);
    this.controls = new Uint8Array(Math.max(1, count * this.controlSize));
    this.controlView = new DataView(this.controls.buffer);
    this.data = new Uint8Array(count * bufSize);
    const bufs: Uint8Array[] = [];
    for (let i = 0; i < count; i++) bufs.push(this.data.subarray(i * bufSize, (i + 1) * bufSize));
    this.bufs = bufs;

    this.headerBase = ptr(this.headers);
    const iovBase = ptr(this.iovecs);
    const nameBase = ptr(this.names);
    const controlBase = ptr(this.controls);
    const dataBase = ptr(this.data);
    const h = this.headerView;
    for (let i = 0; i < count; i++) {
      writeU64(this.iovView, i * IOV, dataBase + i * bufSize);
      writeU64(this.iovView, i * IOV + 8, bufSize);
      const o = i * MM;
      writeU64(h, o + MSG.name, this.nameSize > 0 ? nameBase + i * this.nameSize : 0);
      writeU64(h, o + MSG.iov, iovBase + i * IOV);
      writeU64(h, o + MSG.iovlen, 1);
      writeU64(h, o + MSG.control, this.controlSize > 0 ? controlBase + i * this.controlSize : 0);
    }
    this.prepareRecv(count);
  }

  /**
   * prepareRecv readies the first n messages for recvmmsg: restores
   * msg_namelen, msg_controllen and iov_len (which a previous call or setSend
   * changed) and clears msg_flags and msg_len.
   */
  prepareRecv(n: number): void {
    const h = this.headerView;
    for (let i = 0; i < n; i++) {
      const o = i * MM;
      h.setUint32(o + MSG.namelen, this.nameSize, true);
      writeU64(h, o + MSG.controllen, this.controlSize);
      h.setInt32(o + MSG.flags, 0, true);
      h.setUint32(o + LAYOUT.mmsghdr.len, 0, true);
      writeU64(this.iovView, i * IOV + 8, this.bufSize);
    }
  }

  /**
   * setSend sets message i to send len payload bytes from its iovec, to the
   * nameLen-byte address at nameOffset(i) (0 = connected socket), with
   * controlLen bytes of cmsgs at controlOffset(i) (0 = none).
   */
  setSend(i: number, len: number, nameLen: number, controlLen: number): void {
    const o = i * MM;
    const h = this.headerView;
    h.setUint32(o + MSG.namelen, nameLen, true);
    writeU64(h, o + MSG.controllen, controlLen);
    h.setInt32(o + MSG.flags, 0, true);
    writeU64(this.iovView, i * IOV + 8, len);
  }

  /** setPayloadRaw points message i's iovec at caller memory (address from addressOf); the caller keeps it alive. */
  setPayloadRaw(i: number, address: number, len: number): void {
    writeU64(this.iovView, i * IOV, address);
    writeU64(this.iovView, i * IOV + 8, len);
  }

  /** resetPayload points message i's iovec back at bufs[i]. */
  resetPayload(i: number): void {
    writeU64(this.iovView, i * IOV, ptr(this.data, i * this.bufSize));
    writeU64(this.iovView, i * IOV + 8, this.bufSize);
  }

  /** msghdrAddress returns the address of message i's msghdr, for sendmsg/recvmsg. */
  msghdrAddress(i: number): number {
    return this.headerBase + i * MM;
  }

  /** msgLen returns msg_len of message i (bytes received or sent by the last *mmsg call). */
  msgLen(i: number): number {
    return this.headerView.getUint32(i * MM + LAYOUT.mmsghdr.len, true);
  }

  /** nameLen returns msg_namelen of message i as the kernel left it. */
  nameLen(i: number): number {
    return this.headerView.getUint32(i * MM + MSG.namelen, true);
  }

  /** controlLen returns msg_controllen of message i as the kernel left it. */
  controlLen(i: number): number {
    return readU64(this.headerView, i * MM + MSG.controllen);
  }

  /** flags returns msg_flags of message i (MSG_TRUNC, MSG_CTRUNC, ...). */
  flags(i: number): number {
    return this.headerView.getInt32(i * MM + MSG.flags, true);
  }

  /** nameOffset is the byte offset of message i's address in names/nameView. */
  nameOffset(i: number): number {
    return i * this.nameSize;
  }

  /** controlOffset is the byte offset of message i's control data in controls/controlView. */
  controlOffset(i: number): number {
    return i * this.controlSize;
  }
}
