// A raw UAPI client for tests: writes bytes, reads until a number of replies
// (each ending in errno=N and a blank line) have arrived or the server closes.
import net from "node:net";

export interface Exchange {
  text: string;
  /** The server closed the connection. */
  closed: boolean;
}

const REPLY_END = /errno=-?\d+\n\n/g;

export function exchange(path: string, request: string | Buffer, replies: number, options: { halfClose?: boolean } = {}): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    const socket = net.createConnection(path);
    let text = "";
    let done = false;
    const finish = (closed: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ text, closed });
    };
    const timer = setTimeout(() => {
      done = true;
      socket.destroy();
      reject(new Error(`no answer; got ${JSON.stringify(text.slice(0, 200))}`));
    }, 5000);
    socket.on("connect", () => {
      if (options.halfClose) socket.end(request);
      else socket.write(request);
    });
    socket.on("data", (chunk) => {
      text += chunk.toString("latin1");
      if ((text.match(REPLY_END) ?? []).length >= replies && replies > 0) {
        // Give a close that follows the reply a moment to arrive.
        setTimeout(() => finish(socket.readableEnded || socket.destroyed), 20);
      }
    });
    socket.on("end", () => finish(true));
    socket.on("close", () => finish(true));
    socket.on("error", () => finish(true));
  });
}
