// The closed set of reasons the protocol drops or refuses something. Bad
// input is the normal path for a VPN on the open internet, so nothing here
// throws: every decoder and state transition returns one of these codes and
// the data plane counts them.

export type WireGuardErrorCode =
  // framing
  | "truncated"
  | "oversized"
  | "unknown-type"
  | "bad-reserved"
  // handshake authentication
  | "invalid-mac1"
  | "invalid-mac2"
  | "under-load"
  | "rate-limited"
  | "decrypt-failed"
  | "unknown-peer"
  | "zero-dh"
  | "replayed-timestamp"
  | "initiation-flood"
  | "unexpected-state"
  | "unknown-index"
  | "wrong-peer"
  | "invalid-cookie-reply"
  // transport
  | "no-current-session"
  | "expired-keypair"
  | "counter-too-large"
  | "duplicate-counter"
  | "invalid-packet"
  | "forged-source"
  | "buffer-too-small"
  | "index-exhausted";

/** WIREGUARD_ERROR_CODES lists every code, for counters and exhaustive tests. */
export const WIREGUARD_ERROR_CODES: readonly WireGuardErrorCode[] = [
  "truncated",
  "oversized",
  "unknown-type",
  "bad-reserved",
  "invalid-mac1",
  "invalid-mac2",
  "under-load",
  "rate-limited",
  "decrypt-failed",
  "unknown-peer",
  "zero-dh",
  "replayed-timestamp",
  "initiation-flood",
  "unexpected-state",
  "unknown-index",
  "wrong-peer",
  "invalid-cookie-reply",
  "no-current-session",
  "expired-keypair",
  "counter-too-large",
  "duplicate-counter",
  "invalid-packet",
  "forged-source",
  "buffer-too-small",
  "index-exhausted",
];

/** isErrorCode tells a code from a successful decode result. */
export function isErrorCode(x: unknown): x is WireGuardErrorCode {
  return typeof x === "string";
}
