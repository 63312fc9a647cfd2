// `npm run release`: one tunnel-VERSION-TARGET.tar.xz per release target and a
// SHA256SUMS that `sha256sum -c` checks. Each archive holds one top directory
// with the binary, the files under deploy/systemd/ (as systemd/...) and a
// README. xz because Debian's tar unpacks .tar.xz out of the box (xz-utils is
// in every standard install; zstd is optional and was 5 % larger at -19).
// Archives are reproducible from a commit: sorted names, root owner, the
// commit's time as every mtime.
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { basename, join, relative, resolve } from "node:path";
import pkg from "../package.json" with { type: "json" };
import { RELEASE_TARGETS, sourceState, type ReleaseTarget } from "./targets.ts";

/** Where the units come from; another part of the repo owns their content. */
export const UNITS_DIR = "deploy/systemd";

export interface ReleaseArtifact {
  readonly target: ReleaseTarget;
  /** Absolute path of the .tar.xz. */
  readonly path: string;
  /** Top directory inside the archive. */
  readonly top: string;
  readonly bytes: number;
  readonly sha256: string;
}

export interface ReleaseOptions {
  /** Defaults to dist/release/VERSION. */
  readonly outDir?: string;
  /** xz preset 0-9. */
  readonly xzLevel: number;
  readonly compile: (outfile: string, target: ReleaseTarget) => void;
  /** Defaults to RELEASE_TARGETS. */
  readonly targets?: readonly ReleaseTarget[];
  /** Defaults to UNITS_DIR. */
  readonly unitsDir?: string;
}

/** unitFiles lists every file under dir, relative to it, sorted; [] when dir does not exist. */
export function unitFiles(dir: string = UNITS_DIR): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) out.push(relative(dir, p));
    }
  };
  walk(dir);
  return out.sort();
}

function archiveReadme(version: string, t: ReleaseTarget, units: readonly string[]): string {
  const cpu = t.baseline
    ? "x86-64 CPUs without AVX2 (before Haswell, some virtual CPUs)"
    : t.arch === "arm64"
      ? "64-bit ARM (aarch64)"
      : "x86-64 CPUs with AVX2";
  const lines = [
    `tunnel ${version} for ${t.name}: a WireGuard-compatible VPN for Linux in one executable.`,
    `Built for ${cpu}, glibc. Needs nothing else installed; OpenSSL's libcrypto`,
    "(libssl3) is used when present for full speed, else a pure-TypeScript fallback.",
    "",
    "Check it runs here:   ./tunnel selftest && ./tunnel version --json",
    "Install:              install -m 0755 tunnel /usr/local/bin/tunnel",
  ];
  if (units.length > 0) {
    lines.push("systemd units (copy to /etc/systemd/system/, then systemctl daemon-reload):");
    for (const u of units) lines.push(`  systemd/${u}`);
    lines.push("Per interface:        systemctl enable --now tunnel@wg0   (config: /etc/tunnel/wg0.toml)");
  }
  lines.push("", "Documentation: the README of the source repository (Deploy, Hardening).", "");
  return lines.join("\n");
}

function run(cmd: string[], cwd?: string): void {
  const p = Bun.spawnSync(cmd, { cwd, stdout: "inherit", stderr: "inherit" });
  if (p.exitCode !== 0) throw new Error(`${cmd[0]} failed (exit ${p.exitCode}): ${cmd.join(" ")}`);
}

async function sha256(path: string): Promise<string> {
  const h = new Bun.CryptoHasher("sha256");
  h.update(await Bun.file(path).arrayBuffer());
  return h.digest("hex");
}

/** writeRelease builds every target, packs the archives and writes SHA256SUMS; returns the artifacts. */
export async function writeRelease(opts: ReleaseOptions): Promise<ReleaseArtifact[]> {
  const version = pkg.version;
  const outDir = resolve(opts.outDir ?? `dist/release/${version}`);
  const { dirty, epoch } = sourceState();
  if (dirty) console.warn('release: the work tree has uncommitted changes; the binaries will say "dirty": true');
  const unitsDir = opts.unitsDir ?? UNITS_DIR;
  const units = unitFiles(unitsDir);
  if (units.length === 0) console.warn(`release: no files under ${unitsDir}/; the archives carry no systemd units`);

  rmSync(outDir, { recursive: true, force: true });
  const staging = join(outDir, ".staging");
  mkdirSync(staging, { recursive: true });
  const artifacts: ReleaseArtifact[] = [];
  try {
    for (const t of opts.targets ?? RELEASE_TARGETS) {
      const top = `tunnel-${version}-${t.name}`;
      const root = join(staging, top);
      mkdirSync(root, { recursive: true });
      opts.compile(join(root, "tunnel"), t);
      chmodSync(join(root, "tunnel"), 0o755);
      writeFileSync(join(root, "README"), archiveReadme(version, t, units), { mode: 0o644 });
      for (const u of units) {
        const to = join(root, "systemd", u);
        mkdirSync(join(to, ".."), { recursive: true });
        copyFileSync(join(unitsDir, u), to);
        chmodSync(to, 0o644);
      }
      const path = join(outDir, `${top}.tar.xz`);
      run(
        [
          "tar",
          "--sort=name",
          "--owner=0",
          "--group=0",
          "--numeric-owner",
          `--mtime=@${epoch}`,
          "--mode=go-w",
          "-I",
          `xz -T0 -${opts.xzLevel}`,
          "-cf",
          path,
          top,
        ],
        staging,
      );
      artifacts.push({ target: t, path, top, bytes: statSync(path).size, sha256: await sha256(path) });
    }
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  writeFileSync(join(outDir, "SHA256SUMS"), artifacts.map((a) => `${a.sha256}  ${basename(a.path)}\n`).join(""));
  for (const a of artifacts) console.log(`${basename(a.path)}  ${a.bytes} bytes (${(a.bytes / 1e6).toFixed(1)} MB)`);
  const shown = relative(process.cwd(), outDir);
  console.log(`wrote ${shown === "" || shown.startsWith("..") ? outDir : shown}/SHA256SUMS`);
  return artifacts;
}
