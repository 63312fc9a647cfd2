// The version printed by `tunnel --version`, and what `tunnel version --json`
// says about the build. package.json is bundled into the compiled binary, so
// this works with no files next to the executable. The build facts are baked
// in by build.ts (--define TUNNEL_BUILD=...): a binary cannot find out later
// which commit it came from or whether it was built for pre-AVX2 CPUs.
import pkg from "../package.json" with { type: "json" };

export const VERSION: string = pkg.version;

export interface BuildInfo {
  /** Full git commit the binary was built from, or "unknown" when run from source. */
  readonly commit: string;
  /** True when the work tree had uncommitted changes at build time. */
  readonly dirty: boolean;
  /** Release target, e.g. "linux-x64", "linux-x64-baseline", "linux-arm64"; "source" under `bun src/main.ts`. */
  readonly target: string;
  /** Built on Bun's baseline runtime (no AVX2 needed, for CPUs before Haswell). */
  readonly baseline: boolean;
}

declare const TUNNEL_BUILD: BuildInfo | undefined;

export const BUILD: BuildInfo = typeof TUNNEL_BUILD === "undefined" ? { commit: "unknown", dirty: false, target: "source", baseline: false } : TUNNEL_BUILD;
