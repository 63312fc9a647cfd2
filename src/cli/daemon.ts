// The daemon: one interface's Device plus its UAPI socket (for wg(8)) and
// status socket (for `tunnel status`). Used three ways:
//   tunnel -f IFNAME      foreground, like `wireguard-go -f IFNAME`
//   tunnel IFNAME         background, like `wireguard-go IFNAME` (wg-quick runs this)
//   tunnel up FILE.toml   background (or foreground with --foreground), then configured
//
// Background start re-executes this binary (fork is unsafe in a threaded
// runtime, dossier 7): the child runs in the foreground path in its own
// session and prints one "ready" line on a pipe once the TUN exists and the
// UAPI socket listens; only then does the parent return, so `wg setconf`
// right after `tunnel IFNAME` never races the socket (wireguard-go waits the
// same way). The child exits when the TUN disappears (`ip link delete`), when
// its UAPI socket file is removed, or on SIGINT/SIGTERM, and removes its files
// (sockets, the applied state) as it goes. A name already taken (a daemon on
// the shared socket, a link that is not a TUN) is refused before anything starts.
//
// Under systemd (tunnel@.service, Type=notify) the daemon reports READY=1
// itself once configured, STATUS= lines and watchdog pets (service-notify.ts).
// TEST_WEDGE_ENV is a test hook and nothing else: with it set to 1, SIGUSR2
// blocks the data-plane worker forever so the VM test can prove that the
// watchdog restarts a stuck daemon. Never set it in production.
import { spawn } from "node:child_process";
import { Device } from "../device/device.ts";
import type { DeviceStatus } from "../device/device-status.ts";
import { ServiceNotifier } from "../device/service-notify.ts";
import { startStatusServer } from "../device/status-socket.ts";
import { startDaemonMetrics } from "./metrics-daemon.ts";
import { WORKERS_ENV, workersFromEnv } from "./workers-setting.ts";
import type { WorkersSetting } from "../config/types.ts";
import { formatMetricsListen } from "../config/metrics-listen.ts";
import { startUapiServer } from "../device/uapi/server.ts";
import { socketOwner } from "../device/uapi/socket-owner.ts";
import { netnsOf } from "../device/netns-of.ts";
import { DEFAULT_UAPI_RUN_DIR, uapiSocketPath } from "../device/socket-paths.ts";
import { forgetApplied } from "./applied-state.ts";
import { requireNetAdmin } from "./capabilities.ts";
import { startEndpointFollower, type EndpointFollower } from "./endpoint-follower.ts";
import { CliError, EXIT } from "./errors.ts";
import { log } from "./log.ts";
import { refuseTakenName } from "./name-check.ts";
import { traceStartup } from "../device/startup-trace.ts";
import type { NewLink } from "./netconfig-types.ts";

/** READY_LINE is what a background child prints on fd 1 once it serves. */
const READY_LINE = "tunnel-daemon-ready";
/** NOTIFY_ENV asks a foreground daemon to print READY_LINE (set by the parent). */
const NOTIFY_ENV = "TUNNEL_DAEMON_NOTIFY";
const START_TIMEOUT_MS = 15_000;
const TEST_WEDGE_ENV = "TUNNEL_TEST_WEDGE_ON_SIGUSR2";
/** What a service manager gives its main process; a background child must not inherit it. */
const SERVICE_MANAGER_ENV = ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"];

/** RunningDaemon is a daemon served by this process. */
export interface RunningDaemon {
  device: Device;
  /** exited resolves with the exit code once the daemon has shut down. */
  exited: Promise<number>;
  shutdown(reason: string): Promise<void>;
  /** ready waits for the data plane to run, then tells a service manager (if any) that the interface is configured and serving. */
  ready(): Promise<void>;
  /** metricsListen is the TCP address metrics are served on ("" = none), or null without a metrics server. */
  metricsListen(): string | null;
  /** newLink is the link's admin state and MTU when this daemon created the link, null when it attached to one that was there. */
  newLink(): NewLink | null;
}

/**
 * serveInterface creates the Device and its sockets in this process and
 * returns once wg(8) can talk to it.
 */
export async function serveInterface(interfaceName: string, opts: { workers?: WorkersSetting } = {}): Promise<RunningDaemon> {
  requireNetAdmin(interfaceName);
  traceStartup("daemon: capabilities checked");
  const { linkExists } = await refuseTakenName(interfaceName, `-f ${interfaceName}`);
  traceStartup("daemon: name checked");
  const device = await Device.create({
    interfaceName,
    // The worker starts while the sockets open and `up` applies the file; ready() waits for it.
    deferDataPlaneReady: true,
    env: process.env,
    workers: opts.workers ?? workersFromEnv(process.env, (m) => log.warn(`${interfaceName}: ${m}`)),
    log: {
      info: (m: string) => log.info(m),
      warn: (m: string) => log.warn(m),
      error: (m: string) => log.error(m),
      debug: (m: string) => log.debug(m),
    },
  });
  traceStartup("daemon: device created");
  let resolveExit!: (code: number) => void;
  const exited = new Promise<number>((r) => (resolveExit = r));
  let stopping: Promise<void> | null = null;
  let notifier: ServiceNotifier | null = null;
  const shutdown = (reason: string): Promise<void> => {
    stopping ??= (async () => {
      log.info(`${interfaceName}: shutting down (${reason})`);
      notifier?.stopping();
      follower?.stop();
      await Promise.allSettled([uapi?.close(), status?.close(), metrics?.close()]);
      await device.close();
      // What `up` applied dies with the daemon, unless a new daemon holds the name already.
      if (socketOwner(uapiSocketPath(DEFAULT_UAPI_RUN_DIR, device.name)).state !== "listening") forgetApplied(device.name);
      resolveExit(EXIT.OK);
    })();
    return stopping;
  };
  let uapi: Awaited<ReturnType<typeof startUapiServer>> | undefined;
  let status: Awaited<ReturnType<typeof startStatusServer>> | undefined;
  let metrics: ReturnType<typeof startDaemonMetrics> | undefined;
  let follower: EndpointFollower | undefined;
  try {
    uapi = await startUapiServer({
      interfaceName: device.name,
      device,
      onSocketRemoved: () => void shutdown("UAPI socket removed"),
      log: (m) => log.debug(m),
    });
    traceStartup("daemon: uapi listening");
    follower = startEndpointFollower(device, device.name, { info: (m) => log.info(m), warn: (m) => log.warn(m) });
    const daemon = { pid: process.pid, netns: netnsOf("self") };
    status = await startStatusServer(device.name, () => ({ ...withEndpointNames(device.status(), follower!.names()), daemon }));
    traceStartup("daemon: status socket listening");
    metrics = startDaemonMetrics(device, process.env, log);
    traceStartup("daemon: metrics listening");
  } catch (e) {
    follower?.stop();
    await device.close();
    throw new CliError(`${interfaceName}: cannot serve UAPI: ${(e as Error).message}`, EXIT.UNAVAILABLE);
  }
  device.onClosed(() => void shutdown("the TUN device is gone"));
  for (const sig of ["SIGINT", "SIGTERM"] as const) process.once(sig, () => void shutdown(sig));
  for (const line of device.startupReport()) log.info(line);
  notifier = ServiceNotifier.fromEnv(process.env, device, log);
  if (process.env[TEST_WEDGE_ENV] === "1") {
    process.on("SIGUSR2", () => {
      log.warn(`${interfaceName}: SIGUSR2 with ${TEST_WEDGE_ENV}=1: wedging the data plane (test hook)`);
      device.wedgeDataPlaneForTest();
    });
  }
  const metricsListen = () => (metrics ? (metrics.tcp === null ? "" : formatMetricsListen(metrics.tcp)) : null);
  const ready = async () => {
    try {
      await device.dataPlaneReady;
    } catch (e) {
      // onClosed has begun the shutdown; let it remove the sockets before the error exits.
      await shutdown("the data plane did not start");
      throw new CliError(`${interfaceName}: the data plane did not start: ${(e as Error).message}`, EXIT.UNAVAILABLE);
    }
    notifier?.ready();
  };
  const newLink = () => (linkExists ? null : device.linkState());
  return { device, exited, shutdown, ready, metricsListen, newLink };
}

/** withEndpointNames adds the configured host name to each peer whose endpoint was given as one. */
function withEndpointNames(status: DeviceStatus, names: Map<string, string>): DeviceStatus {
  if (names.size === 0) return status;
  const peers = status.peers.map((p) => {
    const name = names.get(Buffer.from(p.publicKey, "base64").toString("hex"));
    return name === undefined ? p : { ...p, endpointName: name };
  });
  return { ...status, peers };
}

/** runForeground serves the interface until it shuts down; the promise is the exit code. */
export async function runForeground(interfaceName: string): Promise<number> {
  const daemon = await serveInterface(interfaceName);
  await daemon.ready();
  if (process.env[NOTIFY_ENV] === "1") process.stdout.write(`${READY_LINE}\n`);
  return daemon.exited;
}

/** selfCommand is how to re-execute this program: the compiled binary, or bun + the entry script. */
function selfCommand(): string[] {
  const script = process.argv[1] ?? "";
  // In a compiled binary argv[1] is the embedded entry (/$bunfs/...), not a file to pass along.
  return script.startsWith("/$bunfs/") || script === "" ? [process.execPath] : [process.execPath, script];
}

/**
 * startBackground launches `tunnel -f IFNAME` detached and resolves once it
 * reports ready; its stderr goes to ours only when LOG_LEVEL is set (as
 * wireguard-go), else to /dev/null.
 */
export async function startBackground(interfaceName: string, opts: { workers?: WorkersSetting } = {}): Promise<void> {
  // Checked here too, so the reason reaches the user rather than "exited during start-up".
  requireNetAdmin(interfaceName);
  await refuseTakenName(interfaceName, interfaceName);
  const [cmd, ...pre] = selfCommand();
  const env: Record<string, string | undefined> = { ...process.env, [NOTIFY_ENV]: "1", WG_PROCESS_FOREGROUND: "1" };
  // The file's thread count from the start, so `tunnel up` has nothing to change afterwards.
  if (opts.workers !== undefined) env[WORKERS_ENV] = String(opts.workers);
  for (const k of SERVICE_MANAGER_ENV) delete env[k];
  const child = spawn(cmd!, [...pre, "-f", interfaceName], {
    detached: true,
    stdio: ["ignore", "pipe", process.env.LOG_LEVEL ? "inherit" : "ignore"],
    env,
  });
  return new Promise<void>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => {
      child.kill();
      reject(new CliError(`${interfaceName}: the daemon did not become ready within ${START_TIMEOUT_MS / 1000} s`, EXIT.UNAVAILABLE));
    }, START_TIMEOUT_MS);
    child.stdout!.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes(READY_LINE)) {
        clearTimeout(timer);
        child.stdout!.destroy();
        child.unref();
        resolve();
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new CliError(`${interfaceName}: the daemon exited during start-up (code ${code}); run with LOG_LEVEL=debug or -f to see why`, EXIT.UNAVAILABLE));
    });
    child.once("error", (e) => {
      clearTimeout(timer);
      reject(new CliError(`${interfaceName}: cannot start the daemon: ${e.message}`, EXIT.UNAVAILABLE));
    });
  });
}
