// Logs go to stderr through consola; data goes to stdout through output.ts,
// so `tunnel genkey > key` and `tunnel status --json | jq` stay clean.
import { createConsola } from "consola";

export const log = createConsola({
  stdout: process.stderr,
  stderr: process.stderr,
  level: process.env.LOG_LEVEL === "debug" || process.env.LOG_LEVEL === "verbose" ? 4 : 3,
}).withTag("tunnel");
