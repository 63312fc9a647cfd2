// One thread sealing 1420-byte packets in a loop for `seconds` (bench/handoff.ts).
import type { CryptoBackend } from "../../src/crypto/types.ts";

const PACKET = 1420;
const BATCH = 64;

export function sealLoop(crypto: CryptoBackend, seconds: number): number {
  const key = crypto.aeadKey(new Uint8Array(32).fill(7));
  const buf = new Uint8Array(BATCH * (PACKET + 32));
  const offs = Int32Array.from({ length: BATCH }, (_, i) => i * (PACKET + 32));
  const lens = new Int32Array(BATCH).fill(PACKET);
  const counters = new Float64Array(BATCH);
  let n = 0;
  const until = performance.now() + seconds * 1000;
  while (performance.now() < until) {
    for (let i = 0; i < BATCH; i++) counters[i] = n + i;
    key.sealBatch(BATCH, counters, buf, offs, lens);
    n += BATCH;
  }
  key.destroy();
  return n;
}
