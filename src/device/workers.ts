// How many threads a device's data plane gets: the data plane itself plus
// workers − 1 crypto helpers (crypto-pool.ts). "auto" picks for the cores
// the process may run on. Why the rule is what it is (README "Every core",
// bench/pipeline.ts and bench/run.ts --workers, this machine kind):
//   - The AEAD is ~75 % of a packet's cost and the only part spread over
//     threads; the data plane's own work (reads, splitting, framing, sends,
//     coalescing, writes) stays on one thread. Past the core where that
//     serial share saturates, more helpers only add hand-offs.
//   - On one or two cores a helper has no core of its own: the host's
//     traffic (the kernel's network stack, the applications) takes the rest,
//     and the end-to-end bench on two cores is no faster with a helper.
//     So auto is 1 there, and one helper per core beyond the first from 3
//     cores on, up to AUTO_MAX_WORKERS.
import { MAX_HELPERS } from "./crypto-pool.ts";

/** WorkersSetting is config's interface.workers (or TUNNEL_WORKERS): "auto" or a thread count. */
export type WorkersSetting = "auto" | number;

/** AUTO_MAX_WORKERS caps "auto": the data plane's serial share (see the header) cannot feed more helpers. */
export const AUTO_MAX_WORKERS = 4;

/** resolveWorkers turns a setting into a thread count for a machine with `cores` usable cores. */
export function resolveWorkers(setting: WorkersSetting, cores: number): number {
  if (setting !== "auto") return Math.max(1, Math.min(MAX_HELPERS + 1, Math.floor(setting)));
  if (cores <= 2) return 1;
  return Math.min(AUTO_MAX_WORKERS, cores);
}
