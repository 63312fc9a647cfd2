// The daemon's side of a systemd Type=notify service: READY=1 once the
// caller says the interface is configured, STATUS= lines (peers, latest
// handshake), and WATCHDOG=1 only while the data-plane loop is really
// turning. The loop bumps a shared counter at least once a second even when
// idle (its epoll timeout is at most 1 s), so a counter that did not move
// between two pets means a stuck worker: we stay silent and systemd's
// WatchdogSec= restarts the service. The main thread alone answering is not
// proof of life; that is why the check reads the worker's counter.
import { NotifySocket } from "../sys/sd-notify.ts";

/** What the notifier reads from the device. */
export interface NotifiedDevice {
  readonly name: string;
  loopIterations(): number;
  /** Latest handshake per peer, Unix ms (0 = never). */
  peerHandshakes(): number[];
}

export interface NotifierLog {
  warn(message: string): void;
}

/** STATUS_EVERY_MS is how often STATUS= is refreshed when no watchdog sets a faster pace. */
const STATUS_EVERY_MS = 5000;

/** statusLine is the one line `systemctl status` shows under the unit. */
export function statusLine(name: string, handshakes: readonly number[], now: number): string {
  const peers = `${handshakes.length} peer${handshakes.length === 1 ? "" : "s"}`;
  const done = handshakes.filter((t) => t > 0);
  if (done.length === 0) return `${name}: ${peers}, no handshake yet`;
  const ago = Math.max(0, Math.round((now - Math.max(...done)) / 1000));
  return `${name}: ${peers}, ${done.length} with a session, latest handshake ${ago} s ago`;
}

/**
 * watchdogIntervalMs reads WATCHDOG_USEC/WATCHDOG_PID as sd_watchdog_enabled
 * does: null when no watchdog applies to this process. Pets go out at half
 * the timeout, as sd_watchdog_enabled(3) recommends.
 */
export function watchdogIntervalMs(env: Record<string, string | undefined>, pid: number): number | null {
  const usec = Number(env.WATCHDOG_USEC ?? "");
  if (!Number.isSafeInteger(usec) || usec <= 0) return null;
  if (env.WATCHDOG_PID !== undefined && env.WATCHDOG_PID !== "" && Number(env.WATCHDOG_PID) !== pid) return null;
  return Math.max(1, Math.floor(usec / 2000));
}

/** LoopProgress remembers the counter at the previous pet and says whether the loop moved since. */
export class LoopProgress {
  private last: number;
  constructor(initial: number) {
    this.last = initial;
  }
  advanced(now: number): boolean {
    const moved = now !== this.last;
    this.last = now;
    return moved;
  }
}

export class ServiceNotifier {
  private timer: ReturnType<typeof setInterval> | null = null;
  private lastStatusAt = 0;
  private stalledReported = false;

  private constructor(
    private readonly socket: NotifySocket,
    private readonly device: NotifiedDevice,
    private readonly watchdogMs: number | null,
    private readonly log: NotifierLog,
  ) {}

  /**
   * fromEnv returns null when not started by a service manager. It removes
   * NOTIFY_SOCKET and WATCHDOG_* from env so nothing this process starts
   * (the `ip` commands, a re-exec) talks to the manager in our name.
   */
  static fromEnv(env: Record<string, string | undefined>, device: NotifiedDevice, log: NotifierLog): ServiceNotifier | null {
    const value = env.NOTIFY_SOCKET;
    const watchdogMs = watchdogIntervalMs(env, process.pid);
    for (const k of ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"]) delete env[k];
    let socket: NotifySocket | null;
    try {
      socket = NotifySocket.open(value);
    } catch (e) {
      // sd_notify(3) semantics: a broken NOTIFY_SOCKET is reported, never fatal.
      log.warn(`${device.name}: ignoring NOTIFY_SOCKET: ${(e as Error).message}`);
      return null;
    }
    if (socket === null) return null;
    const notifier = new ServiceNotifier(socket, device, watchdogMs, log);
    notifier.start();
    return notifier;
  }

  private start(): void {
    const progress = new LoopProgress(this.device.loopIterations());
    const every = Math.min(this.watchdogMs ?? STATUS_EVERY_MS, STATUS_EVERY_MS);
    this.timer = setInterval(() => this.tick(progress), every);
    (this.timer as { unref?: () => void }).unref?.();
  }

  private tick(progress: LoopProgress): void {
    const now = Date.now();
    const lines: string[] = [];
    if (this.watchdogMs !== null) {
      if (progress.advanced(this.device.loopIterations())) {
        lines.push("WATCHDOG=1");
        this.stalledReported = false;
      } else if (!this.stalledReported) {
        this.stalledReported = true;
        this.log.warn(`${this.device.name}: the data-plane loop has not turned for ${this.watchdogMs} ms; withholding the watchdog ping`);
      }
    }
    if (now - this.lastStatusAt >= STATUS_EVERY_MS) {
      this.lastStatusAt = now;
      lines.push(`STATUS=${statusLine(this.device.name, this.device.peerHandshakes(), now)}`);
    }
    if (lines.length > 0) this.send(lines.join("\n"));
  }

  /** ready tells the manager the service is up; call it once the interface is configured. */
  ready(): void {
    this.lastStatusAt = Date.now();
    this.send(`READY=1\nSTATUS=${statusLine(this.device.name, this.device.peerHandshakes(), this.lastStatusAt)}`);
  }

  /** stopping announces a shutdown in progress, then stops pets. */
  stopping(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.send("STOPPING=1");
    this.socket.close();
  }

  private send(message: string): void {
    try {
      this.socket.send(message);
    } catch (e) {
      this.log.warn(`${this.device.name}: cannot notify the service manager: ${(e as Error).message}`);
    }
  }
}
