// What we build for, and the build facts baked into every binary
// (src/version.ts reads them as TUNNEL_BUILD).
import { readFileSync } from "node:fs";

export interface ReleaseTarget {
  /** Archive and `version --json` name. */
  readonly name: string;
  /** bun build --target value. */
  readonly bunTarget: string;
  /** Bun's baseline runtime: runs on x86-64 CPUs without AVX2 (before Haswell). */
  readonly baseline: boolean;
  /** process.arch of the binary. */
  readonly arch: "x64" | "arm64";
}

// No musl targets: Bun's musl runtimes could not be run here (no musl
// loader on this Debian machine), and we ship only what the smoke test runs.
export const RELEASE_TARGETS: readonly ReleaseTarget[] = [
  { name: "linux-x64", bunTarget: "bun-linux-x64", baseline: false, arch: "x64" },
  { name: "linux-x64-baseline", bunTarget: "bun-linux-x64-baseline", baseline: true, arch: "x64" },
  { name: "linux-arm64", bunTarget: "bun-linux-arm64", baseline: false, arch: "arm64" },
];

function target(name: string): ReleaseTarget {
  const t = RELEASE_TARGETS.find((x) => x.name === name);
  if (!t) throw new Error(`no release target ${name}`);
  return t;
}

/** hostTarget is the target dist/tunnel is built for: this machine's arch, baseline when the CPU has no AVX2. */
export function hostTarget(): ReleaseTarget {
  if (process.arch === "arm64") return target("linux-arm64");
  if (process.arch !== "x64") throw new Error(`no release target for ${process.arch}`);
  let avx2 = true;
  try {
    avx2 = /^flags\s*:.*\bavx2\b/m.test(readFileSync("/proc/cpuinfo", "utf8"));
  } catch {
    // No /proc: assume a modern CPU, as Bun's own default does.
  }
  return target(avx2 ? "linux-x64" : "linux-x64-baseline");
}

function git(...args: string[]): string | null {
  const p = Bun.spawnSync(["git", ...args], { stdout: "pipe", stderr: "ignore" });
  return p.exitCode === 0 ? p.stdout.toString().trim() : null;
}

let source: { commit: string; dirty: boolean; epoch: number } | undefined;

/** sourceState is the commit being built, whether tracked files differ from it, and its commit time. */
export function sourceState(): { commit: string; dirty: boolean; epoch: number } {
  if (source) return source;
  const commit = git("rev-parse", "HEAD") ?? "unknown";
  const status = git("status", "--porcelain", "--untracked-files=no");
  const epoch = Number(git("log", "-1", "--format=%ct") ?? "0");
  source = { commit, dirty: status === null ? false : status !== "", epoch: Number.isFinite(epoch) ? epoch : 0 };
  return source;
}

/** buildInfo is the TUNNEL_BUILD object for one target (src/version.ts BuildInfo). */
export function buildInfo(t: ReleaseTarget): { commit: string; dirty: boolean; target: string; baseline: boolean } {
  const { commit, dirty } = sourceState();
  return { commit, dirty, target: t.name, baseline: t.baseline };
}
