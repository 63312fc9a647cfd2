// `tunnel check` (what Ansible's template validate: runs) and
// `tunnel up --dry-run --json` (what Ansible's check mode runs): the first
// needs no privileges; the second reports against the RUNNING interface in a
// namespace and must leave the interface, its sessions and the applied state
// exactly as they were.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describePrivileged } from "../support/privileges.ts";
import { Netns, pingUntil, removeStale, run } from "../support/netns.ts";
import { tunnelBinary } from "../support/binary.ts";

const PREFIX = "tdry";
const TAG = String(process.pid % 100000);
const A = `tda${TAG}`;
const B = `tdb${TAG}`;
const dir = mkdtempSync(join(tmpdir(), "tunnel-check-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function cli(args: string[], ns?: Netns) {
  const argv = ns ? ["ip", "netns", "exec", ns.name, tunnelBinary(), ...args] : [tunnelBinary(), ...args];
  const p = Bun.spawnSync(argv, { stdout: "pipe", stderr: "pipe", env: { ...process.env, NO_COLOR: "1" } });
  return { code: p.exitCode, stdout: p.stdout.toString(), stderr: p.stderr.toString() };
}

function write(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text, { mode: 0o600 });
  chmodSync(path, 0o600);
  return path;
}

const KEY = "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=";
const PEER = "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=";

describe("tunnel check", () => {
  test("a valid file: exit 0, nothing on stdout; --json says what it read", () => {
    const path = write(
      "ok.toml",
      `[interface]\nname = "chk0"\nprivate_key = "${KEY}"\naddress = ["198.18.9.1/24"]\n\n[[peer]]\npublic_key = "${PEER}"\nallowed_ips = ["198.18.9.2/32"]\n`,
    );
    const r = cli(["check", path]);
    expect(r).toMatchObject({ code: 0, stdout: "" });
    expect(JSON.parse(cli(["check", "--json", path]).stdout)).toEqual({ file: path, valid: true, interface: "chk0", peers: 1 });
  });

  test("a bad key: one line naming the file and the key, exit 78", () => {
    const path = write(
      "bad.toml",
      `[interface]\nname = "chk0"\nprivate_key = "${KEY}"\n\n[[peer]]\npublic_key = "not-a-key"\nallowed_ips = ["198.18.9.2/32"]\n`,
    );
    const r = cli(["check", path]);
    expect(r.code).toBe(78);
    const lines = r.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain("bad.toml");
    expect(lines[0]).toContain("public_key");
  });

  test("a missing key file is an error, and the key is never echoed", () => {
    const path = write("nokey.toml", `[interface]\nname = "chk0"\nprivate_key_file = "${join(dir, "absent.key")}"\n`);
    const r = cli(["check", path]);
    expect(r.code).toBe(78);
    expect(r.stderr).toContain("private_key_file");
    const inline = cli(["check", write("echo.toml", `[interface]\nname = "chk0"\nprivate_key = "${KEY}"\nlisten_port = 70000\n`)]);
    expect(inline.code).toBe(78);
    expect(inline.stderr).not.toContain(KEY);
  });

  test("a file that does not exist", () => {
    const r = cli(["check", join(dir, "nope.toml")]);
    expect(r.code).toBe(78);
    expect(r.stderr).toContain("nope.toml: cannot read: ENOENT");
  });
});

describePrivileged("tunnel up --dry-run (two namespaces)", { root: true, commands: ["ip", "wg", "ping"] }, () => {
  let nsA: Netns;
  let nsB: Netns;
  const k = { a: "", b: "", pubA: "", pubB: "" };
  const cfg = (name: string, key: string, port: number, addr: string, peer: string, ep: string, allowed: string, extra = "") =>
    `[interface]\nname = "${name}"\nprivate_key = "${key}"\nlisten_port = ${port}\naddress = ["${addr}"]\n\n[[peer]]\npublic_key = "${peer}"\nendpoint = "${ep}"\nallowed_ips = ["${allowed}"]\n${extra}`;
  const cfgA = (extra = "") => cfg(A, k.a, 51860, "198.18.4.1/24", k.pubB, "198.19.4.2:51861", "198.18.4.2/32", extra);

  beforeAll(() => {
    removeStale(PREFIX);
    nsA = Netns.create(PREFIX, "a");
    nsB = Netns.create(PREFIX, "b");
    nsA.vethTo(nsB, "veth-a", "198.19.4.1/24", "veth-b", "198.19.4.2/24");
    k.a = run([tunnelBinary(), "genkey"]).trim();
    k.b = run([tunnelBinary(), "genkey"]).trim();
    k.pubA = run([tunnelBinary(), "pubkey"], { input: k.a }).trim();
    k.pubB = run([tunnelBinary(), "pubkey"], { input: k.b }).trim();
  });
  afterAll(() => {
    for (const [ns, name] of [
      [nsA, A],
      [nsB, B],
    ] as const)
      if (ns) cli(["down", name], ns);
    nsA?.delete();
    nsB?.delete();
  });

  test("for an interface that is not running: says it would create it, creates nothing", () => {
    const r = cli(["up", "--dry-run", "--json", write(`${A}.toml`, cfgA())], nsA);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { changed: boolean; changes: string[]; dryRun: boolean };
    expect(out).toMatchObject({ interface: A, changed: true, dryRun: true });
    expect(out.changes).toContain(`interface ${A} created`);
    expect(out.changes.join("\n")).toContain("address 198.18.4.1/24 added");
    expect(Bun.spawnSync(["ip", "-n", nsA.name, "link", "show", A], { stderr: "ignore" }).exitCode).not.toBe(0);
    expect(existsSync(`/var/run/wireguard/${A}.sock`)).toBe(false);
  });

  test("against a running interface: unchanged, then a change reported and not applied", async () => {
    expect(cli(["up", write(`${A}.toml`, cfgA())], nsA).code).toBe(0);
    expect(cli(["up", write(`${B}.toml`, cfg(B, k.b, 51861, "198.18.4.2/24", k.pubA, "198.19.4.1:51860", "198.18.4.1/32"))], nsB).code).toBe(0);
    await pingUntil(nsA, "198.18.4.2");
    expect(JSON.parse(cli(["up", "--dry-run", "--json", join(dir, `${A}.toml`)], nsA).stdout)).toEqual({
      interface: A,
      changed: false,
      changes: [],
      dryRun: true,
    });

    const dumpBefore = nsA
      .exec(["wg", "show", A, "dump"])
      .split("\n")
      .map((l) => l.split("\t").slice(0, 5).join("\t"));
    const addrsBefore = nsA.ip("-o", "addr", "show", "dev", A);
    const appliedBefore = readFileSync(`/var/run/tunnel/${A}.applied.json`, "utf8");
    const changed = write(
      `${A}.toml`,
      cfgA("persistent_keepalive = 25\n").replace('address = ["198.18.4.1/24"]', 'address = ["198.18.4.1/24", "fd00:4::1/64"]'),
    );
    const r = cli(["up", "--dry-run", "--json", changed], nsA);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { changed: boolean; changes: string[] };
    expect(out.changed).toBe(true);
    expect(out.changes).toEqual([expect.stringContaining("keepalive 0 → 25"), "address fd00:4::1/64 added"]);
    expect(
      nsA
        .exec(["wg", "show", A, "dump"])
        .split("\n")
        .map((l) => l.split("\t").slice(0, 5).join("\t")),
    ).toEqual(dumpBefore);
    expect(nsA.ip("-o", "addr", "show", "dev", A)).toBe(addrsBefore);
    expect(readFileSync(`/var/run/tunnel/${A}.applied.json`, "utf8")).toBe(appliedBefore);

    // The real run then does exactly what the dry run announced.
    const real = JSON.parse(cli(["up", "--json", changed], nsA).stdout) as { changes: string[] };
    expect(real.changes).toEqual(out.changes);
  });

  test("--dry-run with --foreground is a usage error", () => {
    const r = cli(["up", "--dry-run", "--foreground", join(dir, `${A}.toml`)], nsA);
    expect(r.code).toBe(64);
    expect(r.stderr).toContain("--dry-run and --foreground exclude each other");
  });
});
