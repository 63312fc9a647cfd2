// wg-quick parity, tested against wg-quick itself: the same wg-quick file is
// brought up by wg-quick (with our binary as WG_QUICK_USERSPACE_IMPLEMENTATION)
// and, after `tunnel convert`, by `tunnel up`; addresses, routes in every
// table, rules, MTU, /etc/resolv.conf (through the real openresolv) and the
// hooks' traces must come out the same, and `down` must leave what wg-quick
// leaves. Everything that touches DNS runs inside `ip netns exec`, whose
// private mount namespace gets a temp resolv.conf and resolvconf state
// directory bind-mounted over the real ones, so the host's DNS is never touched.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { tunnelBinary } from "../support/binary.ts";
import { Netns, removeStale, run } from "../support/netns.ts";
import { describePrivileged } from "../support/privileges.ts";

// Real processes on 2 shared cores: the default 5 s is too short (bunfig's [test] timeout is not applied to hooks).
setDefaultTimeout(120_000);

const PREFIX = "tpar";
const TAG = String(process.pid % 100000);
const IF = `tpq${TAG}`;
const ORIGINAL_RESOLV = "# sandbox resolv.conf\nnameserver 198.18.99.1\n";
let dir = "";
let bin = "";
let nsA: Netns;
let nsB: Netns;
const keys = { a: "", pubB: "" };

/** inSandbox runs argv in namespace A with the temp resolv.conf and resolvconf state mounted over the real ones. */
function inSandbox(argv: string[], env: Record<string, string> = {}) {
  const binDir = bin.slice(0, bin.lastIndexOf("/"));
  const vars = { NO_COLOR: "1", PATH: `${binDir}:/usr/sbin:/usr/bin:/sbin:/bin`, WG_QUICK_USERSPACE_IMPLEMENTATION: "tunnel", ...env };
  const script = `mount --bind "$SANDBOX/resolvconf-run" /run/resolvconf && mount --bind "$SANDBOX/resolv.conf" /etc/resolv.conf && exec "$@"`;
  const p = Bun.spawnSync(
    ["ip", "netns", "exec", nsA.name, "env", ...Object.entries({ ...vars, SANDBOX: dir }).map(([k, v]) => `${k}=${v}`), "sh", "-c", script, "sh", ...argv],
    { stdout: "pipe", stderr: "pipe" },
  );
  return { code: p.exitCode ?? `signal ${p.signalCode}`, stdout: p.stdout.toString(), stderr: p.stderr.toString() };
}

function must(r: { code: number | string; stdout: string; stderr: string }, what: string) {
  if (r.code !== 0) throw new Error(`${what} failed (${r.code}): ${r.stderr}`);
  return r;
}

const resolvConf = () => readFileSync(join(dir, "resolv.conf"), "utf8");
const hookLog = () => (existsSync(join(dir, "hooks.log")) ? readFileSync(join(dir, "hooks.log"), "utf8") : "");

/** snapshot is what both tools set up, normalized (no kernel-chosen link-local addresses, no local table). */
function snapshot() {
  const lines = (text: string) =>
    text
      .trim()
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l !== "" && !l.includes("table local") && !l.includes("fe80::") && !/^(multicast|local|broadcast|anycast) /.test(l));
  return {
    addresses: [...nsA.ip("address", "show", "dev", IF).matchAll(/inet6? (\S+)/g)].map((m) => m[1]!).filter((a) => !a.startsWith("fe80:")),
    mtu: /mtu (\d+)/.exec(nsA.ip("link", "show", "dev", IF))?.[1],
    routes4: lines(nsA.ip("-4", "route", "show", "table", "all", "dev", IF)).sort(),
    routes6: lines(nsA.ip("-6", "route", "show", "table", "all", "dev", IF)).sort(),
    rules4: lines(nsA.ip("-4", "rule", "show")),
    rules6: lines(nsA.ip("-6", "rule", "show")),
    resolv: resolvConf(),
  };
}

function wgQuickConf(table: string): string {
  const log = join(dir, "hooks.log");
  return `[Interface]
PrivateKey = ${keys.a}
ListenPort = 51840
Address = 198.18.7.1/24, fd00:7::1/64
DNS = 198.18.7.53, fd00:7::53, corp.example, lab.example
${table}
PreUp = echo "pre_up %i" >> ${log}
PostUp = echo "post_up %i $(ip -br link show dev %i | cut -d' ' -f1)" >> ${log}
PostUp = echo "post_up 2" >> ${log}
PreDown = echo "pre_down %i" >> ${log}
PostDown = echo "post_down %i" >> ${log}

[Peer]
PublicKey = ${keys.pubB}
Endpoint = 198.19.7.2:51841
AllowedIPs = 198.18.7.2/32, 198.18.70.0/24, fd00:70::/64${table.includes("auto") ? "" : ", 0.0.0.0/0"}
`;
}

describePrivileged(
  "wg-quick parity: DNS, Table, hooks (real wg-quick, real openresolv, namespaces)",
  { root: true, commands: ["ip", "wg", "wg-quick", "resolvconf", "bash"] },
  () => {
    beforeAll(() => {
      bin = tunnelBinary();
      removeStale(PREFIX);
      dir = mkdtempSync(join(tmpdir(), "tunnel-parity-"));
      mkdirSync(join(dir, "resolvconf-run"));
      // The mount point for the sandboxed resolvconf state; an empty directory, never written outside the sandbox.
      mkdirSync("/run/resolvconf", { recursive: true });
      nsA = Netns.create(PREFIX, "a");
      nsB = Netns.create(PREFIX, "b");
      nsA.vethTo(nsB, "veth-a", "198.19.7.1/24", "veth-b", "198.19.7.2/24");
      keys.a = run([bin, "genkey"]).trim();
      keys.pubB = run([bin, "pubkey"], { input: run([bin, "genkey"]).trim() }).trim();
    });
    afterAll(() => {
      if (nsA) {
        inSandbox([bin, "down", IF]);
        Bun.spawnSync(["ip", "-n", nsA.name, "link", "delete", IF], { stderr: "ignore" });
      }
      nsA?.delete();
      nsB?.delete();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    const reset = () => {
      writeFileSync(join(dir, "resolv.conf"), ORIGINAL_RESOLV);
      writeFileSync(join(dir, "hooks.log"), "");
    };

    test.each([["Table = 7007"], ["Table = off"], ["Table = auto"]])(
      "%s: convert + tunnel up/down does what wg-quick up/down does",
      (table) => {
        reset();
        const conf = join(dir, `${IF}.conf`);
        writeFileSync(conf, wgQuickConf(table), { mode: 0o600 });

        must(inSandbox(["wg-quick", "up", conf]), "wg-quick up");
        const byWgQuick = snapshot();
        const wgQuickUpHooks = hookLog();
        must(inSandbox(["wg-quick", "down", conf]), "wg-quick down");
        const afterWgQuick = { resolv: resolvConf(), hooks: hookLog(), rules4: nsA.ip("-4", "rule", "show") };
        expect(byWgQuick.resolv).toContain("nameserver 198.18.7.53");
        expect(byWgQuick.resolv).toContain("search corp.example lab.example");

        reset();
        const tomlPath = join(dir, `${IF}.toml`);
        must(inSandbox([bin, "convert", conf, "-o", tomlPath, "--force"]), "tunnel convert");
        const up = must(inSandbox([bin, "up", tomlPath, "--json"]), "tunnel up");
        const byTunnel = snapshot();
        expect(byTunnel.addresses).toEqual(["198.18.7.1/24", "fd00:7::1/64"]);
        expect(byTunnel).toEqual(byWgQuick);
        expect(hookLog()).toBe(wgQuickUpHooks);
        expect(hookLog()).toBe(`pre_up ${IF}\npost_up ${IF} ${IF}\npost_up 2\n`);
        expect((JSON.parse(up.stdout) as { changes: string[] }).changes).toContain(
          "dns 198.18.7.53, fd00::7:53, search corp.example lab.example set (resolvconf)".replace("fd00::7:53", "fd00:7::53"),
        );

        // Re-applying the unchanged file runs no hook and changes nothing.
        const again = must(inSandbox([bin, "up", tomlPath, "--json"]), "tunnel up again");
        expect(JSON.parse(again.stdout)).toEqual({ interface: IF, changed: false, changes: [] });
        expect(hookLog()).toBe(wgQuickUpHooks);

        must(inSandbox([bin, "down", IF]), "tunnel down");
        expect({ resolv: resolvConf(), hooks: hookLog(), rules4: nsA.ip("-4", "rule", "show") }).toEqual(afterWgQuick);
      },
      60_000,
    );

    const tomlOf = (extra: string) => {
      const log = join(dir, "hooks.log");
      const path = join(dir, `${IF}.toml`);
      writeFileSync(
        path,
        `[interface]\nname = "${IF}"\nprivate_key = "${keys.a}"\naddress = ["198.18.7.1/24"]\ndns = ["198.18.7.53"]\n` +
          `post_up = ["echo post_up %i >> ${log}"]\npre_down = ["echo pre_down %i >> ${log}"]\n${extra}\n` +
          `[[peer]]\npublic_key = "${keys.pubB}"\nendpoint = "198.19.7.2:51841"\nallowed_ips = ["198.18.70.0/24"]\n`,
        { mode: 0o600 },
      );
      return path;
    };
    const linkExists = () => Bun.spawnSync(["ip", "-n", nsA.name, "link", "show", IF], { stdout: "ignore", stderr: "ignore" }).exitCode === 0;

    test("a failing pre_up aborts before anything is touched: no link, no DNS, no later hook, no record", () => {
      reset();
      const path = tomlOf(`pre_up = ["echo pre_up >> ${join(dir, "hooks.log")}", "exit 3", "echo never >> ${join(dir, "hooks.log")}"]`);
      const r = inSandbox([bin, "up", path]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`${IF}: pre_up hook failed with exit 3: exit 3`);
      expect(linkExists()).toBe(false);
      expect(resolvConf()).toBe(ORIGINAL_RESOLV);
      expect(hookLog()).toBe("pre_up\n");
      expect(existsSync(`/var/run/tunnel/${IF}.wgquick.json`)).toBe(false);
    });

    test("a failing post_up takes the new interface down again, DNS included (wg-quick's trap)", () => {
      reset();
      const path = tomlOf("");
      writeFileSync(path, readFileSync(path, "utf8").replace(`post_up = ["echo post_up %i >> ${join(dir, "hooks.log")}"]`, `post_up = ["exit 4"]`), {
        mode: 0o600,
      });
      const failed = inSandbox([bin, "up", path]);
      expect(failed.code).toBe(1);
      expect(failed.stderr).toContain("post_up hook failed with exit 4");
      expect(linkExists()).toBe(false);
      expect(resolvConf()).toBe(ORIGINAL_RESOLV);
      expect(hookLog()).toBe(""); // No down hooks: wg-quick's del_if runs none either.
    });

    test("a changed hook is reported and recorded, not run; down runs the new one", () => {
      reset();
      const path = tomlOf("");
      writeFileSync(path, readFileSync(path, "utf8").replace(`post_up = [`, `post_up = ["echo hook-output-on-stdout", `), { mode: 0o600 });
      const first = must(inSandbox([bin, "up", path, "--json"]), "up");
      // A hook's stdout goes to stderr: --json stays parseable.
      expect(JSON.parse(first.stdout)).toMatchObject({ interface: IF, changed: true });
      expect(first.stderr).toContain("hook-output-on-stdout");
      expect(hookLog()).toBe(`post_up ${IF}\n`);
      writeFileSync(path, readFileSync(path, "utf8").replace("echo pre_down %i", "echo new_pre_down %i"), { mode: 0o600 });
      const r = must(inSandbox([bin, "up", path, "--json"]), "up again");
      expect(JSON.parse(r.stdout)).toEqual({
        interface: IF,
        changed: true,
        changes: [`pre_down changed: echo new_pre_down %i >> ${join(dir, "hooks.log")} (takes effect when the interface is next created or removed)`],
      });
      expect(hookLog()).toBe(`post_up ${IF}\n`);
      must(inSandbox([bin, "down", IF]), "down");
      expect(hookLog()).toBe(`post_up ${IF}\nnew_pre_down ${IF}\n`);
    });

    test("after a crash (the link vanished without down) the DNS it set is removed by the next down, or the next up", () => {
      for (const repairWith of ["down", "up"] as const) {
        reset();
        const path = tomlOf("");
        must(inSandbox([bin, "up", path]), "up");
        expect(resolvConf()).toContain("nameserver 198.18.7.53");
        // The crash: the TUN goes away under the daemon, no `down` runs.
        nsA.ip("link", "delete", IF);
        for (let i = 0; i < 50 && existsSync(`/var/run/wireguard/${IF}.sock`); i++) Bun.sleepSync(100);
        expect(resolvConf()).toContain("nameserver 198.18.7.53");
        if (repairWith === "down") {
          const r = must(inSandbox([bin, "down", IF, "--json"]), "down after crash");
          expect(JSON.parse(r.stdout)).toEqual({ interface: IF, changed: true });
          expect(resolvConf()).not.toContain("198.18.7.53");
        } else {
          const r = must(inSandbox([bin, "up", path, "--json"]), "up after crash");
          expect((JSON.parse(r.stdout) as { changes: string[] }).changes[0]).toBe(
            "dns 198.18.7.53 removed (resolvconf) (left by an earlier run that did not go down cleanly)",
          );
          expect(resolvConf()).toContain("nameserver 198.18.7.53");
          must(inSandbox([bin, "down", IF]), "down");
          expect(resolvConf()).not.toContain("198.18.7.53");
        }
      }
    });
  },
);
