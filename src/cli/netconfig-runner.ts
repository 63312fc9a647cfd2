// How netconfig runs `ip` and `sysctl`. Injectable so tests (and a future
// `tunnel up --netns`) can point every command into a network namespace with
// `ip -n NS` instead of entering it some other way, and so planning logic can
// be exercised against a fake. This is interface configuration, not the data
// path: shelling out to iproute2 keeps it identical to what wg-quick does.
import { readFile } from "node:fs/promises";
import type { NetCommand } from "./netconfig-types.ts";

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface NetRunner {
  /** argv prefix for iproute2; default ["ip"]. */
  ip: readonly string[];
  /** argv prefix for sysctl; default ["sysctl"]. */
  sysctl: readonly string[];
  /** Runs one argv; default spawns it. */
  exec: (argv: string[]) => Promise<ExecResult>;
  /**
   * Runs one argv with `input` on its stdin, for `ip -batch -`: one process
   * for a run of ip commands instead of one each (on a small or emulated
   * host each costs tens to hundreds of milliseconds, and a restarted
   * service waits for all of them). Optional: without it every command runs
   * on its own.
   */
  execInput?: (argv: string[], input: string) => Promise<ExecResult>;
  /**
   * procSys: sysctls are read from /proc/sys directly rather than through a
   * `sysctl` process (only where /proc/sys is this namespace's own).
   */
  procSys?: boolean;
}

async function spawnExec(argv: string[], input?: string): Promise<ExecResult> {
  const proc = Bun.spawn(argv, { stdin: input === undefined ? "ignore" : new TextEncoder().encode(input), stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
}

export const defaultRunner: NetRunner = { ip: ["ip"], sysctl: ["sysctl"], exec: spawnExec, execInput: spawnExec, procSys: true };

/**
 * netnsRunner runs everything inside namespace `ns`: `ip -n NS ...` for
 * iproute2; sysctl has no such flag, so it goes through `ip netns exec`.
 */
export function netnsRunner(ns: string): NetRunner {
  return { ip: ["ip", "-n", ns], sysctl: ["ip", "netns", "exec", ns, "sysctl"], exec: spawnExec, execInput: spawnExec };
}

/** argvOf resolves a command through the runner's prefixes. */
export function argvOf(runner: NetRunner, command: NetCommand): string[] {
  return [...(command.tool === "ip" ? runner.ip : runner.sysctl), ...command.args];
}

/** run executes a command and returns the result without judging the exit code. */
export function run(runner: NetRunner, command: NetCommand): Promise<ExecResult> {
  return runner.exec(argvOf(runner, command));
}

/** readSysctl is a sysctl's value (trimmed), or null when it cannot be read (no such key, no IPv4). */
export async function readSysctl(runner: NetRunner, key: string): Promise<string | null> {
  if (runner.procSys === true) {
    try {
      return (await readFile(`/proc/sys/${key.replaceAll(".", "/")}`, "utf8")).trim();
    } catch {
      return null;
    }
  }
  const r = await run(runner, { tool: "sysctl", args: ["-n", key] });
  return r.code === 0 ? r.stdout.trim() : null;
}
