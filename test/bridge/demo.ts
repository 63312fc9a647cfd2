// `npm run demo`: a real TUN bridge between two namespaces, measured. Pushes
// pattern-checked TCP through the split + coalesce bridge for a few seconds
// each way and prints throughput and what the offloads did. Needs root and
// iproute2 only. Namespaces are removed on success, failure and Ctrl-C.
import { startBridge, type BridgeStats, type RunningBridge } from "./harness.ts";
import { BRIDGE_ADDRESSES } from "./bridge.ts";
import type { Netns } from "../support/netns.ts";

const SECONDS = 3;
const PUSH = new URL("../support/tcp-push.ts", import.meta.url).pathname;

async function push(from: Netns, to: Netns, address: string, port: number) {
  const server = to.spawn([process.execPath, PUSH, "serve", address, String(port)]);
  await server.stderr.getReader().read(); // "listening"
  from.exec([process.execPath, PUSH, "send", address, String(port), String(SECONDS)]);
  const result = JSON.parse(await new Response(server.stdout).text()) as { received: number; corrupt: number; seconds: number };
  if (result.corrupt > 0) throw new Error(`${result.corrupt} corrupted bytes arrived`);
  return { gbps: (result.received * 8) / result.seconds / 1e9, bytes: result.received };
}

function describeDirection(label: string, s: BridgeStats["aToB"]): string {
  const segmentsPerRead = s.segments / Math.max(1, s.reads);
  const coalescing = s.segments / Math.max(1, s.writes);
  return (
    `  ${label}: ${s.reads} reads, ${s.superPackets} super-packets, ${segmentsPerRead.toFixed(1)} segments per read, ` +
    `${s.writes} writes (coalescing ${coalescing.toFixed(1)}:1), drops: ${s.truncatedReads} truncated, ${s.splitErrors} malformed, ${s.writeErrors} write errors`
  );
}

if (process.getuid?.() !== 0) {
  process.stderr.write("demo: run as root (it creates network namespaces and TUN devices)\n");
  process.exit(77);
}
let bridge: RunningBridge | undefined;
try {
  process.stderr.write("demo: creating two namespaces and a split + coalesce TUN bridge between them\n");
  bridge = await startBridge("split");
  for (const line of bridge.offloads) process.stdout.write(`offloads  ${line}\n`);
  const cpu0 = bridge.cpuSeconds();
  const forward = await push(bridge.nsA, bridge.nsB, BRIDGE_ADDRESSES.b.v4, 5301);
  const backward = await push(bridge.nsB, bridge.nsA, BRIDGE_ADDRESSES.a.v6, 5302);
  const cpu = bridge.cpuSeconds() - cpu0;
  const stats = await bridge.stats();
  process.stdout.write(`\nTCP over IPv4 a -> b: ${forward.gbps.toFixed(2)} Gb/s (${(forward.bytes / 1e9).toFixed(2)} GB, every byte checked)\n`);
  process.stdout.write(`TCP over IPv6 b -> a: ${backward.gbps.toFixed(2)} Gb/s (${(backward.bytes / 1e9).toFixed(2)} GB, every byte checked)\n`);
  process.stdout.write(`bridge CPU: ${(cpu / ((forward.bytes + backward.bytes) / 1e9)).toFixed(2)} CPU-seconds per GB\n`);
  process.stdout.write("offload counters:\n");
  process.stdout.write(`${describeDirection("a -> b", stats.aToB)}\n`);
  process.stdout.write(`${describeDirection("b -> a", stats.bToA)}\n`);
} catch (e) {
  process.stderr.write(`demo failed: ${(e as Error).message}\n`);
  process.exitCode = 1;
} finally {
  await bridge?.stop();
  process.stderr.write("demo: namespaces removed\n");
}
