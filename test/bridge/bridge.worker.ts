// One direction of the TUN bridge: blocking reads from one TUN fd, writes to
// the other. Modes (bench/bridge.ts compares them):
//   split  vnet header on: split each super-packet with the offload engine,
//          coalesce the segments again, write the result (the product path)
//   pass   vnet header on: write what was read, header and all
//   novnet no vnet header: one packet per read and per write (the "before")
//   simpletun  no vnet header, ONE thread polling both TUNs, one packet per
//          read: the program of the dossier's section 2, reproduced literally
import { Coalescer, createPacketBatch, splitSuperPacket, VNET_HDR_LEN, type PacketBatch } from "../../src/offload/index.ts";
import { TUN_READ_BUFFER_LEN } from "../../src/device/tun-device.ts";
import { errno, rawLibc } from "../../src/sys/libc.ts";
import { addressOf } from "../../src/sys/msgvec.ts";
import { EBADFD, EINTR } from "../../src/sys/errno.ts";
import { SLOT } from "./counters.ts";
import { readPollRevents, writePollfd } from "../../src/sys/layout.ts";
import { POLLIN } from "../../src/sys/constants.ts";

export interface BridgeWorkerInit {
  mode: "split" | "pass" | "novnet" | "simpletun";
  readFd: number;
  writeFd: number;
  tcpGro: boolean;
  udpGro: boolean;
  counters: SharedArrayBuffer;
  counterOffset: number;
}

declare const self: Worker;

/** SEGMENT_SLOTS bounds segments per super-packet (64 KiB at gso_size >= 512). */
const SEGMENT_SLOTS = 128;

function run(init: BridgeWorkerInit): void {
  const L = rawLibc();
  const c = new Float64Array(init.counters, init.counterOffset, 16);
  // One slab: SEGMENT_SLOTS segment slots plus one more slot that receives the
  // TUN read, so split copies within one buffer (copyWithin, no views).
  const slab = createPacketBatch(SEGMENT_SLOTS + 1, 65535, 16);
  const batch: PacketBatch = {
    ...slab,
    capacity: SEGMENT_SLOTS,
    offs: slab.offs.subarray(0, SEGMENT_SLOTS),
    lens: slab.lens.subarray(0, SEGMENT_SLOTS),
    count: 0,
  };
  const readBuf = slab.buf;
  const readOff = slab.offs[SEGMENT_SLOTS]! - VNET_HDR_LEN;
  const batchAddr = addressOf(slab.buf);
  const readAddr = batchAddr + readOff;
  const coalescer = new Coalescer({ tcp: init.tcpGro, udp: init.udpGro, maxBatch: SEGMENT_SLOTS });

  const write = (addr: number, len: number) => {
    if (L.write(init.writeFd, addr, len) === len) {
      c[SLOT.writes]!++;
      c[SLOT.bytesWritten]! += len;
    } else {
      c[SLOT.writeErrors]!++;
    }
  };

  for (;;) {
    const n = L.read(init.readFd, readAddr, TUN_READ_BUFFER_LEN);
    if (n < 0) {
      const e = errno();
      if (e === EINTR) continue;
      if (e === EBADFD) return; // the TUN was deleted: the bridge is being torn down
      throw new Error(`bridge read failed: errno ${e}`);
    }
    c[SLOT.reads]!++;
    c[SLOT.bytesRead]! += n;
    if (n === TUN_READ_BUFFER_LEN) {
      c[SLOT.truncatedReads]!++; // the kernel may have dropped the tail
      continue;
    }
    if (init.mode !== "split") {
      write(readAddr, n);
      continue;
    }
    const segments = splitSuperPacket(readBuf, readOff, n, batch);
    if (typeof segments === "string") {
      c[SLOT.splitErrors]!++;
      continue;
    }
    if (segments > 1) c[SLOT.superPackets]!++;
    c[SLOT.segments]! += segments;
    const writes = coalescer.coalesce(batch);
    if (typeof writes === "string") {
      c[SLOT.splitErrors]!++;
      continue;
    }
    for (let k = 0; k < writes; k++) {
      const slot = coalescer.writeIdx[k]!;
      write(batchAddr + batch.offs[slot]! - VNET_HDR_LEN, batch.lens[slot]! + VNET_HDR_LEN);
    }
  }
}

/**
 * runSimpletun serves both directions from one thread: poll() both fds, move
 * one packet from whichever is readable. readFd/writeFd are TUN a and b;
 * counters for b -> a follow a -> b's.
 */
function runSimpletun(init: BridgeWorkerInit): void {
  const L = rawLibc();
  const cAB = new Float64Array(init.counters, 0, 16);
  const cBA = new Float64Array(init.counters, 16 * 8, 16);
  const buf = new Uint8Array(TUN_READ_BUFFER_LEN);
  const addr = addressOf(buf);
  const fds = new Uint8Array(16);
  const view = new DataView(fds.buffer);
  const fdsAddr = addressOf(fds);
  writePollfd(view, 0, init.readFd, POLLIN);
  writePollfd(view, 1, init.writeFd, POLLIN);
  const pump = (from: number, to: number, c: Float64Array) => {
    const n = L.read(from, addr, TUN_READ_BUFFER_LEN);
    if (n <= 0) return n;
    c[SLOT.reads]!++;
    c[SLOT.bytesRead]! += n;
    c[SLOT.segments]!++;
    if (L.write(to, addr, n) === n) {
      c[SLOT.writes]!++;
      c[SLOT.bytesWritten]! += n;
    } else c[SLOT.writeErrors]!++;
    return n;
  };
  for (;;) {
    view.setInt16(6, 0, true);
    view.setInt16(14, 0, true);
    if (L.poll(fdsAddr, 2, -1) < 0) {
      if (errno() === EINTR) continue;
      return;
    }
    if (readPollRevents(view, 0) & POLLIN && pump(init.readFd, init.writeFd, cAB) < 0 && errno() === EBADFD) return;
    if (readPollRevents(view, 1) & POLLIN && pump(init.writeFd, init.readFd, cBA) < 0 && errno() === EBADFD) return;
  }
}

self.onmessage = (event: MessageEvent<BridgeWorkerInit>) => {
  if (event.data.mode === "simpletun") runSimpletun(event.data);
  else run(event.data);
};
