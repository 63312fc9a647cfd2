// A JIT warm-up (src/device/warmup.ts) built outside any device, with no CPU
// budget, that keeps the private planes it builds and the lines they log,
// so a test can read their counters afterwards.
import { selectBackend } from "../../src/crypto/select.ts";
import { DataPlane } from "../../src/device/dataplane.ts";
import { SharedStats } from "../../src/device/shared-stats.ts";
import { Warmup } from "../../src/device/warmup.ts";

export interface RecordedWarmup {
  warmup: Warmup;
  /** Every plane the warm-up built, in order (a dropped pair's first). */
  planes: DataPlane[];
  logs: string[];
}

/** recordedWarmup builds one; offloads says what the (imaginary) device's TUN offers. */
export function recordedWarmup(offloads = { tcpGro: true, udpGro: true }): RecordedWarmup {
  const planes: DataPlane[] = [];
  const logs: string[] = [];
  const opts = { ...offloads, mtu: 1420, env: {}, stats: SharedStats.allocate(2).buffer };
  const make = (io: ConstructorParameters<typeof DataPlane>[0], o: ConstructorParameters<typeof DataPlane>[1]) => {
    const p = new DataPlane(io, o, { post: (m) => m.type === "log" && logs.push(m.message) });
    planes.push(p);
    return p;
  };
  return { warmup: new Warmup(selectBackend({}).backend, opts, make, Infinity), planes, logs };
}

/** runToEnd carries the whole warm-up in slices of sliceMs; the number of slices. */
export function runToEnd(w: Warmup, sliceMs = 5): number {
  let slices = 1;
  while (!w.slice(sliceMs, () => performance.now())) slices++;
  return slices;
}
