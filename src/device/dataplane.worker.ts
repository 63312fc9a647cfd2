// Entry point of the data-plane worker (bundled into the binary by build.ts
// like every src/**/*.worker.ts). The first message is the WorkerInit; the
// loop then runs synchronously until a "stop" control message or the TUN
// disappears, and the worker ends by itself once the loop returns. Control
// messages are pulled here, between turns, only when the shared mailbox
// counter moved (the main thread bumps it and writes the wake eventfd).
import { receiveMessageOnPort } from "node:worker_threads";
import { DataPlane } from "./dataplane.ts";
import type { FromWorker, ToWorker, WorkerInit } from "./dataplane-messages.ts";
import { linuxIo } from "./io-linux.ts";

declare const self: Worker;

function start(init: WorkerInit): void {
  const port = init.port;
  const post = (m: FromWorker) => port.postMessage(m);
  // The daemon's plane warms the JIT up in its idle turns (warmup.ts).
  // performance.now() counts from this worker's creation: how long loading it took.
  const plane = new DataPlane(linuxIo(init.tunFd, init.vnetHeader, init.wakeFd), { ...init, warmup: true, loadedInMs: performance.now() }, { post });
  const mailbox = new Int32Array(init.mailbox);
  let seen = 0;
  const pollControl = () => {
    const bumped = Atomics.load(mailbox, 0);
    if (bumped === seen) return;
    let got = 0;
    for (;;) {
      const m = receiveMessageOnPort(port);
      if (m === undefined) break;
      got++;
      plane.control(m.message as ToWorker);
    }
    // Only acknowledge what we saw arrive; otherwise look again soon.
    if (got > 0) seen = bumped;
    else plane.lookAgainSoon();
  };
  plane.run(pollControl);
}

self.onmessage = (event: MessageEvent<WorkerInit>) => {
  self.onmessage = null;
  const init = event.data;
  try {
    start(init);
  } catch (e) {
    init.port.postMessage({ type: "closed", reason: `data plane failed to start: ${(e as Error)?.stack ?? String(e)}` });
    init.port.postMessage({ type: "stopped" });
  }
  init.port.close();
};
