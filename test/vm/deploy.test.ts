// Deployment as users do it, on three real Debian bookworm VMs with systemd
// as PID 1: the Ansible role (deploy/ansible/roles/tunnel) installs the
// binary (a from a served release archive checked against SHA256SUMS, b and
// c from the controller's dist/tunnel), generates keys on each host, and runs
// two interfaces as tunnel@IFNAME.service: wg0 a full mesh with per-pair
// preshared keys (c reached over an IPv6 outer endpoint), wg1 hub-and-spoke
// with a as the hub; c also gets the wg-quick@ drop-in. Then: spokes reach
// each other through the hub, --check --diff after an inventory change
// (reports, touches nothing, prints no key), the real run changing only that
// (changed=0 elsewhere) and reloading in place while sessions survive, a bad file
// failing the reload, kill -9 and systemd's restart (timed), READY=1 gating
// "active", the environment scrub, the watchdog restarting a wedged data
// plane, `systemctl stop` cleaning up one instance without touching
// another's files, and wg-quick@ running tunnel where the kernel has no
// WireGuard module. The VMs are named and placed as in the other VM tests
// (a, b, c), so they resume the same snapshots instead of cold-booting anew.
// The first deployment runs on Ansible's own (linear) strategy; the check and
// changed runs on Debian's ansible-mitogen, for time (see that test).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { describePrivileged } from "../support/privileges.ts";
import { tunnelBinary } from "../support/binary.ts";
import { expectClean, play as playOn, serveRelease, type PlayResult, type Strategy } from "./deploy-play.ts";
import { Lab } from "./lab.ts";

const UNIT = new URL("../../deploy/systemd/tunnel@.service", import.meta.url).pathname;
const OUTAGE_PROBE = readFileSync(new URL("./outage-probe.py", import.meta.url), "utf8");
const NAMES = ["a", "b", "c"] as const;
type Name = (typeof NAMES)[number];
const wg0v4 = (i: number) => `198.18.110.${i + 1}`;
const wg0v6 = (i: number) => `fd00:110::${i + 1}`;
const wg1v4 = (i: number) => `198.18.111.${i + 1}`;
const wg1v6 = (i: number) => `fd00:111::${i + 1}`;

let lab: Lab;
let http: ReturnType<typeof Bun.spawn> | null = null;
const HTTP_PORT = 8080;
const psks: Record<string, string> = {};
const figures: Record<string, string> = {};

function tunnel(args: string[]): string {
  const p = Bun.spawnSync([tunnelBinary(), ...args], { stdout: "pipe", stderr: "pipe" });
  if (p.exitCode !== 0) throw new Error(`tunnel ${args.join(" ")}: ${p.stderr.toString()}`);
  return p.stdout.toString().trim();
}

function inventory(changed: boolean): string {
  const hostVars: Record<string, Record<string, unknown>> = {};
  NAMES.forEach((n, i) => {
    hostVars[n] = {
      tunnel_addresses: { wg0: [`${wg0v4(i)}/24`, `${wg0v6(i)}/64`], wg1: [`${wg1v4(i)}/24`, `${wg1v6(i)}/64`] },
      // c is reached over IPv6 outside the tunnel, and runs wg-quick@ through tunnel (the drop-in).
      ...(n === "c" ? { tunnel_endpoint: lab.vm("c").v6, tunnel_install_wg_quick_dropin: true } : {}),
      // a downloads the release archive; b and c get the controller's binary.
      ...(n === "a" ? { tunnel_release_base_url: `http://${lab.hostV4}:${HTTP_PORT}` } : { tunnel_binary_src: tunnelBinary() }),
      // The inventory change: a prefix behind spoke b on wg1 (only the hub's peer b changes).
      ...(changed && n === "b" ? { tunnel_routed_prefixes: { wg1: ["198.18.150.0/24"] } } : {}),
    };
  });
  return lab.ansibleInventory(
    {
      tunnel_interfaces: [
        { name: "wg0", listen_port: 51820, preshared_keys: true },
        // Spokes peer with the hub only; the hub's networks route spoke-to-spoke traffic through it.
        { name: "wg1", listen_port: 51821, topology: "hub", hubs: ["a"], networks: ["198.18.111.0/24", "fd00:111::/64"] },
      ],
      tunnel_preshared_keys: psks,
    },
    hostVars,
  );
}

/** play runs the role and keeps its time and slowest tasks for the figures. */
async function play(inv: string, what: string, extra: string[] = [], strategy: Strategy = "linear"): Promise<PlayResult> {
  const r = await playOn(lab, inv, extra, strategy);
  expectClean(r, what);
  figures[`${what}Seconds`] = r.seconds.toFixed(1);
  figures[`${what}Slowest`] = r.slowest(4).join("; ");
  return r;
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

describePrivileged(
  "deployment: the Ansible role and tunnel@.service on three Debian VMs",
  { root: true, commands: ["qemu-system-x86_64", "ansible-playbook", "ip"] },
  () => {
    beforeAll(async () => {
      tunnelBinary();
      for (const [x, y] of [
        ["a", "b"],
        ["a", "c"],
        ["b", "c"],
      ])
        psks[`wg0:${x}:${y}`] = tunnel(["genpsk"]);
      lab = await Lab.start({ vms: [...NAMES] });
      http = serveRelease(lab, HTTP_PORT);
    }, 900_000);
    afterAll(async () => {
      http?.kill("SIGKILL");
      await lab?.stop();
      console.log(`[deploy] figures: ${JSON.stringify(figures)}`);
    });

    test("the role deploys the mesh with Ansible's own strategy; systemd-analyze verify is clean and the exposure score is at most 3.0", async () => {
      const r = await play(inventory(false), "firstRun");
      for (const n of NAMES) expect(r.stats[n]!.changed).toBeGreaterThan(0);
      const a = vm("a");
      expect((await a.ssh("systemd-analyze verify /etc/systemd/system/tunnel@.service /etc/systemd/system/tunnel@wg0.service 2>&1")).stdout.trim()).toBe("");
      const sec = await a.sshOk("systemd-analyze security --no-pager tunnel@wg0.service");
      const score = Number(/Overall exposure level for tunnel@wg0\.service: ([0-9.]+)/.exec(sec)?.[1]);
      figures.exposureScore = String(score);
      expect(score).toBeLessThanOrEqual(3.0);
      // The unit installed is the one in the repository.
      expect(await a.sshOk("cat /etc/systemd/system/tunnel@.service")).toBe(`${(await Bun.file(UNIT).text()).trimEnd()}\n`);
      for (const n of NAMES) expect((await vm(n).sshOk("systemctl is-active tunnel@wg0 tunnel@wg1")).trim().split("\n")).toEqual(["active", "active"]);
      // The wg-quick@ drop-in only where asked for, and systemd has loaded it.
      expect((await vm("c").sshOk("systemctl show -P Environment wg-quick@wgq")).trim()).toContain("WG_QUICK_USERSPACE_IMPLEMENTATION=tunnel");
      expect((await vm("b").ssh("test -e /etc/systemd/system/wg-quick@.service.d/tunnel.conf")).code).not.toBe(0);
      expect((await a.sshOk("stat -c '%a %U' /etc/tunnel /etc/tunnel/wg0.key /etc/tunnel/wg0-b.psk")).trim().split("\n")).toEqual([
        "700 root",
        "600 root",
        "600 root",
      ]);
      // a installed the release archive over HTTP (checked against SHA256SUMS), the others the controller's file.
      expect((await a.sshOk("readlink /usr/local/bin/tunnel")).trim()).toMatch(/^\/opt\/tunnel-0\.1\.0-linux-x64(-baseline)?\/tunnel$/);
      expect(await a.sshOk("ls /opt")).toMatch(/tunnel-0\.1\.0-linux-x64(-baseline)?\.tar\.xz/);
      expect((await vm("b").sshOk("readlink /usr/local/bin/tunnel")).trim()).toMatch(/^\/opt\/tunnel-0\.1\.0-linux-x64(-baseline)?\/tunnel$/);
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
      const aPub = (await vm("a").sshOk("wg show wg0 public-key")).trim();
      expect((await vm("b").sshOk("wg show wg0 preshared-keys")).split("\n")).toContain(`${aPub}\t${psks["wg0:a:b"]}`);
    }, 180_000);

    test("hub-and-spoke on wg1: spokes have only the hub as peer and reach each other through it", async () => {
      const peers = await Promise.all(NAMES.map(async (n) => Number((await vm(n).sshOk("wg show wg1 peers | wc -l")).trim())));
      expect(peers).toEqual([2, 1, 1]);
      expect((await vm("a").sshOk("sysctl -n net.ipv4.ip_forward net.ipv6.conf.all.forwarding")).trim().split("\n")).toEqual(["1", "1"]);
      // b → c crosses a: the hub decrements the TTL (63, where a direct peer answers with 64), over IPv4 and IPv6.
      const out = await vm("b").sshOk(`for t in ${wg1v4(2)} ${wg1v6(2)}; do ping -c 2 -i 0.3 -W 3 $t || ping -c 3 -W 3 $t; done`, { timeoutMs: 90_000 });
      expect(out).toMatch(new RegExp(`from ${wg1v4(2).replaceAll(".", "\\.")}: icmp_seq=\\d+ ttl=63`));
      expect(out).toMatch(new RegExp(`from ${wg1v6(2)}: icmp_seq=\\d+ ttl=63`));
      expect(await vm("b").sshOk(`ping -c 1 -W 3 ${wg1v4(0)}`)).toContain("ttl=64");
      expect(await vm("b").sshOk(`ip route get ${wg1v4(2)}`)).toContain("dev wg1");
    }, 180_000);

    // Three plays, not four: the real run after the change doubles as the idempotence run, since
    // the change (a prefix behind spoke b on wg1) touches only the hub's config: b and c must
    // report changed=0 and a nothing but that file, its comparison and the reload.
    // The first deployment above runs on Ansible's own linear strategy, as users run the role;
    // these two run the same role, tasks and module code through Debian's ansible-mitogen, which
    // keeps one Python interpreter per host instead of starting one per module run: under
    // emulation that is about 35 s a play instead of 100-130 s.
    test("after an inventory change, --check --diff reports it, touches nothing and prints no key; the real run changes only that and reloads in place", async () => {
      const state = (n: Name) =>
        Promise.all([handshakes(n, "wg1"), mainPid(n, "wg1"), vm(n).sshOk("wg show wg1 allowed-ips"), vm(n).sshOk("sha256sum /etc/tunnel/wg1.toml")]).then(
          ([hs, pid, ips, file]) => ({ hs, pid, ips, file }),
        );
      const before = Object.fromEntries(await Promise.all(NAMES.map(async (n) => [n, await state(n)] as const)));
      const inv = inventory(true);
      const check = await play(inv, "checkRun", ["--check", "--diff"], "mitogen");
      const compare = check.task("Compare the running interfaces with their configs");
      const wg1 = compare.a!.results!.find((x) => x.tunnel_iface?.name === "wg1")!;
      expect(wg1.changed).toBe(true);
      expect(JSON.parse(wg1.stdout).changes).toEqual([
        expect.stringMatching(/^peer b: allowed IPs .* → .*198\.18\.150\.0\/24/),
        expect.stringContaining("198.18.150.0/24"),
      ]);
      expect(compare.a!.results!.find((x) => x.tunnel_iface?.name === "wg0")!.changed).toBe(false);
      expect([check.stats.b!.changed, check.stats.c!.changed]).toEqual([0, 0]);
      // Nothing touched: files, peers, sessions and processes as they were.
      for (const n of NAMES) expect(await state(n)).toEqual(before[n]!);
      // --diff shows the config change but never a key.
      expect(check.raw).toContain("198.18.150.0/24");
      for (const n of NAMES) expect(check.raw).not.toContain((await vm(n).sshOk("cat /etc/tunnel/wg0.key /etc/tunnel/wg1.key")).trim().split("\n")[0]);
      for (const k of Object.values(psks)) expect(check.raw).not.toContain(k);

      const real = await play(inv, "changedRun", [], "mitogen");
      // Idempotence: the hosts whose files did not change report nothing, and the hub only the change.
      expect([real.stats.b!.changed, real.stats.c!.changed]).toEqual([0, 0]);
      expect(real.changedTasks("a")).toEqual([
        "Write the interface configs",
        "Compare the running interfaces with their configs",
        "Reload changed tunnel interfaces",
      ]);
      const after = await state("a");
      expect(after.ips).toContain("198.18.150.0/24");
      // Reloaded in place: same process, and the sessions of both spokes (touched or not) kept.
      expect(after.pid).toBe(before.a!.pid);
      expect(after.hs).toEqual(before.a!.hs);
      expect(await vm("a").sshOk("ip route show 198.18.150.0/24")).toContain("dev wg1");
    }, 2_400_000);

    test("a reload applies an edited file in place (timed); a bad file fails the reload and leaves the interface untouched", async () => {
      const a = vm("a");
      const out = await a.sshOk(
        "cp /etc/tunnel/wg0.toml /root/wg0.toml.good && sed -i 's/^listen_port = 51820$/listen_port = 51820\\nmtu = 1400/' /etc/tunnel/wg0.toml && " +
          "t0=$(date +%s%N); systemctl reload tunnel@wg0; t1=$(date +%s%N); echo $(( (t1 - t0) / 1000000 )); ip -o link show wg0",
      );
      figures.reloadMs = out.split("\n")[0]!;
      expect(out).toContain("mtu 1400");
      const before = { hs: await handshakes("a"), dump: await a.sshOk("wg show wg0 dump | cut -f1-4"), pid: await mainPid("a") };
      const bad = await a.ssh("printf '[interface]\\nlisten_port = \"oops\"\\n' >> /etc/tunnel/wg0.toml && systemctl reload tunnel@wg0");
      expect(bad.code).not.toBe(0);
      expect(await a.sshOk("journalctl -u tunnel@wg0 -n 20 --no-pager")).toContain("/etc/tunnel/wg0.toml");
      expect((await a.sshOk("systemctl is-active tunnel@wg0")).trim()).toBe("active");
      expect(await a.sshOk("wg show wg0 dump | cut -f1-4")).toBe(before.dump);
      expect(await handshakes("a")).toEqual(before.hs);
      expect(await mainPid("a")).toBe(before.pid);
      await a.sshOk("cp /root/wg0.toml.good /etc/tunnel/wg0.toml && systemctl reload tunnel@wg0 && ip -o link show wg0 | grep -q 'mtu 1420'");
    }, 180_000);

    // Issue 10 asks for traffic within 5 s of the kill. Measured here under TCG on an idle
    // two-core host: 4.1 s (systemd notices and restarts in about 0.8 s; the rest is the new
    // daemon's start-up, traced with TUNNEL_TRACE_STARTUP=1). The bound leaves headroom for a
    // CI machine busy with other jobs; the figure is logged and kept in the README.
    test("kill -9 of a daemon: systemd restarts it and traffic flows again within 5 s", async () => {
      const b = vm("b");
      const pid = await mainPid("b");
      const n0 = await restarts("b");
      // Timed inside the VM by one process (outage-probe.py): from the kill to the first echo answered through the tunnel.
      const ms = Number((await b.sshOk(`python3 - ${pid} ${wg0v4(0)}`, { input: OUTAGE_PROBE, timeoutMs: 60_000 })).trim());
      figures.restartAfterKill9Ms = String(ms);
      expect(await restarts("b")).toBe(n0 + 1);
      expect(await mainPid("b")).not.toBe(pid);
      console.log(`deploy: kill -9 to the first answered ping through the tunnel: ${ms} ms (target 5000 ms)`);
      expect(ms).toBeGreaterThan(0);
      expect(ms).toBeLessThan(5_000);
      await b.sshOk(`ping -c 1 -W 3 ${wg0v6(2)} >/dev/null`);
    }, 120_000);

    test("the unit is active only once READY=1 says the file is applied; the daemon runs without BUN_OPTIONS/BUN_BE_BUN", async () => {
      const g = vm("c");
      // Samples `is-active` while starting: "activating" until READY=1, and at the first "active" the whole file is applied.
      const script = [
        "systemctl set-environment BUN_OPTIONS=--bogus-flag BUN_BE_BUN=1",
        "systemctl stop tunnel@wg0",
        "systemctl start --no-block tunnel@wg0",
        "seen=",
        "while :; do s=$(systemctl is-active tunnel@wg0); case $s in activating) seen=activating ;; active) break ;; failed) echo FAILED; exit 1 ;; esac; done",
        'echo "seen=$seen"',
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
      const a = vm("a");
      await a.sshOk(
        "mkdir -p /run/systemd/system/tunnel@wg0.service.d && printf '[Service]\\nWatchdogSec=3s\\nEnvironment=TUNNEL_TEST_WEDGE_ON_SIGUSR2=1\\n' > /run/systemd/system/tunnel@wg0.service.d/wedge-test.conf && systemctl daemon-reload && systemctl restart tunnel@wg0",
      );
      try {
        // Pets keep a healthy daemon alive well past WatchdogSec.
        const n0 = await restarts("a");
        const pid = await mainPid("a");
        await Bun.sleep(8000);
        expect(await restarts("a")).toBe(n0);
        expect(await mainPid("a")).toBe(pid);
        const ms = Number(
          (
            await a.sshOk(
              `t0=$(date +%s%N); systemctl kill -s SIGUSR2 --kill-whom=main tunnel@wg0; while [ "$(systemctl show -P NRestarts tunnel@wg0)" = "${n0}" ]; do sleep 0.2; done; until ping -c 1 -W 1 -q ${wg0v4(1)} >/dev/null 2>&1; do sleep 0.1; done; echo $(( ($(date +%s%N) - t0) / 1000000 ))`,
              { timeoutMs: 60_000 },
            )
          ).trim(),
        );
        figures.watchdogRestartMs = String(ms);
        expect(await restarts("a")).toBe(n0 + 1);
        expect(await a.sshOk("journalctl -u tunnel@wg0 --no-pager -n 50")).toContain("Watchdog timeout");
      } finally {
        await a.ssh("rm -rf /run/systemd/system/tunnel@wg0.service.d && systemctl daemon-reload && systemctl restart tunnel@wg0");
      }
    }, 120_000);

    test("systemctl stop removes the interface and its runtime files; the other instance keeps its own", async () => {
      const c = vm("c");
      // wg1 is the other instance: its files must survive wg0's stop (RuntimeDirectoryPreserve=).
      const out = await c.sshOk(
        "systemctl stop tunnel@wg0; ip link show wg0 >/dev/null 2>&1 && echo link-left; for f in /run/wireguard/wg0.sock /run/tunnel/wg0.sock /run/tunnel/wg0.applied.json; do [ -e $f ] && echo left:$f; done; " +
          "for f in /run/wireguard/wg1.sock /run/tunnel/wg1.sock; do [ -S $f ] || echo missing:$f; done; wg show wg1 peers | wc -l; systemctl is-active tunnel@wg1; true",
      );
      expect(out.trim().split("\n")).toEqual(["1", "active"]);
      // And a kill -9 leaves nothing behind either once systemd has stopped the unit (ExecStopPost=).
      const killed = await c.sshOk(
        "systemctl start tunnel@wg0 && kill -9 $(systemctl show -P MainPID tunnel@wg0) && systemctl stop tunnel@wg0; for f in /run/wireguard/wg0.sock /run/tunnel/wg0.sock /run/tunnel/wg0.applied.json; do [ -e $f ] && echo left:$f; done; ip link show wg0 >/dev/null 2>&1 && echo link-left; true",
      );
      expect(killed.trim()).toBe("");
    }, 120_000);

    // wg-quick only runs WG_QUICK_USERSPACE_IMPLEMENTATION when `ip link add type wireguard`
    // fails and /sys/module/wireguard does not exist (its add_if), so c is made a host
    // without the module; b keeps it and is the peer, with wg-quick on the kernel's WireGuard.
    test("wg-quick@wgq runs tunnel through the role's drop-in where the kernel has no WireGuard module, and passes traffic to a kernel peer", async () => {
      const [b, c] = [vm("b"), vm("c")];
      await c.sshOk(
        "printf 'install wireguard /bin/false\\n' > /etc/modprobe.d/lab-no-wireguard.conf && { rmmod wireguard 2>/dev/null; true; } && " +
          "! ip link add wgprobe type wireguard 2>/dev/null && [ ! -e /sys/module/wireguard ]",
      );
      const keys = await Promise.all(
        [b, c].map(async (v) => (await v.sshOk("k=$(wg genkey); echo $k; echo $k | wg pubkey")).trim().split("\n") as [string, string]),
      );
      const conf = (me: number, peer: number, endpoint: string) =>
        `[Interface]\nPrivateKey = ${keys[me]![0]}\nAddress = 198.18.112.${me + 2}/24\nListenPort = 51830\n\n[Peer]\nPublicKey = ${keys[peer]![1]}\nAllowedIPs = 198.18.112.${peer + 2}/32\nEndpoint = ${endpoint}:51830\n`;
      await b.sshOk("umask 077 && cat > /etc/wireguard/wgq.conf && systemctl start wg-quick@wgq", { input: conf(0, 1, c.v4) });
      try {
        await c.sshOk("umask 077 && cat > /etc/wireguard/wgq.conf && systemctl start wg-quick@wgq", { input: conf(1, 0, b.v4) });
        const out = await c.sshOk(
          "ping -c 2 -i 0.3 -W 3 198.18.112.2 >/dev/null || ping -c 3 -W 3 198.18.112.2 >/dev/null; " +
            "ip -d -o link show wgq | grep -q ' tun type tun ' && echo tun; ss -Hxlp | grep /run/wireguard/wgq.sock | grep -o 'users:((\"tunnel\"' | sort -u; " +
            "journalctl -u wg-quick@wgq --no-pager | grep -c 'Falling back to slow userspace implementation'",
          { timeoutMs: 90_000 },
        );
        expect(out.trim().split("\n")).toEqual(["tun", 'users:(("tunnel"', "1"]);
        expect(await b.sshOk("ip -d -o link show wgq")).toContain("wireguard");
        expect(Number((await b.sshOk("wg show wgq latest-handshakes")).trim().split("\t")[1])).toBeGreaterThan(0);
        // Stopping the unit takes the interface and the daemon away (wg-quick down deletes the link).
        expect(
          (
            await c.sshOk(
              "systemctl stop wg-quick@wgq; ip link show wgq >/dev/null 2>&1 && echo link-left; [ -e /run/wireguard/wgq.sock ] && echo sock-left; true",
            )
          ).trim(),
        ).toBe("");
      } finally {
        await c.ssh("systemctl stop wg-quick@wgq; rm -f /etc/modprobe.d/lab-no-wireguard.conf");
        await b.ssh("systemctl stop wg-quick@wgq");
      }
    }, 180_000);
  },
);
