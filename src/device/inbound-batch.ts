// One inbound batch: a landing zone that one recvmmsg filled, and, for each
// data message in it that may be opened, what is known between its
// classification and its completion: where it lies, which message of the
// receive it came in (its sender and local address), its keypair and
// counter. Inbound keeps two, so one can be opened by the crypto pool while
// the next is received and classified.
import { SLOT_PACKETS } from "./crypto-jobs.ts";
import type { PoolBatch } from "./crypto-pool.ts";
import type { DatagramSocket } from "./io.ts";
import type { Keypair } from "../wireguard/keypair.ts";
import type { Tunn } from "../wireguard/peer.ts";

/** INBOUND_DATAGRAMS_MAX: a receive's datagrams, at most 16 GRO messages of 64 (UDP_GRO_CNT_MAX). */
export const INBOUND_DATAGRAMS_MAX = SLOT_PACKETS;

export class InboundBatch {
  /** The socket whose receive filled the zone (its received[zone] describes the messages). */
  sock: DatagramSocket | null = null;
  /** count: data messages recorded, each also packet `d` of the crypto job. */
  count = 0;
  inFlight = false;
  readonly offs = new Int32Array(INBOUND_DATAGRAMS_MAX);
  readonly lens = new Int32Array(INBOUND_DATAGRAMS_MAX);
  /** message[d]: the index of the received message datagram d was part of. */
  readonly message = new Int32Array(INBOUND_DATAGRAMS_MAX);
  readonly counters = new Float64Array(INBOUND_DATAGRAMS_MAX);
  readonly peers: (Tunn | null)[] = new Array(INBOUND_DATAGRAMS_MAX).fill(null);
  readonly keypairs: (Keypair | null)[] = new Array(INBOUND_DATAGRAMS_MAX).fill(null);

  constructor(
    /** zone: the landing zone this batch receives into. */
    readonly zone: number,
    readonly crypto: PoolBatch,
    private readonly slab: Uint8Array,
  ) {
    crypto.begin(slab);
  }

  get full(): boolean {
    return this.count === INBOUND_DATAGRAMS_MAX;
  }

  /** record keeps data message d for completion; its open joins the crypto job. */
  record(sock: DatagramSocket, off: number, len: number, message: number, peer: Tunn, kp: Keypair, counter: number, openOff: number, openLen: number): void {
    const d = this.count++;
    this.sock = sock;
    this.offs[d] = off;
    this.lens[d] = len;
    this.message[d] = message;
    this.counters[d] = counter;
    this.peers[d] = peer;
    this.keypairs[d] = kp;
    this.crypto.add(kp.recv, openOff, openLen, counter);
  }

  /** reset empties the batch for its zone's next receive. */
  reset(): void {
    this.peers.fill(null, 0, this.count);
    this.keypairs.fill(null, 0, this.count);
    this.count = 0;
    this.inFlight = false;
    this.crypto.begin(this.slab);
  }
}
