// The daemon's side of metrics: the Unix-socket endpoint always, and a TCP
// listener when TUNNEL_METRICS_LISTEN names one; `tunnel up` then moves it
// to the file's metrics_listen (applyMetricsListen). A TCP address that cannot be used is a
// warning, not a failed start: the tunnel matters more than its metrics.
import type { Device } from "../device/device.ts";
import { currentMetricsListen, requestMetricsListen, startMetricsServer, type MetricsServer, type MetricsTcp } from "../device/metrics-server.ts";
import { CliError, EXIT } from "./errors.ts";
import { formatMetricsListen, parseMetricsListen } from "../config/metrics-listen.ts";
import { workersControl } from "./workers-setting.ts";

export const METRICS_LISTEN_ENV = "TUNNEL_METRICS_LISTEN";

interface Logger {
  info(m: string): void;
  warn(m: string): void;
}

/** parseListenBody reads a PUT /listen body: "" closes the TCP listener. */
function parseListenBody(text: string): { ok: true; tcp: MetricsTcp | null } | { ok: false; message: string } {
  if (text === "") return { ok: true, tcp: null };
  const p = parseMetricsListen(text);
  return p.ok ? { ok: true, tcp: p.listen } : p;
}

/** startDaemonMetrics returns the running server, or null (with a warning) when not even the Unix socket could be served. */
export function startDaemonMetrics(device: Device, env: Record<string, string | undefined>, log: Logger): MetricsServer | null {
  const snapshot = () => device.status();
  const wanted = parseListenBody(env[METRICS_LISTEN_ENV]?.trim() ?? "");
  if (!wanted.ok) log.warn(`${device.name}: ${METRICS_LISTEN_ENV}: ${wanted.message}; metrics on the Unix socket only`);
  const tcp = wanted.ok ? wanted.tcp : null;
  let server: MetricsServer;
  try {
    server = startMetricsServer(device.name, snapshot, { tcp, parseListen: parseListenBody, workers: workersControl(device) });
  } catch (e) {
    try {
      if (tcp === null) throw e;
      log.warn(`${device.name}: metrics cannot listen on ${env[METRICS_LISTEN_ENV]}: ${(e as Error).message}; Unix socket only`);
      server = startMetricsServer(device.name, snapshot, { parseListen: parseListenBody, workers: workersControl(device) });
    } catch (e2) {
      log.warn(`${device.name}: metrics unavailable: ${(e2 as Error).message}`);
      return null;
    }
  }
  log.info(`${device.name}: metrics at ${server.socketPath}${server.tcp === null ? "" : ` and http://${env[METRICS_LISTEN_ENV]}/metrics`}`);
  return server;
}

/**
 * desiredMetricsListen is where `tunnel up` wants metrics over TCP: the
 * file's metrics_listen, else TUNNEL_METRICS_LISTEN from its environment,
 * else nowhere (""). A bad environment value is an error before anything is
 * touched, like a bad file.
 */
export function desiredMetricsListen(fromFile: string | undefined, env: Record<string, string | undefined>): string {
  if (fromFile !== undefined) return fromFile;
  const v = env[METRICS_LISTEN_ENV]?.trim() ?? "";
  if (v === "") return "";
  const p = parseMetricsListen(v);
  if (!p.ok) throw new CliError(`${METRICS_LISTEN_ENV}: ${p.message}`, EXIT.CONFIG);
  return formatMetricsListen(p.listen);
}

/**
 * applyMetricsListen makes a running daemon serve metrics over TCP on
 * desired ("" = not at all), as the file says, and returns the change line,
 * or null when nothing changed. An interface served by another
 * implementation has no metrics socket: fine when none is wanted. opts.current
 * is what an in-process daemon reports (RunningDaemon.metricsListen).
 */
export async function applyMetricsListen(interfaceName: string, desired: string, opts: { dryRun?: boolean; current?: string } = {}): Promise<string | null> {
  let current: string;
  try {
    // `current` comes from a daemon in this very process: no HTTP round trip to ourselves (a third of
    // a second on a slow host, on the path to a running interface).
    current = opts.current ?? (await currentMetricsListen(interfaceName));
  } catch (e) {
    if (desired === "") return null;
    throw new CliError(`${interfaceName}: metrics_listen needs a tunnel daemon serving the interface (${(e as Error).message})`, EXIT.UNAVAILABLE);
  }
  if (current === desired) return null;
  const change = `metrics_listen: ${current || "(none)"} → ${desired || "(none)"}`;
  if (opts.dryRun) return change;
  try {
    await requestMetricsListen(interfaceName, desired);
  } catch (e) {
    throw new CliError(`${interfaceName}: metrics_listen ${desired}: ${(e as Error).message}`, EXIT.UNAVAILABLE);
  }
  return change;
}
