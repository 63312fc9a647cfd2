// Kernel-side interface setup for `tunnel up` / `tunnel down`: addresses,
// MTU, link state, routes for the peers' allowed IPs and wg-quick's policy
// routing for default routes. Usage:
//
//   const live = await readLiveNetState("wg0");
//   const plan = planNetChanges(live, { addresses, mtu, routes, fwmark });
//   // set plan.fwmark on the device through UAPI first, then:
//   await applyNetChanges("wg0", plan.changes);
//
// and on `down`: `await teardownNet("wg0", live)` before `ip link delete`.
// The planner is pure (netconfig-plan.ts); this file runs its commands.
import { CliError, EXIT } from "./errors.ts";
import { planTeardown } from "./netconfig-plan.ts";
import { readLiveNetState } from "./netconfig-read.ts";
import { argvOf, defaultRunner, run, type NetRunner } from "./netconfig-runner.ts";
import type { LiveNetState, NetChange } from "./netconfig-types.ts";

export { DEFAULT_TABLE, planNetChanges, planTeardown } from "./netconfig-plan.ts";
export { parseAddresses, parseLink, parseRoutes, parseRules, readLiveNetState } from "./netconfig-read.ts";
export { defaultRunner, netnsRunner, type ExecResult, type NetRunner } from "./netconfig-runner.ts";
export type { DesiredNetState, FamilyPolicy, LiveNetState, NetChange, NetCommand, NetPlan, NewLink } from "./netconfig-types.ts";

/**
 * applyNetChanges runs the changes in order and stops at the first failure,
 * naming the change and quoting ip's stderr. What ran stays applied: the next
 * plan is computed from the live state, so a retry does only the rest.
 */
export async function applyNetChanges(ifname: string, changes: NetChange[], runner: NetRunner = defaultRunner): Promise<void> {
  for (let i = 0; i < changes.length; ) {
    const n = runner.execInput === undefined ? 1 : batchLength(changes, i);
    if (n === 1) {
      const result = await run(runner, changes[i]!.command);
      if (result.code !== 0) failed(ifname, runner, changes[i]!, result.stderr, result.code);
    } else {
      await applyBatch(ifname, changes.slice(i, i + n), runner);
    }
    i += n;
  }
}

/** The global option ip needs before -batch for a command (-4/-6), or "" (batch lines cannot carry it). */
function familyOption(change: NetChange): string {
  const first = change.command.args[0];
  return change.command.tool === "ip" && (first === "-4" || first === "-6") ? first : "";
}

/** batchLength counts the ip commands from i on that share one family option, so one `ip -batch` can run them. */
function batchLength(changes: NetChange[], i: number): number {
  const head = changes[i]!;
  if (head.command.tool !== "ip") return 1;
  const family = familyOption(head);
  let n = 1;
  while (i + n < changes.length && changes[i + n]!.command.tool === "ip" && familyOption(changes[i + n]!) === family) n++;
  return n;
}

/**
 * applyBatch runs ip commands as one `ip [-4|-6] -batch -`. ip stops at the
 * first failing line and names it ("Command failed -:N"), so the error is
 * the same as when each ran alone: that change, its argv, ip's message.
 */
async function applyBatch(ifname: string, batch: NetChange[], runner: NetRunner): Promise<void> {
  const family = familyOption(batch[0]!);
  const lines = batch.map((c) => `${(family === "" ? c.command.args : c.command.args.slice(1)).join(" ")}\n`).join("");
  const argv = [...runner.ip, ...(family === "" ? [] : [family]), "-batch", "-"];
  const result = await runner.execInput!(argv, lines);
  if (result.code === 0) return;
  const line = /Command failed -:(\d+)/.exec(result.stderr);
  const at = line === null ? 0 : Math.min(batch.length, Math.max(1, Number(line[1]))) - 1;
  const stderr = result.stderr.replace(/^Command failed -:\d+\s*$/m, "");
  failed(ifname, runner, batch[at]!, stderr, result.code);
}

function failed(ifname: string, runner: NetRunner, change: NetChange, stderrText: string, exitCode: number): never {
  const stderr = stderrText.trim();
  const code = /Operation not permitted|Permission denied/i.test(stderr) ? EXIT.NO_PERMISSION : EXIT.FAILURE;
  throw new CliError(`${ifname}: ${change.description} failed: ${argvOf(runner, change.command).join(" ")}: ${stderr || `exit ${exitCode}`}`, code);
}

/**
 * teardownNet undoes what the link's deletion does not: the policy rules of a
 * default route (rules are global, they outlive the interface). Addresses and
 * routes go with the link. src_valid_mark stays 1, as wg-quick leaves it.
 * Without `live`, the state is read first. Returns what it did.
 */
export async function teardownNet(ifname: string, live?: LiveNetState, runner: NetRunner = defaultRunner): Promise<NetChange[]> {
  const state = live ?? (await readLiveNetState(ifname, runner));
  const changes = planTeardown(state);
  await applyNetChanges(ifname, changes, runner);
  return changes;
}
