// PacketBatch: the packet vector shared by split (TUN read side) and
// coalesce (TUN write side). One backing Uint8Array holds every slot, so a
// batch can be handed to sendmmsg/writev as (buf, offs, lens) with no
// per-packet objects. The buffer lives in WebAssembly memory where the
// runtime allows, so that checksums over it take the SIMD kernel.
//
// Slot contract: packet i lives at buf[offs[i], offs[i]+lens[i]). The caller
// guarantees headroom bytes before offs[i] (>= VNET_HDR_LEN for coalescing;
// the data plane uses 16 so the WireGuard transport header fits in place)
// and stride writable bytes from offs[i]. Offload code writes only inside
// [offs[i]-VNET_HDR_LEN, offs[i]+stride) of the slots it is handed.

import { allocateChecksummedBytes } from "./checksum.ts";

/** PacketBatch is a vector of packet slots in one buffer; see the file header for the slot contract. */
export interface PacketBatch {
  readonly buf: Uint8Array;
  /** Number of slots (length of offs and lens). */
  readonly capacity: number;
  /** Bytes reserved before each offs[i]. */
  readonly headroom: number;
  /** Writable bytes from offs[i]: the largest packet a slot can hold. */
  readonly stride: number;
  readonly offs: Int32Array;
  readonly lens: Int32Array;
  /** Number of slots in use, from index 0. */
  count: number;
}

/** SLOT_ALIGN keeps every offs[i] 16-byte aligned so checksums use the word path. */
const SLOT_ALIGN = 16;

/**
 * createPacketBatch allocates capacity slots of headroom+stride bytes each
 * (rounded up to 16) in one buffer, with offs[i] at the end of slot i's
 * headroom. Coalescing to full 64 KiB super-packets needs stride >= 65535;
 * splitting needs stride >= the largest segment (MTU-sized).
 */
export function createPacketBatch(capacity: number, stride: number, headroom = 16): PacketBatch {
  const pitch = Math.ceil((headroom + stride) / SLOT_ALIGN) * SLOT_ALIGN;
  const buf = allocateChecksummedBytes(pitch * capacity);
  const offs = new Int32Array(capacity);
  for (let i = 0; i < capacity; i++) offs[i] = i * pitch + headroom;
  return { buf, capacity, headroom, stride, offs, lens: new Int32Array(capacity), count: 0 };
}
