// `npm run release` end to end: build every target, pack, checksum, then
// unpack each archive as a user would and run what is inside: x64 and
// x64-baseline natively, arm64 under qemu-user with Debian's cross libc.
// Packed with xz -0 to keep the suite quick; the format and contents are the
// same as the -6 of a real release.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RELEASE_TARGETS, type ReleaseTarget } from "../../build/targets.ts";
import { unitFiles } from "../../build/release.ts";
import { VERSION } from "../../src/version.ts";
import { describePrivileged } from "../support/privileges.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const CROSS_PREFIX = "/usr/aarch64-linux-gnu";
const CLEAN_PATH = "/usr/sbin:/usr/bin:/sbin:/bin";
/** RFC 7748 section 6.1, Alice's key pair, base64 as wg prints them. */
const RFC7748_PRIVATE = Buffer.from("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a", "hex").toString("base64");
const RFC7748_PUBLIC = Buffer.from("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a", "hex").toString("base64");
/** ELF e_machine values. */
const EM_X86_64 = 62;
const EM_AARCH64 = 183;
/** Per test: arm64 runs under qemu's TCG, several seconds per start on a busy machine. bunfig's [test] timeout is not applied by Bun 1.4.4. */
const SLOW = 180_000;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function sh(cmd: string[], opts: { cwd?: string; stdin?: string; env?: Record<string, string> } = {}): Run {
  const p = Bun.spawnSync(cmd, {
    cwd: opts.cwd,
    env: { PATH: CLEAN_PATH, NO_COLOR: "1", ...opts.env },
    stdin: opts.stdin === undefined ? "ignore" : new TextEncoder().encode(opts.stdin),
    stdout: "pipe",
    stderr: "pipe",
  });
  return { code: p.exitCode, stdout: p.stdout.toString(), stderr: p.stderr.toString() };
}

describePrivileged(
  "release artifacts",
  { commands: ["tar", "xz", "sha256sum", "git", "qemu-aarch64-static"], files: [`${CROSS_PREFIX}/lib/ld-linux-aarch64.so.1`] },
  () => {
    let work = "";
    let releaseDir = "";
    let emptyCwd = "";
    /** `tar -xvvf` output per target: unpacking once gives the listing too. */
    const listings = new Map<string, string>();
    const head = sh(["git", "rev-parse", "HEAD"], { cwd: ROOT }).stdout.trim();

    const archiveName = (t: ReleaseTarget) => `tunnel-${VERSION}-${t.name}.tar.xz`;
    const topDir = (t: ReleaseTarget) => `tunnel-${VERSION}-${t.name}`;
    const binaryOf = (t: ReleaseTarget) => join(work, "unpacked", topDir(t), "tunnel");
    /** runTarget runs the unpacked binary from an empty directory, under qemu when it is not for this CPU. */
    const runTarget = (t: ReleaseTarget, args: string[], stdin?: string): Run => {
      const prefix = t.arch === "arm64" && process.arch !== "arm64" ? ["qemu-aarch64-static", "-L", CROSS_PREFIX] : [];
      return sh([...prefix, binaryOf(t), ...args], { cwd: emptyCwd, stdin });
    };

    beforeAll(() => {
      work = mkdtempSync(join(tmpdir(), "tunnel-release-"));
      releaseDir = join(work, "release");
      emptyCwd = join(work, "cwd");
      mkdirSync(emptyCwd);
      const build = Bun.spawnSync([process.execPath, "build.ts", "--release", "--out", releaseDir, "--xz-level", "0"], {
        cwd: ROOT,
        stdout: "pipe",
        stderr: "pipe",
      });
      if (build.exitCode !== 0) throw new Error(`release build failed: ${build.stderr.toString()}`);
      mkdirSync(join(work, "unpacked"));
      for (const t of RELEASE_TARGETS) {
        const x = sh(["tar", "-xvvf", join(releaseDir, archiveName(t)), "-C", join(work, "unpacked")]);
        if (x.code !== 0) throw new Error(`unpacking ${archiveName(t)}: ${x.stderr}`);
        listings.set(t.name, x.stdout);
      }
    }, 900_000);

    afterAll(() => {
      if (work) rmSync(work, { recursive: true, force: true });
    });

    test(
      "SHA256SUMS lists exactly the three archives and sha256sum -c accepts it",
      () => {
        const sums = readFileSync(join(releaseDir, "SHA256SUMS"), "utf8");
        const names = sums
          .trim()
          .split("\n")
          .map((l) => l.match(/^[0-9a-f]{64} {2}(\S+)$/)?.[1]);
        expect(names).toEqual(RELEASE_TARGETS.map(archiveName));
        const check = sh(["sha256sum", "-c", "SHA256SUMS"], { cwd: releaseDir });
        expect(check.code).toBe(0);
        expect(check.stdout.trim().split("\n")).toEqual(RELEASE_TARGETS.map((t) => `${archiveName(t)}: OK`));
      },
      SLOW,
    );

    test(
      "sha256sum -c rejects an archive that differs from its sum",
      () => {
        const tampered = join(work, "tampered");
        mkdirSync(tampered);
        const first = RELEASE_TARGETS[0]!;
        const line = readFileSync(join(releaseDir, "SHA256SUMS"), "utf8").split("\n")[0]!;
        writeFileSync(join(tampered, "SHA256SUMS"), `${line}\n`);
        // Same name, other bytes: the smallest archive-sized lie there is.
        writeFileSync(join(tampered, archiveName(first)), "not the release\n");
        const check = sh(["sha256sum", "-c", "SHA256SUMS"], { cwd: tampered });
        expect(check.code).not.toBe(0);
        expect(check.stdout).toContain("FAILED");
      },
      SLOW,
    );

    describe.each(RELEASE_TARGETS.map((t) => [t.name, t] as const))("%s", (_name, t) => {
      test(
        "the archive holds one directory: the binary, a README and every file under deploy/systemd/",
        () => {
          const entries = listings
            .get(t.name)!
            .trim()
            .split("\n")
            .map((l) => {
              const [mode, owner, , , , path] = l.split(/\s+/);
              return { mode, owner, path: path! };
            });
          const files = entries
            .filter((e) => !e.mode!.startsWith("d"))
            .map((e) => e.path)
            .sort();
          const expected = [
            `${topDir(t)}/README`,
            `${topDir(t)}/tunnel`,
            ...unitFiles(join(ROOT, "deploy/systemd")).map((u) => `${topDir(t)}/systemd/${u}`),
          ].sort();
          expect(files).toEqual(expected);
          expect(entries.every((e) => e.path.startsWith(`${topDir(t)}/`))).toBe(true);
          expect(entries.every((e) => e.owner === "0/0")).toBe(true);
          expect(entries.find((e) => e.path === `${topDir(t)}/tunnel`)!.mode).toBe("-rwxr-xr-x");
        },
        SLOW,
      );

      test(
        "the binary is an ELF executable for its architecture",
        async () => {
          const header = Buffer.from(await Bun.file(binaryOf(t)).slice(0, 20).arrayBuffer());
          expect([...header.subarray(0, 4)]).toEqual([0x7f, 0x45, 0x4c, 0x46]);
          expect(header.readUInt16LE(18)).toBe(t.arch === "arm64" ? EM_AARCH64 : EM_X86_64);
        },
        SLOW,
      );

      test(
        "--version prints the package version",
        () => {
          const r = runTarget(t, ["--version"]);
          expect(r.stderr).toBe("");
          expect(r.code).toBe(0);
          expect(r.stdout).toBe(`${VERSION}\n`);
        },
        SLOW,
      );

      test(
        "version --json names this target, its baseline flag, the commit and the Bun runtime",
        () => {
          const r = runTarget(t, ["version", "--json"]);
          expect(r.code).toBe(0);
          const v = JSON.parse(r.stdout) as Record<string, unknown>;
          expect(v).toMatchObject({ version: VERSION, commit: head, target: t.name, baseline: t.baseline, bun: Bun.version });
          expect(typeof v.dirty).toBe("boolean");
        },
        SLOW,
      );

      test(
        "selftest passes every vector on every backend it can load",
        () => {
          const r = runTarget(t, ["selftest", "--json"]);
          expect(r.code).toBe(0);
          const report = JSON.parse(r.stdout) as { selected: string; report: { backend: string; results: { passed: boolean }[] }[] };
          expect(["libcrypto", "typescript"]).toContain(report.selected);
          // Natively the system libcrypto loads; under qemu only if an arm64 libssl3 is installed.
          if (t.arch === process.arch) expect(report.selected).toBe("libcrypto");
          if (report.selected === "typescript") expect(r.stderr).toContain("falling back to pure-TypeScript");
          for (const b of report.report) {
            expect(b.results.length).toBeGreaterThanOrEqual(20);
            expect(b.results.filter((x) => !x.passed)).toEqual([]);
          }
        },
        SLOW,
      );

      test(
        "pubkey gives the RFC 7748 public key, and genkey | pubkey round-trips",
        () => {
          const known = runTarget(t, ["pubkey"], `${RFC7748_PRIVATE}\n`);
          expect(known.code).toBe(0);
          expect(known.stdout.trim()).toBe(RFC7748_PUBLIC);
          const priv = runTarget(t, ["genkey"]);
          expect(priv.code).toBe(0);
          expect(priv.stdout).toMatch(/^[A-Za-z0-9+/]{43}=\n$/);
          const pub = runTarget(t, ["pubkey"], priv.stdout);
          expect(pub.code).toBe(0);
          expect(pub.stdout).toMatch(/^[A-Za-z0-9+/]{43}=\n$/);
          expect(pub.stdout).not.toBe(priv.stdout);
        },
        SLOW,
      );
    });
  },
);
