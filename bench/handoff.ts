// bun bench/handoff.ts [--seconds N] — the two numbers a multi-worker data
// plane (issue 12 §2) is built from, on this machine:
//   1. hand-off: the round trip of a job posted to another worker through a
//      SharedArrayBuffer and Atomics (notify + wait, the sleeping case; and
//      a spinning waiter), which every batch handed between threads pays;
//   2. parallel AEAD: 1420-byte ChaCha20-Poly1305 seals with the system
//      libcrypto in 1 thread, then in 2 threads at once (own keys, own
//      buffers), i.e. what a second core adds to the dominant cost;
//   3. a seal of packets another core wrote and reads back (handoff/
//      cross-core.ts): what a crypto helper pays per packet that the data
//      plane's own thread does not.
// Needs the machine to itself; two idle cores.
import { selectBackend } from "../src/crypto/select.ts";
import { sealLoop } from "./handoff/seal-loop.ts";
import { addressOf } from "../src/sys/msgvec.ts";
import { BATCH, crossCoreShared, PACKET, PITCH, rawKey, sealBatchAt } from "./handoff/cross-core.ts";

const i = process.argv.indexOf("--seconds");
const seconds = i >= 0 ? Number(process.argv[i + 1]) : 3;
const worker = new Worker(new URL("./handoff/worker.ts", import.meta.url).href);
const shared = new SharedArrayBuffer(64);
const flags = new Int32Array(shared);
const cross = crossCoreShared();
// flags[0]: job sequence posted by main; flags[1]: job sequence done by the worker; flags[2]: mode; flags[3]: stop.
worker.postMessage({ shared, seconds, cross: cross.buffer });
await new Promise<void>((resolve) => {
  worker.onmessage = (e) => {
    if (e.data === "ready") resolve();
  };
});

function roundTrips(spinning: boolean, ms: number): number {
  Atomics.store(flags, 2, spinning ? 1 : 0);
  let n = 0;
  const until = performance.now() + ms;
  while (performance.now() < until) {
    const seq = Atomics.add(flags, 0, 1) + 1;
    Atomics.notify(flags, 0);
    while (Atomics.load(flags, 1) !== seq) if (!spinning) Atomics.wait(flags, 1, seq - 1, 10);
    n++;
  }
  return n;
}

const sleeping = roundTrips(false, seconds * 1000);
const spinning = roundTrips(true, seconds * 1000);
Atomics.store(flags, 2, 0); // the worker goes back to sleeping between jobs
console.log(`hand-off round trip: ${((seconds * 1e6) / sleeping).toFixed(1)} µs with Atomics.wait, ${((seconds * 1e6) / spinning).toFixed(2)} µs spinning`);

const crypto = selectBackend({}).backend;
const one = sealLoop(crypto, seconds);
Atomics.store(flags, 2, 2); // the worker seals too, for the same time
Atomics.add(flags, 0, 1);
Atomics.notify(flags, 0);
const mine = sealLoop(crypto, seconds);
while (Atomics.load(flags, 4) === 0) Atomics.wait(flags, 4, 0, 100);
const theirs = Atomics.load(flags, 5);
Atomics.store(flags, 2, 1); // the worker spins for the cross-core hand-offs
const alone = crossCore(false);
const handedOff = crossCore(true);
Atomics.store(flags, 3, 1);
Atomics.add(flags, 0, 1);
Atomics.notify(flags, 0);
const perSec = (n: number) => n / seconds / 1e6;

/** crossCore runs fill → seal → read back for `seconds`, sealing on the other thread or here; ns per sealed packet. */
function crossCore(handOff: boolean): number {
  const source = new Uint8Array(BATCH * PITCH).fill(0x5a);
  const sink = new Uint8Array(BATCH * PITCH);
  const key = rawKey(crypto);
  const base = addressOf(cross.view.bytes);
  cross.view.sealNs[0] = 0;
  Atomics.store(flags, 2, handOff ? 3 : 0);
  let batches = 0;
  const until = performance.now() + seconds * 1000;
  while (performance.now() < until) {
    for (let i = 0; i < BATCH; i++) cross.view.bytes.set(source.subarray(i * PITCH, i * PITCH + PACKET), i * PITCH);
    if (handOff) {
      const seq = Atomics.add(flags, 0, 1) + 1;
      Atomics.notify(flags, 0);
      while (Atomics.load(flags, 1) !== seq);
    } else {
      sealBatchAt(key, base, batches * BATCH, cross.view);
    }
    sink.set(cross.view.bytes);
    batches++;
  }
  Atomics.store(flags, 2, 0);
  return cross.view.sealNs[0]! / (batches * BATCH);
}
console.log(
  `AEAD seals of 1420 bytes (${crypto.name}): 1 thread ${perSec(one).toFixed(2)} M/s; 2 threads ${perSec(mine + theirs).toFixed(2)} M/s (${((mine + theirs) / one).toFixed(2)}×)`,
);
console.log(
  `a seal of ${PACKET} bytes another thread wrote and reads back: ${alone.toFixed(0)} ns when that thread seals it itself, ${handedOff.toFixed(0)} ns on the other thread (${(handedOff / alone).toFixed(2)}×)`,
);
worker.terminate();
