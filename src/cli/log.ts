// Logs go to stderr through consola; data (keys, --json) goes to stdout with
// writeData, so `tunnel genkey > key` and `tunnel status --json | jq` stay clean.
import { createConsola } from "consola";

export const log = createConsola({
  stdout: process.stderr,
  stderr: process.stderr,
  level: process.env.LOG_LEVEL === "debug" || process.env.LOG_LEVEL === "verbose" ? 4 : 3,
}).withTag("tunnel");

/** writeData prints machine-readable output on stdout. */
export function writeData(text: string): void {
  process.stdout.write(text.endsWith("\n") ? text : `${text}\n`);
}
