// One outbound batch: a TX slab of SLOTS segment slots plus the slot a TUN
// read lands in, and what is known about each slot between the moment its
// segment is framed and the moment it is sent: the peer it goes to, its wire
// length, its counter, and whether it is already sealed. Outbound keeps two,
// so one can be sealed by the crypto pool while the next is read and split.
import { createPacketBatch, VNET_HDR_LEN, type PacketBatch } from "../offload/index.ts";
import type { PoolBatch } from "./crypto-pool.ts";
import { HEADROOM, SLOTS, STRIDE, type PlaneContext } from "./plane-context.ts";
import type { PlanePeer } from "./plane-peer.ts";

export class OutboundBatch {
  /** The slab's segment slots. */
  readonly slab: PacketBatch;
  /** views[k] is the slab from slot k on, for a split that appends to a batch. */
  readonly views: PacketBatch[] = [];
  /** addr is the slab's address for the I/O seam (sender iovecs). */
  readonly addr: number;
  /** readOff is where a TUN read lands (behind room for its virtio-net header). */
  readonly readOff: number;
  /** wireLens[k]: the transport message length of slot k once framed. */
  readonly wireLens = new Int32Array(SLOTS);
  /** counters[k]: slot k's nonce, as frameBatch assigned it. */
  readonly counters = new Float64Array(SLOTS);
  /** peerOf[k]: where slot k goes; null when it is dropped or staged. */
  readonly peerOf: (PlanePeer | null)[] = new Array(SLOTS).fill(null);
  /** jobIndex[k]: slot k's packet in the crypto job, or -1 when it was sealed already (per-packet fallback). */
  readonly jobIndex = new Int32Array(SLOTS);
  /** used: slots [0, used) hold this batch's segments. */
  used = 0;
  /** inFlight: submitted to the crypto pool and not yet sent. */
  inFlight = false;

  constructor(
    ctx: PlaneContext,
    readonly crypto: PoolBatch,
  ) {
    const slab = createPacketBatch(SLOTS + 1, STRIDE, HEADROOM);
    this.slab = { ...slab, capacity: SLOTS, offs: slab.offs.subarray(0, SLOTS), lens: slab.lens.subarray(0, SLOTS), count: 0 };
    for (let k = 0; k < SLOTS; k++) {
      this.views.push({ ...slab, capacity: SLOTS - k, offs: slab.offs.subarray(k, SLOTS), lens: slab.lens.subarray(k, SLOTS), count: 0 });
    }
    this.addr = ctx.memory.addressOf(slab.buf);
    this.readOff = slab.offs[SLOTS]! - VNET_HDR_LEN;
    crypto.begin(slab.buf);
  }

  /** reset empties the batch for reuse once it is sent. */
  reset(): void {
    this.peerOf.fill(null, 0, this.used);
    this.used = 0;
    this.inFlight = false;
    this.crypto.begin(this.slab.buf);
  }
}
