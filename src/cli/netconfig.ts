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
export type { DesiredNetState, FamilyPolicy, LiveNetState, NetChange, NetCommand, NetPlan } from "./netconfig-types.ts";

/**
 * applyNetChanges runs the changes in order and stops at the first failure,
 * naming the change and quoting ip's stderr. What ran stays applied: the next
 * plan is computed from the live state, so a retry does only the rest.
 */
export async function applyNetChanges(ifname: string, changes: NetChange[], runner: NetRunner = defaultRunner): Promise<void> {
  for (const change of changes) {
    const result = await run(runner, change.command);
    if (result.code === 0) continue;
    const stderr = result.stderr.trim();
    const code = /Operation not permitted|Permission denied/i.test(stderr) ? EXIT.NO_PERMISSION : EXIT.FAILURE;
    throw new CliError(`${ifname}: ${change.description} failed: ${argvOf(runner, change.command).join(" ")}: ${stderr || `exit ${result.code}`}`, code);
  }
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
