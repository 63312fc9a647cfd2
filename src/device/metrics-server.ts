// The metrics endpoint of a daemon: HTTP GET /metrics answering the
// Prometheus exposition of device.status(), always on the Unix socket
// /var/run/tunnel/metrics/IFNAME.sock (root-only, like the status socket;
// its own directory so nothing that lists /var/run/tunnel/*.sock mistakes it
// for an interface) and on a TCP address only when one is configured. The
// TCP listener can be moved or closed while the daemon runs, which is how
// `tunnel up` applies a changed metrics_listen: it PUTs the new address
// (empty: none) to /listen on the Unix socket, which only root can reach;
// the TCP listener answers nothing but GET /metrics. The Unix socket also
// carries the other setting `tunnel up` changes on a running daemon:
// /workers (GET: the setting; PUT "auto" or a count).
import { chmodSync, mkdirSync, unlinkSync } from "node:fs";
import { dirname, join } from "node:path";
import type { DeviceStatus } from "./device-status.ts";
import { PROMETHEUS_CONTENT_TYPE, renderPrometheus } from "./prometheus.ts";
import { DEFAULT_STATUS_RUN_DIR } from "./socket-paths.ts";

export function metricsSocketPath(interfaceName: string, runDir = DEFAULT_STATUS_RUN_DIR): string {
  return join(runDir, "metrics", `${interfaceName}.sock`);
}

export interface MetricsTcp {
  host: string;
  port: number;
}

/** ParseListen turns a PUT /listen body into an address (null: none) or an error line. */
export type ParseListen = (text: string) => { ok: true; tcp: MetricsTcp | null } | { ok: false; message: string };

/** SettingControl is a daemon setting on the Unix socket: get() its text, put(text) applies it (the new text) or explains why not. */
export interface SettingControl {
  get(): string;
  put(text: string): { ok: true; text: string } | { ok: false; message: string };
}

export interface MetricsServer {
  readonly socketPath: string;
  /** tcp is the TCP address served now, null when none. */
  readonly tcp: MetricsTcp | null;
  /** setTcp serves on addr instead (null: stop serving TCP); throws, keeping the old listener, when addr cannot be bound. */
  setTcp(addr: MetricsTcp | null): void;
  close(): Promise<void>;
}

type Served = ReturnType<typeof Bun.serve>;

function metricsResponse(req: Request, snapshot: () => DeviceStatus): Response {
  if (new URL(req.url).pathname !== "/metrics") return new Response("not found; the exposition is at /metrics\n", { status: 404 });
  if (req.method !== "GET" && req.method !== "HEAD") return new Response("method not allowed\n", { status: 405, headers: { allow: "GET, HEAD" } });
  try {
    return new Response(renderPrometheus([snapshot()]), { headers: { "content-type": PROMETHEUS_CONTENT_TYPE } });
  } catch (e) {
    return new Response(`status unavailable: ${(e as Error).message}\n`, { status: 500 });
  }
}

function formatTcp(t: MetricsTcp | null): string {
  return t === null ? "" : t.host.includes(":") ? `[${t.host}]:${t.port}` : `${t.host}:${t.port}`;
}

/** startMetricsServer serves the exposition on the Unix socket (a stale file there is replaced) and on tcp when given. */
export function startMetricsServer(
  interfaceName: string,
  snapshot: () => DeviceStatus,
  opts: { runDir?: string; tcp?: MetricsTcp | null; parseListen?: ParseListen; workers?: SettingControl } = {},
): MetricsServer {
  const socketPath = metricsSocketPath(interfaceName, opts.runDir);
  mkdirSync(dirname(socketPath), { recursive: true, mode: 0o755 });
  try {
    unlinkSync(socketPath);
  } catch {
    // absent: nothing to replace
  }
  let tcp: Served | null = null;
  let tcpAddr: MetricsTcp | null = null;
  const setTcp = (addr: MetricsTcp | null): void => {
    if (formatTcp(addr) === formatTcp(tcpAddr)) return;
    const next = addr === null ? null : Bun.serve({ hostname: addr.host, port: addr.port, fetch: (req) => metricsResponse(req, snapshot) });
    void tcp?.stop(true);
    tcp = next;
    tcpAddr = addr;
  };
  const control = async (req: Request): Promise<Response> => {
    if (req.method === "GET") return new Response(`${formatTcp(tcpAddr)}\n`);
    if (req.method !== "PUT" || opts.parseListen === undefined) return new Response("method not allowed\n", { status: 405, headers: { allow: "GET, PUT" } });
    const parsed = opts.parseListen((await req.text()).trim());
    if (!parsed.ok) return new Response(`${parsed.message}\n`, { status: 400 });
    try {
      setTcp(parsed.tcp);
    } catch (e) {
      return new Response(`cannot listen on ${formatTcp(parsed.tcp)}: ${(e as Error).message}\n`, { status: 409 });
    }
    return new Response(`${formatTcp(tcpAddr)}\n`);
  };
  const setting = async (req: Request, c: SettingControl): Promise<Response> => {
    if (req.method === "GET") return new Response(`${c.get()}\n`);
    if (req.method !== "PUT") return new Response("method not allowed\n", { status: 405, headers: { allow: "GET, PUT" } });
    const r = c.put((await req.text()).trim());
    return r.ok ? new Response(`${r.text}\n`) : new Response(`${r.message}\n`, { status: 400 });
  };
  const unix: Served = Bun.serve({
    unix: socketPath,
    fetch: (req) => {
      const path = new URL(req.url).pathname;
      if (path === "/listen") return control(req);
      if (path === "/workers" && opts.workers !== undefined) return setting(req, opts.workers);
      return metricsResponse(req, snapshot);
    },
  });
  chmodSync(socketPath, 0o600);
  try {
    setTcp(opts.tcp ?? null);
  } catch (e) {
    void unix.stop(true);
    throw e;
  }
  return {
    socketPath,
    get tcp() {
      return tcpAddr;
    },
    setTcp,
    async close() {
      await Promise.allSettled([unix.stop(true), tcp?.stop(true)]);
      try {
        unlinkSync(socketPath);
      } catch {
        // already gone
      }
    },
  };
}

/** requestMetricsListen asks a running daemon to serve metrics on address ("" = no TCP) and returns what it serves now. */
export async function requestMetricsListen(interfaceName: string, address: string, runDir = DEFAULT_STATUS_RUN_DIR): Promise<string> {
  const res = await fetch("http://localhost/listen", {
    method: "PUT",
    body: address,
    unix: metricsSocketPath(interfaceName, runDir),
    signal: AbortSignal.timeout(2000),
  });
  const text = (await res.text()).trim();
  if (!res.ok) throw new Error(text);
  return text;
}

/** requestSetting PUTs text to a running daemon's setting (e.g. "workers") and returns what is in effect now. */
export async function requestSetting(interfaceName: string, name: string, text: string, runDir = DEFAULT_STATUS_RUN_DIR): Promise<string> {
  const res = await fetch(`http://localhost/${name}`, {
    method: "PUT",
    body: text,
    unix: metricsSocketPath(interfaceName, runDir),
    signal: AbortSignal.timeout(2000),
  });
  const out = (await res.text()).trim();
  if (!res.ok) throw new Error(out);
  return out;
}

/** currentSetting reads a running daemon's setting (e.g. "workers"); throws when the daemon has no such setting. */
export async function currentSetting(interfaceName: string, name: string, runDir = DEFAULT_STATUS_RUN_DIR): Promise<string> {
  const res = await fetch(`http://localhost/${name}`, { unix: metricsSocketPath(interfaceName, runDir), signal: AbortSignal.timeout(2000) });
  const out = (await res.text()).trim();
  if (!res.ok) throw new Error(out);
  return out;
}

/** currentMetricsListen reads the TCP address a running daemon serves metrics on ("" = none). */
export async function currentMetricsListen(interfaceName: string, runDir = DEFAULT_STATUS_RUN_DIR): Promise<string> {
  const res = await fetch("http://localhost/listen", { unix: metricsSocketPath(interfaceName, runDir), signal: AbortSignal.timeout(2000) });
  return (await res.text()).trim();
}
