// `tunnel down NAME|FILE.toml [--json]`: removes the interface. Deleting the
// link is what makes the daemon exit (it watches for its TUN vanishing, as
// wireguard-go does); policy routing for a default route is undone first.
// Already down is not an error, so playbooks can run it unconditionally.
// After a crash (kill -9) the link is gone but the daemon's files stay: down
// removes them. A name held by a daemon in another network namespace is
// refused: deleting our link of that name would not stop it.
//
// wg-quick's cmd_down order: pre_down hooks, the link and its routing, DNS,
// post_down hooks. The hooks and DNS are the ones the last `up` recorded (the
// file may have changed since). A failing down hook is reported, but down
// still removes the interface. DNS left by an interface that crashed is
// removed even when the interface is already gone.
import { existsSync } from "node:fs";
import { defineCommand } from "citty";
import { isUapiRunning } from "../device/uapi/client.ts";
import { readConfigFile } from "./config-file.ts";
import { forgetApplied } from "./applied-state.ts";
import { daemonState, otherNetnsError, removeFiles } from "./daemon-state.ts";
import { revertDns } from "./dns.ts";
import { runHooksBestEffort } from "./hooks.ts";
import { isValidInterfaceName } from "./ifname.ts";
import { readLiveNetState, teardownNet } from "./netconfig.ts";
import { forgetWgQuickState, readWgQuickState } from "./wgquick-state.ts";
import { CliError, EXIT } from "./errors.ts";
import { log } from "./log.ts";
import { writeData } from "./output.ts";

const EXIT_WAIT_MS = 5000;

/** interfaceNameOf accepts an interface name or a TOML file that names one. */
export function interfaceNameOf(target: string): string {
  if (target.endsWith(".toml") || (target.includes("/") && existsSync(target))) return readConfigFile(target).config.interface.name;
  if (!isValidInterfaceName(target)) throw new CliError(`'${target}' is neither an interface name nor a .toml file`, EXIT.USAGE);
  return target;
}

/** RemoveResult says what removeInterface did: wasUp false means the interface was already gone. */
export interface RemoveResult {
  wasUp: boolean;
  changes: string[];
  /** Files a dead daemon left, removed. */
  staleFiles: string[];
}

/**
 * removeInterface takes the interface down and undoes what `up` set.
 * `runHooks: false` is for `up` cleaning up after itself, where wg-quick
 * runs no down hooks either.
 */
export async function removeInterface(name: string, opts: { runHooks: boolean } = { runHooks: true }): Promise<RemoveResult> {
  const state = daemonState(name, "down");
  if (state.kind === "running" && state.otherNetns) throw otherNetnsError(name, state.pid, "not taken down here");
  const recorded = readWgQuickState(name);
  const live = await readLiveNetState(name);
  const running = state.kind === "running";
  const changes: string[] = [];
  if (!live.exists && !running) {
    const staleFiles = state.kind === "stale" ? removeFiles(state.files) : [];
    if (recorded?.dns) changes.push(`${await revertDns(recorded.dns)} (left by an interface that did not go down cleanly)`);
    forgetWgQuickState(name);
    return { wasUp: false, changes, staleFiles };
  }
  if (opts.runHooks) await runHooksBestEffort(name, "pre_down", recorded?.hooks.preDown ?? []);
  changes.push(...(await teardownNet(name, live)).map((c) => c.description));
  if (live.exists) {
    const del = Bun.spawnSync(["ip", "link", "delete", "dev", name], { stderr: "pipe" });
    if (del.exitCode !== 0) throw new CliError(`${name}: ip link delete failed: ${del.stderr.toString().trim()}`, EXIT.FAILURE);
  }
  changes.push(`interface ${name} removed`);
  const deadline = Date.now() + EXIT_WAIT_MS;
  while ((await isUapiRunning(name)) && Date.now() < deadline) await Bun.sleep(50);
  if (await isUapiRunning(name)) throw new CliError(`${name}: link deleted but the daemon still answers after ${EXIT_WAIT_MS / 1000} s`, EXIT.FAILURE);
  forgetApplied(name);
  const after = daemonState(name, "down");
  if (after.kind === "stale") removeFiles(after.files);
  if (recorded?.dns) changes.push(await revertDns(recorded.dns));
  forgetWgQuickState(name);
  if (opts.runHooks) await runHooksBestEffort(name, "post_down", recorded?.hooks.postDown ?? []);
  return { wasUp: true, changes, staleFiles: [] };
}

export default defineCommand({
  meta: { name: "down", description: "Remove an interface brought up by tunnel (or wg-quick with tunnel)" },
  args: {
    target: { type: "positional", description: "Interface name or its TOML file", required: true },
    json: { type: "boolean", description: "Print {interface, changed} as JSON on stdout" },
  },
  async run({ args }) {
    const name = interfaceNameOf(String(args.target));
    const done = await removeInterface(name);
    if (args.json) writeData(JSON.stringify({ interface: name, changed: done.changes.length > 0 || done.staleFiles.length > 0 }));
    else if (!done.wasUp && (done.staleFiles.length > 0 || done.changes.length > 0)) {
      // Both can be there after a kill -9: the daemon's files and the DNS it had registered.
      const left = done.staleFiles.length > 0 ? [`removed what its daemon left: ${done.staleFiles.join(", ")}`] : [];
      log.info(`${name}: was not running; ${[...left, ...done.changes].join("; ")}`);
    } else if (!done.wasUp) log.info(`${name}: already down`);
    else log.info(`${name}: down`);
  },
});
