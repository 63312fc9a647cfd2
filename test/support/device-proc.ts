// One test/device/run-device.ts daemon under `ip netns exec`: it prints JSON
// lines ({"ready":true}, command answers) and takes commands on stdin
// (status, snapshot, ...). Shared by the device tests that drive our Device
// directly rather than through the compiled binary.
import type { DeviceStatus } from "../../src/device/device-status.ts";
import type { Netns } from "./netns.ts";

const RUN_DEVICE = new URL("../device/run-device.ts", import.meta.url).pathname;

type Proc = ReturnType<typeof Bun.spawn>;

/** DeviceProc drives one run-device.ts: JSON lines out, commands in. */
export class DeviceProc {
  private buffered = "";
  private readonly lines: string[] = [];
  private waiters: ((line: string) => void)[] = [];
  stderr = "";

  constructor(readonly proc: Proc) {
    void this.pump(proc.stdout as ReadableStream<Uint8Array>, (t) => this.onStdout(t));
    void this.pump(proc.stderr as ReadableStream<Uint8Array>, (t) => (this.stderr += t));
  }

  private async pump(s: ReadableStream<Uint8Array>, on: (t: string) => void): Promise<void> {
    const dec = new TextDecoder();
    for await (const chunk of s) on(dec.decode(chunk, { stream: true }));
  }

  private onStdout(t: string): void {
    this.buffered += t;
    for (let nl = this.buffered.indexOf("\n"); nl >= 0; nl = this.buffered.indexOf("\n")) {
      const line = this.buffered.slice(0, nl);
      this.buffered = this.buffered.slice(nl + 1);
      const w = this.waiters.shift();
      if (w) w(line);
      else this.lines.push(line);
    }
  }

  next(timeoutMs = 10_000): Promise<Record<string, unknown>> {
    const l = this.lines.shift();
    if (l !== undefined) return Promise.resolve(JSON.parse(l));
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`run-device: no output in ${timeoutMs} ms; stderr:\n${this.stderr}`)), timeoutMs);
      this.waiters.push((line) => {
        clearTimeout(t);
        resolve(JSON.parse(line));
      });
    });
  }

  async command(cmd: string): Promise<Record<string, unknown>> {
    const stdin = this.proc.stdin as unknown as { write(s: string): void; flush(): void };
    stdin.write(`${cmd}\n`);
    stdin.flush();
    return this.next();
  }

  async status(): Promise<DeviceStatus> {
    return (await this.command("status")).status as DeviceStatus;
  }

  async stop(): Promise<void> {
    this.proc.kill("SIGTERM");
    const exited = await Promise.race([this.proc.exited.then(() => true), Bun.sleep(3000).then(() => false)]);
    if (!exited) {
      this.proc.kill("SIGKILL");
      await this.proc.exited;
    }
  }
}

export function startDevice(ns: Netns, ifname: string, env: Record<string, string> = {}): DeviceProc {
  const proc = Bun.spawn(["ip", "netns", "exec", ns.name, process.execPath, RUN_DEVICE, ifname], {
    stdin: "pipe",
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, ...env },
  });
  return new DeviceProc(proc);
}
