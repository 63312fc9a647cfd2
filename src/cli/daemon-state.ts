// The files a daemon keeps under /var/run, and what they say about it:
//   /var/run/wireguard/IF.sock    UAPI (wg(8) and wg-quick look here)
//   /var/run/tunnel/IF.sock       status (`tunnel status`)
//   /var/run/tunnel/IF.applied.json   what the last `tunnel up` configured
// A daemon removes them when it exits; after kill -9 (or a crash) they stay:
// "stale". Both directories are shared by every network namespace, so a live
// daemon may serve an interface of the same name in another namespace.
import { existsSync, rmSync } from "node:fs";
import { dirname } from "node:path";
import { DEFAULT_STATUS_RUN_DIR, DEFAULT_UAPI_RUN_DIR, statusSocketPath, uapiSocketPath } from "../device/socket-paths.ts";
import { socketOwner } from "../device/uapi/socket-owner.ts";
import { appliedStatePath } from "./applied-state.ts";
import { CliError, EXIT } from "./errors.ts";

export type DaemonState =
  | { kind: "absent" }
  /** files: what a daemon that died left behind. */
  | { kind: "stale"; files: string[] }
  /** pid null when the daemon could not be asked; otherNetns true when its interface lives in another namespace. */
  | { kind: "running"; pid: number | null; otherNetns: boolean };

/** permissionDenied is the error for a root-only socket reached by a non-root user (the same for every interface). */
export function permissionDenied(path: string, command: string): CliError {
  return new CliError(`permission denied: the daemons' sockets in ${dirname(path)} are root-only; run 'tunnel ${command}' as root`, EXIT.NO_PERMISSION);
}

/** daemonState probes the interface's sockets; command names the caller in a permission error. */
export function daemonState(name: string, command: string): DaemonState {
  const uapi = uapiSocketPath(DEFAULT_UAPI_RUN_DIR, name);
  const owner = socketOwner(uapi);
  if (owner.state === "denied") throw permissionDenied(uapi, command);
  if (owner.state === "listening") return { kind: "running", pid: owner.pid, otherNetns: owner.sameNetns === false };
  if (owner.state === "error") throw new CliError(`${uapi}: cannot tell whether a daemon listens: ${owner.reason}`, EXIT.FAILURE);
  const files = staleFiles(name, owner.state === "stale");
  return files.length === 0 ? { kind: "absent" } : { kind: "stale", files };
}

/** staleFiles lists the interface's files no live daemon holds (the status socket only if nothing answers on it). */
function staleFiles(name: string, uapiStale: boolean): string[] {
  const files: string[] = [];
  if (uapiStale) files.push(uapiSocketPath(DEFAULT_UAPI_RUN_DIR, name));
  const status = statusSocketPath(name, DEFAULT_STATUS_RUN_DIR);
  const statusOwner = socketOwner(status);
  if (statusOwner.state === "stale" || (statusOwner.state === "error" && existsSync(status))) files.push(status);
  const applied = appliedStatePath(name);
  if (existsSync(applied)) files.push(applied);
  return files;
}

/** removeFiles deletes what a dead daemon left; returns what it removed. */
export function removeFiles(files: string[]): string[] {
  const removed: string[] = [];
  for (const file of files) {
    if (!existsSync(file)) continue;
    rmSync(file, { force: true });
    removed.push(file);
  }
  return removed;
}

/** otherNetnsError refuses to act on a name a daemon in another namespace holds. */
export function otherNetnsError(name: string, pid: number | null, what: string): CliError {
  const who = pid === null ? "a daemon" : `a daemon (pid ${pid})`;
  return new CliError(
    `${name}: ${what}: the name is held by ${who} in another network namespace; ${DEFAULT_UAPI_RUN_DIR} and ${DEFAULT_STATUS_RUN_DIR} are shared by all namespaces, so one name serves one interface on this host (run tunnel there, or pick another name)`,
    EXIT.UNAVAILABLE,
  );
}
