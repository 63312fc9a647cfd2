// bun bench/rx-alloc.ts — does the data path allocate per packet? Drives the
// real TX (split → encapsulateBatch) and RX (DeviceState.decapsulate in place
// → copyWithin → Coalescer) code on synthetic super-packets, like
// bench/stages.ts but without sockets, and counts JS heap objects by type
// (bun:jsc heapStats) before and after N packets: "allocated" is every object
// created (garbage included, counted before any collection), "retained" what
// survives a full GC. The last line is the noise of heapStats itself
// (~175 Object, ~200 Structure): anything that scales with the packet count
// is a per-packet allocation.
import { fullGC, heapStats } from "bun:jsc";
import { selectBackend } from "../src/crypto/select.ts";
import { Coalescer, createPacketBatch, splitSuperPacket, VNET_HDR_LEN, type PacketBatch } from "../src/offload/index.ts";
import type { SourceAddr } from "../src/wireguard/cookie.ts";
import { superPacket } from "../test/offload/packets.ts";
import { finishHandshake, makePair, startHandshake } from "../test/wireguard/helpers.ts";

const SLOTS = 128, STRIDE = 65535, HEADROOM = 16, MTU = 1420, MSS = 1368, SEGS = 47;
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
  b[p] = v >>> 24; b[p + 1] = (v >>> 16) & 255; b[p + 2] = (v >>> 8) & 255; b[p + 3] = v & 255;
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
    const src = txSlab.buf, dst = rxSlab.buf;
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
measure("TX split+seal", 2000, () => { segsRef.n = txPart(); });
measure("TX+RX open+copy+coalesce", 2000, () => rxPart(txPart()));

// B's TX in a bulk download is pure ACKs: one small packet per TUN read,
// sealed one by one with Tunn.encapsulate (not the batch form), then drained.
const ack = new Uint8Array(raw.subarray(VNET_HDR_LEN, VNET_HDR_LEN + 52));
ack[2] = 0; ack[3] = 52; // IPv4 total length: a bare 52-byte ACK
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
measure("empty (heapStats' own noise)", 2000, () => {});
