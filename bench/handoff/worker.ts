// The other thread of bench/handoff.ts: answers hand-offs, or seals.
import { selectBackend } from "../../src/crypto/select.ts";
import { sealLoop } from "./seal-loop.ts";

declare const self: Worker;

self.onmessage = (e: MessageEvent<{ shared: SharedArrayBuffer; seconds: number }>) => {
  const flags = new Int32Array(e.data.shared);
  const crypto = selectBackend({}).backend;
  self.postMessage("ready");
  let seen = 0;
  for (;;) {
    while (Atomics.load(flags, 0) === seen) {
      if (Atomics.load(flags, 2) !== 1) Atomics.wait(flags, 0, seen, 10);
    }
    seen = Atomics.load(flags, 0);
    if (Atomics.load(flags, 3) === 1) return;
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
