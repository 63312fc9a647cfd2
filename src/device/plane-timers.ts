// The timer pass (the kernel's timers.c, wireguard-go's timers.go, driven
// from the loop instead of one timer per event): every peer's state machine
// is ticked (retransmits, keepalives, rekeys, zeroing), a retry forgets the
// sticky source that may be why it went unanswered, the device's cookie
// secret and rate limiter age once a second, and the shared stats are
// published. Returns when the next pass is due.
import { clearSource } from "./plane-peer.ts";
import type { PlaneContext } from "./plane-context.ts";
import type { PeerTable } from "./peer-table.ts";
import type { Transmitter } from "./transmit.ts";

/** An idle device still looks at its timers this often. */
const TIMER_PASS_MAX_MS = 1000;
/** DEVICE_TICK_MS: how often the device-wide state (cookie secret, rate limiter, wall clock) is aged. */
const DEVICE_TICK_MS = 1000;

export class PlaneTimers {
  private lastDeviceTick = 0;

  constructor(
    private readonly ctx: PlaneContext,
    private readonly out: Transmitter,
    private readonly table: PeerTable,
  ) {}

  /** pass runs every timer due at now and returns when the next pass is due. */
  pass(now: number): number {
    const ctx = this.ctx;
    let deadline = now + TIMER_PASS_MAX_MS;
    for (const peer of ctx.peers.values()) {
      const results = peer.tunn.tick(now);
      if (peer.tunn.endpointSourceStale) {
        // A handshake retry: perhaps our sticky source is why it went unanswered.
        peer.tunn.endpointSourceStale = false;
        clearSource(ctx.stats, peer);
      }
      for (const r of results) this.out.sendResult(r, peer);
      this.out.noteHandshake(peer);
      deadline = Math.min(deadline, peer.tunn.nextDeadline());
    }
    if (ctx.device !== null && now - this.lastDeviceTick >= DEVICE_TICK_MS) {
      ctx.device.tick(now);
      ctx.device.wallClockOffsetMs = ctx.clock.wallNow() - ctx.clock.now();
      this.lastDeviceTick = now;
    }
    this.table.publishAll();
    ctx.dirty = false;
    return Math.max(deadline, now + 1);
  }
}
