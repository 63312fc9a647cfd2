// The data plane's thread count as the CLI handles it: the daemon starts
// with TUNNEL_WORKERS (or "auto") and serves the setting on its local HTTP
// socket (/workers); `tunnel up` makes the running daemon match the file's
// `workers` (else TUNNEL_WORKERS, else "auto"), live, like metrics_listen.
import { checkWorkers } from "../config/validate.ts";
import type { WorkersSetting } from "../config/types.ts";
import type { Device } from "../device/device.ts";
import { currentSetting, requestSetting, type SettingControl } from "../device/metrics-server.ts";
import { CliError, EXIT } from "./errors.ts";

export const WORKERS_ENV = "TUNNEL_WORKERS";

/** workersFromEnv is the daemon's start-up setting: TUNNEL_WORKERS, else "auto" (a bad value is a warning, not a failed start). */
export function workersFromEnv(env: Record<string, string | undefined>, warn: (m: string) => void): WorkersSetting {
  const v = env[WORKERS_ENV]?.trim() ?? "";
  if (v === "") return "auto";
  const w = checkWorkers(v);
  if (w.ok) return w.value;
  warn(`${WORKERS_ENV}: ${w.message}; using "auto"`);
  return "auto";
}

/** desiredWorkers is what `tunnel up` wants: the file's workers, else TUNNEL_WORKERS from its environment, else "auto". */
export function desiredWorkers(fromFile: WorkersSetting | undefined, env: Record<string, string | undefined>): WorkersSetting {
  if (fromFile !== undefined) return fromFile;
  const v = env[WORKERS_ENV]?.trim() ?? "";
  if (v === "") return "auto";
  const w = checkWorkers(v);
  if (!w.ok) throw new CliError(`${WORKERS_ENV}: ${w.message}`, EXIT.CONFIG);
  return w.value;
}

/** workersControl serves a device's setting on the daemon's socket. */
export function workersControl(device: Device): SettingControl {
  return {
    get: () => String(device.workers.setting),
    put: (text) => {
      const w = checkWorkers(text);
      if (!w.ok) return { ok: false, message: `workers: ${w.message}` };
      return { ok: true, text: String(device.setWorkers(w.value).setting) };
    },
  };
}

/**
 * applyWorkers makes a running daemon use `desired` and returns the change
 * line, or null when it already does. An interface served by another
 * implementation has no such setting: fine unless one was asked for.
 */
export async function applyWorkers(interfaceName: string, desired: WorkersSetting, opts: { dryRun?: boolean } = {}): Promise<string | null> {
  let current: string;
  try {
    current = await currentSetting(interfaceName, "workers");
  } catch (e) {
    if (desired === "auto") return null;
    throw new CliError(`${interfaceName}: workers needs a tunnel daemon serving the interface (${(e as Error).message})`, EXIT.UNAVAILABLE);
  }
  if (current === String(desired)) return null;
  const change = `workers: ${current} → ${desired}`;
  if (opts.dryRun) return change;
  try {
    await requestSetting(interfaceName, "workers", String(desired));
  } catch (e) {
    throw new CliError(`${interfaceName}: workers ${desired}: ${(e as Error).message}`, EXIT.UNAVAILABLE);
  }
  return change;
}
