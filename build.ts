// Builds the single executable.
//   bun build.ts             dist/tunnel for this host
//   bun build.ts --all       also dist/tunnel-TARGET for every release target
//   bun build.ts --release   dist/release/VERSION/: one .tar.xz per target and
//                            SHA256SUMS (see build/release.ts); --out DIR
//                            writes there instead, --xz-level N (0-9, default
//                            6) trades size for time (the smoke test uses 0)
// Cross targets fetch their Bun runtime from the npm registry (cached under
// ~/.bun/install/cache). Workers are listed as extra entry points so that the
// compiled binary carries them.
import { mkdirSync } from "node:fs";
import { Glob } from "bun";
import { buildInfo, hostTarget, RELEASE_TARGETS, type ReleaseTarget } from "./build/targets.ts";
import { writeRelease } from "./build/release.ts";

/** workerEntryPoints finds every *.worker.ts under src/ (bundled beside main). */
function workerEntryPoints(): string[] {
  return [...new Glob("src/**/*.worker.ts").scanSync(".")].sort();
}

/** compile writes one executable for target to outfile. */
export function compile(outfile: string, target: ReleaseTarget): void {
  const args = [
    "build",
    "--compile",
    // A root daemon must not read a .env or bunfig.toml (a preload!) from
    // whatever directory it was started in. What Bun cannot switch off is
    // handled in src/cli/bun-environment.ts.
    "--no-compile-autoload-dotenv",
    "--no-compile-autoload-bunfig",
    // Precompiled bytecode, and one chunk per command: a bundle in one piece
    // hoists every module's node: imports (net, crypto, child_process, streams)
    // to start-up, so `tunnel version` reached main at ~30 ms; split, only the
    // chunks a command imports are loaded (~15 ms, a bare Bun binary ~10 ms).
    // This matters for `tunnel status` under load (answer within 100 ms).
    "--bytecode",
    "--splitting",
    "--format=esm",
    "--minify-syntax",
    "--minify-whitespace",
    // `tunnel version --json`: which commit and which runtime flavour.
    "--define",
    `TUNNEL_BUILD=${JSON.stringify(buildInfo(target))}`,
    `--target=${target.bunTarget}`,
    "src/main.ts",
    ...workerEntryPoints(),
    "--outfile",
    outfile,
  ];
  const proc = Bun.spawnSync([process.execPath, ...args], { stdout: "inherit", stderr: "inherit" });
  if (proc.exitCode !== 0) throw new Error(`bun build failed for ${outfile} (exit ${proc.exitCode})`);
}

/** option returns the value after --name (or in --name=value), or undefined. */
function option(argv: readonly string[], name: string): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === `--${name}`) return argv[i + 1];
    if (a.startsWith(`--${name}=`)) return a.slice(name.length + 3);
  }
  return undefined;
}

if (import.meta.main) {
  const argv = process.argv.slice(2);
  mkdirSync("dist", { recursive: true });
  if (argv.includes("--release")) {
    const level = Number(option(argv, "xz-level") ?? "6");
    if (!Number.isInteger(level) || level < 0 || level > 9) throw new Error("--xz-level must be an integer from 0 to 9");
    await writeRelease({ outDir: option(argv, "out"), xzLevel: level, compile });
  } else {
    compile("dist/tunnel", hostTarget());
    if (argv.includes("--all")) for (const t of RELEASE_TARGETS) compile(`dist/tunnel-${t.name}`, t);
  }
}
