// wg-quick's PreUp/PostUp/PreDown/PostDown: each command has %i replaced by
// the interface name and runs through bash, one after the other, as
// wg-quick's execute_hooks does (`echo "[#] $hook" >&2; (eval "$hook")`).
// Their output goes to our stderr so `--json` on stdout stays parseable.
// They run from "/" so the caller's working directory cannot change what
// they do (wg-quick@.service runs them from "/" too).
import { CliError, EXIT } from "./errors.ts";
import { log } from "./log.ts";

export type HookPhase = "pre_up" | "post_up" | "pre_down" | "post_down";

/** HookRunner runs one command line; injectable so tests can use another shell or a recorder. */
export type HookRunner = (command: string) => Promise<number>;

export const bashRunner: HookRunner = async (command) => {
  const proc = Bun.spawn(["bash", "-c", command], { cwd: "/", stdin: "ignore", stdout: 2, stderr: 2, env: process.env });
  return proc.exited;
};

/** expandHook substitutes every %i, as wg-quick's `${hook//%i/$INTERFACE}`. */
export function expandHook(command: string, ifname: string): string {
  return command.replaceAll("%i", ifname);
}

/**
 * runHooks runs the phase's commands in order and stops at the first that
 * fails, throwing a CliError that names the phase, the command and its exit code.
 */
export async function runHooks(ifname: string, phase: HookPhase, commands: readonly string[], runner: HookRunner = bashRunner): Promise<string[]> {
  const ran: string[] = [];
  for (const raw of commands) {
    const command = expandHook(raw, ifname);
    log.info(`${ifname}: [${phase}] ${command}`);
    let code: number;
    try {
      code = await runner(command);
    } catch (e) {
      throw new CliError(`${ifname}: ${phase} hook cannot run (${(e as Error).message}): ${command}`, EXIT.FAILURE);
    }
    if (code !== 0) throw new CliError(`${ifname}: ${phase} hook failed with exit ${code}: ${command}`, EXIT.FAILURE);
    ran.push(command);
  }
  return ran;
}

/** runHooksBestEffort is for `down`: a broken hook is reported but never keeps the interface up. */
export async function runHooksBestEffort(ifname: string, phase: HookPhase, commands: readonly string[], runner: HookRunner = bashRunner): Promise<void> {
  try {
    await runHooks(ifname, phase, commands, runner);
  } catch (e) {
    log.warn(`${(e as Error).message} (going on: down always removes the interface)`);
  }
}
