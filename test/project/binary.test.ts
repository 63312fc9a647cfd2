// The compiled binary is the product: it must run from any directory with no
// Bun and no node_modules around it.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { VERSION } from "../../src/version.ts";

let dir = "";
let binary = "";

beforeAll(() => {
  const build = Bun.spawnSync([process.execPath, "build.ts"], { stdout: "pipe", stderr: "pipe" });
  if (build.exitCode !== 0) throw new Error(`build failed: ${build.stderr.toString()}`);
  dir = mkdtempSync(join(tmpdir(), "tunnel-bin-"));
  binary = join(dir, "tunnel");
  copyFileSync("dist/tunnel", binary);
}, 120_000); // a build takes seconds on a busy machine; Bun 1.4.4 does not apply bunfig's [test] timeout to hooks

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** run executes the copied binary from its temp dir with a PATH that has no bun. */
function run(...args: string[]) {
  return runWith({}, undefined, ...args);
}

function runWith(env: Record<string, string>, stdin: string | undefined, ...args: string[]) {
  const proc = Bun.spawnSync([binary, ...args], {
    cwd: dir,
    env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", NO_COLOR: "1", ...env },
    stdin: stdin === undefined ? "ignore" : new TextEncoder().encode(stdin),
    stdout: "pipe",
    stderr: "pipe",
  });
  return { code: proc.exitCode, stdout: proc.stdout.toString(), stderr: proc.stderr.toString() };
}

describe("compiled binary", () => {
  test("no bun is reachable on the clean PATH", () => {
    expect(Bun.which("bun", { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" })).toBeNull();
  });

  test("--version prints the package version", () => {
    const r = run("--version");
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(VERSION);
  });

  test("--help lists the commands", () => {
    const r = run("--help");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("USAGE");
    expect(r.stdout).toContain("version");
  });

  test("selftest passes every crypto vector on both backends inside the binary", () => {
    const r = run("selftest", "--json");
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as { selected: string; report: { backend: string; results: { passed: boolean }[] }[] };
    expect(report.selected).toBe("libcrypto");
    expect(report.report.map((b) => b.backend)).toEqual(["libcrypto", "typescript"]);
    for (const b of report.report) {
      expect(b.results.length).toBeGreaterThanOrEqual(20);
      expect(b.results.every((x) => x.passed)).toBe(true);
    }
  });

  test("TUNNEL_CRYPTO=typescript forces the fallback", () => {
    const r = runWith({ TUNNEL_CRYPTO: "typescript" }, undefined, "selftest");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("selected backend: typescript");
  });

  test("genkey | pubkey agrees with wg pubkey", () => {
    const priv = run("genkey").stdout.trim();
    expect(priv).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    const ours = runWith({}, `${priv}\n`, "pubkey");
    expect(ours.code).toBe(0);
    if (Bun.which("wg") === null) return; // wg is installed in CI; the key format is also covered by the vectors
    const theirs = Bun.spawnSync(["wg", "pubkey"], { stdin: new TextEncoder().encode(`${priv}\n`) })
      .stdout.toString()
      .trim();
    expect(ours.stdout.trim()).toBe(theirs);
  });

  test("pubkey rejects garbage with one line and exit 64", () => {
    const r = runWith({}, "not a key\n", "pubkey");
    expect(r.code).toBe(64);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stdout).toBe("");
  });

  test("a typo of a command is refused instead of starting a daemon", () => {
    const r = run("stauts");
    expect(r.code).toBe(64);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toContain("did you mean 'status'");
  });

  test("a name that is not a valid interface is an unknown command", () => {
    const r = run("no/such/command");
    expect(r.code).toBe(64);
    expect(r.stderr).toContain("no/such/command");
  });
});
