// bun bench/rx-alloc.ts — does the data path allocate per packet? Drives the
// real TX (split → encapsulateBatch) and RX (DeviceState.decapsulate in place
// → copyWithin → Coalescer) code on synthetic super-packets, like
// bench/stages.ts but without sockets, and counts JS heap objects by type
// (bun:jsc heapStats) before and after N packets: "allocated" is every object
// created (garbage included, counted before any collection), "retained" what
// survives a full GC. The last line is the noise of heapStats itself
// (~175 Object, ~200 Structure): anything that scales with the packet count
// is a per-packet allocation. The sticky-source stage is the one with real
// sockets (loopback): UdpSender with a pktinfo cmsg on every message, then
// recvmmsg and the per-message UDP_GRO / IP_PKTINFO parsing the data plane does.
import { fullGC, heapStats } from "bun:jsc";
import { selectBackend } from "../src/crypto/select.ts";
import { Coalescer, createPacketBatch, splitSuperPacket, VNET_HDR_LEN, type PacketBatch } from "../src/offload/index.ts";
import type { SourceAddr } from "../src/wireguard/cookie.ts";
import { COUNTERS } from "../src/device/shared-stats.ts";
import { UdpSender } from "../src/device/udp-sender.ts";
import { MSG_DONTWAIT } from "../src/sys/constants.ts";
import { ifNametoindex, WOULD_BLOCK } from "../src/sys/libc.ts";
import { writeSockaddrIn } from "../src/sys/layout.ts";
import { addressOf, MmsgBatch } from "../src/sys/msgvec.ts";
import {
  clearLocalSource,
  copyLocalSource,
  enablePktinfo,
  enableUdpGro,
  groSegmentSize,
  newLocalSource,
  openUdp,
  RECV_CONTROL_SIZE,
  recvBatch,
  recvPktinfo,
  sameLocalSource,
  supportsUdpSegment,
} from "../src/sys/udp.ts";
import { superPacket } from "../test/offload/packets.ts";
import { finishHandshake, makePair, startHandshake } from "../test/wireguard/helpers.ts";

const SLOTS = 128,
  STRIDE = 65535,
  HEADROOM = 16,
  MTU = 1420,
  MSS = 1368,
  SEGS = 47;
const crypto = selectBackend(process.env).backend;
const now0 = performance.now();
const pair = makePair({ crypto, peer: { mtu: MTU } });
finishHandshake(pair, now0, startHandshake(pair, now0));
const tunn = pair.peerB;
const devB = pair.b;
const opts = new Uint8Array(12);
opts.set([1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2]);
const raw = superPacket("tcp4", { src: "10.0.0.1", dst: "10.0.0.2", seq: 1, payload: MSS * SEGS, options: opts }, MSS);
const txSlab = createPacketBatch(SLOTS + 1, STRIDE, HEADROOM);
const tx: PacketBatch = { ...txSlab, capacity: SLOTS, offs: txSlab.offs.subarray(0, SLOTS), lens: txSlab.lens.subarray(0, SLOTS), count: 0 };
const readOff = txSlab.offs[SLOTS]! - VNET_HDR_LEN;
const rxSlab = createPacketBatch(SLOTS + 2, STRIDE, HEADROOM);
const rx: PacketBatch = { ...rxSlab, capacity: SLOTS, offs: rxSlab.offs.subarray(0, SLOTS), lens: rxSlab.lens.subarray(0, SLOTS), count: 0 };
const landingOff = rxSlab.offs[SLOTS]! - HEADROOM;
const coalescer = new Coalescer({ tcp: true, udp: true, maxBatch: SLOTS });
const sealedLens = new Int32Array(SLOTS);
const src4: SourceAddr = { ip: new Uint8Array(4), port: 0 };
let seq = 1;

function tcpSeq(b: Uint8Array, off: number, v: number) {
  // TCP sequence at IPv4(20) + 4 after the vnet header
  const p = off + VNET_HDR_LEN + 20 + 4;
  b[p] = v >>> 24;
  b[p + 1] = (v >>> 16) & 255;
  b[p + 2] = (v >>> 8) & 255;
  b[p + 3] = v & 255;
}

function txPart(): number {
  const now = performance.now();
  txSlab.buf.set(raw, readOff);
  tcpSeq(txSlab.buf, readOff, seq);
  seq = (seq + MSS * SEGS) >>> 0;
  const segs = splitSuperPacket(txSlab.buf, readOff, raw.length, tx);
  if (typeof segs === "string") throw new Error(`split: ${segs}`);
  const n = tunn.encapsulateBatch(now, txSlab.buf, tx.offs, tx.lens, 0, segs, sealedLens);
  if (n !== segs) throw new Error("seal");
  return segs;
}

function rxPart(segs: number): void {
  const now = performance.now();
  // "recvmmsg": the sealed datagrams land back to back (one GRO message).
  let p = landingOff;
  for (let i = 0; i < segs; i++) {
    const from = tx.offs[i]! - 16;
    const src = txSlab.buf,
      dst = rxSlab.buf;
    for (let j = 0; j < sealedLens[i]!; j++) dst[p + j] = src[from + j]!; // no subarray: it would allocate
    p += sealedLens[i]!;
  }
  p = landingOff;
  let k = 0;
  for (let i = 0; i < segs; i++) {
    const r = devB.decapsulate(now, src4, rxSlab.buf, p, sealedLens[i]!, false);
    p += sealedLens[i]!;
    if (r.kind !== "tunnel") throw new Error(`decapsulate: ${r.kind} ${r.kind === "error" ? r.code : ""}`);
    rxSlab.buf.copyWithin(rx.offs[k]!, r.off, r.off + r.len);
    rx.lens[k] = r.len;
    k++;
  }
  rx.count = k;
  const w = coalescer.coalesce(rx);
  if (typeof w === "string") throw new Error(`coalesce: ${w}`);
}

function diff(a: Record<string, number>, b: Record<string, number>) {
  const out: Record<string, number> = {};
  for (const [key, v] of Object.entries(b)) {
    const d = v - (a[key] ?? 0);
    if (d !== 0) out[key] = d;
  }
  return out;
}

function measure(name: string, iters: number, f: () => void): void {
  for (let i = 0; i < 2000; i++) f(); // JIT tiers up first
  fullGC();
  const c0 = heapStats().objectTypeCounts;
  for (let i = 0; i < iters; i++) f();
  const c1 = heapStats().objectTypeCounts;
  fullGC();
  const c2 = heapStats().objectTypeCounts;
  console.log(`${name}: ${iters * SEGS} packets; allocated ${JSON.stringify(diff(c0, c1))} retained ${JSON.stringify(diff(c0, c2))}`);
}

console.log(`backend ${crypto.name}`);
const segsRef = { n: 0 };
measure("TX split+seal", 2000, () => {
  segsRef.n = txPart();
});
measure("TX+RX open+copy+coalesce", 2000, () => rxPart(txPart()));

// B's TX in a bulk download is pure ACKs: one small packet per TUN read,
// sealed one by one with Tunn.encapsulate (not the batch form), then drained.
const ack = new Uint8Array(raw.subarray(VNET_HDR_LEN, VNET_HDR_LEN + 52));
ack[2] = 0;
ack[3] = 52; // IPv4 total length: a bare 52-byte ACK
measure("TX single encapsulate (ACKs) + drain", 2000, () => {
  const now = performance.now();
  for (let i = 0; i < SEGS; i++) {
    const off = tx.offs[i]!;
    txSlab.buf.set(ack, off);
    const r = tunn.encapsulate(now, txSlab.buf, off - 16, ack.length);
    if (r.kind !== "network") throw new Error(`encapsulate: ${r.kind}`);
  }
  for (;;) if (tunn.drain(now).kind === "done") break;
});
// A bulk receiver: data in, an ACK back on the same peer. The received data
// clears the new-handshake timer and the ACK re-arms it with a fresh random
// jitter (timers.ts dataSent), once per round trip.
measure("RX data + ACK back on the same peer (timer re-arm)", 2000, () => {
  rxPart(txPart());
  const now = performance.now();
  const off = tx.offs[0]!;
  txSlab.buf.set(ack, off);
  const r = pair.peerA.encapsulate(now, txSlab.buf, off - 16, ack.length);
  if (r.kind !== "network") throw new Error(`encapsulate: ${r.kind}`);
});
// Sticky sources over loopback: a reply batch of SEGS datagrams from a
// recorded source (UdpSender: GSO plus IP_PKTINFO cmsg), received with
// recvmmsg, each message's pktinfo parsed and compared with (and copied into)
// the peer's source as dataplane.ts roam() does.
const LOOPBACK = new Uint8Array([127, 0, 0, 1]);
const rxSock = openUdp({ family: 4, address: LOOPBACK, nonBlocking: true });
enablePktinfo(rxSock.fd, 4);
enableUdpGro(rxSock.fd);
const txSock = openUdp({ family: 4, address: LOOPBACK });
const sender = new UdpSender(txSock.fd, 4, supportsUdpSegment(txSock.fd), new Float64Array(COUNTERS.length));
const destName = new Uint8Array(32);
void destName.buffer;
writeSockaddrIn(new DataView(destName.buffer), 0, LOOPBACK, rxSock.port);
const destAddr = addressOf(destName);
const sendSlab = new Uint8Array(SEGS * 1500);
const sendAddr = addressOf(sendSlab);
const stickySrc = newLocalSource();
stickySrc.family = 4;
stickySrc.ifindex = ifNametoindex("lo");
stickySrc.addr.set([127, 0, 0, 2]);
const recvMb = new MmsgBatch({ count: 8, bufSize: 65535, controlSize: RECV_CONTROL_SIZE });
const rxSrc = newLocalSource();
const peerSrc = newLocalSource();
let received = 0;
measure("sticky: UdpSender with IP_PKTINFO + recvmmsg + pktinfo parse/roam", 2000, () => {
  for (let i = 0; i < SEGS; i++) sender.add(sendAddr + i * 1500, 1400, destAddr, 16, stickySrc);
  sender.flush();
  clearLocalSource(peerSrc);
  for (;;) {
    const n = recvBatch(rxSock.fd, recvMb, recvMb.count, MSG_DONTWAIT);
    if (n === WOULD_BLOCK || n <= 0) break;
    for (let i = 0; i < n; i++) {
      const gso = groSegmentSize(recvMb, i);
      received += gso > 0 ? Math.ceil(recvMb.msgLen(i) / gso) : 1;
      recvPktinfo(recvMb, i, rxSrc);
      if (!sameLocalSource(peerSrc, rxSrc)) copyLocalSource(peerSrc, rxSrc);
    }
  }
});
if (received === 0 || peerSrc.family !== 4) throw new Error("sticky stage: nothing received over loopback");
measure("empty (heapStats' own noise)", 2000, () => {});
