// Entry point of a crypto helper thread (bundled into the binary by build.ts
// like every src/**/*.worker.ts). Its one message is the shared job memory
// and the environment for the backend choice; it then runs CryptoHelper's
// loop until the data plane sets the stop word (or wants fewer helpers than
// its index), and ends by itself.
import { selectBackend } from "../crypto/select.ts";
import { CryptoHelper } from "./crypto-helper.ts";
import { type CryptoHelperInit, JobArea } from "./crypto-jobs.ts";

declare const self: Worker;

self.onmessage = (event: MessageEvent<CryptoHelperInit>) => {
  self.onmessage = null;
  const { buffer, env, index } = event.data;
  // A helper that cannot start costs only speed: the data plane claims every
  // chunk nobody else takes, so it never waits for a helper that is not there.
  new CryptoHelper(new JobArea(buffer), selectBackend(env).backend, index).run();
};
