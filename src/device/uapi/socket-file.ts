// The UAPI socket file: /var/run/wireguard/IFNAME.sock (the path wg(8) has
// compiled in), bound root-only, with wireguard-go's stale-socket takeover
// (ipc/uapi_unix.go UAPIOpen) and a watcher for the file's removal, the
// conventional "please exit" signal to a userspace WireGuard daemon.
import { type FSWatcher, lstatSync, mkdirSync, unlinkSync, watch } from "node:fs";
import net from "node:net";
import { basename, dirname } from "node:path";

/** FileIdentity tells our socket file from one that replaced it at the same path. */
export interface FileIdentity {
  dev: number;
  ino: number;
}

export interface BoundSocket {
  server: net.Server;
  identity: FileIdentity;
}

/**
 * bindUapiSocket creates runDir (0755) and listens on `path`, mode 0700 (only
 * root can connect). Permissions come from umask 077 around bind(): node:net
 * binds synchronously inside listen() (checked: the file exists when listen()
 * returns), so the umask change covers exactly that call on our single JS
 * thread and the file is never visible with wider permissions; a chmod after
 * bind would leave a window. If the path is taken: a live listener means
 * "unix socket in use"; a dead one (connect fails) is unlinked and bind retried once.
 */
export async function bindUapiSocket(path: string, onConnection: (socket: net.Socket) => void): Promise<BoundSocket> {
  mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  let server = createServer(onConnection);
  let error = await listenRestricted(server, path);
  if (error !== null && error.code === "EADDRINUSE") {
    if (await isListening(path)) throw new Error(`${path}: unix socket in use`);
    unlinkSync(path);
    server = createServer(onConnection);
    error = await listenRestricted(server, path);
  }
  if (error !== null) throw new Error(`${path}: ${error.message}`, { cause: error });
  const stat = lstatSync(path);
  return { server, identity: { dev: stat.dev, ino: stat.ino } };
}

function createServer(onConnection: (socket: net.Socket) => void): net.Server {
  // allowHalfOpen: a client may shut down its write side after a set body and
  // still read the errno, as wireguard-go allows.
  return net.createServer({ allowHalfOpen: true }, onConnection);
}

function listenRestricted(server: net.Server, path: string): Promise<NodeJS.ErrnoException | null> {
  return new Promise((resolve) => {
    const onError = (error: NodeJS.ErrnoException): void => {
      server.off("listening", onListening);
      resolve(error);
    };
    const onListening = (): void => {
      server.off("error", onError);
      resolve(null);
    };
    server.once("error", onError);
    server.once("listening", onListening);
    const previousUmask = process.umask(0o077);
    try {
      server.listen(path);
    } finally {
      process.umask(previousUmask);
    }
  });
}

/** isListening reports whether something accepts connections on `path`. */
export function isListening(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.createConnection(path);
    probe.once("connect", () => {
      probe.destroy();
      resolve(true);
    });
    probe.once("error", () => resolve(false));
  });
}

/** socketFileIsOurs reports whether `path` is still the socket we bound. */
export function socketFileIsOurs(path: string, identity: FileIdentity): boolean {
  try {
    const stat = lstatSync(path);
    return stat.isSocket() && stat.dev === identity.dev && stat.ino === identity.ino;
  } catch {
    return false;
  }
}

/**
 * watchSocketFile calls onGone once when `path` stops being our socket
 * (deleted, or replaced by another daemon's). inotify via fs.watch on the
 * directory reacts at once; a slow lstat poll covers what it can miss, such
 * as the whole directory being removed. Returns a function that stops watching.
 */
export function watchSocketFile(path: string, identity: FileIdentity, onGone: () => void, pollMs: number): () => void {
  const name = basename(path);
  let stopped = false;
  let watcher: FSWatcher | null = null;
  const check = (): void => {
    if (stopped || socketFileIsOurs(path, identity)) return;
    stop();
    onGone();
  };
  const stop = (): void => {
    stopped = true;
    clearInterval(timer);
    watcher?.close();
  };
  const timer = setInterval(check, pollMs);
  timer.unref();
  try {
    watcher = watch(dirname(path), { persistent: false }, (_event, file) => {
      if (file === null || file === name) check();
    });
    watcher.on("error", () => {
      watcher?.close();
      watcher = null;
      check();
    });
  } catch {
    watcher = null; // the poll alone still works
  }
  check(); // it may already be gone
  return stop;
}
