// The compiled dist/tunnel for tests that run the product as users do. Built
// once per test process (bun test runs every file in one process).
import { existsSync } from "node:fs";

let built = false;

/** tunnelBinary builds dist/tunnel on first use and returns its absolute path. */
export function tunnelBinary(): string {
  const path = new URL("../../dist/tunnel", import.meta.url).pathname;
  if (!built || !existsSync(path)) {
    const root = new URL("../../", import.meta.url).pathname;
    const p = Bun.spawnSync([process.execPath, "build.ts"], { cwd: root, stdout: "pipe", stderr: "pipe" });
    if (p.exitCode !== 0) throw new Error(`build failed: ${p.stderr.toString()}`);
    built = true;
  }
  return path;
}
