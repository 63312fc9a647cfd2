// Which drop counter a protocol error lands in (tunnel status shows them by
// these names; dossier 4 and the whitepaper name the errors).
import type { WireGuardErrorCode } from "../wireguard/errors.ts";
import { C } from "./shared-stats.ts";

export function countError(c: Float64Array, code: WireGuardErrorCode): void {
  switch (code) {
    case "decrypt-failed":
    case "invalid-mac1":
      c[C.dropBadMac]!++;
      return;
    case "duplicate-counter":
    case "counter-too-large":
      c[C.dropReplay]!++;
      return;
    case "forged-source":
      c[C.dropSourceCheck]!++;
      return;
    case "truncated":
    case "oversized":
    case "unknown-type":
    case "bad-reserved":
    case "invalid-packet":
      c[C.dropMalformed]!++;
      return;
    case "unknown-index":
      c[C.dropUnknownIndex]!++;
      return;
    case "invalid-mac2":
    case "under-load":
    case "rate-limited":
    case "unknown-peer":
    case "zero-dh":
    case "replayed-timestamp":
    case "initiation-flood":
    case "unexpected-state":
    case "wrong-peer":
    case "invalid-cookie-reply":
      c[C.dropHandshake]!++;
      return;
    default:
      c[C.dropOther]!++;
  }
}
