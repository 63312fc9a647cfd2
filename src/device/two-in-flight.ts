// Two batches per direction: while one is sealed or opened (by the crypto
// helpers too), the data plane fills the other. A batch completes (is sent,
// or written to the TUN) only after the one filled before it, so a flow is
// never reordered. Outbound and inbound share this rule.
import type { PoolBatch } from "./crypto-pool.ts";

/** FlightBatch is what the pair needs of a batch: its crypto job and whether it awaits completion. */
export interface FlightBatch {
  inFlight: boolean;
  readonly crypto: Pick<PoolBatch, "submit" | "pending">;
}

export class TwoInFlight<B extends FlightBatch> {
  /** current is the batch being filled; the other one may be in flight. */
  current: B;
  private older: B;

  /** complete(now, b) waits for b's crypto job, sends or writes b, and clears b.inFlight. */
  constructor(
    first: B,
    second: B,
    private readonly complete: (now: number, b: B) => void,
  ) {
    this.current = first;
    this.older = second;
  }

  /** inFlight: a batch is submitted and not yet completed (settle completes it). */
  get inFlight(): boolean {
    return this.older.inFlight || this.current.inFlight;
  }

  /** dispatch submits the current batch, completes the one before it, and makes that one current. */
  dispatch(now: number): void {
    const b = this.current;
    const older = this.older;
    b.crypto.submit();
    b.inFlight = true;
    if (older.inFlight) this.complete(now, older);
    this.current = older;
    this.older = b;
    // Done at submit already (small, or no helpers): nothing to overlap, complete it now.
    if (!b.crypto.pending) this.complete(now, b);
  }

  /** settle completes every batch still in flight, oldest first (before the loop sleeps, on control messages, at shutdown). */
  settle(now: number): void {
    if (this.older.inFlight) this.complete(now, this.older);
    if (this.current.inFlight) this.complete(now, this.current);
  }
}
