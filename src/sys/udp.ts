// UDP sockets for the data plane: creation with large buffers, UDP GSO/GRO
// feature detection (dossier 3.4, after wireguard-go conn/features_linux.go)
// and batched send/receive over MmsgBatch with the UDP_SEGMENT / UDP_GRO
// cmsgs. Address handling is bytes-only; parsing strings is not our concern.

import {
  AF_INET,
  AF_INET6,
  IPPROTO_IPV6,
  IPV6_V6ONLY,
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
import { findCmsg, sockaddrPort, writeCmsgU16, writeSockaddr, writeSockaddrIn, writeSockaddrIn6, type SockAddr } from "./layout.ts";
import { MmsgBatch } from "./msgvec.ts";

/** UDP_SOCKET_BUFFER_BYTES is the SO_RCVBUF/SO_SNDBUF request; 7 MiB as in wireguard-go (f26efb6). */
export const UDP_SOCKET_BUFFER_BYTES = 7 << 20;

/** UDP_GRO_MAX_SEGMENTS bounds how many datagrams one GRO message may carry (UDP_GRO_CNT_MAX). */
export const UDP_GRO_MAX_SEGMENTS = 64;

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
 * controlSize >= 24 for that. Only attach it when len > gsoSize.
 */
export function prepareSend(batch: MmsgBatch, i: number, len: number, dest: SockAddr | null, gsoSize = 0): void {
  const nameLen = dest === null ? 0 : writeSockaddr(batch.nameView, batch.nameOffset(i), dest);
  const controlLen = gsoSize > 0 ? writeCmsgU16(batch.controlView, batch.controlOffset(i), SOL_UDP, UDP_SEGMENT, gsoSize) : 0;
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
