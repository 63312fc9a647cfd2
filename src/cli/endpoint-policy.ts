// When a peer endpoint given as a host name is resolved again, and whether
// the answer moves the endpoint. Pure: the follower (endpoint-follower.ts)
// feeds it the device's counters and the clock on every tick.
//
// wg(8) resolves a name once. Here it is resolved again
//   - when the peer looks unreachable: we have been sending to it (tx grew)
//     and nothing came back (rx did not grow, no handshake) for
//     FAILING_AFTER_MS = KEEPALIVE_TIMEOUT + REKEY_TIMEOUT, the point at which
//     WireGuard itself gives up on the session and starts handshaking again;
//     then at most every RETRY_MS while that lasts;
//   - otherwise every `refreshMs` (default 5 min), so a moved server is
//     found even while idle.
// The answer moves the endpoint when it differs from where we send now,
// unless the current endpoint is one the peer roamed to (not what DNS said
// last time) and it is working: a handshake within REJECT_AFTER_TIME, which
// a live peer always has while we send (WireGuard rekeys every
// REKEY_AFTER_TIME). A roaming peer that answers is never pulled back.
import { KEEPALIVE_TIMEOUT_MS, REJECT_AFTER_TIME_MS, REKEY_TIMEOUT_MS } from "../wireguard/constants.ts";

export const FAILING_AFTER_MS = KEEPALIVE_TIMEOUT_MS + REKEY_TIMEOUT_MS;
export const RETRY_MS = 3 * REKEY_TIMEOUT_MS;
export const DEFAULT_REFRESH_MS = 300_000;

/** PeerSample is what the device says about a peer at one tick. */
export interface PeerSample {
  /** "198.18.0.1:51820" / "[fd00::1]:51820", or null. */
  endpoint: string | null;
  /** Unix ms, 0 = never. */
  latestHandshakeMs: number;
  txBytes: number;
  rxBytes: number;
}

/** FollowState is the follower's memory of one named peer. */
export interface FollowState {
  /** What DNS answered last time (or what `up` configured). */
  lastResolved: string;
  lastResolveMs: number;
  /** Counters at the previous tick. */
  txBytes: number;
  rxBytes: number;
  /** When rx last grew (or the follower started): the last sign of life. */
  lastHeardMs: number;
  /** tx grew since lastHeardMs: we are talking to it. */
  sending: boolean;
}

export function initialFollowState(resolved: string, sample: PeerSample, now: number): FollowState {
  return { lastResolved: resolved, lastResolveMs: now, txBytes: sample.txBytes, rxBytes: sample.rxBytes, lastHeardMs: now, sending: false };
}

/** observe folds a sample into the state (returns a new state). */
export function observe(state: FollowState, sample: PeerSample, now: number): FollowState {
  const next = { ...state, txBytes: sample.txBytes, rxBytes: sample.rxBytes };
  if (sample.rxBytes !== state.rxBytes || (sample.latestHandshakeMs > state.lastHeardMs && sample.latestHandshakeMs <= now)) {
    next.lastHeardMs = Math.max(now, state.lastHeardMs);
    next.sending = false;
  } else if (sample.txBytes !== state.txBytes) {
    next.sending = true;
  }
  return next;
}

/** isFailing: we are sending and have heard nothing for FAILING_AFTER_MS. */
export function isFailing(state: FollowState, sample: PeerSample, now: number): boolean {
  const handshakeAge = sample.latestHandshakeMs === 0 ? Infinity : now - sample.latestHandshakeMs;
  return state.sending && now - state.lastHeardMs >= FAILING_AFTER_MS && handshakeAge >= FAILING_AFTER_MS;
}

/** resolveDue says whether to ask DNS now, and why (for the log). */
export function resolveDue(state: FollowState, sample: PeerSample, now: number, refreshMs: number): "failing" | "refresh" | null {
  const since = now - state.lastResolveMs;
  if (isFailing(state, sample, now) && since >= RETRY_MS) return "failing";
  if (since >= refreshMs) return "refresh";
  return null;
}

/**
 * chooseEndpoint picks where to send after DNS answered `addresses` (in
 * resolver order): null to stay, or the new endpoint.
 */
export function chooseEndpoint(state: FollowState, sample: PeerSample, addresses: readonly string[], now: number): string | null {
  if (addresses.length === 0) return null;
  const current = sample.endpoint;
  if (current !== null && addresses.includes(current)) return null;
  const roamed = current !== null && current !== state.lastResolved;
  const handshakeRecent = sample.latestHandshakeMs !== 0 && now - sample.latestHandshakeMs < REJECT_AFTER_TIME_MS;
  if (roamed && handshakeRecent) return null;
  return addresses[0]!;
}
