// What `tunnel up` set outside the WireGuard device and the routing tables,
// kept so `down` (or the next `up` after a crash) can undo it and a re-run
// can tell what changed: the DNS it registered, the hooks it ran, and the
// host names of peer endpoints (the daemon re-resolves them). One JSON file
// per interface next to the status socket, mode 0600, written atomically.
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DEFAULT_STATUS_RUN_DIR } from "../device/socket-paths.ts";
import type { AppliedDns } from "./dns.ts";

export interface AppliedHooks {
  preUp: string[];
  postUp: string[];
  preDown: string[];
  postDown: string[];
}

/** EndpointName is a peer endpoint given by name, and the address `up` resolved it to. */
export interface EndpointName {
  host: string;
  port: number;
  /** "198.18.0.1:51820" / "[fd00::1]:51820" as configured by `up`. */
  resolved: string;
}

export interface WgQuickState {
  hooks: AppliedHooks;
  dns: AppliedDns | null;
  /** By peer public key (hex). */
  endpointNames: Record<string, EndpointName>;
  /** How often the daemon resolves the names again while all is well (interface.endpoint_refresh). */
  endpointRefreshMs?: number;
}

export const EMPTY_HOOKS: AppliedHooks = { preUp: [], postUp: [], preDown: [], postDown: [] };

export function wgQuickStatePath(name: string, runDir = DEFAULT_STATUS_RUN_DIR): string {
  return join(runDir, `${name}.wgquick.json`);
}

/** readWgQuickState returns the recorded state, or null when there is none (or it is unreadable). */
export function readWgQuickState(name: string, runDir = DEFAULT_STATUS_RUN_DIR): WgQuickState | null {
  let parsed: Partial<WgQuickState>;
  try {
    parsed = JSON.parse(readFileSync(wgQuickStatePath(name, runDir), "utf8")) as Partial<WgQuickState>;
  } catch {
    return null;
  }
  return {
    hooks: { ...EMPTY_HOOKS, ...(parsed.hooks ?? {}) },
    dns: parsed.dns ?? null,
    endpointNames: parsed.endpointNames ?? {},
    ...(typeof parsed.endpointRefreshMs === "number" ? { endpointRefreshMs: parsed.endpointRefreshMs } : {}),
  };
}

export function writeWgQuickState(name: string, state: WgQuickState, runDir = DEFAULT_STATUS_RUN_DIR): void {
  mkdirSync(runDir, { recursive: true, mode: 0o755 });
  const path = wgQuickStatePath(name, runDir);
  // The daemon reads this file while `up` writes it: a rename is never seen half-written.
  const temp = `${path}.${process.pid}.tmp`;
  writeFileSync(temp, JSON.stringify(state), { mode: 0o600 });
  renameSync(temp, path);
}

export function forgetWgQuickState(name: string, runDir = DEFAULT_STATUS_RUN_DIR): void {
  rmSync(wgQuickStatePath(name, runDir), { force: true });
}
