// `tunnel down NAME|FILE.toml [--json]`: removes the interface. Deleting the
// link is what makes the daemon exit (it watches for its TUN vanishing, as
// wireguard-go does); policy routing for a default route is undone first.
// Already down is not an error, so playbooks can run it unconditionally.
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
import { revertDns } from "./dns.ts";
import { runHooksBestEffort } from "./hooks.ts";
import { isValidInterfaceName } from "./ifname.ts";
import { readLiveNetState, teardownNet } from "./netconfig.ts";
import { forgetWgQuickState, readWgQuickState } from "./wgquick-state.ts";
import { CliError, EXIT } from "./errors.ts";
import { log, writeData } from "./log.ts";

const EXIT_WAIT_MS = 5000;

/** interfaceNameOf accepts an interface name or a TOML file that names one. */
export function interfaceNameOf(target: string): string {
  if (target.endsWith(".toml") || (target.includes("/") && existsSync(target))) return readConfigFile(target).config.interface.name;
  if (!isValidInterfaceName(target)) throw new CliError(`'${target}' is neither an interface name nor a .toml file`, EXIT.USAGE);
  return target;
}

/**
 * removeInterface takes the interface down and undoes what `up` set. Returns
 * what it changed; empty when there was nothing to do. `runHooks: false` is
 * for `up` cleaning up after itself, where wg-quick runs no down hooks either.
 */
export async function removeInterface(name: string, opts: { runHooks: boolean } = { runHooks: true }): Promise<string[]> {
  const recorded = readWgQuickState(name);
  const live = await readLiveNetState(name);
  const running = await isUapiRunning(name);
  const changes: string[] = [];
  if (!live.exists && !running) {
    if (recorded?.dns) changes.push(`${await revertDns(recorded.dns)} (left by an interface that did not go down cleanly)`);
    forgetWgQuickState(name);
    return changes;
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
  if (recorded?.dns) changes.push(await revertDns(recorded.dns));
  forgetApplied(name);
  forgetWgQuickState(name);
  if (opts.runHooks) await runHooksBestEffort(name, "post_down", recorded?.hooks.postDown ?? []);
  return changes;
}

export default defineCommand({
  meta: { name: "down", description: "Remove an interface brought up by tunnel (or wg-quick with tunnel)" },
  args: {
    target: { type: "positional", description: "Interface name or its TOML file", required: true },
    json: { type: "boolean", description: "Print {interface, changed, changes} as JSON on stdout" },
  },
  async run({ args }) {
    const name = interfaceNameOf(String(args.target));
    const changes = await removeInterface(name);
    if (args.json) writeData(JSON.stringify({ interface: name, changed: changes.length > 0, changes }));
    else if (changes.length === 0) log.info(`${name}: already down`);
    else log.info(`${name}: down${changes.some((c) => c.includes("did not go down cleanly")) ? " (cleaned up what a crashed run left)" : ""}`);
  },
});
