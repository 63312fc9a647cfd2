// Stale sockets: a socket file in /var/run/wireguard (UAPI) or
// /var/run/tunnel (status, metrics) that nobody listens on any more, left by
// a daemon killed with SIGKILL or a crash. wg(8) and `tunnel status` then
// list an interface that is not there, and wg-quick refuses to start it.
import { readdirSync, statSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import type { Finding } from "./finding.ts";

export const RUN_DIRS = ["/var/run/wireguard", "/var/run/tunnel", "/var/run/tunnel/metrics"];
const CONNECT_TIMEOUT_MS = 500;

export type SocketState = "live" | "stale" | "unknown";

/** socketFiles lists the *.sock socket files in dir (none when dir is absent). */
export function socketFiles(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((n) => n.endsWith(".sock"))
    .map((n) => join(dir, n))
    .filter((p) => {
      try {
        return statSync(p).isSocket();
      } catch {
        return false;
      }
    })
    .sort();
}

/** probeSocket connects to path: refused means nobody listens (stale); a timeout is unknown (a busy daemon). */
export function probeSocket(path: string): Promise<SocketState> {
  return new Promise((resolve) => {
    const s = net.createConnection(path);
    const done = (st: SocketState) => {
      clearTimeout(timer);
      s.destroy();
      resolve(st);
    };
    const timer = setTimeout(() => done("unknown"), CONNECT_TIMEOUT_MS);
    s.once("connect", () => done("live"));
    s.once("error", (e: NodeJS.ErrnoException) => done(e.code === "ECONNREFUSED" ? "stale" : "unknown"));
  });
}

export function staleSocketFindings(states: { path: string; state: SocketState }[]): Finding[] {
  const out: Finding[] = [];
  for (const { path, state } of states) {
    if (state === "stale")
      out.push({
        check: "stale-socket",
        level: "error",
        summary: `${path}: a socket file nobody listens on (a daemon died without cleaning up)`,
        detail: "wg show and tunnel status list an interface that does not answer; wg-quick up refuses to start over it",
        fix: `rm ${path}`,
      });
    else if (state === "unknown")
      out.push({ check: "stale-socket", level: "info", summary: `${path}: no answer within ${CONNECT_TIMEOUT_MS} ms (a busy daemon?)` });
  }
  if (out.length === 0) out.push({ check: "stale-socket", level: "ok", summary: `no stale sockets (${states.length} live)` });
  return out;
}
