// The data plane's I/O seam (after wireguard-go's tun.Device and conn.Bind).
// The data plane owns every packet buffer and hands the I/O layer raw
// addresses into them, so the Linux side passes them straight to read(2),
// write(2), recvmmsg(2) and sendmmsg(2) and the hot path is unchanged by the
// seam. io-linux.ts is the kernel; io-memory.ts is an in-process network of
// fake TUN queues and sockets (addresses there are handles it resolves back
// to buffers), so two devices can run against each other in one test with
// a fake clock, no root and no kernel.
import type { LocalSource } from "../sys/udp.ts";
import type { WorkerSocket } from "./dataplane-messages.ts";

/** IoMemory turns the data plane's buffers into the addresses the I/O layer takes. */
export interface IoMemory {
  /** addressOf returns the address of buf[off]; buf must stay alive while the address is used. */
  addressOf(buf: Uint8Array, off?: number): number;
}

/** IoClock is the data plane's only source of time. */
export interface IoClock {
  /** now is monotonic milliseconds (performance.now() on Linux). */
  now(): number;
  /** wallNow is wall-clock milliseconds since the epoch (for TAI64N timestamps and status). */
  wallNow(): number;
}

/** TUN_WOULD_BLOCK is what TunQueue.read returns when no packet waits. */
export const TUN_WOULD_BLOCK = 0;

/**
 * TunQueue is one TUN queue. With a virtio-net header, every read and write
 * starts with it (dossier 1.4) and a read may be a 64 KiB super-packet.
 */
export interface TunQueue {
  readonly vnetHeader: boolean;
  /** read reads one packet into [addr, addr+max): its length, TUN_WOULD_BLOCK, or -errno. */
  read(addr: number, max: number): number;
  /** write writes one packet of len bytes at addr: len, or -errno. */
  write(addr: number, len: number): number;
}

/**
 * DatagramSender batches datagrams for one outer socket and sends them
 * together (udp-sender.ts on Linux: sendmmsg with UDP GSO). The memory at
 * the addresses given to add must stay untouched until flush returns.
 */
export interface DatagramSender {
  /** gso is whether datagrams may be coalesced into segmentation-offload sends now. */
  readonly gso: boolean;
  /** lastErrno is the errno of the last failed send (0: none since it was cleared), for logs. */
  lastErrno: number;
  /** lastSourceErrno is the errno of the last send refused for its sticky source, for logs. */
  lastSourceErrno: number;
  add(dataAddr: number, len: number, nameAddr: number, nameLen: number, src: LocalSource | null): void;
  /** flush sends everything added; returns the datagrams accepted. */
  flush(): number;
}

/**
 * ReceivedBatch describes the messages of the last DatagramSocket.receive
 * into one landing zone: message i's bytes are in the zone's slot i, its
 * sender's sockaddr is at names[nameOffset(i)] (names lives at namesAddr, for
 * replies). It stays valid until the next receive into the same zone.
 */
export interface ReceivedBatch {
  readonly names: Uint8Array;
  readonly namesAddr: number;
  length(i: number): number;
  truncated(i: number): boolean;
  nameOffset(i: number): number;
  /** segmentSize is the GRO segment size of message i (several datagrams of that size), 0 for one datagram. */
  segmentSize(i: number): number;
  /** localSource stores the local address message i arrived on in out; false when unknown. */
  localSource(i: number, out: LocalSource): boolean;
}

/**
 * DatagramLanding is where a socket receives: zones landing zones,
 * zoneStride bytes apart from addr, each of count slots stride bytes apart,
 * each slot taking up to size bytes. Two zones let one batch be decrypted
 * while the next is received.
 */
export interface DatagramLanding {
  addr: number;
  count: number;
  stride: number;
  size: number;
  zones: number;
  zoneStride: number;
}

/** DatagramSocket is one outer UDP socket (one family) as the data plane uses it. */
export interface DatagramSocket {
  readonly desc: WorkerSocket;
  readonly sender: DatagramSender;
  /** received[zone] describes the last receive into that zone. */
  readonly received: readonly ReceivedBatch[];
  /** receive fills up to landing.count slots of the zone; the message count (0: none waiting). Throws on a socket error. */
  receive(zone: number): number;
  close(): void;
}

/** Readiness bits returned by IoPoller.wait. */
export const READY_TUN = 1;
export const READY_V4 = 2;
export const READY_V6 = 4;
export const READY_WAKE = 8;
/** READY_TUN_GONE: the TUN reported an error or hang-up with nothing left to read. */
export const READY_TUN_GONE = 16;

/** IoPoller waits for the TUN, the sockets and the control wake-up. */
export interface IoPoller {
  /** wait blocks up to timeoutMs (0: just look) and returns READY_* bits. */
  wait(timeoutMs: number): number;
  watchSocket(socket: DatagramSocket): void;
  unwatchSocket(socket: DatagramSocket): void;
  close(): void;
}

/** DataPlaneIo is everything outside the process's memory that the data plane touches. */
export interface DataPlaneIo {
  readonly memory: IoMemory;
  readonly clock: IoClock;
  readonly tun: TunQueue;
  readonly poller: IoPoller;
  /** openSocket wraps a socket the main thread opened; counters are the shared stats it adds to. */
  openSocket(desc: WorkerSocket, landing: DatagramLanding, counters: Float64Array): DatagramSocket;
}
