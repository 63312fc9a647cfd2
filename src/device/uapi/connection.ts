// One UAPI client connection: the framing of wireguard-go's IpcHandle.
// A connection carries any number of operations:
//   get=1\n\n             -> snapshot lines, errno=0\n\n
//   set=1\n key=value\n... \n -> errno=N\n\n
// Anything else as an operation line closes the connection without a reply.
// Differences, on purpose: a whole set body is read and validated before any
// of it is applied (wireguard-go applies line by line and can stop halfway);
// input is bounded (oversized line or body -> errno=-EPROTO, then close); a
// byte other than '\n' after get=1 gets errno=-EINVAL and closes the
// connection instead of resynchronising on the next bytes.
import type { Socket } from "node:net";
import { UapiErrno, UapiError } from "./errors.ts";
import { type UapiDevice, planChange } from "./model.ts";
import { SetBodyParser, formatGetReply, formatStatus } from "./protocol.ts";

export interface UapiLimits {
  /** Longest accepted line of a set body, without its '\n'. */
  maxLineBytes: number;
  /** Largest accepted set body; each peer with a few allowed IPs takes ~300 bytes. */
  maxSetBodyBytes: number;
  /**
   * Most lines in one set body. The body is validated whole before anything
   * is applied, and a parsed line costs ~440 bytes of heap: 670k lines (16
   * MiB of allowed_ip) lifted the daemon to 293 MB for good. 131072 lines is
   * ~57 MB at worst and still 400 peers with 300 allowed IPs each.
   */
  maxSetLines: number;
}

export const DEFAULT_UAPI_LIMITS: UapiLimits = { maxLineBytes: 4096, maxSetBodyBytes: 16 << 20, maxSetLines: 1 << 17 };

/** "get=1" and "set=1": a longer operation line is unknown however it ends. */
const MAX_OPERATION_LINE_BYTES = 5;
const NEWLINE = 0x0a;
const EMPTY = Buffer.alloc(0);

type State = "operation" | "get" | "set";

export class UapiConnection {
  private pending: Buffer = EMPTY;
  private state: State = "operation";
  private parser = new SetBodyParser();
  private bodyBytes = 0;
  private bodyLines = 0;
  /** The socket's write buffer is full: stop reading until 'drain'. */
  private blocked = false;
  private peerEnded = false;
  private closed = false;

  constructor(
    private readonly socket: Socket,
    private readonly device: UapiDevice,
    private readonly limits: UapiLimits,
    private readonly log: (message: string) => void,
  ) {
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("end", () => {
      this.peerEnded = true;
      this.pump();
    });
    socket.on("drain", () => {
      this.blocked = false;
      socket.resume();
      this.pump();
    });
    // wg(8) probes liveness by connecting and closing at once; resets are normal.
    socket.on("error", () => this.markClosed());
    socket.on("close", () => this.markClosed());
  }

  /** destroy drops the connection (server shutdown). */
  destroy(): void {
    this.markClosed();
    this.socket.destroy();
  }

  private markClosed(): void {
    this.closed = true;
    this.pending = EMPTY;
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    this.pump();
  }

  /** pump handles every complete request in `pending`, one at a time, until the output backs up. */
  private pump(): void {
    while (!this.closed && !this.blocked) {
      if (this.state === "get") {
        if (this.pending.length === 0) break;
        const next = this.pending[0];
        this.pending = this.pending.subarray(1);
        if (next !== NEWLINE) {
          this.fail(UapiErrno.invalid, "trailing byte after get=1");
          return;
        }
        this.answerGet();
        continue;
      }
      const newline = this.pending.indexOf(NEWLINE);
      const lineBytes = newline < 0 ? this.pending.length : newline;
      if (this.lineTooLong(lineBytes)) return;
      if (newline < 0) break;
      const line = this.pending.toString("latin1", 0, newline);
      this.pending = this.pending.subarray(newline + 1);
      if (this.state === "operation") this.startOperation(line);
      else this.onSetLine(line);
    }
    if (this.peerEnded && !this.blocked && !this.closed) this.finishAtEndOfInput();
  }

  private lineTooLong(lineBytes: number): boolean {
    if (this.state === "operation" && lineBytes > MAX_OPERATION_LINE_BYTES) {
      this.log(`UAPI: unknown operation (${lineBytes}+ bytes), closing`);
      this.close();
      return true;
    }
    if (this.state === "set" && lineBytes > this.limits.maxLineBytes) {
      this.fail(UapiErrno.protocol, `set line longer than ${this.limits.maxLineBytes} bytes`);
      return true;
    }
    return false;
  }

  private startOperation(line: string): void {
    if (line === "get=1") {
      this.state = "get";
    } else if (line === "set=1") {
      this.state = "set";
      this.parser = new SetBodyParser();
      this.bodyBytes = 0;
      this.bodyLines = 0;
    } else {
      this.log(`UAPI: unknown operation ${JSON.stringify(line)}, closing`);
      this.close();
    }
  }

  private onSetLine(line: string): void {
    this.bodyBytes += line.length + 1;
    if (this.bodyBytes > this.limits.maxSetBodyBytes) {
      this.fail(UapiErrno.protocol, `set body larger than ${this.limits.maxSetBodyBytes} bytes`);
      return;
    }
    if (++this.bodyLines > this.limits.maxSetLines) {
      this.fail(UapiErrno.protocol, `set body longer than ${this.limits.maxSetLines} lines`);
      return;
    }
    if (line === "") this.answerSet();
    else this.parser.pushLine(line);
  }

  /**
   * At end of input, a set body still open is applied without its blank line
   * and answered (wireguard-go does the same: its line scanner just ends);
   * then our side closes too.
   */
  private finishAtEndOfInput(): void {
    if (this.state === "set") {
      if (this.pending.length > 0) this.onSetLine(this.pending.toString("latin1"));
      if (this.closed) return;
      if (this.state === "set") this.answerSet();
    }
    this.close();
  }

  private answerGet(): void {
    this.state = "operation";
    let reply: string;
    try {
      reply = formatGetReply(this.device.snapshot());
    } catch (error) {
      this.log(`UAPI: get failed: ${String(error)}`);
      reply = formatStatus(UapiErrno.unknown);
    }
    this.write(reply);
  }

  private answerSet(): void {
    this.state = "operation";
    const parseError = this.parser.error;
    const operations = this.parser.operations;
    this.parser = new SetBodyParser(); // drop the operations with the request
    let errno: number;
    if (parseError !== null) {
      this.log(`UAPI: set refused: ${parseError.message}`);
      errno = parseError.errno;
    } else {
      errno = this.applySet(operations);
    }
    this.write(formatStatus(errno));
  }

  private applySet(operations: SetBodyParser["operations"]): number {
    try {
      const { errno } = this.device.apply(planChange(operations));
      if (errno !== UapiErrno.ok) this.log(`UAPI: set failed with errno ${errno}`);
      return errno;
    } catch (error) {
      this.log(`UAPI: set failed: ${String(error)}`);
      return error instanceof UapiError ? error.errno : UapiErrno.unknown;
    }
  }

  private write(text: string): void {
    if (!this.socket.write(text)) {
      this.blocked = true;
      this.socket.pause();
    }
  }

  /** fail answers a request we refuse to read further, then closes. */
  private fail(errno: number, reason: string): void {
    this.log(`UAPI: ${reason}, closing`);
    this.socket.write(formatStatus(errno));
    this.close();
  }

  /** close flushes what was written, then releases the socket. */
  private close(): void {
    this.markClosed();
    this.socket.end(() => this.socket.destroy());
  }
}
