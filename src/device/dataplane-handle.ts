// The main thread's end of the data-plane worker: it starts the worker,
// turns the worker's messages into calls, posts control messages with the
// wake-up that makes a sleeping epoll_wait see them at once, and stops the
// worker by message, with terminate() only as a fallback. The Device decides
// what to send; this file only knows how the two threads talk.
// The worker is loaded with new URL("./dataplane.worker.ts", import.meta.url);
// checked in a `bun build --compile` binary laid out as build.ts does (entry
// in src/, every src/**/*.worker.ts as an extra entry point): the worker
// starts, runs and stops by message. An entry outside src/ breaks that path.
import { rawLibc } from "../sys/libc.ts";
import type { FromWorker, ToWorker, WorkerInit } from "./dataplane-messages.ts";
import { workerUrl } from "./worker-url.ts";

const STOP_TIMEOUT_MS = 2000;

/** DataPlaneEvents are what the worker reports besides its log lines. */
export interface DataPlaneEvents {
  /** The worker turned UDP GSO on or off for one socket family. */
  gso(family: 4 | 6, enabled: boolean): void;
  /** The TUN disappeared or the worker died. */
  closed(reason: string): void;
}

export class DataPlaneHandle {
  /** The worker's Int32Array(1) mailbox counter, for WorkerInit. */
  readonly mailboxBuffer = new SharedArrayBuffer(16);
  /** The worker's end of the control channel, for WorkerInit. */
  readonly workerPort: MessagePort;
  private readonly mailbox = new Int32Array(this.mailboxBuffer);
  private readonly worker: Worker;
  private readonly port: MessagePort;
  private readonly wakeBytes = new BigUint64Array([1n]);
  private stopped: (() => void) | null = null;
  private workerStopped = false;

  /** The worker is created at once; wakeFd is its wake-up eventfd (the caller's to close). */
  constructor(
    private readonly wakeFd: number,
    private readonly log: { warn(message: string): void },
  ) {
    this.worker = new Worker(workerUrl("device/dataplane.worker.ts", import.meta.url, "device/dataplane-handle.ts"));
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    this.workerPort = port2;
  }

  /** start hands the worker its init; resolves when it is ready, rejects if it closes or fails first. */
  start(init: WorkerInit, events: DataPlaneEvents): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let ready = false;
      this.port.onmessage = (event: { data: unknown }) => {
        const m = event.data as FromWorker;
        switch (m.type) {
          case "ready":
            ready = true;
            resolve();
            return;
          case "log":
            this.log.warn(m.message);
            return;
          case "gso":
            events.gso(m.family, m.enabled);
            return;
          case "closed":
            if (!ready) reject(new Error(m.reason));
            events.closed(m.reason);
            return;
          case "stopped":
            // The worker also stops by itself when the TUN goes away, which
            // can be before stop() is called: remember it, or stop() would
            // wait out STOP_TIMEOUT_MS for a message that already came.
            this.workerStopped = true;
            this.stopped?.();
            return;
        }
      };
      this.worker.onerror = (e) => {
        const reason = `data-plane worker failed: ${e.message}`;
        if (!ready) reject(new Error(reason));
        events.closed(reason);
      };
      this.worker.postMessage(init, [init.port]);
    });
  }

  /** send posts a control message and wakes the worker's loop. */
  send(m: ToWorker): void {
    this.port.postMessage(m);
    Atomics.add(this.mailbox, 0, 1);
    rawLibc().write(this.wakeFd, this.wakeBytes, 8);
  }

  /** stop stops the worker (by message; terminate() only as a fallback) and closes the channel. */
  async stop(): Promise<void> {
    const stopped = new Promise<boolean>((resolve) => {
      if (this.workerStopped) return resolve(true);
      this.stopped = () => resolve(true);
      setTimeout(() => resolve(false), STOP_TIMEOUT_MS);
    });
    this.send({ type: "stop" });
    const clean = await stopped;
    if (!clean) {
      this.log.warn("data-plane worker did not stop in time; terminating it");
      this.worker.terminate();
    }
    this.port.close();
  }
}
