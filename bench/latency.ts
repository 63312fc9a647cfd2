// bun bench/latency.ts [BIN ...] — where the idle ping time through a tunnel
// goes: for each daemon (tunnel, and any wireguard-go-compatible binary
// given), fresh namespaces and daemons, then 100 pings 10 ms apart right
// after the handshake ("cold": what `npm run bench`'s idle ping column
// measures), 3 s of iperf3, and 100 pings again ("warm"), medians in ms.
// Alternates the daemons run by run. LATENCY_TUNNEL_VARIANTS="K=V K2=V2;K=V3"
// adds tunnel rows run with that environment (levers under test). Needs
// root, iperf3, wg; the machine to itself.
import "./side-by-side/procs.ts";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { iperf3, removeStale } from "../test/support/netns.ts";
import { pingTimes, waitForPath } from "./side-by-side/measure.ts";
import { median } from "./side-by-side/stats.ts";
import { makeKeys, PREFIX, setUp, type Impl } from "./side-by-side/topology.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const runs = Number(process.env.LATENCY_RUNS ?? 3);
const tunnelBin = join(ROOT, "dist/tunnel");
const variants = (process.env.LATENCY_TUNNEL_VARIANTS ?? "").split(";").filter((v) => v.trim() !== "");
const impls: Impl[] = [
  { id: "tunnel", bin: tunnelBin, ours: true },
  ...variants.map((v) => ({
    id: `tunnel ${v.trim()}`,
    bin: tunnelBin,
    ours: true,
    env: Object.fromEntries(
      v
        .trim()
        .split(/\s+/)
        .map((kv) => kv.split("=") as [string, string]),
    ),
  })),
  ...process.argv.slice(2).map((bin) => ({ id: bin, bin })),
];
removeStale(PREFIX);
const dir = mkdtempSync(join(tmpdir(), "bench-latency-"));
const keys = makeKeys(dir);
const rows: Record<string, { cold: number[]; warm: number[] }> = {};
let seq = 0;
try {
  for (let r = 0; r < runs; r++) {
    for (const impl of impls) {
      const s = await setUp(impl, seq++, keys);
      try {
        await waitForPath(s.a, s.target);
        // LATENCY_SETTLE_MS: wait this long after the handshake before the first pings (how long a warm-up takes).
        await Bun.sleep(Number(process.env.LATENCY_SETTLE_MS ?? 0));
        const cold = median(await pingTimes(s.a, s.target, 100, 0.01));
        await iperf3(s.a, s.b, s.target, { seconds: 3 });
        const warm = median(await pingTimes(s.a, s.target, 100, 0.01));
        rows[impl.id] ??= { cold: [], warm: [] };
        rows[impl.id]!.cold.push(cold);
        rows[impl.id]!.warm.push(warm);
        process.stderr.write(`run ${r + 1} ${impl.id}: cold ${cold.toFixed(3)} ms, warm ${warm.toFixed(3)} ms\n`);
      } finally {
        await s.close();
      }
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
console.log("| daemon | idle ping right after the handshake, ms | idle ping after 3 s of traffic, ms |");
console.log("|---|---|---|");
for (const [id, v] of Object.entries(rows)) console.log(`| ${id} | ${median(v.cold).toFixed(3)} | ${median(v.warm).toFixed(3)} |`);
