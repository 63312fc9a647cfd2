// The product as users run it: the compiled binary, `tunnel up FILE.toml`
// in two namespaces joined by veth, traffic across, `up` again (unchanged,
// then one change without dropping the session), config errors that touch
// nothing, `down` (twice), and wg-quick driving our binary as its userspace
// implementation.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describePrivileged } from "../support/privileges.ts";
import { Netns, removeStale, run } from "../support/netns.ts";
import { udpEchoRtts } from "../support/udp-echo.ts";
import { tunnelBinary } from "../support/binary.ts";

const PREFIX = "tcli";
// UAPI sockets live in /var/run/wireguard, shared by every namespace: names must not collide across runs.
const TAG = String(process.pid % 100000);
const A = `tca${TAG}`;
const B = `tcb${TAG}`;
const Q = `wgq${TAG}`;
let dir = "";
let bin = "";
let nsA: Netns;
let nsB: Netns;
const keys = { a: "", b: "", pubA: "", pubB: "" };

function exec(ns: Netns, args: string[], env: Record<string, string> = {}) {
  const p = Bun.spawnSync(["ip", "netns", "exec", ns.name, "env", ...Object.entries({ NO_COLOR: "1", ...env }).map(([k, v]) => `${k}=${v}`), bin, ...args], {
    stdout: "pipe",
    stderr: "pipe",
  });
  return { code: p.exitCode, stdout: p.stdout.toString(), stderr: p.stderr.toString() };
}

function toml(name: string, key: string, port: number, addr: string, peerKey: string, endpoint: string, allowed: string, extra = ""): string {
  return `[interface]\nname = "${name}"\nprivate_key = "${key}"\nlisten_port = ${port}\naddress = ["${addr}"]\n\n[[peer]]\npublic_key = "${peerKey}"\nendpoint = "${endpoint}"\nallowed_ips = ["${allowed}"]\n${extra}`;
}

function writeConfig(name: string, text: string): string {
  const path = join(dir, `${name}.toml`);
  writeFileSync(path, text, { mode: 0o600 });
  chmodSync(path, 0o600);
  return path;
}

function linkExists(ns: Netns, name: string): boolean {
  return Bun.spawnSync(["ip", "-n", ns.name, "link", "show", name], { stdout: "ignore", stderr: "ignore" }).exitCode === 0;
}

describePrivileged("tunnel up / down / wg-quick (compiled binary, two namespaces)", { root: true, commands: ["ip", "wg", "wg-quick"] }, () => {
  beforeAll(() => {
    bin = tunnelBinary();
    removeStale(PREFIX);
    dir = mkdtempSync(join(tmpdir(), "tunnel-cli-"));
    nsA = Netns.create(PREFIX, "a");
    nsB = Netns.create(PREFIX, "b");
    nsA.vethTo(nsB, "veth-a", "198.19.2.1/24", "veth-b", "198.19.2.2/24");
    keys.a = run([bin, "genkey"]).trim();
    keys.b = run([bin, "genkey"]).trim();
    keys.pubA = run([bin, "pubkey"], { input: keys.a }).trim();
    keys.pubB = run([bin, "pubkey"], { input: keys.b }).trim();
  });
  afterAll(() => {
    for (const [ns, name] of [
      [nsA, A],
      [nsB, B],
      [nsA, Q],
    ] as const) {
      if (!ns) continue;
      exec(ns, ["down", name]);
      Bun.spawnSync(["ip", "-n", ns.name, "link", "delete", name], { stderr: "ignore" });
    }
    nsA?.delete();
    nsB?.delete();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const cfgA = () => toml(A, keys.a, 51830, "198.18.2.1/24", keys.pubB, "198.19.2.2:51831", "198.18.2.2/32");
  const cfgB = () => toml(B, keys.b, 51831, "198.18.2.2/24", keys.pubA, "198.19.2.1:51830", "198.18.2.1/32");

  test("a config error names file and key, exits 78 and creates nothing", () => {
    const bad = writeConfig(A, cfgA().replace("listen_port = 51830", "listen_port = 99999"));
    const r = exec(nsA, ["up", bad]);
    expect(r.code).toBe(78);
    expect(r.stderr).toContain(`${A}.toml`);
    expect(r.stderr).toContain("interface.listen_port");
    expect(linkExists(nsA, A)).toBe(false);
  });

  test("up in both namespaces brings a working tunnel", async () => {
    const a = exec(nsA, ["up", writeConfig(A, cfgA()), "--json"]);
    expect(a.code).toBe(0);
    expect(JSON.parse(a.stdout)).toMatchObject({ interface: A, changed: true });
    const b = exec(nsB, ["up", writeConfig(B, cfgB()), "--json"]);
    expect(b.code).toBe(0);
    // No mtu key: 1420, and the fresh TUN already had it (wireguard-go's default), so no MTU change is reported.
    expect((JSON.parse(nsA.ip("-j", "link", "show", "dev", A)) as { mtu: number }[])[0]!.mtu).toBe(1420);
    expect((JSON.parse(a.stdout) as { changes: string[] }).changes).toContain("link up");
    const rtts = await udpEchoRtts(nsA, nsB, "198.18.2.2", 3);
    expect(rtts).toHaveLength(3);
    const show = run(["ip", "netns", "exec", nsA.name, "wg", "show", A, "dump"]);
    expect(show).toContain(Buffer.from(keys.pubB, "base64").length === 32 ? keys.pubB : "?");
  });

  test("up again with the same file reports unchanged", () => {
    const r = exec(nsA, ["up", join(dir, `${A}.toml`), "--json"]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ interface: A, changed: false, changes: [] });
  });

  test("a changed file applies only the change and keeps the session", async () => {
    const before = run(["ip", "netns", "exec", nsA.name, "wg", "show", A, "latest-handshakes"]).trim();
    const r = exec(nsA, ["up", writeConfig(A, `${cfgA()}persistent_keepalive = 25\n`), "--json"]);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { changed: boolean; changes: string[] };
    expect(out.changed).toBe(true);
    expect(out.changes).toHaveLength(1);
    expect(out.changes[0]).toContain("keepalive 0 → 25");
    expect(run(["ip", "netns", "exec", nsA.name, "wg", "show", A, "latest-handshakes"]).trim()).toBe(before);
    expect(await udpEchoRtts(nsA, nsB, "198.18.2.2", 1)).toHaveLength(1);
  });

  test("status explains the offloads", () => {
    const r = exec(nsA, ["status", A, "--json"]);
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout) as { interfaceName: string; offloads: { vnetHeader: boolean }; derived: object; drops: object; peers: unknown[] };
    expect(s.interfaceName).toBe(A);
    expect(s.offloads.vnetHeader).toBe(true);
    expect(s.peers).toHaveLength(1);
    expect(exec(nsA, ["status", A]).stdout).toContain("offloads at work:");
  });

  test("down removes the interface and stops the daemon; down again is a no-op", () => {
    const r = exec(nsA, ["down", join(dir, `${A}.toml`), "--json"]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ interface: A, changed: true });
    expect(linkExists(nsA, A)).toBe(false);
    expect(exec(nsA, ["status", A]).code).not.toBe(0);
    const again = exec(nsA, ["down", A, "--json"]);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toEqual({ interface: A, changed: false });
  });

  test("wg-quick up/down with tunnel as the userspace implementation", async () => {
    const conf = join(dir, `${Q}.conf`);
    writeFileSync(
      conf,
      `[Interface]\nPrivateKey = ${keys.a}\nListenPort = 51830\nAddress = 198.18.2.1/24\n\n[Peer]\nPublicKey = ${keys.pubB}\nEndpoint = 198.19.2.2:51831\nAllowedIPs = 198.18.2.2/32\n`,
      { mode: 0o600 },
    );
    const binDir = bin.slice(0, bin.lastIndexOf("/"));
    const env = { WG_QUICK_USERSPACE_IMPLEMENTATION: "tunnel", PATH: `${binDir}:/usr/sbin:/usr/bin:/sbin:/bin` };
    const up = Bun.spawnSync(["ip", "netns", "exec", nsA.name, "env", ...Object.entries(env).map(([k, v]) => `${k}=${v}`), "wg-quick", "up", conf], {
      stdout: "pipe",
      stderr: "pipe",
    });
    expect(up.stderr.toString()).toContain("tunnel");
    expect(up.exitCode).toBe(0);
    // wg lists every socket in /var/run/wireguard, which namespaces share.
    expect(run(["ip", "netns", "exec", nsA.name, "wg", "show", "interfaces"]).trim().split(/\s+/)).toContain(Q);
    expect(await udpEchoRtts(nsA, nsB, "198.18.2.2", 2)).toHaveLength(2);
    const down = Bun.spawnSync(["ip", "netns", "exec", nsA.name, "env", ...Object.entries(env).map(([k, v]) => `${k}=${v}`), "wg-quick", "down", conf], {
      stdout: "pipe",
      stderr: "pipe",
    });
    expect(down.exitCode).toBe(0);
    expect(linkExists(nsA, Q)).toBe(false);
  });
});

describe("tunnel-up test helpers", () => {
  test("configs are valid TOML", () => {
    expect(() => Bun.TOML.parse(toml("x", "k", 1, "198.18.0.1/24", "p", "198.19.0.1:1", "198.18.0.2/32"))).not.toThrow();
  });
});
