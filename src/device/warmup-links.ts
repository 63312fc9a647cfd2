// What the JIT warm-up's private pair of data planes (warmup.ts) is wired
// to. Two kinds, tried in this order:
//   loopback  the Linux I/O (io-linux.ts) itself: each plane's "TUN" is one
//             end of an AF_UNIX datagram socketpair (read and write keep
//             packet boundaries, as a TUN's do; the warm-up writes packets
//             into the other end and reads the plane's writes back out),
//             and its outer socket is a UDP socket on 127.0.0.1 with the
//             options the daemon's own get (GSO, GRO, pktinfo). So epoll,
//             read/write, recvmmsg with its GRO and pktinfo messages and
//             sendmmsg with UDP GSO are compiled before the first real
//             packet, not only the protocol and offload code.
//   memory    the in-memory network (io-memory.ts), when the loopback one
//             cannot be had (no lo in this network namespace, a sandbox
//             without the socket families): the Linux I/O then stays cold.
// Nothing here touches the device's own TUN, sockets or routes; the
// loopback datagrams go from one private socket to the other.
import { AF_UNIX, EFD_CLOEXEC, EFD_NONBLOCK, POLLIN, SOCK_CLOEXEC, SOCK_DGRAM, SOCK_NONBLOCK } from "../sys/constants.ts";
import { close, eventfd, poll, rawLibc, socketpair } from "../sys/libc.ts";
import { readPollRevents, writePollfd } from "../sys/layout.ts";
import { enablePktinfo, enableUdpGro, openUdp, supportsUdpSegment } from "../sys/udp.ts";
import type { WorkerSocket } from "./dataplane-messages.ts";
import type { DataPlaneIo } from "./io.ts";
import { linuxIo } from "./io-linux.ts";
import { MemoryNetwork, parseIp } from "./io-memory.ts";

/** WarmupLink is one private plane's outside world. */
export interface WarmupLink {
  readonly io: DataPlaneIo;
  /** socket: the outer socket to hand the plane (its v4; there is no v6). */
  readonly socket: WorkerSocket;
  /** endpoint: where the other plane reaches this one. */
  readonly endpoint: { addr: Uint8Array; port: number };
  /** inject hands the plane a packet as its TUN would (with the virtio-net header). */
  inject(packet: Uint8Array): void;
  /** pending: something waits for the plane to read (a TUN packet or a datagram). */
  readonly pending: boolean;
  /** discardWrites takes what the plane wrote to its TUN; the number of packets. */
  discardWrites(): number;
  close(): void;
}

export type WarmupLinkKind = "loopback" | "memory";

const LOOPBACK = new Uint8Array([127, 0, 0, 1]);
/** The loopback sockets' buffers: a round's super-packets both ways fit many times over. */
const LOOPBACK_SOCKET_BUFFER = 1 << 20;
/** A TUN write can be a coalesced 64 KiB super-packet behind its virtio-net header. */
const DRAIN_BUFFER = 65536 + 64;
const MEMORY_OUTER = ["198.18.254.1", "198.18.254.2"] as const;
const MEMORY_PORT = 40000;

/** warmupLinks returns the pair of links of that kind; throws when the kind cannot be had here. */
export function warmupLinks(kind: WarmupLinkKind): [WarmupLink, WarmupLink] {
  if (kind === "memory") return memoryLinks();
  const first = new LoopbackLink();
  try {
    return [first, new LoopbackLink()];
  } catch (e) {
    first.close();
    throw e;
  }
}

function memoryLinks(): [WarmupLink, WarmupLink] {
  const net = new MemoryNetwork();
  const link = (n: 0 | 1): WarmupLink => {
    const host = net.host({ ip4: MEMORY_OUTER[n], port: MEMORY_PORT + n, vnetHeader: true, gso: true, gro: true });
    host.tun.keepWrites = false;
    let seen = 0;
    return {
      io: host.io,
      socket: host.v4!,
      endpoint: { addr: parseIp(MEMORY_OUTER[n]), port: MEMORY_PORT + n },
      inject: (packet) => host.tun.inject(packet),
      get pending() {
        return !host.idle;
      },
      discardWrites: () => {
        const written = host.tun.writtenPackets - seen;
        seen = host.tun.writtenPackets;
        return written;
      },
      close: () => {},
    };
  };
  return [link(0), link(1)];
}

class LoopbackLink implements WarmupLink {
  readonly io: DataPlaneIo;
  readonly socket: WorkerSocket;
  readonly endpoint: { addr: Uint8Array; port: number };
  private readonly fds: number[] = [];
  /** The plane's end of the socketpair is its TUN; the warm-up writes into and reads from this one. */
  private readonly outside: number;
  private readonly pollfds = new Uint8Array(16);
  private readonly pollView = new DataView(this.pollfds.buffer);
  private readonly drain = new Uint8Array(DRAIN_BUFFER);

  constructor() {
    try {
      const [tun, outside] = socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC);
      this.fds.push(tun, outside);
      this.outside = outside;
      const wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
      this.fds.push(wake);
      const udp = openUdp({ family: 4, address: LOOPBACK, port: 0, nonBlocking: true, bufferSize: LOOPBACK_SOCKET_BUFFER });
      this.fds.push(udp.fd);
      enablePktinfo(udp.fd, 4);
      this.socket = { fd: udp.fd, family: 4, gso: supportsUdpSegment(udp.fd), gro: enableUdpGro(udp.fd) };
      this.endpoint = { addr: LOOPBACK, port: udp.port };
      this.io = linuxIo(tun, true, wake);
      writePollfd(this.pollView, 0, tun, POLLIN);
      writePollfd(this.pollView, 1, udp.fd, POLLIN);
    } catch (e) {
      this.close();
      throw e;
    }
  }

  inject(packet: Uint8Array): void {
    rawLibc().write(this.outside, packet, packet.length);
  }

  get pending(): boolean {
    if (poll(this.pollfds, 2, 0) === 0) return false;
    return ((readPollRevents(this.pollView, 0) | readPollRevents(this.pollView, 1)) & POLLIN) !== 0;
  }

  discardWrites(): number {
    const L = rawLibc();
    let n = 0;
    while (L.read(this.outside, this.drain, DRAIN_BUFFER) >= 0) n++;
    return n;
  }

  /** close frees every fd of the link, the epoll set included (its plane may already have closed that one; it closes once). */
  close(): void {
    this.io?.poller.close();
    for (const fd of this.fds.splice(0)) {
      try {
        close(fd);
      } catch {
        // already closed
      }
    }
  }
}
