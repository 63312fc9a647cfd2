// Where a Worker's code is. From source, next to the importing file; in the
// compiled binary, build.ts embeds every src/**/*.worker.ts as
// /$bunfs/root/<path under src/ with .js>, and import.meta.url points at the
// bundled entry instead, so a relative URL would miss it.

const BUNFS_ROOT = "/$bunfs/root/";

/**
 * workerUrl resolves srcPath (relative to src/, e.g. "device/dataplane.worker.ts")
 * for new Worker(); callerUrl is the caller's import.meta.url and callerSrcPath
 * its own path under src/ (so the source case needs no knowledge of the cwd).
 */
export function workerUrl(srcPath: string, callerUrl: string, callerSrcPath: string): string {
  if (callerUrl.includes("/$bunfs/") || callerUrl.startsWith("file:///$bunfs/")) return BUNFS_ROOT + srcPath.replace(/\.ts$/, ".js");
  const depth = callerSrcPath.split("/").length - 1;
  return new URL("../".repeat(depth) + srcPath, callerUrl).href;
}
