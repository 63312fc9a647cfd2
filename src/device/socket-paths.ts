// Where a daemon's sockets live. Kept free of node:net so the CLI commands
// that only need a path (status, down, the state files) do not pay for
// loading Node's socket and stream modules at start-up.
import { join } from "node:path";

/** The directory wg(8) scans (RUNSTATEDIR "/wireguard/" in wireguard-tools). */
export const DEFAULT_UAPI_RUN_DIR = "/var/run/wireguard";

/** Ours: status, metrics and state files, apart from wg(8)'s directory. */
export const DEFAULT_STATUS_RUN_DIR = "/var/run/tunnel";

/** sun_path holds 108 bytes including the terminating NUL. */
const MAX_SOCKET_PATH_BYTES = 107;
/** IFNAMSIZ is 16 including the NUL. */
const MAX_INTERFACE_NAME_BYTES = 15;

/** uapiSocketPath is runDir/IFNAME.sock; throws on a name wg(8) could not address. */
export function uapiSocketPath(runDir: string, interfaceName: string): string {
  const bytes = Buffer.byteLength(interfaceName);
  if (bytes === 0 || bytes > MAX_INTERFACE_NAME_BYTES || interfaceName.includes("/") || interfaceName === "." || interfaceName === "..") {
    throw new Error(`invalid interface name ${JSON.stringify(interfaceName)}`);
  }
  const path = join(runDir, `${interfaceName}.sock`);
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH_BYTES) throw new Error(`socket path too long for AF_UNIX: ${path}`);
  return path;
}

/** statusSocketPath is where the daemon's status document is served. */
export function statusSocketPath(interfaceName: string, runDir = DEFAULT_STATUS_RUN_DIR): string {
  return join(runDir, `${interfaceName}.sock`);
}
