// The status socket: /var/run/tunnel/IFNAME.sock answers every connection
// with one JSON document (offload state, counters, peers) and closes. It is
// separate from the UAPI socket so that socket stays byte-for-byte what wg(8)
// expects, and separate from /var/run/wireguard so wg does not mistake it
// for an interface. Root-only, like the UAPI socket.
import { chmodSync, mkdirSync, unlinkSync } from "node:fs";
import net from "node:net";
import { DEFAULT_STATUS_RUN_DIR, statusSocketPath } from "./socket-paths.ts";

export interface StatusServer {
  readonly path: string;
  close(): Promise<void>;
}

/** startStatusServer serves snapshot() as JSON; a stale socket file at path is replaced. */
export async function startStatusServer(interfaceName: string, snapshot: () => unknown, runDir = DEFAULT_STATUS_RUN_DIR): Promise<StatusServer> {
  mkdirSync(runDir, { recursive: true, mode: 0o755 });
  const path = statusSocketPath(interfaceName, runDir);
  try {
    unlinkSync(path);
  } catch {
    // absent: nothing to replace
  }
  const server = net.createServer((socket) => {
    socket.on("error", () => socket.destroy());
    let body: string;
    try {
      body = JSON.stringify(snapshot());
    } catch (e) {
      body = JSON.stringify({ error: (e as Error).message });
    }
    socket.end(`${body}\n`);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(path, () => resolve());
  });
  chmodSync(path, 0o600);
  return {
    path,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        try {
          unlinkSync(path);
        } catch {
          // already gone
        }
      }),
  };
}
