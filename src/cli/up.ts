// `tunnel up FILE.toml [--foreground] [--json]`: brings the interface to the
// state the file describes and returns once it is ready. Run again on a live
// interface, it applies only what changed (sessions of unchanged peers
// survive) and says what it changed; exit code 0 either way, so Ansible can
// use `changed` from --json. A bad file fails before anything is touched.
import { defineCommand } from "citty";
import { uapiGet, uapiSet } from "../device/uapi/client.ts";
import { readAppliedEndpoints, writeAppliedEndpoints } from "./applied-state.ts";
import { readConfigFile, desiredWgState } from "./config-file.ts";
import { daemonState, otherNetnsError } from "./daemon-state.ts";
import { serveInterface, startBackground } from "./daemon.ts";
import { applyMetricsListen, desiredMetricsListen } from "./metrics-daemon.ts";
import { applyNetChanges, planNetChanges, readLiveNetState } from "./netconfig.ts";
import { planWg } from "./wg-plan.ts";
import { CliError, EXIT } from "./errors.ts";
import { log, writeData } from "./log.ts";

export default defineCommand({
  meta: { name: "up", description: "Bring up (or update) the interface described by a TOML file" },
  args: {
    file: { type: "positional", description: "The tunnel config (TOML; see docs/config.md)", required: true },
    foreground: { type: "boolean", alias: "f", description: "Stay in the foreground instead of daemonizing" },
    json: { type: "boolean", description: "Print {interface, changed, changes} as JSON on stdout" },
  },
  async run({ args }) {
    const path = String(args.file);
    const loaded = readConfigFile(path);
    const name = loaded.config.interface.name;
    const desiredNet = {
      addresses: loaded.config.interface.addresses,
      mtu: loaded.config.interface.mtu,
      routes: loaded.config.peers.flatMap((p) => p.allowedIps),
      fwmark: loaded.config.interface.fwmark ?? 0,
    };
    // Resolve endpoints before touching anything: a bad name fails the run cleanly.
    const desiredWithoutMark = await desiredWgState(path, loaded, 0);
    const metricsListen = desiredMetricsListen(loaded.config.interface.metricsListen, process.env);

    // A daemon on the shared socket but in another network namespace is not ours to configure.
    const state = daemonState(name, "up");
    if (state.kind === "running" && state.otherNetns) throw otherNetnsError(name, state.pid, "not brought up here");
    const running = state.kind === "running";
    let foregroundDaemon: Awaited<ReturnType<typeof serveInterface>> | null = null;
    if (!running) {
      if (args.foreground) foregroundDaemon = await serveInterface(name);
      else await startBackground(name);
    } else if (args.foreground) {
      throw new CliError(`${name} is already running; --foreground only applies to a new interface`, EXIT.USAGE);
    }

    // The net plan picks the fwmark a default route needs; the device must carry
    // it before the routes exist, or its own UDP packets would loop into the tunnel.
    const netPlan = planNetChanges(await readLiveNetState(name), desiredNet);
    const desired = { ...desiredWithoutMark, fwmark: netPlan.fwmark ?? 0 };
    const live = running ? await uapiGet(name) : null;
    const wg = planWg(live, desired, running ? readAppliedEndpoints(name) : new Map());
    if (wg.lines.length > 0) await uapiSet(name, wg.lines);
    writeAppliedEndpoints(name, new Map(desired.peers.filter((p) => p.endpoint !== null).map((p) => [p.publicKeyHex, p.endpoint!])));
    await applyNetChanges(name, netPlan.changes);
    const metricsChange = await applyMetricsListen(name, metricsListen);

    const changes = [...(running ? [] : [`interface ${name} created`]), ...wg.changes, ...netPlan.changes.map((c) => c.description), ...(metricsChange === null ? [] : [metricsChange])];
    if (args.json) writeData(JSON.stringify({ interface: name, changed: changes.length > 0, changes }));
    else if (changes.length === 0) log.info(`${name}: unchanged`);
    else for (const c of changes) log.info(`${name}: ${c}`);

    if (foregroundDaemon) {
      const code = await foregroundDaemon.exited;
      if (code !== EXIT.OK) throw new CliError(`${name}: daemon exited with ${code}`, code);
    }
  },
});
