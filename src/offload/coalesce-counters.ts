// What the coalescer tells `tunnel status`: how many packets came in, how
// many writes went out, and why packets that could have merged did not.
// Kept apart from the merge rules so the reasons read as one list, and so
// the TCP and UDP rules count into the same record.

/** Why a packet that could have been merged was not. */
export type CoalesceRejectReason =
  /** IPv4 header or L4 checksum did not verify (never laundered into NEEDS_CSUM). */
  | "checksum-invalid"
  /** IPv4 UDP without a checksum: unverifiable, so never merged (as kernel UDP GRO). */
  | "zero-checksum"
  /** The head slot (min(65535, stride)) had no room for the payload. */
  | "no-room"
  /** The USO super-packet already holds UDP_GRO_MAX_SEGMENTS segments. */
  | "segment-limit";

/** CoalesceCounters are cumulative, for `tunnel status`. */
export interface CoalesceCounters {
  packetsIn: number;
  /** Slots handed back for writing (super-packets plus untouched packets). */
  writesOut: number;
  superPacketsOut: number;
  /** Packets absorbed into an earlier packet's super-packet. */
  segmentsCoalesced: number;
  rejected: Record<CoalesceRejectReason, number>;
}

/** newCoalesceCounters returns a zeroed record. */
export function newCoalesceCounters(): CoalesceCounters {
  return {
    packetsIn: 0,
    writesOut: 0,
    superPacketsOut: 0,
    segmentsCoalesced: 0,
    rejected: { "checksum-invalid": 0, "zero-checksum": 0, "no-room": 0, "segment-limit": 0 },
  };
}
