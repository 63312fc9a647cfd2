// `tunnel up FILE.toml [--foreground] [--dry-run] [--json]`: brings the
// interface to the state the file describes and returns once it is ready.
// Run again on a live interface, it applies only what changed (sessions of
// unchanged peers survive) and says what it changed; exit code 0 either way,
// so Ansible can use `changed` from --json. A bad file fails before anything
// is touched. --dry-run says what a real run would change against the
// RUNNING interface (not against a file) and changes nothing, for Ansible's
// check mode. With --foreground under systemd the daemon reports READY=1 once
// the whole file is applied (tunnel@.service is Type=notify).
//
// A new interface goes through wg-quick's cmd_up order: pre_up hooks (a
// failure stops everything before anything exists), the device, addresses,
// MTU and link, DNS, routes, post_up hooks (a failure takes the interface
// down again, as wg-quick's trap does). A re-run on a live interface runs no
// hooks; a changed hook is recorded and reported.
import type { WorkersSetting } from "../config/types.ts";
import { applyWorkers, desiredWorkers } from "./workers-setting.ts";
import { defineCommand } from "citty";
import { uapiGet, uapiSet } from "../device/uapi/client.ts";
import { readAppliedEndpoints, writeAppliedEndpoints } from "./applied-state.ts";
import { readConfigFile, desiredWgState, type LoadedConfig } from "./config-file.ts";
import { daemonState, otherNetnsError } from "./daemon-state.ts";
import { serveInterface, startBackground } from "./daemon.ts";
import { sameDns } from "./dns.ts";
import { removeInterface } from "./down.ts";
import { runHooks } from "./hooks.ts";
import { applyMetricsListen, desiredMetricsListen } from "./metrics-daemon.ts";
import { applyNetChanges, planNetChanges, readLiveNetState, type DesiredNetState } from "./netconfig.ts";
import { defaultRunner } from "./netconfig-runner.ts";
import { planWg } from "./wg-plan.ts";
import { desiredDns, desiredHooks, hookChangeList, repairAfterCrash, syncDns } from "./wgquick-features.ts";
import { forgetWgQuickState, readWgQuickState, writeWgQuickState, type EndpointName } from "./wgquick-state.ts";
import { CliError, EXIT } from "./errors.ts";
import { log } from "./log.ts";
import { writeData } from "./output.ts";
import { traceStartup } from "../device/startup-trace.ts";

function desiredNetOf(loaded: LoadedConfig): DesiredNetState {
  const i = loaded.config.interface;
  return {
    addresses: i.addresses,
    mtu: i.mtu,
    routes: loaded.config.peers.flatMap((p) => p.allowedIps),
    fwmark: i.fwmark ?? 0,
    ...(i.table === undefined ? {} : { table: i.table }),
  };
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
    traceStartup("up: command loaded");
    const loaded = readConfigFile(path);
    const name = loaded.config.interface.name;
    const desiredNet = desiredNetOf(loaded);
    // Resolve endpoints before touching anything: a bad name fails the run cleanly.
    const desiredWithoutMark = await desiredWgState(path, loaded, 0);
    const metricsListen = desiredMetricsListen(loaded.config.interface.metricsListen, process.env);
    const workers = desiredWorkers(loaded.config.interface.workers, process.env);
    const hooks = desiredHooks(loaded.config);
    traceStartup("up: config read, endpoints resolved");

    // A daemon on the shared socket but in another network namespace is not ours to configure.
    const state = daemonState(name, "up");
    if (state.kind === "running" && state.otherNetns) throw otherNetnsError(name, state.pid, "not brought up here");
    const running = state.kind === "running";
    if (running && args.foreground) throw new CliError(`${name} is already running; --foreground only applies to a new interface`, EXIT.USAGE);
    const recorded = running ? readWgQuickState(name) : null;
    if (dryRun)
      return report(
        name,
        await planOnly(name, running, recorded, loaded, desiredNet, desiredWithoutMark, hooks, { metricsListen, workers }),
        Boolean(args.json),
        true,
      );

    const changes: string[] = [];
    let foregroundDaemon: Awaited<ReturnType<typeof serveInterface>> | null = null;
    if (!running) {
      traceStartup("up: daemon state read");
      changes.push(...(await repairAfterCrash(name)));
      traceStartup("up: crash repair checked");
      forgetWgQuickState(name);
      await runHooks(name, "pre_up", hooks.preUp);
      if (args.foreground) foregroundDaemon = await serveInterface(name, { workers });
      else await startBackground(name, { workers });
      traceStartup("up: daemon serving");
      changes.push(`interface ${name} created`);
    }

    try {
      // The net plan picks the fwmark a default route needs; the device must carry
      // it before the routes exist, or its own UDP packets would loop into the tunnel.
      const netPlan = planNetChanges(await readLiveNetState(name, defaultRunner, foregroundDaemon?.newLink() ?? null), desiredNet);
      const desired = { ...desiredWithoutMark, fwmark: netPlan.fwmark ?? 0 };
      const live = running ? await uapiGet(name) : null;
      const wg = planWg(live, desired, running ? readAppliedEndpoints(name) : new Map());
      traceStartup("up: live state read");
      if (wg.lines.length > 0) await uapiSet(name, wg.lines);
      traceStartup("up: wg config set");
      writeAppliedEndpoints(name, new Map(desired.peers.filter((p) => p.endpoint !== null).map((p) => [p.publicKeyHex, p.endpoint!])));
      changes.push(...wg.changes);

      // wg-quick sets DNS after the link is up and before the routes.
      const addressSteps = netPlan.changes.filter((c) => c.command.tool === "ip" && (c.command.args.includes("address") || c.command.args[0] === "link"));
      await applyNetChanges(name, addressSteps);
      traceStartup("up: addresses and link set");
      const dns = await syncDns(name, recorded?.dns ?? null, desiredDns(loaded.config));
      const refresh = loaded.config.interface.endpointRefresh;
      writeWgQuickState(name, {
        hooks,
        dns: dns.applied,
        endpointNames: endpointNames(loaded.config.peers, desired.peers),
        ...(refresh === undefined ? {} : { endpointRefreshMs: refresh * 1000 }),
      });
      traceStartup("up: dns synced");
      await applyNetChanges(
        name,
        netPlan.changes.filter((c) => !addressSteps.includes(c)),
      );
      traceStartup("up: routes set");
      changes.push(...addressSteps.map((c) => c.description), ...dns.changes);
      changes.push(...netPlan.changes.filter((c) => !addressSteps.includes(c)).map((c) => c.description));
      const inProcess = foregroundDaemon?.metricsListen() ?? null;
      const metricsChange = await applyMetricsListen(name, metricsListen, inProcess === null ? {} : { current: inProcess });
      if (metricsChange !== null) changes.push(metricsChange);
      // A daemon started just now already has the file's count.
      const workersChange = running ? await applyWorkers(name, workers) : null;
      if (workersChange !== null) changes.push(workersChange);
      traceStartup("up: metrics listen and workers checked");

      if (running) changes.push(...hookChangeList(recorded?.hooks, hooks));
      else changes.push(...(await runHooks(name, "post_up", hooks.postUp)).map((c) => `post_up ran: ${c}`));
    } catch (error) {
      // A new interface that failed half-way is removed again (wg-quick's `trap del_if`), without the down hooks.
      if (!running) await removeInterface(name, { runHooks: false }).catch((e: Error) => log.warn(`${name}: cleaning up failed: ${e.message}`));
      throw error;
    }
    report(name, changes, Boolean(args.json), false);

    if (foregroundDaemon) {
      await foregroundDaemon.ready();
      traceStartup("up: ready");
      const code = await foregroundDaemon.exited;
      if (code !== EXIT.OK) throw new CliError(`${name}: daemon exited with ${code}`, code);
    }
  },
});

/**
 * planOnly is --dry-run: the changes a real run would make against the
 * running interface (or against nothing, for a new one), with nothing
 * touched: no daemon, no UAPI set, no ip command, no DNS, no hook.
 */
async function planOnly(
  name: string,
  running: boolean,
  recorded: ReturnType<typeof readWgQuickState>,
  loaded: LoadedConfig,
  desiredNet: DesiredNetState,
  desiredWithoutMark: Awaited<ReturnType<typeof desiredWgState>>,
  hooks: ReturnType<typeof desiredHooks>,
  daemon: { metricsListen: string; workers: WorkersSetting },
): Promise<string[]> {
  const { metricsListen, workers } = daemon;
  // A new interface plans against a missing link (no addresses, down), which is what a real run starts from.
  const netPlan = planNetChanges(await readLiveNetState(name), desiredNet);
  const desired = { ...desiredWithoutMark, fwmark: netPlan.fwmark ?? 0 };
  const live = running ? await uapiGet(name) : null;
  const wg = planWg(live, desired, running ? readAppliedEndpoints(name) : new Map());
  const changes = [...(running ? [] : [`interface ${name} created`]), ...wg.changes, ...netPlan.changes.map((c) => c.description)];
  const dns = desiredDns(loaded.config);
  if (!sameDns(recorded?.dns ?? null, dns)) changes.push(dns === null ? "dns: removed" : `dns: ${[...dns.servers, ...dns.search].join(", ")}`);
  if (running) {
    changes.push(...hookChangeList(recorded?.hooks, hooks));
    const metricsChange = await applyMetricsListen(name, metricsListen, { dryRun: true });
    if (metricsChange !== null) changes.push(metricsChange);
    const workersChange = await applyWorkers(name, workers, { dryRun: true });
    if (workersChange !== null) changes.push(workersChange);
  } else {
    if (metricsListen !== "") changes.push(`metrics_listen: (none) → ${metricsListen}`);
  }
  return changes;
}

/** endpointNames lists the peers whose endpoint is a host name, with the address just configured. */
function endpointNames(
  peers: readonly { endpoint?: { family: string; host: string; port: number } }[],
  desired: readonly { publicKeyHex: string; endpoint: string | null }[],
): Record<string, EndpointName> {
  const out: Record<string, EndpointName> = {};
  peers.forEach((peer, i) => {
    const resolved = desired[i]?.endpoint;
    if (peer.endpoint?.family === "name" && resolved) out[desired[i]!.publicKeyHex] = { host: peer.endpoint.host, port: peer.endpoint.port, resolved };
  });
  return out;
}
