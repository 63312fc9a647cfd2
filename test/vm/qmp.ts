// A minimal QMP client (QEMU's JSON monitor on a unix socket): one command at
// a time, events ignored. The lab needs it to stop a VM and stream its state
// into a snapshot file.
import type { Socket } from "bun";

export class Qmp {
  private buffer = "";
  private waiting: ((line: Record<string, unknown>) => void) | null = null;
  private queue: Record<string, unknown>[] = [];

  private constructor(private readonly socket: Socket<undefined>) {}

  /** connect retries until the socket exists (qemu creates it while starting), then negotiates capabilities. */
  static async connect(path: string, timeoutMs = 20_000): Promise<Qmp> {
    const deadline = performance.now() + timeoutMs;
    let qmp: Qmp | null = null;
    for (;;) {
      try {
        const holder: { q?: Qmp } = {};
        const socket = await Bun.connect({
          unix: path,
          socket: {
            data: (_s, data) => holder.q?.onData(data.toString()),
            close: () => holder.q?.onData(""),
          },
        });
        qmp = holder.q = new Qmp(socket);
        break;
      } catch (e) {
        if (performance.now() > deadline) throw new Error(`QMP socket ${path}: ${String(e)}`);
        await Bun.sleep(100);
      }
    }
    await qmp.next(); // greeting
    await qmp.execute("qmp_capabilities");
    return qmp;
  }

  private onData(text: string): void {
    this.buffer += text;
    for (let nl = this.buffer.indexOf("\n"); nl >= 0; nl = this.buffer.indexOf("\n")) {
      const line = this.buffer.slice(0, nl).trim();
      this.buffer = this.buffer.slice(nl + 1);
      if (!line) continue;
      const msg = JSON.parse(line) as Record<string, unknown>;
      if ("event" in msg) continue;
      if (this.waiting) {
        const w = this.waiting;
        this.waiting = null;
        w(msg);
      } else this.queue.push(msg);
    }
  }

  private next(): Promise<Record<string, unknown>> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve) => (this.waiting = resolve));
  }

  /** execute runs one command and returns its "return" value, throwing on a QMP error. */
  async execute(command: string, args?: Record<string, unknown>): Promise<unknown> {
    this.socket.write(`${JSON.stringify(args ? { execute: command, arguments: args } : { execute: command })}\n`);
    const reply = await this.next();
    if ("error" in reply) throw new Error(`QMP ${command}: ${JSON.stringify(reply.error)}`);
    return reply.return;
  }

  close(): void {
    this.socket.end();
  }
}
