// Deployment as users do it, on three real Debian bookworm VMs with systemd
// as PID 1: the Ansible role (deploy/ansible/roles/tunnel) installs the
// binary (alpha from a served release archive checked against SHA256SUMS,
// beta and gamma from the controller's dist/tunnel), generates keys on each
// host, and runs wg0 as a full mesh with per-pair preshared keys (gamma
// reached over an IPv6 outer endpoint) as tunnel@wg0.service. Then:
// idempotence (changed=0), --check --diff after an inventory change (reports,
// touches nothing, prints no key), the real run reloading only what changed
// while untouched sessions survive, a bad file failing the reload, kill -9
// and systemd's restart (timed), READY=1 gating "active", the environment
// scrub, the watchdog restarting a wedged data plane, and `systemctl stop`
// cleaning up one instance without touching another's files.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describePrivileged } from "../support/privileges.ts";
import { tunnelBinary } from "../support/binary.ts";
import { Lab } from "./lab.ts";

const ROLES = new URL("../../deploy/ansible/roles/", import.meta.url).pathname;
const CALLBACKS = new URL("../deploy/callback_plugins/", import.meta.url).pathname;
const UNIT = new URL("../../deploy/systemd/tunnel@.service", import.meta.url).pathname;
const NAMES = ["alpha", "beta", "gamma"] as const;
type Name = (typeof NAMES)[number];
const wg0v4 = (i: number) => `198.18.110.${i + 1}`;
const wg0v6 = (i: number) => `fd00:110::${i + 1}`;

let lab: Lab;
let http: ReturnType<typeof Bun.spawn> | null = null;
const HTTP_PORT = 8080;
const psks: Record<string, string> = {};
const figures: Record<string, string> = {};

interface PlayResult {
  code: number;
  seconds: number;
  stats: Record<string, { changed: number; failed: number; unreachable: number; ok: number }>;
  /** results of the task named `task`, by host. */
  task(name: string): Record<string, { changed?: boolean; results?: { changed: boolean; stdout: string; tunnel_iface?: { name: string } }[] }>;
  raw: string;
}

function tunnel(args: string[]): string {
  const p = Bun.spawnSync([tunnelBinary(), ...args], { stdout: "pipe", stderr: "pipe" });
  if (p.exitCode !== 0) throw new Error(`tunnel ${args.join(" ")}: ${p.stderr.toString()}`);
  return p.stdout.toString().trim();
}

function inventory(changed: boolean): string {
  const hostVars: Record<string, Record<string, unknown>> = {};
  NAMES.forEach((n, i) => {
    hostVars[n] = {
      tunnel_addresses: { wg0: [`${wg0v4(i)}/24`, `${wg0v6(i)}/64`] },
      // gamma is reached over IPv6 outside the tunnel.
      ...(n === "gamma" ? { tunnel_endpoint: lab.vm("gamma").v6 } : {}),
      // alpha downloads the release archive; beta and gamma get the controller's binary.
      ...(n === "alpha" ? { tunnel_release_base_url: `http://${lab.hostV4}:${HTTP_PORT}` } : { tunnel_binary_src: tunnelBinary() }),
      // The inventory change: a prefix routed to gamma (alpha's and beta's peer gamma change; nothing else).
      ...(changed && n === "gamma" ? { tunnel_routed_prefixes: { wg0: ["198.18.150.0/24"] } } : {}),
    };
  });
  return lab.ansibleInventory(
    {
      // The mesh gets preshared keys; hub-and-spoke is rendered and checked on the controller (test/deploy/ansible-render.test.ts).
      tunnel_interfaces: [{ name: "wg0", listen_port: 51820, preshared_keys: true }],
      tunnel_preshared_keys: psks,
    },
    hostVars,
  );
}

async function play(inv: string, extra: string[] = []): Promise<PlayResult> {
  const playbook = join(lab.dir, "site.yml");
  writeFileSync(playbook, "---\n- name: Deploy tunnel\n  hosts: all\n  gather_facts: false\n  roles:\n    - role: tunnel\n");
  const t0 = performance.now();
  const r = await lab.hostRun(["ansible-playbook", "-i", inv, playbook, ...extra], {
    env: { ...lab.ansibleEnv(), ANSIBLE_ROLES_PATH: ROLES, ANSIBLE_STDOUT_CALLBACK: "tunnel_json", ANSIBLE_CALLBACK_PLUGINS: CALLBACKS },
    timeoutMs: 1_200_000,
  });
  const seconds = (performance.now() - t0) / 1000;
  let doc: { stats: PlayResult["stats"]; plays: { tasks: { task: { name: string }; hosts: Record<string, unknown> }[] }[] };
  try {
    doc = JSON.parse(r.stdout.slice(r.stdout.indexOf("{")));
  } catch {
    throw new Error(`ansible-playbook ${extra.join(" ")} (exit ${r.code}) printed no JSON:\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`);
  }
  const tasks = doc.plays.flatMap((p) => p.tasks);
  return {
    code: r.code,
    seconds,
    stats: doc.stats,
    raw: r.stdout + r.stderr,
    task: (name) => {
      const t = tasks.find((x) => x.task.name === name || x.task.name.endsWith(`: ${name}`));
      if (!t) throw new Error(`no task '${name}' in the play (has ${tasks.map((x) => x.task.name).join(", ")})`);
      return t.hosts as ReturnType<PlayResult["task"]>;
    },
  };
}

function expectClean(r: PlayResult, what: string): void {
  const bad = Object.entries(r.stats).filter(([, s]) => s.failed > 0 || s.unreachable > 0);
  if (r.code !== 0 || bad.length > 0) throw new Error(`${what}: exit ${r.code}, ${JSON.stringify(r.stats)}\n${r.raw.slice(-4000)}`);
}

/**
 * serveRelease lays out a release directory as `npm run release` publishes
 * one (an archive per build holding tunnel-VERSION-BUILD/tunnel, and
 * SHA256SUMS) and serves it over HTTP on the lab's host address.
 */
function serveRelease(): ReturnType<typeof Bun.spawn> {
  const rel = join(lab.dir, "release");
  for (const build of ["linux-x64", "linux-x64-baseline"]) {
    const top = `tunnel-0.1.0-${build}`;
    mkdirSync(join(rel, "stage", top), { recursive: true });
    copyFileSync(tunnelBinary(), join(rel, "stage", top, "tunnel"));
    const tar = Bun.spawnSync(["tar", "-I", "xz -0 -T1", "-C", join(rel, "stage"), "-cf", join(rel, `${top}.tar.xz`), top], { stderr: "pipe" });
    if (tar.exitCode !== 0) throw new Error(`tar: ${tar.stderr.toString()}`);
  }
  const sums = Bun.spawnSync(["sh", "-c", "sha256sum *.tar.xz > SHA256SUMS"], { cwd: rel, stderr: "pipe" });
  if (sums.exitCode !== 0) throw new Error(`sha256sum: ${sums.stderr.toString()}`);
  return Bun.spawn(["ip", "netns", "exec", lab.hostNs.name, "python3", "-m", "http.server", "--bind", lab.hostV4, "--directory", rel, String(HTTP_PORT)], { stdout: "ignore", stderr: "ignore" });
}

const vm = (n: Name) => lab.vm(n);
const handshakes = async (n: Name, ifname = "wg0") =>
  Object.fromEntries(
    (await vm(n).sshOk(`wg show ${ifname} latest-handshakes`))
      .trim()
      .split("\n")
      .map((l) => l.split("\t") as [string, string]),
  );
const mainPid = async (n: Name, ifname = "wg0") => Number((await vm(n).sshOk(`systemctl show -P MainPID tunnel@${ifname}`)).trim());
const restarts = async (n: Name, ifname = "wg0") => Number((await vm(n).sshOk(`systemctl show -P NRestarts tunnel@${ifname}`)).trim());

describePrivileged("deployment: the Ansible role and tunnel@.service on three Debian VMs", { root: true, commands: ["qemu-system-x86_64", "ansible-playbook", "ip"] }, () => {
  beforeAll(async () => {
    tunnelBinary();
    for (const [x, y] of [["alpha", "beta"], ["alpha", "gamma"], ["beta", "gamma"]]) psks[`wg0:${x}:${y}`] = tunnel(["genpsk"]);
    lab = await Lab.start({ vms: [...NAMES] });
    http = serveRelease();
  }, 900_000);
  afterAll(async () => {
    http?.kill("SIGKILL");
    await lab?.stop();
    console.log(`[deploy] figures: ${JSON.stringify(figures)}`);
  });

  test("the role deploys the mesh; systemd-analyze verify is clean and the exposure score is at most 3.0", async () => {
    const r = await play(inventory(false));
    expectClean(r, "first run");
    figures.firstRunSeconds = r.seconds.toFixed(1);
    for (const n of NAMES) expect(r.stats[n]!.changed).toBeGreaterThan(0);
    const a = vm("alpha");
    expect((await a.ssh("systemd-analyze verify /etc/systemd/system/tunnel@.service /etc/systemd/system/tunnel@wg0.service 2>&1")).stdout.trim()).toBe("");
    const sec = await a.sshOk("systemd-analyze security --no-pager tunnel@wg0.service");
    const score = Number(/Overall exposure level for tunnel@wg0\.service: ([0-9.]+)/.exec(sec)?.[1]);
    figures.exposureScore = String(score);
    expect(score).toBeLessThanOrEqual(3.0);
    // The unit installed is the one in the repository.
    expect(await a.sshOk("cat /etc/systemd/system/tunnel@.service")).toBe((await Bun.file(UNIT).text()).trimEnd() + "\n");
    for (const n of NAMES) expect((await vm(n).sshOk("systemctl is-active tunnel@wg0")).trim()).toBe("active");
    expect((await a.sshOk("stat -c '%a %U' /etc/tunnel /etc/tunnel/wg0.key /etc/tunnel/wg0-beta.psk")).trim().split("\n")).toEqual(["700 root", "600 root", "600 root"]);
    // alpha installed the release archive over HTTP (checked against SHA256SUMS), the others the controller's file.
    expect((await a.sshOk("readlink /usr/local/bin/tunnel")).trim()).toMatch(/^\/opt\/tunnel-0\.1\.0-linux-x64(-baseline)?\/tunnel$/);
    expect(await a.sshOk("ls /opt")).toMatch(/tunnel-0\.1\.0-linux-x64(-baseline)?\.tar\.xz/);
    expect((await vm("beta").sshOk("readlink /usr/local/bin/tunnel")).trim()).toMatch(/^\/opt\/tunnel-0\.1\.0-linux-x64(-baseline)?\/tunnel$/);
  }, 1_500_000);

  test("every pair handshakes and pings over IPv4 and IPv6, with its preshared key", async () => {
    await Promise.all(
      NAMES.map(async (n, i) => {
        const targets = NAMES.flatMap((_, j) => (j === i ? [] : [wg0v4(j), wg0v6(j)]));
        await vm(n).sshOk(targets.map((t) => `ping -c 2 -i 0.3 -W 3 ${t} >/dev/null || ping -c 3 -W 3 ${t} >/dev/null`).join(" && "), { timeoutMs: 90_000 });
      }),
    );
    for (const n of NAMES) {
      const hs = Object.values(await handshakes(n));
      expect(hs).toHaveLength(2);
      for (const t of hs) expect(Number(t)).toBeGreaterThan(0);
    }
    const alphaPub = (await vm("alpha").sshOk("wg show wg0 public-key")).trim();
    expect((await vm("beta").sshOk("wg show wg0 preshared-keys")).split("\n")).toContain(`${alphaPub}\t${psks["wg0:alpha:beta"]}`);
  }, 180_000);

  test("a second run reports changed=0", async () => {
    const r = await play(inventory(false));
    expectClean(r, "second run");
    figures.secondRunSeconds = r.seconds.toFixed(1);
    for (const n of NAMES) expect(r.stats[n]!.changed).toBe(0);
  }, 1_200_000);

  test("after an inventory change, --check --diff reports it, touches nothing and prints no key; the real run reloads and untouched sessions survive", async () => {
    const before = Object.fromEntries(await Promise.all(NAMES.map(async (n) => [n, { hs: await handshakes(n), pid: await mainPid(n), ips: await vm(n).sshOk("wg show wg0 allowed-ips"), file: await vm(n).sshOk("sha256sum /etc/tunnel/wg0.toml") }] as const)));
    const inv = inventory(true);
    const check = await play(inv, ["--check", "--diff"]);
    expectClean(check, "check run");
    figures.checkRunSeconds = check.seconds.toFixed(1);
    const compare = check.task("Compare the running interfaces with their configs");
    for (const n of ["alpha", "beta"] as const) {
      const wg0 = compare[n]!.results!.find((x) => x.tunnel_iface?.name === "wg0")!;
      expect(wg0.changed).toBe(true);
      expect(JSON.parse(wg0.stdout).changes).toEqual([expect.stringMatching(/^peer gamma: allowed IPs .* → .*198\.18\.150\.0\/24/), expect.stringContaining("198.18.150.0/24")]);
    }
    expect(check.stats.gamma!.changed).toBe(0);
    // Nothing touched: files, peers, sessions and processes as they were.
    for (const n of NAMES) {
      expect(await vm(n).sshOk("sha256sum /etc/tunnel/wg0.toml")).toBe(before[n]!.file);
      expect(await vm(n).sshOk("wg show wg0 allowed-ips")).toBe(before[n]!.ips);
      expect(await handshakes(n)).toEqual(before[n]!.hs);
      expect(await mainPid(n)).toBe(before[n]!.pid);
    }
    // --diff shows the config change but never a key.
    expect(check.raw).toContain("198.18.150.0/24");
    for (const n of NAMES) expect(check.raw).not.toContain((await vm(n).sshOk("cat /etc/tunnel/wg0.key")).trim());
    for (const k of Object.values(psks)) expect(check.raw).not.toContain(k);

    const real = await play(inv);
    expectClean(real, "changed run");
    figures.changedRunSeconds = real.seconds.toFixed(1);
    expect(real.stats.gamma!.changed).toBe(0);
    for (const n of ["alpha", "beta"] as const) {
      expect(await vm(n).sshOk("wg show wg0 allowed-ips")).toContain("198.18.150.0/24");
      // Reloaded in place: same process, and the sessions of peers (touched or not) kept.
      expect(await mainPid(n)).toBe(before[n]!.pid);
      expect(await handshakes(n)).toEqual(before[n]!.hs);
    }
    expect(await vm("alpha").sshOk("ip route show 198.18.150.0/24")).toContain("dev wg0");
  }, 2_400_000);

  test("a reload applies an edited file in place (timed); a bad file fails the reload and leaves the interface untouched", async () => {
    const a = vm("alpha");
    const out = await a.sshOk(
      "cp /etc/tunnel/wg0.toml /root/wg0.toml.good && sed -i 's/^listen_port = 51820$/listen_port = 51820\\nmtu = 1400/' /etc/tunnel/wg0.toml && " +
        "t0=$(date +%s%N); systemctl reload tunnel@wg0; t1=$(date +%s%N); echo $(( (t1 - t0) / 1000000 )); ip -o link show wg0",
    );
    figures.reloadMs = out.split("\n")[0]!;
    expect(out).toContain("mtu 1400");
    const before = { hs: await handshakes("alpha"), dump: await a.sshOk("wg show wg0 dump | cut -f1-4"), pid: await mainPid("alpha") };
    const bad = await a.ssh("printf '[interface]\\nlisten_port = \"oops\"\\n' >> /etc/tunnel/wg0.toml && systemctl reload tunnel@wg0");
    expect(bad.code).not.toBe(0);
    expect(await a.sshOk("journalctl -u tunnel@wg0 -n 20 --no-pager")).toContain("/etc/tunnel/wg0.toml");
    expect((await a.sshOk("systemctl is-active tunnel@wg0")).trim()).toBe("active");
    expect(await a.sshOk("wg show wg0 dump | cut -f1-4")).toBe(before.dump);
    expect(await handshakes("alpha")).toEqual(before.hs);
    expect(await mainPid("alpha")).toBe(before.pid);
    await a.sshOk("cp /root/wg0.toml.good /etc/tunnel/wg0.toml && systemctl reload tunnel@wg0 && ip -o link show wg0 | grep -q 'mtu 1420'");
  }, 180_000);

  // Issue 10 asks for traffic within 5 s of the kill. Under TCG emulation on two
  // shared cores the restart measures 7-13 s (systemd ~1.3 s, the new daemon's
  // start-up and its ip commands the rest), so this test asserts the restart and
  // a 30 s bound, records the figure, and the 5 s target is reported as missed
  // (issue 10's note), not hidden by a looser number here.
  test("kill -9 of a daemon: systemd restarts it and traffic flows again (target 5 s; asserted 30 s under emulation)", async () => {
    const b = vm("beta");
    const pid = await mainPid("beta");
    const n0 = await restarts("beta");
    // Timed inside the VM: from the kill to the first answered ping through the tunnel.
    const ms = Number(
      (
        await b.sshOk(
          `t0=$(date +%s%N); kill -9 ${pid}; sleep 0.2; until ping -c 1 -W 1 -q ${wg0v4(0)} >/dev/null 2>&1; do sleep 0.1; done; t1=$(date +%s%N); echo $(( (t1 - t0) / 1000000 ))`,
          { timeoutMs: 60_000 },
        )
      ).trim(),
    );
    figures.restartAfterKill9Ms = String(ms);
    expect(await restarts("beta")).toBe(n0 + 1);
    expect(await mainPid("beta")).not.toBe(pid);
    console.log(`deploy: kill -9 to the first answered ping through the tunnel: ${ms} ms (target 5000 ms)`);
    expect(ms).toBeLessThan(30_000);
    await b.sshOk(`ping -c 1 -W 3 ${wg0v6(2)} >/dev/null`);
  }, 120_000);

  test("the unit is active only once READY=1 says the file is applied; the daemon runs without BUN_OPTIONS/BUN_BE_BUN", async () => {
    const g = vm("gamma");
    // Samples `is-active` while starting: "activating" until READY=1, and at the first "active" the whole file is applied.
    const script = [
      "systemctl set-environment BUN_OPTIONS=--bogus-flag BUN_BE_BUN=1",
      "systemctl stop tunnel@wg0",
      "systemctl start --no-block tunnel@wg0",
      "seen=",
      "while :; do s=$(systemctl is-active tunnel@wg0); case $s in activating) seen=activating ;; active) break ;; failed) echo FAILED; exit 1 ;; esac; done",
      "echo \"seen=$seen\"",
      "ip -br addr show dev wg0",
      "wg show wg0 peers | wc -l",
      "systemctl show -P StatusText tunnel@wg0",
      "tr '\\0' '\\n' < /proc/$(systemctl show -P MainPID tunnel@wg0)/environ | grep -c '^BUN_' || true",
      "systemctl unset-environment BUN_OPTIONS BUN_BE_BUN",
    ].join("\n");
    const out = await g.sshOk(script, { timeoutMs: 90_000 });
    expect(out).toContain("seen=activating");
    expect(out).toContain(`${wg0v4(2)}/24`);
    expect(out).toContain(`${wg0v6(2)}/64`);
    const lines = out.trim().split("\n");
    expect(lines.at(-3)).toBe("2");
    expect(lines.at(-2)).toMatch(/^wg0: 2 peers/);
    expect(lines.at(-1)).toBe("0");
  }, 120_000);

  test("a wedged data plane stops the watchdog pets and systemd restarts the service", async () => {
    const a = vm("alpha");
    await a.sshOk(
      "mkdir -p /run/systemd/system/tunnel@wg0.service.d && printf '[Service]\\nWatchdogSec=3s\\nEnvironment=TUNNEL_TEST_WEDGE_ON_SIGUSR2=1\\n' > /run/systemd/system/tunnel@wg0.service.d/wedge-test.conf && systemctl daemon-reload && systemctl restart tunnel@wg0",
    );
    try {
      // Pets keep a healthy daemon alive well past WatchdogSec.
      const n0 = await restarts("alpha");
      const pid = await mainPid("alpha");
      await Bun.sleep(8000);
      expect(await restarts("alpha")).toBe(n0);
      expect(await mainPid("alpha")).toBe(pid);
      const ms = Number(
        (
          await a.sshOk(
            `t0=$(date +%s%N); systemctl kill -s SIGUSR2 --kill-whom=main tunnel@wg0; while [ "$(systemctl show -P NRestarts tunnel@wg0)" = "${n0}" ]; do sleep 0.2; done; until ping -c 1 -W 1 -q ${wg0v4(1)} >/dev/null 2>&1; do sleep 0.1; done; echo $(( ($(date +%s%N) - t0) / 1000000 ))`,
            { timeoutMs: 60_000 },
          )
        ).trim(),
      );
      figures.watchdogRestartMs = String(ms);
      expect(await restarts("alpha")).toBe(n0 + 1);
      expect(await a.sshOk("journalctl -u tunnel@wg0 --no-pager -n 50")).toContain("Watchdog timeout");
    } finally {
      await a.ssh("rm -rf /run/systemd/system/tunnel@wg0.service.d && systemctl daemon-reload && systemctl restart tunnel@wg0");
    }
  }, 120_000);

  test("systemctl stop removes the interface and its runtime files; the other instance keeps its own", async () => {
    const g = vm("gamma");
    // A second instance, by hand: its files must survive the first one's stop (RuntimeDirectoryPreserve=).
    await g.sshOk("sed -e 's/^name = \"wg0\"/name = \"wg1\"/' -e 's/^listen_port = 51820/listen_port = 51821/' -e 's/198\\.18\\.110\\./198.18.111./; s/fd00:110::/fd00:111::/' /etc/tunnel/wg0.toml > /etc/tunnel/wg1.toml && chmod 600 /etc/tunnel/wg1.toml && systemctl start tunnel@wg1");
    const out = await g.sshOk(
      "systemctl stop tunnel@wg0; ip link show wg0 >/dev/null 2>&1 && echo link-left; for f in /run/wireguard/wg0.sock /run/tunnel/wg0.sock /run/tunnel/wg0.applied.json; do [ -e $f ] && echo left:$f; done; " +
        "for f in /run/wireguard/wg1.sock /run/tunnel/wg1.sock; do [ -S $f ] || echo missing:$f; done; wg show wg1 peers | wc -l; systemctl is-active tunnel@wg1; true",
    );
    expect(out.trim().split("\n")).toEqual(["2", "active"]);
    // And a kill -9 leaves nothing behind either once systemd has stopped the unit (ExecStopPost=).
    const killed = await g.sshOk(
      "systemctl start tunnel@wg0 && kill -9 $(systemctl show -P MainPID tunnel@wg0) && systemctl stop tunnel@wg0; for f in /run/wireguard/wg0.sock /run/tunnel/wg0.sock /run/tunnel/wg0.applied.json; do [ -e $f ] && echo left:$f; done; ip link show wg0 >/dev/null 2>&1 && echo link-left; true",
    );
    expect(killed.trim()).toBe("");
  }, 120_000);
});
