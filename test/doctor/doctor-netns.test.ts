// `tunnel doctor` (the compiled binary) provoked into real findings:
//   1. an nft rule dropping the listen port inside a namespace, and a stale
//      UAPI socket (a listener killed with SIGKILL) in a private /run/wireguard;
//      removing both makes the errors go away.
//   2. a gateway namespace (forwarding on) whose default route's device has
//      rx-udp-gro-forwarding off, until the ethtool command doctor prints runs.
//   3. run as nobody without capabilities: the socket buffers the kernel
//      grants (capped by net.core.rmem_max/wmem_max) against the 7 MiB wanted.
//   4. a router namespace whose far link has MTU 1400, between two `tunnel up`
//      interfaces of MTU 1420: doctor measures the path MTU with DF pings and
//      suggests the interface MTU that fits.
// Every namespace and mount is private to the test; nothing touches the host's
// /run/wireguard or firewall.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Finding } from "../../src/cli/doctor/finding.ts";
import { tunnelBinary } from "../support/binary.ts";
import { Netns, removeStale } from "../support/netns.ts";
import { describePrivileged } from "../support/privileges.ts";
import { down, keyPair, TAG, tomlConfig, up, writeConfig } from "../e2e/harness.ts";

interface DoctorJson {
  exitCode: number;
  findings: Finding[];
}

const PREFIX = "tdr";

/** doctorIn runs `tunnel doctor ARGS --json` in ns with private, empty /run/wireguard and /run/tunnel; pre runs first (sh). */
function doctorIn(bin: string, ns: Netns, args: string[], pre = ""): { code: number | null; doc: DoctorJson; stderr: string } {
  const script = `set -e
mkdir -p /run/wireguard /run/tunnel
mount -t tmpfs tdoctor /run/wireguard
mount -t tmpfs tdoctor /run/tunnel
${pre}
exec "$@"`;
  const p = Bun.spawnSync(
    [
      "ip",
      "netns",
      "exec",
      ns.name,
      "unshare",
      "--mount",
      "--propagation",
      "private",
      "sh",
      "-c",
      script,
      "sh",
      "env",
      "NO_COLOR=1",
      bin,
      "doctor",
      ...args,
      "--json",
    ],
    { stdout: "pipe", stderr: "pipe" },
  );
  const stdout = p.stdout.toString();
  if (!stdout.trim().startsWith("{")) throw new Error(`doctor printed no JSON (exit ${p.exitCode}): ${stdout}${p.stderr.toString()}`);
  return { code: p.exitCode, doc: JSON.parse(stdout) as DoctorJson, stderr: p.stderr.toString() };
}

/** doctorShared runs doctor in ns against the shared run directories (to see `tunnel up` interfaces). */
function doctorShared(bin: string, ns: Netns, args: string[]): DoctorJson {
  const p = Bun.spawnSync(["ip", "netns", "exec", ns.name, "env", "NO_COLOR=1", bin, "doctor", ...args, "--json"], { stdout: "pipe", stderr: "pipe" });
  return JSON.parse(p.stdout.toString()) as DoctorJson;
}

const errors = (d: DoctorJson) => d.findings.filter((f) => f.level === "error");

describePrivileged("tunnel doctor on real namespaces", { root: true, commands: ["ip", "nft", "unshare", "ping", "setpriv", "ethtool"] }, () => {
  let bin = "";
  beforeAll(() => {
    bin = tunnelBinary();
    removeStale(PREFIX);
  }, 60_000);

  describe("firewall and stale socket", () => {
    let ns: Netns;
    beforeAll(() => {
      ns = Netns.create(PREFIX, "fw");
    });
    afterAll(() => ns?.delete());

    test("an nft rule dropping the port and a dead daemon's socket are errors (exit 2); without them, none", () => {
      const port = "51830";
      ns.exec(["nft", "-f", "-"], {
        input: `table inet tdoc {\n  chain input {\n    type filter hook input priority 0; policy accept;\n    udp dport ${port} counter drop\n  }\n}\n`,
      });
      // A listener killed with SIGKILL leaves its socket file behind, as a crashed daemon does.
      const stale = `"${process.execPath}" -e 'require("net").createServer().listen("/run/wireguard/tdstale.sock", () => console.log("up"))' > /tmp/tdoctor-${TAG}.out &
pid=$!
for i in $(seq 50); do [ -S /run/wireguard/tdstale.sock ] && break; sleep 0.1; done
kill -9 $pid; wait $pid 2>/dev/null || true`;
      const broken = doctorIn(bin, ns, ["--port", port], stale);
      rmSync(`/tmp/tdoctor-${TAG}.out`, { force: true });
      console.log(
        errors(broken.doc)
          .map((f) => `${f.check}: ${f.summary} | fix: ${f.fix}`)
          .join("\n"),
      );
      expect(broken.code).toBe(2);
      expect(broken.doc.exitCode).toBe(2);
      expect(broken.stderr).toContain("something is broken");
      const fw = broken.doc.findings.find((f) => f.check === "firewall" && f.level === "error")!;
      expect(fw.summary).toContain(`UDP port ${port} is dropped by nft inet tdoc input`);
      expect(fw.fix).toBe(`nft insert rule inet tdoc input udp dport ${port} accept`);
      const sock = broken.doc.findings.find((f) => f.check === "stale-socket" && f.level === "error")!;
      expect(sock.summary).toContain("/var/run/wireguard/tdstale.sock");
      expect(sock.fix).toBe("rm /var/run/wireguard/tdstale.sock");

      // Apply the fix doctor printed, and start from an empty run directory.
      ns.exec(["sh", "-c", fw.fix!]);
      const fixed = doctorIn(bin, ns, ["--port", port]);
      expect(errors(fixed.doc)).toEqual([]);
      expect(fixed.doc.findings.find((f) => f.check === "firewall")!.level).toBe("ok");
      expect(fixed.doc.findings.find((f) => f.check === "stale-socket")!.level).toBe("ok");
      // The scratch TUN and sockets were checked for real inside the namespace.
      expect(fixed.doc.findings.find((f) => f.check === "tun-offload")!.level).toBe("ok");
      expect(fixed.doc.findings.filter((f) => f.check === "udp-offload").length).toBeGreaterThan(0);
      expect(fixed.code).toBe(fixed.doc.exitCode);
    }, 30_000);
  });

  test("a gateway (forwarding on) whose default-route device lacks rx-udp-gro-forwarding: a warning until the printed ethtool command runs", () => {
    const ns = Netns.create(PREFIX, "gw");
    try {
      ns.ip("link", "add", "v0", "type", "veth", "peer", "name", "v1");
      ns.ip("link", "set", "v0", "up");
      ns.ip("link", "set", "v1", "up");
      ns.ip("addr", "add", "198.19.70.1/24", "dev", "v0");
      ns.ip("route", "add", "default", "via", "198.19.70.2");
      const before = doctorIn(bin, ns, [], "sysctl -qw net.ipv4.ip_forward=1").doc.findings.find((f) => f.check === "udp-gro-forwarding")!;
      expect(before.level).toBe("warn");
      expect(before.fix).toBe("ethtool -K v0 rx-udp-gro-forwarding on rx-gro-list off");
      ns.exec(["sh", "-c", before.fix!]);
      const after = doctorIn(bin, ns, []).doc.findings.find((f) => f.check === "udp-gro-forwarding")!;
      expect(after.level).toBe("ok");
      expect(after.summary).toBe("gateway: v0 has rx-udp-gro-forwarding on");
    } finally {
      ns.delete();
    }
  }, 30_000);

  test("unprivileged (setpriv to nobody, no capabilities): buffers capped at rmem_max are measured, TUN is only info", () => {
    const rmemMax = Number(readFileSync("/proc/sys/net/core/rmem_max", "utf8"));
    const wmemMax = Number(readFileSync("/proc/sys/net/core/wmem_max", "utf8"));
    const p = Bun.spawnSync(
      [
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "--inh-caps=-all",
        "--bounding-set=-all",
        "env",
        "HOME=/tmp",
        "NO_COLOR=1",
        bin,
        "doctor",
        "--json",
      ],
      { stdout: "pipe", stderr: "pipe" },
    );
    const d = JSON.parse(p.stdout.toString()) as DoctorJson;
    expect(d.findings.find((f) => f.check === "tun-offload")!.level).toBe("info");
    const buf = d.findings.find((f) => f.check === "socket-buffers")!;
    const want = 7 << 20;
    console.log(`rmem_max ${rmemMax}, wmem_max ${wmemMax}: ${buf.level} ${buf.summary}`);
    if (Math.min(rmemMax, wmemMax) >= want) {
      expect(buf.level).toBe("ok");
    } else {
      // What the kernel granted is what the sysctls allow: doctor read it back, not assumed it.
      const granted = Math.min(rmemMax, wmemMax);
      expect(buf.level).toBe("warn");
      expect(buf.summary).toContain(`get ${(granted / (1 << 20)).toFixed(granted % (1 << 20) === 0 ? 0 : 2)} MiB of the 7 MiB`);
      expect(buf.fix).toContain("sysctl -w net.core.rmem_max=7340032 net.core.wmem_max=7340032");
      expect(d.findings.find((f) => f.check === "socket-buffers-force")!.level).toBe("info");
      expect(p.exitCode).toBeGreaterThanOrEqual(1);
    }
  }, 20_000);

  describe("path MTU through a router with a 1400-byte link", () => {
    const A = `tda${TAG}`;
    const B = `tdb${TAG}`;
    let nsA: Netns;
    let nsR: Netns;
    let nsB: Netns;
    let dir = "";
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), "tunnel-doctor-"));
      nsA = Netns.create(PREFIX, "a");
      nsR = Netns.create(PREFIX, "r");
      nsB = Netns.create(PREFIX, "b");
      nsA.vethTo(nsR, "veth-a", "198.19.40.1/24", "veth-ra", "198.19.40.2/24");
      nsR.vethTo(nsB, "veth-rb", "198.19.41.1/24", "veth-b", "198.19.41.2/24");
      nsR.ip("link", "set", "veth-rb", "mtu", "1400");
      nsB.ip("link", "set", "veth-b", "mtu", "1400");
      nsR.exec(["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
      nsA.ip("route", "add", "198.19.41.0/24", "via", "198.19.40.2");
      nsB.ip("route", "add", "198.19.40.0/24", "via", "198.19.41.1");
      const ka = keyPair();
      const kb = keyPair();
      up(
        bin,
        nsA,
        writeConfig(dir, A, tomlConfig(A, ka.priv, 51840, ["198.18.40.1/24"], [{ pub: kb.pub, allowed: ["198.18.40.2/32"], endpoint: "198.19.41.2:51841" }])),
      );
      up(
        bin,
        nsB,
        writeConfig(dir, B, tomlConfig(B, kb.priv, 51841, ["198.18.40.2/24"], [{ pub: ka.pub, allowed: ["198.18.40.1/32"], endpoint: "198.19.40.1:51840" }])),
      );
    }, 30_000);
    afterAll(() => {
      down(bin, nsA, A);
      down(bin, nsB, B);
      for (const ns of [nsA, nsR, nsB]) ns?.delete();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    test("doctor measures the 1400-byte path and suggests mtu 1340; the egress itself is fine", () => {
      const t = performance.now();
      const d = doctorShared(bin, nsA, [A]);
      const ms = performance.now() - t;
      const path = d.findings.find((f) => f.check === "path-mtu")!;
      console.log(`doctor ${A}: ${Math.round(ms)} ms; ${path.summary} | fix: ${path.fix}`);
      expect(path.level).toBe("warn");
      expect(path.summary).toContain("path MTU 1400 is below the 1480 bytes");
      expect(path.fix).toStartWith("set mtu = 1340 in the [interface] table");
      // The daemon's own view is reported too, and the listen port was checked.
      expect(d.findings.some((f) => f.check === "interface" && f.summary.startsWith(`${A}:`))).toBe(true);
      expect(d.findings.some((f) => f.check === "firewall" && f.summary.includes("51840"))).toBe(true);
      // Bounded: a handful of one-second pings at most.
      expect(ms).toBeLessThan(15_000);
      // From B the path back is the same 1400-byte link, but B's own egress is already 1400: no ping needed.
      const fromB = doctorShared(bin, nsB, [B]).findings.find((f) => f.check === "path-mtu")!;
      expect(fromB.summary).toContain("egress veth-b has MTU 1400, but a full 1420-byte tunnel packet needs 1480");
      expect(fromB.fix).toContain("mtu = 1340");
    }, 30_000);
  });
});
