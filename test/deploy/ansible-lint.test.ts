// The role and the example playbook pass Debian's yamllint and ansible-lint
// (production profile), and ansible-playbook accepts the playbook's syntax.
import { expect, test } from "bun:test";
import { describePrivileged } from "../support/privileges.ts";

const ANSIBLE_DIR = new URL("../../deploy/ansible/", import.meta.url).pathname;

function runIn(argv: string[]) {
  const p = Bun.spawnSync(argv, {
    cwd: ANSIBLE_DIR,
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, NO_COLOR: "1", ANSIBLE_NOCOLOR: "1", ANSIBLE_LOCAL_TEMP: "/tmp/.ansible-tunnel-lint" },
  });
  return { code: p.exitCode, out: p.stdout.toString() + p.stderr.toString() };
}

describePrivileged("deploy/ansible lint", { commands: ["yamllint", "ansible-lint", "ansible-playbook"] }, () => {
  test("yamllint (strict)", () => {
    const r = runIn(["yamllint", "--strict", "."]);
    expect(r.out).toBe("");
    expect(r.code).toBe(0);
  });

  test("ansible-lint, production profile", () => {
    const r = runIn(["ansible-lint", "--offline", "--profile", "production"]);
    expect(r.out).toContain("Passed with production profile");
    expect(r.code).toBe(0);
  }, 120_000);

  test("ansible-playbook --syntax-check", () => {
    const r = runIn(["ansible-playbook", "-i", "inventory.example.yml", "--syntax-check", "playbook.yml"]);
    expect(r.code).toBe(0);
  }, 60_000);
});
