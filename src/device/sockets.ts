// The outer UDP sockets: one IPv4 and one IPv6 (V6ONLY) socket on the same
// port, non-blocking, 7 MiB buffers (setSocketBuffers, inside openUdp), with
// UDP GSO/GRO detected per socket and the kill switches honoured:
//   TUNNEL_DISABLE_UDP_GSO         never attach UDP_SEGMENT (TX)
//   TUNNEL_DISABLE_UDP_GRO_SOCKET  never enable UDP_GRO on the sockets (RX)
//   TUNNEL_DISABLE_STICKY_SOURCE   never ask for IP_PKTINFO / IPV6_RECVPKTINFO,
//                                  so replies leave from whatever address
//                                  routing picks (no sticky sources)
// (TUNNEL_DISABLE_UDP_GRO is the TUN-side UDP coalescing switch, tun-device.ts.)
// Opened on the main thread so apply() can report a bind failure
// synchronously; the data-plane worker uses the fds (process-wide numbers).
import { SOL_SOCKET, SO_MARK } from "../sys/constants.ts";
import { EADDRINUSE, EAFNOSUPPORT, SyscallError } from "../sys/errno.ts";
import { close, setsockoptInt } from "../sys/libc.ts";
import { enablePktinfo, enableUdpGro, openUdp, supportsUdpSegment } from "../sys/udp.ts";
import { isSet } from "./tun-device.ts";

export const SOCKET_KILL_SWITCHES = {
  udpGso: "TUNNEL_DISABLE_UDP_GSO",
  udpGroSocket: "TUNNEL_DISABLE_UDP_GRO_SOCKET",
  stickySource: "TUNNEL_DISABLE_STICKY_SOURCE",
} as const;

export interface OuterSocket {
  fd: number;
  family: 4 | 6;
  gso: boolean;
  gro: boolean;
}

export interface SocketPair {
  port: number;
  v4: OuterSocket | null;
  v6: OuterSocket | null;
  /** Why v6 (or GSO/GRO) is off, for the start-up report. */
  notes: string[];
}

function configure(fd: number, family: 4 | 6, env: Record<string, string | undefined>, notes: string[]): OuterSocket {
  const gsoOff = isSet(env, SOCKET_KILL_SWITCHES.udpGso);
  const groOff = isSet(env, SOCKET_KILL_SWITCHES.udpGroSocket);
  const gso = !gsoOff && supportsUdpSegment(fd);
  const gro = !groOff && enableUdpGro(fd);
  if (gsoOff) notes.push(`IPv${family} UDP GSO off: ${SOCKET_KILL_SWITCHES.udpGso} is set`);
  else if (!gso) notes.push(`IPv${family} UDP GSO off: the kernel does not support UDP_SEGMENT`);
  if (groOff) notes.push(`IPv${family} UDP GRO off: ${SOCKET_KILL_SWITCHES.udpGroSocket} is set`);
  else if (!gro) notes.push(`IPv${family} UDP GRO off: UDP_GRO could not be enabled (needs Linux 5.12+)`);
  // Sticky sources (dossier 4.8): every datagram arrives with the local
  // address it was sent to, and the data plane answers each peer from there.
  if (isSet(env, SOCKET_KILL_SWITCHES.stickySource)) {
    notes.push(`IPv${family} sticky source addresses off: ${SOCKET_KILL_SWITCHES.stickySource} is set`);
  } else {
    try {
      enablePktinfo(fd, family);
    } catch (e) {
      notes.push(`IPv${family} sticky source addresses off: ${(e as Error).message}`);
    }
  }
  return { fd, family, gso, gro };
}

/**
 * openSocketPair binds both families on port (0 = pick one, then bind v6 to
 * the same; retried when the v6 half is taken). A missing IPv6 stack leaves
 * v6 null. Throws SyscallError (EADDRINUSE etc.) when the port is unavailable.
 */
export function openSocketPair(port: number, fwmark: number, env: Record<string, string | undefined>): SocketPair {
  for (let attempt = 0; ; attempt++) {
    const notes: string[] = [];
    const s4 = openUdp({ family: 4, port, nonBlocking: true });
    let s6: { fd: number } | null = null;
    try {
      s6 = openUdp({ family: 6, port: s4.port, nonBlocking: true });
    } catch (e) {
      if (e instanceof SyscallError && e.errno === EAFNOSUPPORT) {
        notes.push("IPv6 outer socket off: the kernel has no IPv6");
      } else {
        close(s4.fd);
        if (port === 0 && attempt < 10 && e instanceof SyscallError && e.errno === EADDRINUSE) continue;
        throw e;
      }
    }
    try {
      const pair: SocketPair = {
        port: s4.port,
        v4: configure(s4.fd, 4, env, notes),
        v6: s6 === null ? null : configure(s6.fd, 6, env, notes),
        notes,
      };
      if (fwmark !== 0) setFwmark(pair, fwmark);
      return pair;
    } catch (e) {
      close(s4.fd);
      if (s6 !== null) close(s6.fd);
      throw e;
    }
  }
}

/** setFwmark sets SO_MARK (0 clears it) on every socket of the pair; throws on failure. */
export function setFwmark(pair: SocketPair, mark: number): void {
  for (const s of [pair.v4, pair.v6]) if (s !== null) setsockoptInt(s.fd, SOL_SOCKET, SO_MARK, mark >>> 0, "SO_MARK");
}

export function closeSocketPair(pair: SocketPair): void {
  for (const s of [pair.v4, pair.v6]) {
    if (s === null) continue;
    try {
      close(s.fd);
    } catch {
      // already closed
    }
  }
}
