// Interop with the peer most of our users' other hosts run: the Linux
// kernel's WireGuard module (Debian's 6.1 kernel in a lab VM, configured with
// wg(8)) against dist/tunnel in the lab's host namespace. Each side
// initiates; IPv4 and IPv6 inside; IPv4 and IPv6 outer endpoints; preshared
// keys (and a wrong one, which must never handshake); pattern-checked TCP
// both ways; roaming of the VM's outer address.
//
//   host (lab.hostNs): ki<tag> 198.18.90.1/24 fd00:90::1/64, UDP 51830 on 198.19.77.1 / fd00:77::1
//   VM a:              wg0     198.18.90.2/24 fd00:90::2/64, UDP 51821 on 198.19.77.11 / fd00:77::11
import { afterAll, beforeAll, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { down, keyPair, ping, pingUntil, TAG, tomlConfig, until, up, wgColumn, writeConfig, type KeyPair } from "../e2e/harness.ts";
import { tunnelBinary } from "../support/binary.ts";
import { describePrivileged } from "../support/privileges.ts";
import { hostToVm, installPatternScript, kernelWgShow, kernelWgUp, vmNoAnswer, vmPingUntil, vmToHost } from "./kernel-wg.ts";
import { Lab, type LabVm } from "./lab.ts";
import { VM_COMMANDS } from "./requirements.ts";

const IF = `ki${TAG}`;
const HOST_PORT = 51830;
const VM_PORT = 51821;
const INNER = { host4: "198.18.90.1", vm4: "198.18.90.2", host6: "fd00:90::1", vm6: "fd00:90::2" };

describePrivileged("vm: the kernel's WireGuard module against tunnel", { root: true, commands: [...VM_COMMANDS, "wg", "ping"] }, () => {
  let lab: Lab;
  let vm: LabVm;
  let bin = "";
  let dir = "";

  beforeAll(async () => {
    bin = tunnelBinary();
    dir = mkdtempSync(join(tmpdir(), "tunnel-vm-interop-"));
    lab = await Lab.start({ vms: ["a"] });
    vm = lab.vm("a");
    await installPatternScript(vm);
  }, 600_000);

  afterAll(async () => {
    if (lab) down(bin, lab.hostNs, IF);
    await lab?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  /**
   * pair builds both ends afresh with new keys, so no session survives from
   * the previous test: whoever has the other's endpoint is the initiator.
   */
  async function pair(opts: { hostKnowsVm?: string; vmKnowsHost?: string; psk?: { host: string; vm: string } }): Promise<{ host: KeyPair; guest: KeyPair }> {
    const host = keyPair();
    const guest = keyPair();
    const psk =
      opts.psk ??
      (() => {
        const k = randomBytes(32).toString("base64");
        return { host: k, vm: k };
      })();
    down(bin, lab.hostNs, IF);
    const text = tomlConfig(
      IF,
      host.priv,
      HOST_PORT,
      [`${INNER.host4}/24`, `${INNER.host6}/64`],
      [{ pub: guest.pub, allowed: [`${INNER.vm4}/32`, `${INNER.vm6}/128`], endpoint: opts.hostKnowsVm, presharedKey: psk.host }],
    );
    up(bin, lab.hostNs, writeConfig(dir, IF, text));
    await kernelWgUp(vm, {
      privateKey: guest.priv,
      listenPort: VM_PORT,
      addresses: [`${INNER.vm4}/24`, `${INNER.vm6}/64`],
      peer: { publicKey: host.pub, presharedKey: psk.vm, allowedIps: [`${INNER.host4}/32`, `${INNER.host6}/128`], endpoint: opts.vmKnowsHost },
    });
    return { host, guest };
  }

  const handshakeAt = (m: Map<string, string>, pub: string) => Number(m.get(pub) ?? "0");

  test("the kernel initiates over an IPv4 endpoint; pings both ways over IPv4 and IPv6 inside", async () => {
    const k = await pair({ vmKnowsHost: `${lab.hostV4}:${HOST_PORT}` });
    expect(handshakeAt(wgColumn(IF, "latest-handshakes"), k.guest.pub)).toBe(0);
    await vmPingUntil(vm, INNER.host4);
    // tunnel had no endpoint: it learnt the VM's from the kernel's handshake initiation.
    expect(wgColumn(IF, "endpoints").get(k.guest.pub)).toBe(`${vm.v4}:${VM_PORT}`);
    expect(handshakeAt(wgColumn(IF, "latest-handshakes"), k.guest.pub)).toBeGreaterThan(Date.now() / 1000 - 60);
    ping(lab.hostNs, INNER.vm4, 3);
    ping(lab.hostNs, INNER.vm6, 3);
    await vmPingUntil(vm, INNER.host6);
  }, 60_000);

  test("tunnel initiates to the kernel over an IPv6 endpoint", async () => {
    const k = await pair({ hostKnowsVm: `[${vm.v6}]:${VM_PORT}` });
    expect(handshakeAt(await kernelWgShow(vm, "latest-handshakes"), k.host.pub)).toBe(0);
    await pingUntil(lab.hostNs, INNER.vm4, 20);
    ping(lab.hostNs, INNER.vm6, 3);
    const kernelSide = await kernelWgShow(vm, "endpoints");
    expect(kernelSide.get(k.host.pub)).toBe(`[${lab.hostV6}]:${HOST_PORT}`);
    expect(handshakeAt(await kernelWgShow(vm, "latest-handshakes"), k.host.pub)).toBeGreaterThan(Date.now() / 1000 - 60);
    await vmPingUntil(vm, INNER.host4);
  }, 60_000);

  test("pattern-checked TCP both ways: host → kernel over IPv6 inside, kernel → host over IPv4 inside", async () => {
    let t = performance.now();
    const down = await hostToVm(lab, vm, INNER.vm6, 5401, 2);
    const downMs = performance.now() - t;
    t = performance.now();
    const upstream = await vmToHost(lab, vm, INNER.host4, 5402, 4 * 1024 * 1024);
    const upMs = performance.now() - t;
    console.log(
      `kernel interop TCP: host → VM ${down.received} bytes (corrupt ${down.corrupt}) in ${(downMs / 1000).toFixed(1)} s, VM → host ${upstream.received} bytes (corrupt ${upstream.corrupt}) in ${(upMs / 1000).toFixed(1)} s, both including process start-up`,
    );
    expect(down.sent).toBeGreaterThan(0);
    expect(down.received).toBe(down.sent);
    expect(down.corrupt).toBe(0);
    expect(upstream.received).toBe(4 * 1024 * 1024);
    expect(upstream.sent).toBe(upstream.received);
    expect(upstream.corrupt).toBe(0);
  }, 120_000);

  test("a preshared key that differs between the sides never completes a handshake", async () => {
    const k = await pair({
      vmKnowsHost: `${lab.hostV4}:${HOST_PORT}`,
      psk: { host: randomBytes(32).toString("base64"), vm: randomBytes(32).toString("base64") },
    });
    await vmNoAnswer(vm, INNER.host4, 3);
    expect(handshakeAt(await kernelWgShow(vm, "latest-handshakes"), k.host.pub)).toBe(0);
    expect(handshakeAt(wgColumn(IF, "latest-handshakes"), k.guest.pub)).toBe(0);
  }, 60_000);

  test("roaming: the VM's outer IPv6 address changes and tunnel's endpoint and traffic follow", async () => {
    const k = await pair({ vmKnowsHost: `[${lab.hostV6}]:${HOST_PORT}` });
    await vmPingUntil(vm, INNER.host4);
    expect(wgColumn(IF, "endpoints").get(k.guest.pub)).toBe(`[${vm.v6}]:${VM_PORT}`);
    const moved = vm.v6.replace(/::(\w+)$/, "::1$1");
    // The old address goes away, so a reply sent there would be lost: only a followed endpoint answers.
    await vm.sshOk(`ip addr add ${moved}/64 dev eth0 nodad && ip addr del ${vm.v6}/64 dev eth0`);
    try {
      await vmPingUntil(vm, INNER.host4);
      await until("tunnel's endpoint for the VM to follow", () => wgColumn(IF, "endpoints").get(k.guest.pub) === `[${moved}]:${VM_PORT}`, 5000);
      ping(lab.hostNs, INNER.vm6, 3);
      const after = await hostToVm(lab, vm, INNER.vm4, 5403, 1);
      expect(after.received).toBe(after.sent);
      expect(after.corrupt).toBe(0);
    } finally {
      await vm.sshOk(`ip addr add ${vm.v6}/64 dev eth0 nodad; ip addr del ${moved}/64 dev eth0`);
    }
  }, 90_000);
});
