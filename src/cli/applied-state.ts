// What the last `tunnel up` configured that the device cannot tell us back:
// the endpoints as the file gave them (the device reports where peers are
// now, which roaming changes). Kept per interface under /var/run/tunnel so a
// re-run can tell "the user changed the endpoint" from "the peer roamed".
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DEFAULT_STATUS_RUN_DIR } from "../device/socket-paths.ts";

/** appliedStatePath is /var/run/tunnel/IFNAME.applied.json. */
export function appliedStatePath(name: string): string {
  return join(DEFAULT_STATUS_RUN_DIR, `${name}.applied.json`);
}

/** readAppliedEndpoints returns endpoints by peer public key (hex); empty when unknown. */
export function readAppliedEndpoints(name: string): Map<string, string> {
  try {
    return new Map(Object.entries(JSON.parse(readFileSync(appliedStatePath(name), "utf8")) as Record<string, string>));
  } catch {
    return new Map();
  }
}

export function writeAppliedEndpoints(name: string, endpoints: Map<string, string>): void {
  mkdirSync(DEFAULT_STATUS_RUN_DIR, { recursive: true, mode: 0o755 });
  writeFileSync(appliedStatePath(name), JSON.stringify(Object.fromEntries(endpoints)), { mode: 0o600 });
}

export function forgetApplied(name: string): void {
  rmSync(appliedStatePath(name), { force: true });
}
