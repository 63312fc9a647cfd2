// The metrics TCP address (`metrics_listen` in the TOML, TUNNEL_METRICS_LISTEN
// for a daemon started by hand): an IP literal and a port, never a host
// name, so a root daemon never resolves anything to decide where to listen.
import { parseEndpoint } from "./endpoint.ts";

export interface MetricsListen {
  /** IP literal without brackets, as Bun.serve's hostname wants it. */
  host: string;
  port: number;
}

export type MetricsListenParse = { ok: true; listen: MetricsListen; warning?: string } | { ok: false; message: string };

const LOOPBACK = /^(127\.|::1$)/;

/** parseMetricsListen validates "127.0.0.1:9586" or "[::1]:9586"; a non-loopback address is allowed with a warning. */
export function parseMetricsListen(text: string): MetricsListenParse {
  const e = parseEndpoint(text);
  if (!e.ok) return { ok: false, message: e.message.replace("not a valid endpoint", "not a valid metrics address") };
  if (e.endpoint.family === "name") return { ok: false, message: `'${text}' names a host; metrics_listen takes an IP address (127.0.0.1:9586 or [::1]:9586)` };
  const listen = { host: e.endpoint.host, port: e.endpoint.port };
  if (LOOPBACK.test(listen.host)) return { ok: true, listen };
  return {
    ok: true,
    listen,
    warning: `metrics on ${text} are reachable beyond this host and show every peer's public key and endpoint; firewall the port or listen on 127.0.0.1`,
  };
}

/** formatMetricsListen is the inverse of parseMetricsListen. */
export function formatMetricsListen(l: MetricsListen): string {
  return l.host.includes(":") ? `[${l.host}]:${l.port}` : `${l.host}:${l.port}`;
}
