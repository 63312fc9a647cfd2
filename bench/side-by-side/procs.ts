// Every process the benchmark starts goes through here, so that an early end
// (an exception, SIGINT, SIGTERM) can still stop all of them. Deleting a
// namespace does not end the processes inside it (they keep it alive), so
// the namespaces' own cleanup in test/support/netns.ts is not enough alone.
//
// Our signal handlers must be registered before the first Netns.create():
// listeners run in registration order, and netns.ts's handler exits the
// process. We kill first, then exit; netns.ts's "exit" listener then
// deletes the namespaces.
import { rmSync } from "node:fs";
import type { Netns } from "../../test/support/netns.ts";

export type Child = Bun.Subprocess<"ignore", "pipe", "pipe">;

const live = new Set<Child>();
const paths = new Set<string>();

function killAllNow(): void {
  for (const p of live) p.kill("SIGKILL");
  live.clear();
  for (const path of paths) rmSync(path, { recursive: true, force: true });
  paths.clear();
}

process.on("exit", killAllNow);
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.on(sig, () => {
    process.stderr.write(`\n${sig}: stopping every process and deleting the namespaces\n`);
    killAllNow();
    process.exit(sig === "SIGINT" ? 130 : 143);
  });
}

/** removeOnExit deletes path (a socket, a key directory) if we end early. */
export function removeOnExit(path: string): void {
  paths.add(path);
}

/** forget is for paths already removed on the normal path. */
export function forget(path: string): void {
  paths.delete(path);
}

/** Started is a tracked child with the tail of its output (for error messages). */
export interface Started {
  proc: Child;
  /** output is the child's stdout+stderr so far, at most the last 8 KiB. */
  output: () => string;
  /** stdout is everything the child wrote on stdout (for programs whose output we parse). */
  stdout: () => string;
  /** finished resolves once the child exited and both pipes were read to the end. */
  finished: Promise<number>;
}

const TAIL = 8192;

/**
 * spawnIn starts argv inside ns (or in our namespace when ns is null). Both
 * pipes are drained continuously: a daemon that logs into a full pipe
 * would block, and that would show up as a slow tunnel.
 */
export function spawnIn(ns: Netns | null, argv: string[], env: Record<string, string> = {}): Started {
  const full = ns ? ["ip", "netns", "exec", ns.name, ...argv] : argv;
  const proc = Bun.spawn(full, { stdin: "ignore", stdout: "pipe", stderr: "pipe", env: { ...process.env, ...env } });
  live.add(proc);
  void proc.exited.then(() => live.delete(proc));
  let tail = "";
  let out = "";
  const drain = async (stream: ReadableStream<Uint8Array>, keepAll: boolean) => {
    const dec = new TextDecoder();
    for await (const chunk of stream) {
      const text = dec.decode(chunk, { stream: true });
      if (keepAll) out += text;
      tail = (tail + text).slice(-TAIL);
    }
  };
  const drained = Promise.all([drain(proc.stdout, true), drain(proc.stderr, false)]);
  const finished = Promise.all([proc.exited, drained.catch(() => undefined)]).then(([code]) => code);
  return { proc, output: () => tail, stdout: () => out, finished };
}

/** stop sends SIGTERM, and SIGKILL if the child has not exited after graceMs. */
export async function stop(p: Child, graceMs = 2000): Promise<void> {
  if (p.exitCode === null && p.signalCode === null) {
    p.kill("SIGTERM");
    const exited = await Promise.race([p.exited.then(() => true), Bun.sleep(graceMs).then(() => false)]);
    if (!exited) p.kill("SIGKILL");
  }
  await p.exited;
  live.delete(p);
}
