// Faults and operator mistakes, through the compiled binary in namespaces:
// a daemon killed with -9 (stale sockets and applied state), a daemon that
// exits by itself, a name held by a daemon in another network namespace, a
// leftover veth with the interface's name, and `tunnel status` as non-root.
//
//   ns a: stale/live pair (fka/fkb), exit cases (fkx), the held name (fkn)
//   ns b: the second namespace reusing fkn; the veth named fkv
import { afterAll, beforeAll, expect, test } from "bun:test";
import { copyFileSync, existsSync, mkdtempSync, rmSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { socketOwner } from "../../src/device/uapi/socket-owner.ts";
import { tunnelBinary } from "../support/binary.ts";
import { Netns, pidAlive, removeStale } from "../support/netns.ts";
import { describePrivileged } from "../support/privileges.ts";
import { down, keyPair, TAG, tomlConfig, tunnelIn, until, up, wg, writeConfig } from "./harness.ts";

const PREFIX = "tfk";
const K = `fka${TAG}`;
const L = `fkb${TAG}`;
const X = `fkx${TAG}`;
const N = `fkn${TAG}`;
const V = `fkv${TAG}`;
const filesOf = (name: string) => [`/var/run/wireguard/${name}.sock`, `/var/run/tunnel/${name}.sock`, `/var/run/tunnel/${name}.applied.json`];

/** daemonPid asks the kernel who listens on the interface's UAPI socket. */
function daemonPid(name: string): number {
  const owner = socketOwner(`/var/run/wireguard/${name}.sock`);
  if (owner.state !== "listening" || owner.pid === null) throw new Error(`${name}: no daemon listens (${owner.state})`);
  return owner.pid;
}

describePrivileged("operator faults: stale files, names taken, non-root (compiled binary)", { root: true, commands: ["ip", "wg", "setpriv"] }, () => {
  let bin = "";
  let dir = "";
  let nsA: Netns;
  let nsB: Netns;
  const peer = keyPair();
  const config = (name: string, port: number, octet: number) =>
    writeConfig(dir, name, tomlConfig(name, keyPair().priv, port, [`198.18.22.${octet}/24`], [{ pub: peer.pub, allowed: [`198.18.23.${octet}/32`] }]));

  beforeAll(() => {
    bin = tunnelBinary();
    removeStale(PREFIX);
    dir = mkdtempSync(join(tmpdir(), "tunnel-faults-"));
    nsA = Netns.create(PREFIX, "a");
    nsB = Netns.create(PREFIX, "b");
  });

  afterAll(() => {
    for (const name of [K, L, X, N]) down(bin, nsA, name);
    if (nsB) Bun.spawnSync(["ip", "-n", nsB.name, "link", "delete", V], { stdout: "ignore", stderr: "ignore" });
    nsA?.delete();
    nsB?.delete();
    for (const name of [K, L, X, N, V]) for (const f of filesOf(name)) rmSync(f, { force: true });
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("after kill -9, status lists the live interface and marks the stale one; down removes the stale files", async () => {
    up(bin, nsA, config(K, 51960, 1));
    up(bin, nsA, config(L, 51961, 2));
    const pid = daemonPid(K);
    process.kill(pid, "SIGKILL");
    await until(`${K}'s daemon to die`, () => !pidAlive(pid), 5000);
    for (const f of filesOf(K)) expect(existsSync(f)).toBe(true);

    const all = tunnelIn(bin, nsA, ["status"]);
    expect(all.code).toBe(0);
    expect(all.stdout).toContain(`interface: ${L}\n  listening port: 51961`);
    expect(all.stdout).toContain(`interface: ${K} (not running: a daemon that died left`);
    const docs = JSON.parse(tunnelIn(bin, nsA, ["status", "--json"]).stdout) as { interfaceName: string; stale?: boolean; listenPort?: number }[];
    expect(docs.find((d) => d.interfaceName === K)).toMatchObject({ stale: true });
    expect(docs.find((d) => d.interfaceName === L)).toMatchObject({ listenPort: 51961 });
    const one = tunnelIn(bin, nsA, ["status", K]);
    expect(one.code).toBe(69);
    expect(one.stderr).toContain(`'tunnel down ${K}' removes them`);

    const cleaned = tunnelIn(bin, nsA, ["down", K, "--json"]);
    expect(cleaned.code).toBe(0);
    expect(JSON.parse(cleaned.stdout)).toEqual({ interface: K, changed: true });
    for (const f of filesOf(K)) expect(existsSync(f)).toBe(false);
    expect(JSON.parse(tunnelIn(bin, nsA, ["down", K, "--json"]).stdout)).toEqual({ interface: K, changed: false });
    // The live one was never disturbed.
    expect(tunnelIn(bin, nsA, ["status", L]).code).toBe(0);
  }, 30_000);

  test("after kill -9, up starts a fresh daemon over the stale files", async () => {
    up(bin, nsA, config(K, 51960, 1));
    const pid = daemonPid(K);
    process.kill(pid, "SIGKILL");
    await until(`${K}'s daemon to die`, () => !pidAlive(pid), 5000);
    const again = tunnelIn(bin, nsA, ["up", join(dir, `${K}.toml`), "--json"]);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ interface: K, changed: true });
    expect(daemonPid(K)).not.toBe(pid);
    expect(tunnelIn(bin, nsA, ["status", K]).code).toBe(0);
  }, 30_000);

  test.each([
    ["SIGTERM", () => process.kill(daemonPid(X), "SIGTERM")],
    ["its link deleted", () => nsA.ip("link", "delete", X)],
    ["its UAPI socket removed", () => rmSync(`/var/run/wireguard/${X}.sock`)],
  ])(
    "a daemon that exits on %s removes its applied state and sockets",
    async (_how, stop) => {
      up(bin, nsA, config(X, 51962, 3));
      const pid = daemonPid(X);
      expect(existsSync(`/var/run/tunnel/${X}.applied.json`)).toBe(true);
      stop();
      await until(`${X}'s daemon to exit`, () => !pidAlive(pid), 5000);
      for (const f of filesOf(X)) expect(existsSync(f)).toBe(false);
    },
    20_000,
  );

  test("a name held by a daemon in another namespace: up, tunnel IFNAME and down refuse and touch nothing", () => {
    up(bin, nsA, config(N, 51963, 4));
    const before = wg("show", N, "listen-port").trim();
    const other = writeConfig(dir, `${N}-b`, tomlConfig(N, keyPair().priv, 51964, ["198.18.24.4/24"], [{ pub: keyPair().pub, allowed: ["198.18.25.4/32"] }]));
    for (const args of [["up", other], [N], ["down", N]]) {
      const r = tunnelIn(bin, nsB, args);
      expect(r.code).toBe(69);
      expect(r.stderr).toContain(`${N}: `);
      expect(r.stderr).toContain(`held by a daemon (pid ${daemonPid(N)}) in another network namespace`);
    }
    expect(wg("show", N, "listen-port").trim()).toBe(before);
    expect(nsB.exec(["ip", "link", "show", N], { allowFail: true })).toBe("");
    expect(tunnelIn(bin, nsA, ["status", N]).code).toBe(0);
    // status still shows it from the other namespace, and says so.
    expect(tunnelIn(bin, nsB, ["status", N]).stdout).toContain(`interface: ${N}\n  network namespace: another one (daemon pid ${daemonPid(N)})`);
  }, 20_000);

  test("a leftover veth with the interface's name is named as such", () => {
    nsB.ip("link", "add", V, "type", "veth", "peer", "name", `${V}p`);
    for (const args of [["up", config(V, 51965, 5)], [V]]) {
      const r = tunnelIn(bin, nsB, args);
      expect(r.code).toBe(69);
      expect(r.stderr).toContain(`${V}: a link of that name exists in this network namespace and it is a veth, not a TUN`);
    }
    for (const f of filesOf(V)) expect(existsSync(f)).toBe(false);
  });

  test("as a non-root user, status and a new daemon say permission denied, run as root", () => {
    up(bin, nsA, config(L, 51961, 2)); // running since the first test; unchanged
    // A copy others may execute: the worktree need not be reachable for nobody.
    const copy = join(dir, "tunnel");
    copyFileSync(bin, copy);
    chmodSync(copy, 0o755);
    chmodSync(dir, 0o755);
    for (const args of [["status"], ["status", L]]) {
      const p = Bun.spawnSync(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", copy, ...args], {
        stdout: "pipe",
        stderr: "pipe",
        env: { PATH: process.env.PATH ?? "/usr/bin:/bin", NO_COLOR: "1" },
      });
      const stderr = p.stderr.toString();
      expect(p.exitCode).toBe(77);
      expect(stderr).toContain("permission denied");
      expect(stderr).toContain("as root");
    }
    // Starting a daemon without CAP_NET_ADMIN says so before trying.
    const daemon = Bun.spawnSync(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", copy, `fkz${TAG}`], {
      stdout: "pipe",
      stderr: "pipe",
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", NO_COLOR: "1" },
    });
    expect(daemon.exitCode).toBe(77);
    expect(daemon.stderr.toString()).toContain("needs CAP_NET_ADMIN; run as root");
  });
});
