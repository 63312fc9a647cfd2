// A daemon needs CAP_NET_ADMIN (TUNSETIFF, link setup); root has it, and so
// may a service user given it by systemd (AmbientCapabilities). Checked up
// front so a user without it hears why, not "exited during start-up".
import { readFileSync } from "node:fs";
import { CliError, EXIT } from "./errors.ts";

/** CAP_NET_ADMIN is capability 12 (linux/capability.h). */
const CAP_NET_ADMIN = 12n;

/** hasNetAdmin reads the effective set from /proc/self/status; true when it cannot tell. */
export function hasNetAdmin(statusText?: string): boolean {
  let text = statusText;
  try {
    text ??= readFileSync("/proc/self/status", "utf8");
  } catch {
    return true;
  }
  const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(text);
  if (m === null) return true;
  return ((BigInt(`0x${m[1]}`) >> CAP_NET_ADMIN) & 1n) === 1n;
}

/** requireNetAdmin throws the permission error for a caller without CAP_NET_ADMIN. */
export function requireNetAdmin(ifname: string): void {
  if (!hasNetAdmin()) throw new CliError(`${ifname}: permission denied: creating a TUN device needs CAP_NET_ADMIN; run as root`, EXIT.NO_PERMISSION);
}
