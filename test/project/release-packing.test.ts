// The packing half of `npm run release`, fast: real tar, xz and sha256sum,
// with a shell script standing in for the 100 MB binary (release.test.ts
// builds and runs the real ones) and a units tree shaped like deploy/systemd/.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeRelease, type ReleaseArtifact } from "../../build/release.ts";
import { RELEASE_TARGETS, sourceState } from "../../build/targets.ts";
import { VERSION } from "../../src/version.ts";
import { describePrivileged } from "../support/privileges.ts";

describePrivileged("release packing", { commands: ["tar", "xz", "sha256sum"] }, () => {
  let work = "";
  let units = "";
  const target = RELEASE_TARGETS[0]!;
  const top = `tunnel-${VERSION}-${target.name}`;

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), "tunnel-pack-"));
    units = join(work, "units");
    mkdirSync(join(units, "wg-quick@.service.d"), { recursive: true });
    writeFileSync(join(units, "tunnel@.service"), "[Service]\nExecStart=/usr/local/bin/tunnel up --foreground /etc/tunnel/%i.toml\n");
    writeFileSync(join(units, "wg-quick@.service.d", "tunnel.conf"), "[Service]\nEnvironment=WG_QUICK_USERSPACE_IMPLEMENTATION=tunnel\n");
  });

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const pack = (name: string): Promise<ReleaseArtifact[]> =>
    writeRelease({
      outDir: join(work, name),
      xzLevel: 0,
      targets: [target],
      unitsDir: units,
      compile: (outfile) => writeFileSync(outfile, "#!/bin/sh\necho stand-in\n"),
    });

  function sh(cmd: string[], cwd?: string) {
    // TZ=UTC: tar prints mtimes in local time.
    const p = Bun.spawnSync(cmd, { cwd, env: { ...process.env, TZ: "UTC" }, stdout: "pipe", stderr: "pipe" });
    return { code: p.exitCode, stdout: p.stdout.toString() };
  }

  test("every file of the units tree lands under systemd/, mode 0644, beside the binary and the README", async () => {
    const [a] = await pack("one");
    const list = sh(["tar", "-tvf", a!.path]);
    expect(list.code).toBe(0);
    const rows = list.stdout
      .trim()
      .split("\n")
      .map((l) => l.split(/\s+/));
    const files = rows.filter((r) => !r[0]!.startsWith("d")).map((r) => [r[0], r[1], r[5]]);
    expect(files).toEqual([
      ["-rw-r--r--", "0/0", `${top}/README`],
      ["-rw-r--r--", "0/0", `${top}/systemd/tunnel@.service`],
      ["-rw-r--r--", "0/0", `${top}/systemd/wg-quick@.service.d/tunnel.conf`],
      ["-rwxr-xr-x", "0/0", `${top}/tunnel`],
    ]);
    const readme = sh(["tar", "-xOf", a!.path, `${top}/README`]).stdout;
    expect(readme).toContain(`tunnel ${VERSION} for ${target.name}`);
    expect(readme).toContain("systemd/wg-quick@.service.d/tunnel.conf");
  });

  test("SHA256SUMS is what sha256sum -c expects", async () => {
    const [a] = await pack("sums");
    const sums = readFileSync(join(work, "sums", "SHA256SUMS"), "utf8");
    expect(sums).toBe(`${a!.sha256}  ${top}.tar.xz\n`);
    expect(sh(["sha256sum", "-c", "SHA256SUMS"], join(work, "sums")).code).toBe(0);
  });

  test("packing the same inputs twice gives the same bytes, every mtime the commit's", async () => {
    const [a] = await pack("first");
    const [b] = await pack("second");
    expect(b!.sha256).toBe(a!.sha256);
    const times = sh(["tar", "--full-time", "-tvf", a!.path])
      .stdout.trim()
      .split("\n")
      .map((l) => l.split(/\s+/).slice(3, 5).join(" "));
    const commitTime = new Date(sourceState().epoch * 1000).toISOString().replace("T", " ").slice(0, 19);
    expect(new Set(times)).toEqual(new Set([commitTime]));
  });
});
