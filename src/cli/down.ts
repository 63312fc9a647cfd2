// `tunnel down NAME|FILE.toml [--json]`: removes the interface. Deleting the
// link is what makes the daemon exit (it watches for its TUN vanishing, as
// wireguard-go does); policy routing for a default route is undone first.
// Already down is not an error, so playbooks can run it unconditionally.
// After a crash (kill -9) the link is gone but the daemon's files stay: down
// removes them. A name held by a daemon in another network namespace is
// refused: deleting our link of that name would not stop it.
import { existsSync } from "node:fs";
import { defineCommand } from "citty";
import { isUapiRunning } from "../device/uapi/client.ts";
import { readConfigFile } from "./config-file.ts";
import { forgetApplied } from "./applied-state.ts";
import { daemonState, otherNetnsError, removeFiles } from "./daemon-state.ts";
import { isValidInterfaceName } from "./ifname.ts";
import { readLiveNetState, teardownNet } from "./netconfig.ts";
import { CliError, EXIT } from "./errors.ts";
import { log, writeData } from "./log.ts";

const EXIT_WAIT_MS = 5000;

/** interfaceNameOf accepts an interface name or a TOML file that names one. */
export function interfaceNameOf(target: string): string {
  if (target.endsWith(".toml") || (target.includes("/") && existsSync(target))) return readConfigFile(target).config.interface.name;
  if (!isValidInterfaceName(target)) throw new CliError(`'${target}' is neither an interface name nor a .toml file`, EXIT.USAGE);
  return target;
}

export default defineCommand({
  meta: { name: "down", description: "Remove an interface brought up by tunnel (or wg-quick with tunnel)" },
  args: {
    target: { type: "positional", description: "Interface name or its TOML file", required: true },
    json: { type: "boolean", description: "Print {interface, changed} as JSON on stdout" },
  },
  async run({ args }) {
    const name = interfaceNameOf(String(args.target));
    const state = daemonState(name, "down");
    if (state.kind === "running" && state.otherNetns) throw otherNetnsError(name, state.pid, "not taken down here");
    const live = await readLiveNetState(name);
    const running = state.kind === "running";
    if (!live.exists && !running) {
      const removed = state.kind === "stale" ? removeFiles(state.files) : [];
      if (args.json) writeData(JSON.stringify({ interface: name, changed: removed.length > 0 }));
      else if (removed.length > 0) log.info(`${name}: was not running; removed what its daemon left: ${removed.join(", ")}`);
      else log.info(`${name}: already down`);
      return;
    }
    await teardownNet(name, live);
    if (live.exists) {
      const del = Bun.spawnSync(["ip", "link", "delete", "dev", name], { stderr: "pipe" });
      if (del.exitCode !== 0) throw new CliError(`${name}: ip link delete failed: ${del.stderr.toString().trim()}`, EXIT.FAILURE);
    }
    const deadline = Date.now() + EXIT_WAIT_MS;
    while ((await isUapiRunning(name)) && Date.now() < deadline) await Bun.sleep(50);
    if (await isUapiRunning(name)) throw new CliError(`${name}: link deleted but the daemon still answers after ${EXIT_WAIT_MS / 1000} s`, EXIT.FAILURE);
    forgetApplied(name);
    const after = daemonState(name, "down");
    if (after.kind === "stale") removeFiles(after.files);
    if (args.json) writeData(JSON.stringify({ interface: name, changed: true }));
    else log.info(`${name}: down`);
  },
});
