// `tunnel status --prometheus` and `--prometheus-file FILE`: the metrics
// exposition for node_exporter's textfile collector. The file is written
// beside its final name and renamed over it, so the collector never reads a
// half-written file (it reads *.prom in its directory on every scrape).
import { renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import type { DeviceStatus } from "../device/device-status.ts";
import { renderPrometheus } from "../device/prometheus.ts";
import { CliError, EXIT } from "./errors.ts";

/** writeTextfile writes text to path atomically (temp file in the same directory, then rename). */
export function writeTextfile(path: string, text: string): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  try {
    writeFileSync(tmp, text, { mode: 0o644 });
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw new CliError(`${path}: cannot write the metrics file: ${(e as Error).message}`, EXIT.FAILURE);
  }
}

/** prometheusText renders the interfaces that have a status document (tunnel daemons). */
export function prometheusText(docs: unknown[]): string {
  // Only our daemons' documents carry counters: UAPI-only and stale entries have nothing to export.
  return renderPrometheus(docs.filter((d): d is DeviceStatus => (d as { counters?: unknown }).counters !== undefined));
}
