// The other thread of bench/handoff.ts: answers hand-offs, or seals.
import { selectBackend } from "../../src/crypto/select.ts";
import { sealLoop } from "./seal-loop.ts";
import { addressOf } from "../../src/sys/msgvec.ts";
import { rawKey, sealBatchAt, viewOf } from "./cross-core.ts";

declare const self: Worker;

self.onmessage = (e: MessageEvent<{ shared: SharedArrayBuffer; seconds: number; cross: SharedArrayBuffer }>) => {
  const flags = new Int32Array(e.data.shared);
  const crypto = selectBackend({}).backend;
  const cross = viewOf(e.data.cross);
  const crossKey = rawKey(crypto);
  const crossBase = addressOf(cross.bytes);
  self.postMessage("ready");
  let seen = 0;
  for (;;) {
    while (Atomics.load(flags, 0) === seen) {
      if (Atomics.load(flags, 2) !== 1) Atomics.wait(flags, 0, seen, 10);
    }
    seen = Atomics.load(flags, 0);
    if (Atomics.load(flags, 3) === 1) return;
    if (Atomics.load(flags, 2) === 3) {
      // Seal the batch the main thread just wrote, then hand it back.
      sealBatchAt(crossKey, crossBase, seen * 128, cross);
      Atomics.store(flags, 1, seen);
      Atomics.notify(flags, 1);
      continue;
    }
    if (Atomics.load(flags, 2) === 2) {
      Atomics.store(flags, 5, sealLoop(crypto, e.data.seconds));
      Atomics.store(flags, 4, 1);
      Atomics.notify(flags, 4);
      continue;
    }
    Atomics.store(flags, 1, seen);
    Atomics.notify(flags, 1);
  }
};
