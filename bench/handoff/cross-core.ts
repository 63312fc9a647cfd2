// The third number of bench/handoff.ts: what sealing costs when another
// core wrote the packets and reads them back afterwards, as it does when the
// data plane hands a batch to a crypto helper (it split the packets into its
// slab, and sends them once sealed). Both ends run the same loop over one
// shared 128-packet batch: fill (a copy, like the split), seal, read back (a
// copy, like the send); "alone" does all three on one thread, "handed off"
// seals on the other thread. Only the seal is timed, per packet.
import type { CryptoBackend, RawAeadKey } from "../../src/crypto/types.ts";

export const PACKET = 1420;
export const BATCH = 128;
export const PITCH = PACKET + 32;

export interface CrossCoreShared {
  flags: Int32Array;
  bytes: Uint8Array;
  /** sealNs[0]: total ns the sealing side spent in seals. */
  sealNs: Float64Array;
}

export function crossCoreShared(): { buffer: SharedArrayBuffer; view: CrossCoreShared } {
  const buffer = new SharedArrayBuffer(64 + 8 + BATCH * PITCH);
  return { buffer, view: viewOf(buffer) };
}

export function viewOf(buffer: SharedArrayBuffer): CrossCoreShared {
  return { flags: new Int32Array(buffer, 0, 16), sealNs: new Float64Array(buffer, 64, 1), bytes: new Uint8Array(buffer, 72, BATCH * PITCH) };
}

export function rawKey(crypto: CryptoBackend): RawAeadKey {
  if (crypto.rawAeadKey === undefined) throw new Error("needs libcrypto");
  return crypto.rawAeadKey(new Uint8Array(32).fill(9));
}

/** sealBatchAt seals the whole batch at base (an address) and adds the time taken to sealNs. */
export function sealBatchAt(key: RawAeadKey, base: number, counter: number, s: CrossCoreShared): void {
  const t0 = Bun.nanoseconds();
  for (let i = 0; i < BATCH; i++) key.sealRaw(counter + i, base + i * PITCH, PACKET);
  s.sealNs[0]! += Bun.nanoseconds() - t0;
}
