// Config checks the CLI adds on top of the pure config layer, through the
// compiled binary: a peer carrying the interface's own key is a config error
// (exit 78) and a key file others can read gets wg-quick's warning. `tunnel
// down FILE.toml` reads the file exactly as `up` does and, for a name that
// is not running, touches nothing, so these need no root.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { tunnelBinary } from "../support/binary.ts";
import { keyPair } from "../e2e/harness.ts";

const NAME = `tck${process.pid % 100000}`;
let bin = "";
let dir = "";

function tunnel(args: string[]): { code: number | null; stderr: string } {
  const p = Bun.spawnSync([bin, ...args], { stdout: "pipe", stderr: "pipe", env: { ...process.env, NO_COLOR: "1" } });
  return { code: p.exitCode, stderr: p.stderr.toString() };
}

function config(file: string, text: string): string {
  const path = join(dir, file);
  writeFileSync(path, text, { mode: 0o600 });
  chmodSync(path, 0o600);
  return path;
}

describe("tunnel: config checks of the CLI (compiled binary)", () => {
  const me = keyPair();
  const other = keyPair();
  beforeAll(() => {
    bin = tunnelBinary();
    dir = mkdtempSync(join(tmpdir(), "tunnel-config-checks-"));
    // World-searchable, as /etc/tunnel usually is: the file's own mode decides.
    chmodSync(dir, 0o755);
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("a [[peer]] with the interface's own public key is an error naming file, key and value", () => {
    const path = config(
      "own.toml",
      `[interface]\nname = "${NAME}"\nprivate_key = "${me.priv}"\n\n[[peer]]\npublic_key = "${other.pub}"\nallowed_ips = ["198.18.9.2/32"]\n\n[[peer]]\npublic_key = "${me.pub}"\nallowed_ips = ["198.18.9.3/32"]\n`,
    );
    const r = tunnel(["down", path]);
    expect(r.code).toBe(78);
    expect(r.stderr).toContain(`${path}: peer[1].public_key: '${me.pub}' is this interface's own public key`);
  });

  test("a world-readable private key file gets wg-quick's warning; a 0600 one does not", () => {
    const keyFile = join(dir, "wide.key");
    writeFileSync(keyFile, `${me.priv}\n`);
    chmodSync(keyFile, 0o644);
    const path = config(
      "keyfile.toml",
      `[interface]\nname = "${NAME}"\nprivate_key_file = "wide.key"\n\n[[peer]]\npublic_key = "${other.pub}"\nallowed_ips = ["198.18.9.2/32"]\n`,
    );
    const wide = tunnel(["down", path]);
    expect(wide.code).toBe(0);
    expect(wide.stderr).toContain(`Warning: \`${keyFile}' is world accessible`);
    chmodSync(keyFile, 0o600);
    const tight = tunnel(["down", path]);
    expect(tight.code).toBe(0);
    expect(tight.stderr).not.toContain("world accessible");
  });
});
