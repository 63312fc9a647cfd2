// Entry point of the data-plane worker (bundled into the binary by build.ts
// like every src/**/*.worker.ts). The first message is the WorkerInit; the
// loop then runs synchronously until a "stop" control message or the TUN
// disappears, and the worker ends by itself once the loop returns.
import { DataPlane } from "./dataplane.ts";
import type { WorkerInit } from "./dataplane-messages.ts";

declare const self: Worker;

self.onmessage = (event: MessageEvent<WorkerInit>) => {
  self.onmessage = null;
  const init = event.data;
  let plane: DataPlane;
  try {
    plane = new DataPlane(init);
  } catch (e) {
    init.port.postMessage({ type: "closed", reason: `data plane failed to start: ${(e as Error)?.stack ?? String(e)}` });
    init.port.postMessage({ type: "stopped" });
    init.port.close();
    return;
  }
  plane.run();
  init.port.close();
};
