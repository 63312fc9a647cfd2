// The flood generator's socket loop: one process, `sources` non-blocking UDP
// sockets (one source port each, optionally one source address each), a
// pre-crafted packet pool sent with sendmmsg in batches of up to 64, paced by
// a token bucket, and every reply read back with recvmmsg between batches and
// counted by WireGuard message type (3 = cookie reply is what a responder
// under load must send). Synchronous on purpose: nothing else runs in the
// generator's process, and a busy loop is how one core reaches its maximum.
import { MSG_DONTWAIT } from "../../../src/sys/constants.ts";
import { SyscallError } from "../../../src/sys/errno.ts";
import { close, WOULD_BLOCK } from "../../../src/sys/libc.ts";
import { writeSockaddr, type SockAddr } from "../../../src/sys/layout.ts";
import { addressOf, MmsgBatch } from "../../../src/sys/msgvec.ts";
import { openUdp, recvBatch, sendBatch, type UdpSocket } from "../../../src/sys/udp.ts";
import type { PacketPool } from "./craft.ts";
import { TokenBucket } from "./token-bucket.ts";

export const SEND_BATCH = 64;
const RECV_BATCH = 64;
/** DRAIN_MS: replies still in flight when sending stops are counted too. */
const DRAIN_MS = 300;
const DRAIN_EVERY_BATCHES = 8;

export interface FloodOptions {
  target: SockAddr;
  pool: PacketPool;
  /** packets per second; null sends as fast as the sockets take them */
  rate: number | null;
  seconds: number;
  sources: number;
  /** source addresses, used round-robin by the sockets; empty binds the wildcard */
  sourceAddresses: readonly Uint8Array[];
  /** onSecond is called about once a second with the running totals (progress output) */
  onSecond?: (r: FloodResult) => void;
}

export interface FloodResult {
  kind: string;
  sent: number;
  /** sendErrors counts sendmmsg failures other than a full socket buffer (ENOBUFS, ECONNREFUSED...) by errno name */
  sendErrors: Record<string, number>;
  /** blocked counts batches the socket did not fully take (EAGAIN) */
  blocked: number;
  elapsedSeconds: number;
  /** sentPerSecond is sent / elapsedSeconds */
  sentPerSecond: number;
  /** received counts replies by WireGuard type: "1".."4", or "other" */
  received: Record<string, number>;
  cookieReplies: number;
  sourcePorts: number[];
}

function openSources(o: FloodOptions): UdpSocket[] {
  const socks: UdpSocket[] = [];
  for (let i = 0; i < o.sources; i++) {
    const address = o.sourceAddresses.length > 0 ? o.sourceAddresses[i % o.sourceAddresses.length] : undefined;
    socks.push(openUdp({ family: o.target.family, address, nonBlocking: true, bufferSize: 4 << 20 }));
  }
  return socks;
}

/** runFlood sends the pool to the target for o.seconds and returns the counts. Blocks its thread. */
export function runFlood(o: FloodOptions): FloodResult {
  const socks = openSources(o);
  const send = new MmsgBatch({ count: SEND_BATCH, bufSize: 1, controlSize: 0 });
  const recv = new MmsgBatch({ count: RECV_BATCH, bufSize: 2048, controlSize: 0 });
  for (let i = 0; i < SEND_BATCH; i++) send.setSend(i, 1, writeSockaddr(send.nameView, send.nameOffset(i), o.target), 0);
  const base = addressOf(o.pool.slab);
  const poolSize = o.pool.lengths.length;
  const result: FloodResult = {
    kind: o.pool.kind,
    sent: 0,
    sendErrors: {},
    blocked: 0,
    elapsedSeconds: 0,
    sentPerSecond: 0,
    received: {},
    cookieReplies: 0,
    sourcePorts: socks.map((s) => s.port),
  };
  const start = performance.now();
  const end = start + o.seconds * 1000;
  // Small batches at low rates keep the flood smooth: ~2 ms worth per batch.
  const perBatch = o.rate === null ? SEND_BATCH : Math.max(1, Math.min(SEND_BATCH, Math.ceil(o.rate / 500)));
  const bucket = o.rate === null ? null : new TokenBucket(o.rate, Math.max(perBatch, o.rate / 50), start);
  let next = 0;
  let sock = 0;
  let nextReport = start + 1000;
  let sinceDrain = 0;
  try {
    for (let now = start; now < end; now = performance.now()) {
      let n = perBatch;
      if (bucket !== null) {
        n = bucket.take(now, perBatch);
        if (n === 0) {
          drainReplies(socks, recv, result);
          // Never spin while waiting for tokens: a busy sender would take a whole
          // core from the responder it floods, and measure the machine, not the defence.
          const wait = bucket.waitMs(performance.now(), perBatch);
          Bun.sleepSync(Math.max(1, Math.min(wait, end - performance.now(), 5)));
          continue;
        }
      }
      for (let i = 0; i < n; i++) {
        send.setPayloadRaw(i, base + next * o.pool.stride, o.pool.lengths[next]!);
        next = next + 1 === poolSize ? 0 : next + 1;
      }
      const fd = socks[sock]!.fd;
      sock = sock + 1 === socks.length ? 0 : sock + 1;
      const sent = sendSome(fd, send, n, result);
      result.sent += sent;
      if (sent < n) {
        result.blocked++;
        bucket?.giveBack(n - sent);
      }
      // Replies wait in a 4 MiB receive buffer; reading them every few batches keeps syscalls for sending.
      if (++sinceDrain >= DRAIN_EVERY_BATCHES) {
        sinceDrain = 0;
        drainReplies(socks, recv, result);
      }
      if (o.onSecond && now >= nextReport) {
        nextReport += 1000;
        o.onSecond(finish(result, start, now));
      }
    }
    const stop = performance.now();
    while (performance.now() < stop + DRAIN_MS) {
      if (drainReplies(socks, recv, result) === 0) Bun.sleepSync(5);
    }
    return finish(result, start, stop);
  } finally {
    for (const s of socks) close(s.fd);
  }
}

function sendSome(fd: number, batch: MmsgBatch, n: number, result: FloodResult): number {
  try {
    return sendBatch(fd, batch, n, MSG_DONTWAIT);
  } catch (e) {
    if (!(e instanceof SyscallError)) throw e;
    result.sendErrors[e.code] = (result.sendErrors[e.code] ?? 0) + 1;
    return 0;
  }
}

/** drainReplies reads every queued reply on every socket and counts it by type; returns how many it read. */
function drainReplies(socks: readonly UdpSocket[], batch: MmsgBatch, result: FloodResult): number {
  let total = 0;
  for (const s of socks) {
    for (;;) {
      let n: number;
      try {
        n = recvBatch(s.fd, batch, RECV_BATCH, MSG_DONTWAIT);
      } catch (e) {
        // ICMP errors (port unreachable while the target restarts) surface here; they are not replies.
        if (e instanceof SyscallError) break;
        throw e;
      }
      if (n === WOULD_BLOCK || n <= 0) break;
      total += n;
      for (let i = 0; i < n; i++) {
        const len = batch.msgLen(i);
        const b = batch.bufs[i]!;
        const type = len >= 4 && b[0]! >= 1 && b[0]! <= 4 && b[1] === 0 && b[2] === 0 && b[3] === 0 ? String(b[0]) : "other";
        result.received[type] = (result.received[type] ?? 0) + 1;
      }
      if (n < RECV_BATCH) break;
    }
  }
  result.cookieReplies = result.received["3"] ?? 0;
  return total;
}

function finish(r: FloodResult, start: number, now: number): FloodResult {
  const elapsedSeconds = Math.max(1e-9, (now - start) / 1000);
  return { ...r, sendErrors: { ...r.sendErrors }, received: { ...r.received }, elapsedSeconds, sentPerSecond: r.sent / elapsedSeconds };
}
