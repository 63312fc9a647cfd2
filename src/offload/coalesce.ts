// TUN write side: merge decrypted TCP and UDP segments of one flow into
// super-packets (GRO) so one write() carries up to 64 KiB. Dossier 3.2,
// after wireguard-go tun/offload_linux.go handleGRO/tcpGRO/udpGRO.
//
// Flow: for each packet of the batch, write a zero virtio_net_hdr in its
// headroom, classify it, then either merge it into an earlier packet of the
// same flow (its slot is then not written) or record it as a new item. At
// the end every item that absorbed packets gets fixed IP/L4 lengths, the
// pseudo-header seed in its L4 checksum field and a GSO virtio_net_hdr.
// This file is that driver; the rules are coalesce-tcp.ts and
// coalesce-udp.ts, the checks they share coalesce-checks.ts, the items and
// flows coalesce-items.ts, the last pass coalesce-finish.ts.
//
// Capacity: merged payloads are appended in place in the head packet's
// slot, so a super-packet can grow up to min(65535, batch.stride) bytes.
// With the data plane's 64 KiB slots that is the full kernel limit, at zero
// extra copies; with smaller slots merging just stops early ("no-room").
// We chose this over private 64 KiB output buffers because the slots exist
// anyway (the same slab serves recvmmsg), and it saves one copy of the head.

import type { PacketBatch } from "./batch.ts";
import { type CoalesceCounters, newCoalesceCounters } from "./coalesce-counters.ts";
import { finishItems } from "./coalesce-finish.ts";
import { GRO_MERGED, GRO_NOOP, ItemTable } from "./coalesce-items.ts";
import { tcpGro } from "./coalesce-tcp.ts";
import { udpGro } from "./coalesce-udp.ts";
import {
  IPPROTO_TCP,
  IPPROTO_UDP,
  IPV4_HEADER_MIN_LEN,
  IPV4_PROTO_OFFSET,
  IPV6_HEADER_LEN,
  IPV6_NEXT_HEADER_OFFSET,
  TCP_HEADER_MIN_LEN,
  UDP_HEADER_LEN,
} from "./ip.ts";
import { VNET_HDR_LEN, createVnetHeader, writeZeroVnetHeader } from "./vnet-header.ts";

export const DEFAULT_COALESCE_MAX_BATCH = 128;

/** CoalesceError is returned for a batch that breaks the slot contract. */
export type CoalesceError = "batch-too-large" | "headroom-too-small";

export interface CoalesceOptions {
  /** TCP GRO (kill switch / startup probe can turn it off). Default true. */
  tcp?: boolean;
  /** UDP GRO; needs TUN_F_USO4|USO6 to have been accepted. Default true. */
  udp?: boolean;
  /** Largest batch.count accepted. Default 128. */
  maxBatch?: number;
}

/**
 * Coalescer merges a batch of decrypted IP packets in place. One instance
 * per writer; not reentrant. After coalesce(batch), write for each k <
 * writeCount the bytes buf[offs[j]-10, offs[j]+lens[j]) with j = writeIdx[k]
 * (ascending order preserves per-flow order).
 *
 * Optional homes (zero-copy receive): packets may sit anywhere in buf with
 * only 10 bytes of headroom and no room to grow (e.g. where recvmmsg put
 * them); homes[i] is then a slot of batch.stride bytes (with headroom) in
 * the same buffer. A packet is copied to its home only when it becomes the
 * head of a merge item (offs[i] is updated to homes[i]); packets merged into
 * a head are copied once, into the head; packets that are never candidates
 * are written where they are.
 */
export class Coalescer {
  enableTcp: boolean;
  enableUdp: boolean;
  readonly maxBatch: number;
  /** Batch indices to write, valid after coalesce() until the next call. */
  readonly writeIdx: Int32Array;
  writeCount = 0;
  readonly counters: CoalesceCounters = newCoalesceCounters();

  private readonly items: ItemTable;
  private readonly hdr = createVnetHeader();

  constructor(opts: CoalesceOptions = {}) {
    this.enableTcp = opts.tcp ?? true;
    this.enableUdp = opts.udp ?? true;
    const n = Math.max(1, opts.maxBatch ?? DEFAULT_COALESCE_MAX_BATCH);
    this.maxBatch = n;
    this.writeIdx = new Int32Array(n);
    this.items = new ItemTable(n, this.counters);
  }

  /**
   * coalesce merges batch packets 0..count-1 (IP packets at offs[i], with
   * >= 10 bytes of headroom) and fills writeIdx/writeCount. Every written
   * slot has its virtio_net_hdr at offs[i]-10 and lens[i] updated; merged
   * packets' slots are left out. Returns writeCount, or a CoalesceError
   * (nothing written) if the batch breaks the contract. Never throws.
   */
  coalesce(batch: PacketBatch, homes: Int32Array | null = null): number | CoalesceError {
    this.writeCount = 0;
    if (batch.count > this.maxBatch) return "batch-too-large";
    if (batch.headroom < VNET_HDR_LEN) return "headroom-too-small";
    if (homes !== null && homes.length < batch.count) return "batch-too-large";
    const t = this.items;
    t.begin(batch, homes);

    const count = batch.count;
    for (let i = 0; i < count; i++) {
      writeZeroVnetHeader(t.buf, t.offs[i]! - VNET_HDR_LEN);
      if (this.evaluate(i) !== GRO_MERGED) this.writeIdx[this.writeCount++] = i;
    }
    finishItems(t, this.hdr);
    this.counters.packetsIn += count;
    this.counters.writesOut += this.writeCount;
    return this.writeCount;
  }

  private evaluate(i: number): number {
    const t = this.items;
    const buf = t.buf;
    const off = t.offs[i]!;
    const len = t.lens[i]!;
    // 28 = the smallest candidate (IPv4 + UDP); len > stride breaks the contract.
    if (len < IPV4_HEADER_MIN_LEN + UDP_HEADER_LEN || len > t.room) return GRO_NOOP;
    const version = buf[off]! >>> 4;
    if (version === 4) {
      // IHL must be 5: IPv4 options never coalesce.
      if ((buf[off]! & 0x0f) !== 5) return GRO_NOOP;
      const proto = buf[off + IPV4_PROTO_OFFSET]!;
      if (proto === IPPROTO_TCP && this.enableTcp && len >= IPV4_HEADER_MIN_LEN + TCP_HEADER_MIN_LEN) {
        return tcpGro(t, i, off, len, false);
      }
      if (proto === IPPROTO_UDP && this.enableUdp) return udpGro(t, i, off, len, false);
    } else if (version === 6) {
      // Next header must be TCP/UDP directly: extension headers disqualify.
      const proto = buf[off + IPV6_NEXT_HEADER_OFFSET]!;
      if (proto === IPPROTO_TCP && this.enableTcp && len >= IPV6_HEADER_LEN + TCP_HEADER_MIN_LEN) {
        return tcpGro(t, i, off, len, true);
      }
      if (proto === IPPROTO_UDP && this.enableUdp && len >= IPV6_HEADER_LEN + UDP_HEADER_LEN) {
        return udpGro(t, i, off, len, true);
      }
    }
    return GRO_NOOP;
  }
}
