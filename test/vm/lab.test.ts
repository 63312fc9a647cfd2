// The VM lab itself: what the deployment and interop tests rely on. Two VMs
// resumed from their snapshots, addressed as documented, reachable from the
// host namespace and from each other, with the guest kernel's WireGuard
// module; SSH exit codes and stdin; copyTo byte-exact through the 9p share;
// the guest clock set after the resume; Ansible through the generated
// inventory; and stop() leaving no qemu, SSH master or namespace behind.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pidAlive, run } from "../support/netns.ts";
import { describePrivileged } from "../support/privileges.ts";
import { Lab } from "./lab.ts";
import { VM_COMMANDS } from "./requirements.ts";

describePrivileged("vm lab: Debian VMs for the VM tier", { root: true, commands: [...VM_COMMANDS, "ansible"] }, () => {
  let lab: Lab;
  let dir = "";

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "tunnel-vm-lab-"));
    lab = await Lab.start({ vms: ["a", "b"] });
  }, 420_000);

  afterAll(async () => {
    await lab?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  test("the VMs run Debian's kernel with its WireGuard module, systemd as PID 1, on the documented addresses", async () => {
    const a = lab.vm("a");
    expect([a.v4, a.v6, lab.vm("b").v4, lab.hostV4, lab.hostV6]).toEqual(["198.19.77.11", "fd00:77::11", "198.19.77.12", "198.19.77.1", "fd00:77::1"]);
    const out = await a.sshOk(
      "uname -r; cat /proc/1/comm; hostname; modprobe wireguard && ip link add wgprobe type wireguard && ip link del wgprobe && echo wireguard-ok; ip -br addr show eth0",
    );
    const [kernel, init, hostname, wgOk, eth0] = out.trim().split("\n");
    expect(kernel).toBe(lab.image.kernelVersion);
    expect(init).toBe("systemd");
    expect(hostname).toBe("a");
    expect(wgOk).toBe("wireguard-ok");
    expect(eth0).toContain("198.19.77.11/24");
    expect(eth0).toContain("fd00:77::11/64");
  }, 60_000);

  test("host ↔ VM and VM ↔ VM over IPv4 and IPv6 on the bridge", async () => {
    for (const addr of [lab.vm("a").v4, lab.vm("b").v6])
      expect(lab.hostNs.exec(["ping", "-c1", "-W3", addr], { allowFail: true })).toContain(" 0% packet loss");
    await lab.vm("a").sshOk(`ping -c1 -W3 ${lab.vm("b").v4} && ping -c1 -W3 ${lab.vm("b").v6} && ping -c1 -W3 ${lab.hostV6}`);
  }, 60_000);

  test("ssh reports exit codes and stderr and passes stdin; sshOk throws on failure", async () => {
    const r = await lab.vm("a").ssh("echo out; echo err >&2; exit 7");
    expect(r).toEqual({ stdout: "out\n", stderr: "err\n", code: 7 });
    expect((await lab.vm("b").ssh("cat", { input: "through stdin" })).stdout).toBe("through stdin");
    await expect(lab.vm("a").sshOk("exit 3")).rejects.toThrow(/exited 3/);
  }, 60_000);

  test("the guest clock is the host's after the resume (not the snapshot's)", async () => {
    for (const vm of lab.vms) {
      const guest = Number((await vm.sshOk("date +%s")).trim());
      expect(Math.abs(guest - Date.now() / 1000)).toBeLessThan(30);
    }
  }, 60_000);

  test("copyTo is byte-exact and keeps the mode, into a path or a directory; copyFrom brings it back", async () => {
    const local = join(dir, "payload.bin");
    const data = randomBytes(3 * 1024 * 1024 + 17);
    writeFileSync(local, data);
    chmodSync(local, 0o750);
    const sha = createHash("sha256").update(data).digest("hex");
    const b = lab.vm("b");
    await b.copyTo(local, "/usr/local/bin/payload");
    await b.copyTo(local, "/root/");
    const out = await b.sshOk("sha256sum /usr/local/bin/payload /root/payload.bin | cut -d' ' -f1; stat -c %a /usr/local/bin/payload");
    expect(out.trim().split("\n")).toEqual([sha, sha, "750"]);
    await b.copyFrom("/root/payload.bin", join(dir, "back.bin"));
    expect(
      createHash("sha256")
        .update(await Bun.file(join(dir, "back.bin")).bytes())
        .digest("hex"),
    ).toBe(sha);
  }, 120_000);

  test("ansible reaches every VM through ansibleInventory and ansibleEnv", async () => {
    const inventory = lab.ansibleInventory({ lab_greeting: "hello" }, { b: { lab_role: "second" } });
    const r = await lab.hostRun(
      [
        "ansible",
        "all",
        "-i",
        inventory,
        "-m",
        "ansible.builtin.command",
        "-a",
        "echo {{ lab_greeting }} {{ lab_role | default('first') }} {{ inventory_hostname }}",
      ],
      { env: lab.ansibleEnv(), timeoutMs: 180_000 },
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/a \| CHANGED \| rc=0 >>\s+hello first a/);
    expect(r.stdout).toMatch(/b \| CHANGED \| rc=0 >>\s+hello second b/);
  }, 200_000);

  test("stop() kills the qemu processes and SSH masters by PID and deletes the namespace", async () => {
    const pids = lab.vms.map((v) => v.pid!);
    const masters = lab.vms.map((v) => v.master!.pid);
    expect(pids.every(pidAlive)).toBe(true);
    await lab.stop();
    expect([...pids, ...masters].filter(pidAlive)).toEqual([]);
    expect(run(["ip", "netns", "list"])).not.toContain(lab.hostNs.name);
  }, 60_000);
});
