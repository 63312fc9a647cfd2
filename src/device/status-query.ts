// The client of the status socket (status-socket.ts serves it): connect, read
// one JSON document until the daemon closes. Through Bun.connect rather than
// node:net, whose module and streams cost `tunnel status` a few milliseconds
// of every start-up, and start-up is what the command's latency under load
// is made of.
import { DEFAULT_STATUS_RUN_DIR, statusSocketPath } from "./socket-paths.ts";

const QUERY_TIMEOUT_MS = 2000;

/** queryStatus reads the JSON document of a running daemon. */
export function queryStatus(interfaceName: string, runDir = DEFAULT_STATUS_RUN_DIR): Promise<unknown> {
  const path = statusSocketPath(interfaceName, runDir);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let settled = false;
    const settle = (error: Error | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (error !== null) return reject(error);
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString("utf8")));
      } catch {
        reject(new Error(`${path}: not a status document`));
      }
    };
    const timer = setTimeout(() => {
      settle(new Error(`${path}: no answer within ${QUERY_TIMEOUT_MS} ms`));
      connection.then((s) => s.terminate()).catch(() => {});
    }, QUERY_TIMEOUT_MS);
    const connection = Bun.connect({
      unix: path,
      socket: {
        // The buffer is only valid during the callback.
        data: (_socket, data) => void chunks.push(Buffer.from(data)),
        end: (socket) => {
          socket.end();
          settle(null);
        },
        close: () => settle(null),
        error: (_socket, error) => settle(error),
        connectError: (_socket, error) => settle(error),
      },
    });
    connection.catch((e: Error) => settle(e));
  });
}
