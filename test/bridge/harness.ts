// Drives the bridge for tests, the benchmark and the demo: namespaces, the
// bridge process, stats over its stdin/stdout, and teardown that always runs.
import { Netns, removeStale, cpuSeconds } from "../support/netns.ts";
import type { BridgeMode } from "./bridge.ts";
import type { Counters } from "./counters.ts";

export interface BridgeStats {
  aToB: Counters;
  bToA: Counters;
}

export interface RunningBridge {
  mode: BridgeMode;
  nsA: Netns;
  nsB: Netns;
  pid: number;
  /** offloads describes both TUNs as the bridge reported them at start-up. */
  offloads: string[];
  stats(): Promise<BridgeStats>;
  cpuSeconds(): number;
  stop(): Promise<void>;
}

const NS_PREFIX = "tbr";

/** startBridge creates two namespaces and a bridge between them in mode. */
export async function startBridge(mode: BridgeMode): Promise<RunningBridge> {
  removeStale(NS_PREFIX);
  const nsA = Netns.create(NS_PREFIX, `${mode}-a`);
  const nsB = Netns.create(NS_PREFIX, `${mode}-b`);
  const proc = Bun.spawn([process.execPath, new URL("./bridge.ts", import.meta.url).pathname, mode, nsA.name, nsB.name], {
    stdin: "pipe",
    stdout: "pipe",
    stderr: "pipe",
  });
  const reader = proc.stdout.getReader();
  let buffered = "";
  const nextLine = async (): Promise<string> => {
    for (;;) {
      const nl = buffered.indexOf("\n");
      if (nl >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        return line;
      }
      const { value, done } = await reader.read();
      if (done) {
        const err = await new Response(proc.stderr).text();
        throw new Error(`bridge exited: ${err.trim() || "no output"}`);
      }
      buffered += new TextDecoder().decode(value);
    }
  };
  const stop = async () => {
    proc.kill();
    await proc.exited;
    nsA.delete();
    nsB.delete();
  };
  try {
    const ready = JSON.parse(await nextLine()) as { ready: boolean; a: string[]; b: string[] };
    return {
      mode,
      nsA,
      nsB,
      pid: proc.pid,
      offloads: [...ready.a, ...ready.b],
      async stats() {
        proc.stdin.write("stats\n");
        proc.stdin.flush();
        return JSON.parse(await nextLine()) as BridgeStats;
      },
      cpuSeconds: () => cpuSeconds(proc.pid),
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}
