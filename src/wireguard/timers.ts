// Per-peer timers as deadlines, evaluated by tick(now) (dossier 4.7; WG-KMOD
// timers.c, WG-GO device/timers.go). Deadlines are ms; Infinity = not armed.
//   retransmit-handshake  REKEY_TIMEOUT+jitter after an initiation is sent;
//                         resend, or give up after MAX_TIMER_HANDSHAKES retries
//   send-keepalive        KEEPALIVE_TIMEOUT after data is received, if we have
//                         sent nothing authenticated in the meantime
//   new-handshake         KEEPALIVE_TIMEOUT+REKEY_TIMEOUT+jitter after data is
//                         sent, if nothing authenticated came back
//   zero-key-material     3×REJECT_AFTER_TIME after a session is derived
//   persistent-keepalive  the configured interval after any authenticated packet
// This file only keeps time; peer.ts decides what each expiry does.
import { KEEPALIVE_TIMEOUT_MS, REJECT_AFTER_TIME_MS, REKEY_TIMEOUT_JITTER_MAX_MS, REKEY_TIMEOUT_MS } from "./constants.ts";

/** TimerEvent names one expired per-peer timer. */
export type TimerEvent = "retransmit-handshake" | "send-keepalive" | "new-handshake" | "zero-key-material" | "persistent-keepalive";

const OFF = Number.POSITIVE_INFINITY;

/** PeerTimers holds one peer's deadlines and the counters the kernel keeps beside them. */
export class PeerTimers {
  retransmitHandshakeAt = OFF;
  sendKeepaliveAt = OFF;
  newHandshakeAt = OFF;
  zeroKeyMaterialAt = OFF;
  persistentKeepaliveAt = OFF;
  handshakeAttempts = 0;
  needAnotherKeepalive = false;
  sentLastMinuteHandshake = false;
  /** lastSentHandshake (ms) limits initiations to one per REKEY_TIMEOUT. */
  lastSentHandshake = Number.NEGATIVE_INFINITY;
  persistentKeepaliveIntervalMs = 0;

  /** jitter must return a uniform integer in [0, max). */
  constructor(private readonly jitter: (max: number) => number) {}

  /** dataSent: call after an authenticated data (non-keepalive) packet is sent. */
  dataSent(now: number): void {
    if (this.newHandshakeAt === OFF) {
      this.newHandshakeAt = now + KEEPALIVE_TIMEOUT_MS + REKEY_TIMEOUT_MS + this.jitter(REKEY_TIMEOUT_JITTER_MAX_MS);
    }
  }

  /** dataReceived: call after an authenticated data (non-keepalive) packet is received. */
  dataReceived(now: number): void {
    if (this.sendKeepaliveAt === OFF) this.sendKeepaliveAt = now + KEEPALIVE_TIMEOUT_MS;
    else this.needAnotherKeepalive = true;
  }

  /** anyAuthenticatedPacketSent: call after any authenticated packet (data, keepalive, handshake) is sent. */
  anyAuthenticatedPacketSent(): void {
    this.sendKeepaliveAt = OFF;
  }

  /** anyAuthenticatedPacketReceived: call after any authenticated packet is received. */
  anyAuthenticatedPacketReceived(): void {
    this.newHandshakeAt = OFF;
  }

  /** anyAuthenticatedPacketTraversal: call after any authenticated packet is sent or received. */
  anyAuthenticatedPacketTraversal(now: number): void {
    if (this.persistentKeepaliveIntervalMs > 0) this.persistentKeepaliveAt = now + this.persistentKeepaliveIntervalMs;
  }

  /** handshakeInitiated: call after an initiation is sent. */
  handshakeInitiated(now: number): void {
    this.retransmitHandshakeAt = now + REKEY_TIMEOUT_MS + this.jitter(REKEY_TIMEOUT_JITTER_MAX_MS);
  }

  /** handshakeComplete: call when a handshake is confirmed (response consumed, or first packet under next). */
  handshakeComplete(): void {
    this.retransmitHandshakeAt = OFF;
    this.handshakeAttempts = 0;
    this.sentLastMinuteHandshake = false;
  }

  /** sessionDerived: call after a new keypair is derived. */
  sessionDerived(now: number): void {
    this.zeroKeyMaterialAt = now + REJECT_AFTER_TIME_MS * 3;
  }

  /** giveUp: stop keepalives and make sure the keys get zeroed (handshake retries exhausted). */
  giveUp(now: number): void {
    this.sendKeepaliveAt = OFF;
    if (this.zeroKeyMaterialAt === OFF) this.zeroKeyMaterialAt = now + REJECT_AFTER_TIME_MS * 3;
  }

  /** stopAll disarms everything (peer removed or keys zeroed). */
  stopAll(): void {
    this.retransmitHandshakeAt = OFF;
    this.sendKeepaliveAt = OFF;
    this.newHandshakeAt = OFF;
    this.zeroKeyMaterialAt = OFF;
    this.persistentKeepaliveAt = OFF;
  }

  /** nextDeadline is the earliest armed deadline, so the caller can sleep until then. */
  nextDeadline(): number {
    return Math.min(this.retransmitHandshakeAt, this.sendKeepaliveAt, this.newHandshakeAt, this.zeroKeyMaterialAt, this.persistentKeepaliveAt);
  }

  /** expired appends each due timer to out, disarming it, in the kernel's handling order. */
  expired(now: number, out: TimerEvent[]): void {
    if (this.retransmitHandshakeAt <= now) {
      this.retransmitHandshakeAt = OFF;
      out.push("retransmit-handshake");
    }
    if (this.sendKeepaliveAt <= now) {
      this.sendKeepaliveAt = OFF;
      out.push("send-keepalive");
    }
    if (this.newHandshakeAt <= now) {
      this.newHandshakeAt = OFF;
      out.push("new-handshake");
    }
    if (this.zeroKeyMaterialAt <= now) {
      this.zeroKeyMaterialAt = OFF;
      out.push("zero-key-material");
    }
    if (this.persistentKeepaliveAt <= now) {
      this.persistentKeepaliveAt = OFF;
      out.push("persistent-keepalive");
    }
  }
}
