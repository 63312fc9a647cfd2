// UDP sockets for the data plane: creation with large buffers, UDP GSO/GRO
// feature detection (dossier 3.4, after wireguard-go conn/features_linux.go)
// and batched send/receive over MmsgBatch with the UDP_SEGMENT / UDP_GRO
// cmsgs. Address handling is bytes-only; parsing strings is not our concern.

import {
  AF_INET,
  AF_INET6,
  IPPROTO_IP,
  IPPROTO_IPV6,
  IPV6_PKTINFO,
  IPV6_RECVPKTINFO,
  IPV6_V6ONLY,
  IP_PKTINFO,
  MSG_WAITFORONE,
  SOCK_CLOEXEC,
  SOCK_DGRAM,
  SOCK_NONBLOCK,
  SOL_SOCKET,
  SOL_UDP,
  SO_RCVBUF,
  SO_RCVBUFFORCE,
  SO_SNDBUF,
  SO_SNDBUFFORCE,
  UDP_GRO,
  UDP_SEGMENT,
} from "./constants.ts";
import { EAGAIN, EINTR, EPERM, SyscallError } from "./errno.ts";
import { bind, close, errno, getsockname, getsockoptInt, rawLibc, recvmmsg, setsockoptInt, socket } from "./libc.ts";
import {
  CMSG_SPACE,
  findCmsg,
  LAYOUT,
  sockaddrPort,
  writeCmsgHeader,
  writeCmsgU16,
  writeSockaddr,
  writeSockaddrIn,
  writeSockaddrIn6,
  type SockAddr,
} from "./layout.ts";
import type { MmsgBatch } from "./msgvec.ts";

/** UDP_SOCKET_BUFFER_BYTES is the SO_RCVBUF/SO_SNDBUF request; 7 MiB as in wireguard-go (f26efb6). */
export const UDP_SOCKET_BUFFER_BYTES = 7 << 20;

/** UDP_GRO_MAX_SEGMENTS bounds how many datagrams one GRO message may carry (UDP_GRO_CNT_MAX). */
export const UDP_GRO_MAX_SEGMENTS = 64;

const IN_PKTINFO = LAYOUT.inPktinfo;
const IN6_PKTINFO = LAYOUT.in6Pktinfo;

/**
 * RECV_CONTROL_SIZE is the control buffer a received message needs for the
 * cmsgs the data plane enables: UDP_GRO's int plus the larger of
 * in_pktinfo / in6_pktinfo (24 + 40 = 64 bytes).
 */
export const RECV_CONTROL_SIZE = CMSG_SPACE(4) + CMSG_SPACE(IN6_PKTINFO.size);

/** SEND_CONTROL_SIZE is the control buffer a sent message needs: UDP_SEGMENT's u16 plus a pktinfo (24 + 40 = 64 bytes). */
export const SEND_CONTROL_SIZE = CMSG_SPACE(2) + CMSG_SPACE(IN6_PKTINFO.size);

/**
 * LocalSource is our end of a datagram (dossier 4.8, sticky sockets): the
 * local address a received datagram was addressed to, which replies should
 * come from, and the interface it arrived on. family 0 means none (let
 * routing choose); addr holds 4 bytes (IPv4, in [0, 4)) or 16. Callers keep
 * long-lived instances and overwrite them: nothing here allocates.
 */
export interface LocalSource {
  family: 0 | 4 | 6;
  ifindex: number;
  readonly addr: Uint8Array;
}

/** newLocalSource returns an empty LocalSource (family 0) with a 16-byte address buffer. */
export function newLocalSource(): LocalSource {
  return { family: 0, ifindex: 0, addr: new Uint8Array(16) };
}

/** clearLocalSource empties s (family 0, zero address and ifindex). */
export function clearLocalSource(s: LocalSource): void {
  s.family = 0;
  s.ifindex = 0;
  s.addr.fill(0);
}

/** copyLocalSource makes dst equal to src. */
export function copyLocalSource(dst: LocalSource, src: LocalSource): void {
  dst.family = src.family;
  dst.ifindex = src.ifindex;
  dst.addr.set(src.addr);
}

/** sameLocalSource reports whether a and b name the same family, interface and address. */
export function sameLocalSource(a: LocalSource, b: LocalSource): boolean {
  if (a.family !== b.family || a.ifindex !== b.ifindex) return false;
  const n = a.family === 4 ? 4 : 16;
  for (let i = 0; i < n; i++) if (a.addr[i] !== b.addr[i]) return false;
  return true;
}

/**
 * enablePktinfo asks the kernel to attach the local end of every received
 * datagram as a cmsg: IP_PKTINFO (struct in_pktinfo) on an IPv4 socket,
 * IPV6_RECVPKTINFO (struct in6_pktinfo, cmsg type IPV6_PKTINFO) on an IPv6
 * one. Throws SyscallError on failure.
 */
export function enablePktinfo(fd: number, family: 4 | 6): void {
  if (family === 4) setsockoptInt(fd, IPPROTO_IP, IP_PKTINFO, 1, "IP_PKTINFO");
  else setsockoptInt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1, "IPV6_RECVPKTINFO");
}

/**
 * readPktinfo finds the IP_PKTINFO or IPV6_PKTINFO cmsg in the control data
 * [off, off+len) and stores it in out; without one (or with a truncated one)
 * out is cleared. Returns whether one was found. For IPv4 the address is
 * ipi_spec_dst, the local address the kernel routed the datagram to (the one
 * a reply should come from; wireguard-go keeps the same field), not ipi_addr
 * (the header's destination, which differs for broadcasts); for IPv6 it is
 * ipi6_addr. The ifindex is the arrival interface.
 */
export function readPktinfo(view: DataView, off: number, len: number, out: LocalSource): boolean {
  let p = findCmsg(view, off, len, IPPROTO_IP, IP_PKTINFO, IN_PKTINFO.size);
  if (p >= 0) {
    out.family = 4;
    out.ifindex = view.getInt32(p + IN_PKTINFO.ifindex, true);
    out.addr.fill(0);
    for (let i = 0; i < 4; i++) out.addr[i] = view.getUint8(p + IN_PKTINFO.specDst + i);
    return true;
  }
  p = findCmsg(view, off, len, IPPROTO_IPV6, IPV6_PKTINFO, IN6_PKTINFO.size);
  if (p >= 0) {
    out.family = 6;
    out.ifindex = view.getUint32(p + IN6_PKTINFO.ifindex, true);
    for (let i = 0; i < 16; i++) out.addr[i] = view.getUint8(p + IN6_PKTINFO.addr + i);
    return true;
  }
  clearLocalSource(out);
  return false;
}

/**
 * writePktinfoCmsg stores the cmsg that makes a send leave from src at off and
 * returns the bytes it used: CMSG_SPACE(12) = 32 for IPv4 (IP_PKTINFO with
 * ipi_spec_dst = src.addr, ipi_ifindex = src.ifindex, ipi_addr 0: the kernel
 * ignores it on send), CMSG_SPACE(20) = 40 for IPv6 (IPV6_PKTINFO), 0 for an
 * empty source. The caller must only attach a source of the socket's family.
 *
 * The IPv4 ifindex follows wireguard-go: its old Linux bind (conn_linux.go
 * send4: `Ifindex: end.src4().Ifindex`) and today's sticky_linux.go (which
 * sends the received in_pktinfo back verbatim) both return the arrival
 * interface's index, not 0. The kernel makes a non-zero ipi_ifindex the
 * output interface (ipc.oif), so replies leave through the interface the
 * peer's packet came in on even where the routing table would pick another.
 * (The kernel module instead routes by source address alone and drops its
 * cached source when that route uses another interface; we do not.)
 */
export function writePktinfoCmsg(view: DataView, off: number, src: LocalSource): number {
  if (src.family === 4) {
    const d = writeCmsgHeader(view, off, IPPROTO_IP, IP_PKTINFO, IN_PKTINFO.size);
    view.setInt32(d + IN_PKTINFO.ifindex, src.ifindex, true);
    for (let i = 0; i < 4; i++) view.setUint8(d + IN_PKTINFO.specDst + i, src.addr[i]!);
    view.setUint32(d + IN_PKTINFO.addr, 0, true);
    view.setUint32(d + IN_PKTINFO.size, 0, true); // CMSG_SPACE padding
    return CMSG_SPACE(IN_PKTINFO.size);
  }
  if (src.family === 6) {
    const d = writeCmsgHeader(view, off, IPPROTO_IPV6, IPV6_PKTINFO, IN6_PKTINFO.size);
    for (let i = 0; i < 16; i++) view.setUint8(d + IN6_PKTINFO.addr + i, src.addr[i]!);
    view.setUint32(d + IN6_PKTINFO.ifindex, src.ifindex >>> 0, true);
    view.setUint32(d + IN6_PKTINFO.size, 0, true); // CMSG_SPACE padding
    return CMSG_SPACE(IN6_PKTINFO.size);
  }
  return 0;
}

/** UdpSocketOptions configures openUdp. */
export interface UdpSocketOptions {
  family: 4 | 6;
  /** port to bind; 0 or absent picks an ephemeral port. */
  port?: number;
  /** address to bind (4 or 16 bytes); absent binds the wildcard. */
  address?: Uint8Array;
  /** bufferSize for SO_RCVBUF/SO_SNDBUF (and the *FORCE variants); default UDP_SOCKET_BUFFER_BYTES. */
  bufferSize?: number;
  /** nonBlocking opens with SOCK_NONBLOCK. */
  nonBlocking?: boolean;
}

/** UdpSocket is a bound UDP socket; the caller owns fd and must close it. */
export interface UdpSocket {
  readonly fd: number;
  readonly family: 4 | 6;
  /** port is the bound port as reported by getsockname (resolves port 0). */
  readonly port: number;
}

/**
 * openUdp creates an AF_INET/AF_INET6 datagram socket (CLOEXEC; IPv6 sockets
 * are IPV6_V6ONLY so a v4 and a v6 socket can share a port), sizes its
 * buffers, binds it and returns the bound port. Closes the fd on failure.
 */
export function openUdp(opts: UdpSocketOptions): UdpSocket {
  const fd = socket(opts.family === 4 ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC | (opts.nonBlocking ? SOCK_NONBLOCK : 0));
  try {
    if (opts.family === 6) setsockoptInt(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1, "IPV6_V6ONLY");
    setSocketBuffers(fd, opts.bufferSize ?? UDP_SOCKET_BUFFER_BYTES);
    const sa = new Uint8Array(28);
    const view = new DataView(sa.buffer);
    const port = opts.port ?? 0;
    const len =
      opts.family === 4
        ? writeSockaddrIn(view, 0, opts.address ?? new Uint8Array(4), port)
        : writeSockaddrIn6(view, 0, opts.address ?? new Uint8Array(16), port);
    bind(fd, sa, len);
    return { fd, family: opts.family, port: localPort(fd) };
  } catch (e) {
    close(fd);
    throw e;
  }
}

/** localPort returns the port fd is bound to (getsockname). */
export function localPort(fd: number): number {
  const sa = new Uint8Array(128);
  getsockname(fd, sa);
  return sockaddrPort(new DataView(sa.buffer), 0);
}

/**
 * setSocketBuffers requests bytes for SO_RCVBUF and SO_SNDBUF, then tries the
 * *FORCE variants, which exceed net.core.[rw]mem_max but need CAP_NET_ADMIN:
 * their EPERM is expected without it and ignored.
 */
export function setSocketBuffers(fd: number, bytes: number): void {
  setsockoptInt(fd, SOL_SOCKET, SO_RCVBUF, bytes, "SO_RCVBUF");
  setsockoptInt(fd, SOL_SOCKET, SO_SNDBUF, bytes, "SO_SNDBUF");
  for (const [opt, label] of [
    [SO_RCVBUFFORCE, "SO_RCVBUFFORCE"],
    [SO_SNDBUFFORCE, "SO_SNDBUFFORCE"],
  ] as const) {
    try {
      setsockoptInt(fd, SOL_SOCKET, opt, bytes, label);
    } catch (e) {
      if (!(e instanceof SyscallError && e.errno === EPERM)) throw e;
    }
  }
}

/** supportsUdpSegment reports whether the kernel knows UDP_SEGMENT (TX GSO): getsockopt succeeds (Linux >= 4.18). */
export function supportsUdpSegment(fd: number): boolean {
  try {
    getsockoptInt(fd, SOL_UDP, UDP_SEGMENT, "UDP_SEGMENT");
    return true;
  } catch {
    return false;
  }
}

/**
 * enableUdpGro turns on UDP_GRO (RX coalescing) and reports whether it took:
 * the setsockopt must succeed and getsockopt must read back 1, which rules
 * out kernels before 5.12, where GRO cannot be confirmed (wireguard-go c92064f).
 */
export function enableUdpGro(fd: number): boolean {
  try {
    setsockoptInt(fd, SOL_UDP, UDP_GRO, 1, "UDP_GRO");
    return getsockoptInt(fd, SOL_UDP, UDP_GRO, "UDP_GRO") === 1;
  } catch {
    return false;
  }
}

/**
 * prepareSend sets message i of batch to send its first len bytes of bufs[i]
 * (or whatever setPayloadRaw pointed it at) to dest (null for a connected
 * socket). gsoSize > 0 attaches a UDP_SEGMENT cmsg so the kernel splits the
 * payload into gsoSize-byte datagrams (last one shorter); batch needs
 * controlSize >= 24 for that. Only attach it when len > gsoSize. A non-empty
 * src attaches its pktinfo cmsg too (controlSize >= SEND_CONTROL_SIZE).
 */
export function prepareSend(batch: MmsgBatch, i: number, len: number, dest: SockAddr | null, gsoSize = 0, src: LocalSource | null = null): void {
  const nameLen = dest === null ? 0 : writeSockaddr(batch.nameView, batch.nameOffset(i), dest);
  const off = batch.controlOffset(i);
  let controlLen = gsoSize > 0 ? writeCmsgU16(batch.controlView, off, SOL_UDP, UDP_SEGMENT, gsoSize) : 0;
  if (src !== null) controlLen += writePktinfoCmsg(batch.controlView, off + controlLen, src);
  batch.setSend(i, len, nameLen, controlLen);
}

/**
 * sendBatch sends messages [0, n) of batch with sendmmsg, looping over
 * partial sends, and returns how many went out. Fewer than n means a
 * non-blocking socket filled up, or message `sent` failed after earlier ones
 * were sent (resend from there to get its error). A failure of the first
 * message throws SyscallError("sendmmsg"). EIO on a GSO send means the route
 * cannot do UDP GSO: resend without the cmsg and stop using it (dossier 3.4).
 */
export function sendBatch(fd: number, batch: MmsgBatch, n: number, flags = 0): number {
  const L = rawLibc();
  let sent = 0;
  while (sent < n) {
    const r = L.sendmmsg(fd, batch.msghdrAddress(sent), n - sent, flags);
    if (r >= 0) {
      sent += r;
      continue;
    }
    const e = errno();
    if (e === EINTR) continue;
    if (e === EAGAIN || sent > 0) return sent;
    throw new SyscallError("sendmmsg", e);
  }
  return sent;
}

/**
 * recvBatch resets up to n messages of batch and receives into them with
 * recvmmsg. The default MSG_WAITFORONE returns as soon as one message is
 * in; without it a blocking socket waits for all n. Returns the count or
 * WOULD_BLOCK (from libc.ts). For message i the datagram is
 * bufs[i][0, msgLen(i)), the source address is at nameOffset(i), and
 * groSegmentSize(batch, i) says whether it is several coalesced datagrams.
 */
export function recvBatch(fd: number, batch: MmsgBatch, n: number, flags = MSG_WAITFORONE): number {
  batch.prepareRecv(n);
  return recvmmsg(fd, batch.headers, n, flags);
}

/**
 * groSegmentSize returns the gso_size of received message i from its UDP_GRO
 * cmsg (an int): the message is then ceil(len/size) datagrams of size bytes,
 * the last shorter, all from the same source. Returns 0 for a single datagram.
 */
export function groSegmentSize(batch: MmsgBatch, i: number): number {
  const off = findCmsg(batch.controlView, batch.controlOffset(i), batch.controlLen(i), SOL_UDP, UDP_GRO);
  return off < 0 ? 0 : batch.controlView.getInt32(off, true);
}

/**
 * recvPktinfo stores the local end of received message i (see readPktinfo)
 * in out and reports whether the kernel attached one (the socket needs
 * enablePktinfo). Every datagram of a GRO message shares it.
 */
export function recvPktinfo(batch: MmsgBatch, i: number, out: LocalSource): boolean {
  return readPktinfo(batch.controlView, batch.controlOffset(i), batch.controlLen(i), out);
}
