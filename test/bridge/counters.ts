// Bridge counters live in a SharedArrayBuffer: each direction's worker bumps
// its own slots with plain stores (one writer per slot), the main thread only
// reads them. No message per packet.

export const COUNTER_NAMES = [
  "reads",
  "bytesRead",
  "superPackets",
  "segments",
  "writes",
  "bytesWritten",
  "truncatedReads",
  "splitErrors",
  "writeErrors",
] as const;

export type CounterName = (typeof COUNTER_NAMES)[number];
export type Counters = Record<CounterName, number>;

export const SLOT = Object.fromEntries(COUNTER_NAMES.map((n, i) => [n, i])) as Record<CounterName, number>;

/** readCounters copies one direction's slots into a plain object. */
export function readCounters(view: Float64Array): Counters {
  return Object.fromEntries(COUNTER_NAMES.map((n, i) => [n, view[i]!])) as Counters;
}
