// The UAPI server of one interface: binds runDir/IFNAME.sock, serves every
// connection with UapiConnection, and reports when the socket file goes away
// so the daemon can exit (wireguard-go ipc/uapi_linux.go watches it with inotify).
import type { Socket } from "node:net";
import { DEFAULT_UAPI_LIMITS, UapiConnection, type UapiLimits } from "./connection.ts";
import type { UapiDevice } from "./model.ts";
import { bindUapiSocket, watchSocketFile } from "./socket-file.ts";
import { DEFAULT_UAPI_RUN_DIR, uapiSocketPath } from "../socket-paths.ts";

export interface UapiServerOptions {
  interfaceName: string;
  device: UapiDevice;
  /** Where the socket lives; wg(8) only looks in /var/run/wireguard (the default). Tests pass a temp dir. */
  runDir?: string;
  /** Called once if the socket file is deleted or replaced; the daemon should shut down. */
  onSocketRemoved?: () => void;
  log?: (message: string) => void;
  limits?: Partial<UapiLimits>;
  /** Fallback poll period for the socket-file watcher. */
  socketPollMs?: number;
}

export interface UapiServer {
  readonly socketPath: string;
  /** close stops listening, drops open connections and removes the socket file. */
  close(): Promise<void>;
}

export async function startUapiServer(options: UapiServerOptions): Promise<UapiServer> {
  const socketPath = uapiSocketPath(options.runDir ?? DEFAULT_UAPI_RUN_DIR, options.interfaceName);
  const limits: UapiLimits = { ...DEFAULT_UAPI_LIMITS, ...options.limits };
  const log = options.log ?? (() => {});
  const connections = new Set<UapiConnection>();
  const onConnection = (socket: Socket): void => {
    const connection = new UapiConnection(socket, options.device, limits, log);
    connections.add(connection);
    socket.once("close", () => connections.delete(connection));
  };
  const { server, identity } = await bindUapiSocket(socketPath, onConnection);
  const onSocketRemoved = options.onSocketRemoved;
  const stopWatching = watchSocketFile(
    socketPath,
    identity,
    () => {
      log(`UAPI: ${socketPath} was removed`);
      onSocketRemoved?.();
    },
    options.socketPollMs ?? 1000,
  );
  let closing: Promise<void> | null = null;
  return {
    socketPath,
    close(): Promise<void> {
      closing ??= new Promise<void>((resolve) => {
        stopWatching();
        // Like wireguard-go (SetUnlinkOnClose), closing unlinks the path.
        server.close(() => resolve());
        for (const connection of connections) connection.destroy();
      });
      return closing;
    },
  };
}
