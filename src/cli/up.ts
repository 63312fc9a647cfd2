// `tunnel up FILE.toml [--foreground] [--dry-run] [--json]`: brings the
// interface to the state the file describes and returns once it is ready.
// Run again on a live interface, it applies only what changed (sessions of
// unchanged peers survive) and says what it changed; exit code 0 either way,
// so Ansible can use `changed` from --json. A bad file fails before anything
// is touched. --dry-run says what a real run would change against the
// RUNNING interface (not against a file) and changes nothing, for Ansible's
// check mode. With --foreground under systemd the daemon reports READY=1 once
// the whole file is applied (tunnel@.service is Type=notify).
import { defineCommand } from "citty";
import { isUapiRunning, uapiGet, uapiSet } from "../device/uapi/client.ts";
import { readAppliedEndpoints, writeAppliedEndpoints } from "./applied-state.ts";
import { readConfigFile, desiredWgState, type LoadedConfig } from "./config-file.ts";
import { serveInterface, startBackground } from "./daemon.ts";
import { applyNetChanges, planNetChanges, readLiveNetState, type DesiredNetState } from "./netconfig.ts";
import { planWg } from "./wg-plan.ts";
import { CliError, EXIT } from "./errors.ts";
import { log, writeData } from "./log.ts";

function desiredNetOf(loaded: LoadedConfig): DesiredNetState {
  const i = loaded.config.interface;
  return { addresses: i.addresses, mtu: i.mtu, routes: loaded.config.peers.flatMap((p) => p.allowedIps), fwmark: i.fwmark ?? 0 };
}

function report(name: string, changes: string[], json: boolean, dryRun: boolean): void {
  if (json) writeData(JSON.stringify({ interface: name, changed: changes.length > 0, changes, ...(dryRun ? { dryRun: true } : {}) }));
  else if (changes.length === 0) log.info(`${name}: unchanged`);
  else for (const c of changes) log.info(`${name}: ${dryRun ? "would apply: " : ""}${c}`);
}

export default defineCommand({
  meta: { name: "up", description: "Bring up (or update) the interface described by a TOML file" },
  args: {
    file: { type: "positional", description: "The tunnel config (TOML; see docs/config.md)", required: true },
    foreground: { type: "boolean", alias: "f", description: "Stay in the foreground instead of daemonizing" },
    "dry-run": { type: "boolean", description: "Report what would change on the running interface; change nothing" },
    json: { type: "boolean", description: "Print {interface, changed, changes} as JSON on stdout" },
  },
  async run({ args }) {
    const path = String(args.file);
    const dryRun = Boolean(args["dry-run"]);
    if (dryRun && args.foreground) throw new CliError("--dry-run and --foreground exclude each other", EXIT.USAGE);
    const loaded = readConfigFile(path);
    const name = loaded.config.interface.name;
    const desiredNet = desiredNetOf(loaded);
    // Resolve endpoints before touching anything: a bad name fails the run cleanly.
    const desiredWithoutMark = await desiredWgState(path, loaded, 0);

    const running = await isUapiRunning(name);
    let foregroundDaemon: Awaited<ReturnType<typeof serveInterface>> | null = null;
    if (!running && !dryRun) {
      if (args.foreground) foregroundDaemon = await serveInterface(name);
      else await startBackground(name);
    } else if (running && args.foreground) {
      throw new CliError(`${name} is already running; --foreground only applies to a new interface`, EXIT.USAGE);
    }

    // The net plan picks the fwmark a default route needs; the device must carry
    // it before the routes exist, or its own UDP packets would loop into the tunnel.
    // A dry run for an interface that does not exist yet plans against a missing
    // link (no addresses, down), which is what a real run starts from.
    const netPlan = planNetChanges(await readLiveNetState(name), desiredNet);
    const desired = { ...desiredWithoutMark, fwmark: netPlan.fwmark ?? 0 };
    const live = running ? await uapiGet(name) : null;
    const wg = planWg(live, desired, running ? readAppliedEndpoints(name) : new Map());
    const changes = [...(running ? [] : [`interface ${name} created`]), ...wg.changes, ...netPlan.changes.map((c) => c.description)];
    if (dryRun) {
      report(name, changes, Boolean(args.json), true);
      return;
    }
    if (wg.lines.length > 0) await uapiSet(name, wg.lines);
    writeAppliedEndpoints(name, new Map(desired.peers.filter((p) => p.endpoint !== null).map((p) => [p.publicKeyHex, p.endpoint!])));
    await applyNetChanges(name, netPlan.changes);
    report(name, changes, Boolean(args.json), false);

    if (foregroundDaemon) {
      foregroundDaemon.ready();
      const code = await foregroundDaemon.exited;
      if (code !== EXIT.OK) throw new CliError(`${name}: daemon exited with ${code}`, code);
    }
  },
});
