// One direction of the TUN bridge: blocking reads from one TUN fd, writes to
// the other. Modes (bench/bridge.ts compares them):
//   split  vnet header on: split each super-packet with the offload engine,
//          coalesce the segments again, write the result (the product path)
//   pass   vnet header on: write what was read, header and all
//   novnet no vnet header: one packet per read and per write (the "before")
import { Coalescer, createPacketBatch, splitSuperPacket, VNET_HDR_LEN } from "../../src/offload/index.ts";
import { TUN_READ_BUFFER_LEN } from "../../src/device/tun-device.ts";
import { errno, rawLibc } from "../../src/sys/libc.ts";
import { addressOf } from "../../src/sys/msgvec.ts";
import { EBADFD, EINTR } from "../../src/sys/errno.ts";
import { SLOT } from "./counters.ts";

export interface BridgeWorkerInit {
  mode: "split" | "pass" | "novnet";
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
  const readBuf = new Uint8Array(TUN_READ_BUFFER_LEN);
  const readAddr = addressOf(readBuf);
  const batch = createPacketBatch(SEGMENT_SLOTS, 65535, 16);
  const batchAddr = addressOf(batch.buf);
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
    const segments = splitSuperPacket(readBuf, 0, n, batch);
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

self.onmessage = (event: MessageEvent<BridgeWorkerInit>) => {
  run(event.data);
};
