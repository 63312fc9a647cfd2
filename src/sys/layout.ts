// Byte layouts of the kernel structs src/sys passes to libc, and codecs that
// fill them in caller-owned DataViews without allocating. Offsets are for LP64
// Linux (x86_64, aarch64); the only difference between the two is epoll_event,
// which glibc packs to 12 bytes on x86_64 only (__EPOLL_PACKED).
// All multi-byte fields are host (little) endian except sockaddr ports and
// addresses, which are network order.

/** Arch is a Node-style process.arch value that has a layout table. */
export type Arch = "x64" | "arm64";

/** StructLayout holds byte offsets and sizes (named `size`) of each struct. */
export interface StructLayout {
  readonly arch: Arch;
  readonly ifreq: { readonly size: number; readonly name: number; readonly nameSize: number; readonly flags: number; readonly ivalue: number };
  readonly iovec: { readonly size: number; readonly base: number; readonly len: number };
  readonly msghdr: {
    readonly size: number;
    readonly name: number;
    readonly namelen: number;
    readonly iov: number;
    readonly iovlen: number;
    readonly control: number;
    readonly controllen: number;
    readonly flags: number;
  };
  readonly mmsghdr: { readonly size: number; readonly hdr: number; readonly len: number };
  readonly cmsghdr: { readonly size: number; readonly len: number; readonly level: number; readonly type: number; readonly data: number };
  readonly sockaddrIn: { readonly size: number; readonly family: number; readonly port: number; readonly addr: number; readonly zero: number };
  readonly sockaddrIn6: {
    readonly size: number;
    readonly family: number;
    readonly port: number;
    readonly flowinfo: number;
    readonly addr: number;
    readonly scopeId: number;
  };
  readonly sockaddrStorage: { readonly size: number };
  readonly inPktinfo: { readonly size: number; readonly ifindex: number; readonly specDst: number; readonly addr: number };
  readonly in6Pktinfo: { readonly size: number; readonly addr: number; readonly ifindex: number };
  readonly pollfd: { readonly size: number; readonly fd: number; readonly events: number; readonly revents: number };
  readonly epollEvent: { readonly size: number; readonly events: number; readonly data: number };
}

/** structLayout returns the layout table for arch; throws for arches we have not measured. */
export function structLayout(arch: string): StructLayout {
  if (arch !== "x64" && arch !== "arm64") throw new Error(`src/sys: no struct layout for arch ${arch}`);
  return Object.freeze({
    arch,
    ifreq: { size: 40, name: 0, nameSize: 16, flags: 16, ivalue: 16 },
    iovec: { size: 16, base: 0, len: 8 },
    msghdr: { size: 56, name: 0, namelen: 8, iov: 16, iovlen: 24, control: 32, controllen: 40, flags: 48 },
    mmsghdr: { size: 64, hdr: 0, len: 56 },
    cmsghdr: { size: 16, len: 0, level: 8, type: 12, data: 16 },
    sockaddrIn: { size: 16, family: 0, port: 2, addr: 4, zero: 8 },
    sockaddrIn6: { size: 28, family: 0, port: 2, flowinfo: 4, addr: 8, scopeId: 24 },
    sockaddrStorage: { size: 128 },
    inPktinfo: { size: 12, ifindex: 0, specDst: 4, addr: 8 },
    in6Pktinfo: { size: 20, addr: 0, ifindex: 16 },
    pollfd: { size: 8, fd: 0, events: 4, revents: 6 },
    epollEvent: arch === "x64" ? { size: 12, events: 0, data: 4 } : { size: 16, events: 0, data: 8 },
  } as const);
}

/** LAYOUT is the table for the running process; importing on another arch throws. */
export const LAYOUT: StructLayout = structLayout(process.arch);

/** CMSG_ALIGN rounds n up to the 8-byte alignment of cmsg headers and data on LP64. */
export function CMSG_ALIGN(n: number): number {
  return (n + 7) & ~7;
}

/** CMSG_LEN is the cmsg_len value for n data bytes (header + n, no trailing pad). */
export function CMSG_LEN(n: number): number {
  return 16 + n;
}

/** CMSG_SPACE is the control-buffer bytes one cmsg with n data bytes occupies. */
export function CMSG_SPACE(n: number): number {
  return 16 + CMSG_ALIGN(n);
}

const TWO_32 = 0x1_0000_0000;

/**
 * writeU64 stores a non-negative integer < 2^53 (a pointer or size_t) as a
 * little-endian u64 without allocating the BigInt setBigUint64 would need.
 */
export function writeU64(view: DataView, off: number, value: number): void {
  view.setUint32(off, value >>> 0, true);
  view.setUint32(off + 4, Math.floor(value / TWO_32), true);
}

/** readU64 loads a little-endian u64 as a number; exact below 2^53. */
export function readU64(view: DataView, off: number): number {
  return view.getUint32(off + 4, true) * TWO_32 + view.getUint32(off, true);
}

// ---- ifreq -------------------------------------------------------------

/**
 * writeIfreqName zeroes the 40-byte ifreq at off and stores name NUL-terminated.
 * Throws RangeError for names the kernel would reject (empty, > 15 bytes, or containing '/', ':' or whitespace).
 */
export function writeIfreqName(view: DataView, off: number, name: string): void {
  const bytes = new TextEncoder().encode(name);
  if (bytes.length === 0 || bytes.length >= 16 || /[\s/:\0]/.test(name)) {
    throw new RangeError(`invalid interface name ${JSON.stringify(name)} (1..15 bytes, no '/', ':' or spaces)`);
  }
  for (let i = 0; i < 40; i++) view.setUint8(off + i, 0);
  for (let i = 0; i < bytes.length; i++) view.setUint8(off + i, bytes[i]!);
}

/** readIfreqName returns the NUL-terminated name at off. */
export function readIfreqName(view: DataView, off: number): string {
  let end = 0;
  while (end < 16 && view.getUint8(off + end) !== 0) end++;
  return new TextDecoder().decode(new Uint8Array(view.buffer, view.byteOffset + off, end));
}

/** writeIfreqFlags stores ifr_flags (a short; only the low 16 bits are kept). */
export function writeIfreqFlags(view: DataView, off: number, flags: number): void {
  view.setUint16(off + 16, flags & 0xffff, true);
}

/** readIfreqFlags loads ifr_flags as an unsigned 16-bit value. */
export function readIfreqFlags(view: DataView, off: number): number {
  return view.getUint16(off + 16, true);
}

/** writeIfreqInt stores the int member of the union (ifr_mtu, ifr_ifindex). */
export function writeIfreqInt(view: DataView, off: number, value: number): void {
  view.setInt32(off + 16, value, true);
}

/** readIfreqInt loads the int member of the union (ifr_mtu, ifr_ifindex). */
export function readIfreqInt(view: DataView, off: number): number {
  return view.getInt32(off + 16, true);
}

// ---- sockaddr ----------------------------------------------------------

/** SockAddr is an IPv4 (4-byte addr) or IPv6 (16-byte addr) socket address. Ports are host numbers. */
export type SockAddr =
  | { readonly family: 4; readonly addr: Uint8Array; readonly port: number }
  | { readonly family: 6; readonly addr: Uint8Array; readonly port: number; readonly flowinfo?: number; readonly scopeId?: number };

/** writeSockaddrIn stores a 16-byte sockaddr_in at off and returns its length (16). addr must be 4 bytes. */
export function writeSockaddrIn(view: DataView, off: number, addr: Uint8Array, port: number): number {
  view.setUint16(off, 2, true);
  view.setUint16(off + 2, port, false);
  for (let i = 0; i < 4; i++) view.setUint8(off + 4 + i, addr[i]!);
  view.setUint32(off + 8, 0, true);
  view.setUint32(off + 12, 0, true);
  return 16;
}

/** writeSockaddrIn6 stores a 28-byte sockaddr_in6 at off and returns its length (28). addr must be 16 bytes. */
export function writeSockaddrIn6(view: DataView, off: number, addr: Uint8Array, port: number, flowinfo = 0, scopeId = 0): number {
  view.setUint16(off, 10, true);
  view.setUint16(off + 2, port, false);
  view.setUint32(off + 4, flowinfo, false);
  for (let i = 0; i < 16; i++) view.setUint8(off + 8 + i, addr[i]!);
  view.setUint32(off + 24, scopeId, true);
  return 28;
}

/** writeSockaddr stores a as sockaddr_in or sockaddr_in6 and returns the length to pass as socklen_t. */
export function writeSockaddr(view: DataView, off: number, a: SockAddr): number {
  return a.family === 4 ? writeSockaddrIn(view, off, a.addr, a.port) : writeSockaddrIn6(view, off, a.addr, a.port, a.flowinfo ?? 0, a.scopeId ?? 0);
}

/** sockaddrFamily returns 4, 6, or 0 for any other sa_family at off. */
export function sockaddrFamily(view: DataView, off: number): 0 | 4 | 6 {
  const f = view.getUint16(off, true);
  return f === 2 ? 4 : f === 10 ? 6 : 0;
}

/** sockaddrPort returns the port (host order) of a sockaddr_in/in6 at off. */
export function sockaddrPort(view: DataView, off: number): number {
  return view.getUint16(off + 2, false);
}

/**
 * The same reads on a byte array (recvmmsg's name buffers, our own stored
 * endpoints), without a DataView: family 4 or 6 (0 for any other sa_family),
 * the port in host order, where the address starts and how long it is.
 */
export function sockaddrFamilyAt(b: Uint8Array, off: number): 0 | 4 | 6 {
  const f = b[off]! | (b[off + 1]! << 8);
  return f === 2 ? 4 : f === 10 ? 6 : 0;
}

export function sockaddrPortAt(b: Uint8Array, off: number): number {
  return (b[off + 2]! << 8) | b[off + 3]!;
}

/** sockaddrIpOffset is where the address starts in a sockaddr_in (4) or sockaddr_in6 (8). */
export function sockaddrIpOffset(family: 4 | 6): number {
  return family === 4 ? 4 : 8;
}

/** sockaddrLength is the socklen_t of a sockaddr_in (16) or sockaddr_in6 (28). */
export function sockaddrLength(family: 4 | 6): number {
  return family === 4 ? 16 : 28;
}

/** sockaddrLengthAt is the socklen_t of the sockaddr at b[off] (an unknown family counts as IPv4). */
export function sockaddrLengthAt(b: Uint8Array, off: number): number {
  return sockaddrFamilyAt(b, off) === 6 ? 28 : 16;
}

/** readSockaddr decodes a sockaddr_in/in6 at off into a fresh SockAddr, or null for other families. Allocates. */
export function readSockaddr(view: DataView, off: number): SockAddr | null {
  const family = sockaddrFamily(view, off);
  const port = sockaddrPort(view, off);
  const base = view.byteOffset + off;
  if (family === 4) return { family, port, addr: new Uint8Array(view.buffer.slice(base + 4, base + 8)) };
  if (family === 6) {
    return {
      family,
      port,
      addr: new Uint8Array(view.buffer.slice(base + 8, base + 24)),
      flowinfo: view.getUint32(off + 4, false),
      scopeId: view.getUint32(off + 24, true),
    };
  }
  return null;
}

// ---- cmsg --------------------------------------------------------------

/** writeCmsgHeader stores a cmsghdr for dataLen bytes at off and returns the data offset. */
export function writeCmsgHeader(view: DataView, off: number, level: number, type: number, dataLen: number): number {
  writeU64(view, off, CMSG_LEN(dataLen));
  view.setInt32(off + 8, level, true);
  view.setInt32(off + 12, type, true);
  return off + 16;
}

/**
 * writeCmsgU16 stores a cmsg carrying one u16 (UDP_SEGMENT's gso_size; the
 * kernel insists on cmsg_len == CMSG_LEN(2)) and returns CMSG_SPACE(2) = 24.
 */
export function writeCmsgU16(view: DataView, off: number, level: number, type: number, value: number): number {
  const data = writeCmsgHeader(view, off, level, type, 2);
  view.setUint16(data, value, true);
  for (let i = data + 2; i < off + CMSG_SPACE(2); i++) view.setUint8(i, 0);
  return CMSG_SPACE(2);
}

/** writeCmsgInt stores a cmsg carrying one int and returns CMSG_SPACE(4) = 24. */
export function writeCmsgInt(view: DataView, off: number, level: number, type: number, value: number): number {
  const data = writeCmsgHeader(view, off, level, type, 4);
  view.setInt32(data, value, true);
  view.setInt32(data + 4, 0, true);
  return CMSG_SPACE(4);
}

/**
 * findCmsg walks the control data [off, off+len) as the kernel filled it and
 * returns the offset of the data of the first cmsg with the given level and
 * type that carries at least minData data bytes, or -1. Malformed lengths end
 * the walk.
 */
export function findCmsg(view: DataView, off: number, len: number, level: number, type: number, minData = 0): number {
  let p = off;
  const end = off + len;
  while (p + 16 <= end) {
    const clen = readU64(view, p);
    if (clen < 16 || p + clen > end) return -1;
    if (view.getInt32(p + 8, true) === level && view.getInt32(p + 12, true) === type && clen - 16 >= minData) return p + 16;
    p += CMSG_ALIGN(clen);
  }
  return -1;
}

// ---- pollfd / epoll_event ----------------------------------------------

/** writePollfd stores pollfd i of the array in view (fd, events; revents cleared). */
export function writePollfd(view: DataView, i: number, fd: number, events: number): void {
  const o = i * 8;
  view.setInt32(o, fd, true);
  view.setInt16(o + 4, events, true);
  view.setInt16(o + 6, 0, true);
}

/** readPollRevents returns revents of pollfd i. */
export function readPollRevents(view: DataView, i: number): number {
  return view.getUint16(i * 8 + 6, true);
}

/**
 * writeEpollEvent stores epoll_event i (events, and a u32 token in the low
 * half of the 64-bit data union; the high half is zeroed) using layout's stride.
 */
export function writeEpollEvent(view: DataView, i: number, events: number, token: number, layout: StructLayout = LAYOUT): void {
  const e = layout.epollEvent;
  const o = i * e.size;
  view.setUint32(o + e.events, events >>> 0, true);
  view.setUint32(o + e.data, token >>> 0, true);
  view.setUint32(o + e.data + 4, 0, true);
}

/** readEpollEvents returns the events mask of epoll_event i. */
export function readEpollEvents(view: DataView, i: number, layout: StructLayout = LAYOUT): number {
  return view.getUint32(i * layout.epollEvent.size, true);
}

/** readEpollToken returns the low 32 bits of epoll_event i's data union. */
export function readEpollToken(view: DataView, i: number, layout: StructLayout = LAYOUT): number {
  return view.getUint32(i * layout.epollEvent.size + layout.epollEvent.data, true);
}
