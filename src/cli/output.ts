// Data (keys, --json, status tables) goes to stdout; logs go to stderr through
// consola (log.ts). Kept apart from log.ts, and written with write(2) rather
// than process.stdout, so the commands that only print data (status,
// version, genkey) load neither consola (whose import builds an
// Intl.Segmenter and both stdio streams) nor Node's stream machinery: ~10 ms
// of a ~35 ms start-up, which is what `tunnel status` under load is made of.
import { writeSync } from "node:fs";

/** writeData prints machine-readable output on stdout. */
export function writeData(text: string): void {
  const bytes = Buffer.from(text.endsWith("\n") ? text : `${text}\n`);
  let written = 0;
  while (written < bytes.length) {
    try {
      written += writeSync(1, bytes, written);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      // A non-blocking stdout handed down by the parent: wait for room.
      if (code === "EAGAIN") Bun.sleepSync(1);
      // The reader went away (`tunnel status | head -1`): nobody to tell.
      else if (code === "EPIPE") return;
      else throw e;
    }
  }
}
