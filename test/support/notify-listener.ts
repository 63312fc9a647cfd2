// A stand-in for systemd's notification socket: an abstract AF_UNIX datagram
// socket the test binds, so a daemon started with NOTIFY_SOCKET=@name sends
// its READY=1 / STATUS= / WATCHDOG=1 datagrams here, as it would to PID 1.
// Abstract names belong to a network namespace; a daemon in another one
// needs the path form (kind "path"), as systemd's /run/systemd/notify is.
import { AF_UNIX, MSG_DONTWAIT, SOCK_CLOEXEC, SOCK_DGRAM } from "../../src/sys/constants.ts";
import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bind, close, rawLibc, socket } from "../../src/sys/libc.ts";
import { notifySocketAddress } from "../../src/sys/sd-notify.ts";

export interface NotifyMessage {
  atMs: number;
  text: string;
}

export class NotifyListener {
  readonly value: string;
  readonly messages: NotifyMessage[] = [];
  private fd: number;
  private readonly buf = new Uint8Array(4096);

  constructor(tag: string, kind: "abstract" | "path" = "abstract") {
    const name = `tunnel-test-notify-${process.pid}-${tag}`;
    this.value = kind === "abstract" ? `@${name}` : join(tmpdir(), `${name}.sock`);
    if (kind === "path") rmSync(this.value, { force: true });
    const { addr, length } = notifySocketAddress(this.value);
    this.fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC);
    bind(this.fd, addr, length);
  }

  /** drain reads every datagram waiting now. */
  drain(): NotifyMessage[] {
    const got: NotifyMessage[] = [];
    for (;;) {
      const n = rawLibc().recvfrom(this.fd, this.buf, this.buf.length, MSG_DONTWAIT, null, null);
      if (n < 0) break;
      const m = { atMs: Date.now(), text: new TextDecoder().decode(this.buf.subarray(0, n)) };
      got.push(m);
      this.messages.push(m);
    }
    return got;
  }

  /** waitFor polls until a datagram containing `needle` arrives, or throws after timeoutMs. */
  async waitFor(needle: string, timeoutMs: number): Promise<NotifyMessage> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.drain().find((m) => m.text.includes(needle));
      if (hit) return hit;
      if (Date.now() > deadline)
        throw new Error(`no '${needle}' on ${this.value} within ${timeoutMs} ms (got: ${JSON.stringify(this.messages.map((m) => m.text))})`);
      await Bun.sleep(20);
    }
  }

  close(): void {
    if (this.fd >= 0) close(this.fd);
    this.fd = -1;
    if (this.value.startsWith("/")) rmSync(this.value, { force: true });
  }
}
