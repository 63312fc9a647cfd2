// Endpoints given as host names follow DNS, with a resolver we control: the
// daemon of A runs in a private mount namespace (`ip netns exec`) where a
// temp file is bind-mounted over /etc/hosts, so rewriting that file changes
// what the name resolves to for A alone. Proves: the name resolves to an
// address and status shows both; after the record changes and the old
// address stops answering, the endpoint moves once handshakes fail; a peer
// that roamed to a working address is not pulled back to what DNS says.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { tunnelBinary } from "../support/binary.ts";
import { Netns, ping, pingUntil, removeStale, run } from "../support/netns.ts";
import { describePrivileged } from "../support/privileges.ts";

setDefaultTimeout(180_000);

const PREFIX = "tdns";
const TAG = String(process.pid % 100000);
const A = `tda${TAG}`;
const B = `tdb${TAG}`;
const NAME = "peer-b.tunnel.test";
let dir = "";
let bin = "";
let nsA: Netns;
let nsB: Netns;
const keys = { a: "", b: "", pubA: "", pubB: "" };

function setHosts(address: string): void {
  // Rewritten in place: the bind mount follows the inode, a rename would not be seen.
  writeFileSync(join(dir, "hosts"), `127.0.0.1 localhost\n${address} ${NAME}\n`);
}

function tunnelInA(args: string[]) {
  const script = `mount --bind "${join(dir, "hosts")}" /etc/hosts && exec "$@"`;
  const p = Bun.spawnSync(["ip", "netns", "exec", nsA.name, "env", "NO_COLOR=1", "sh", "-c", script, "sh", bin, ...args], { stdout: "pipe", stderr: "pipe" });
  if (p.exitCode !== 0) throw new Error(`tunnel ${args.join(" ")} in A: ${p.stderr.toString()}`);
  return p.stdout.toString();
}

function tunnelInB(args: string[]) {
  return run(["ip", "netns", "exec", nsB.name, "env", "NO_COLOR=1", bin, ...args]);
}

function configA(extra = ""): string {
  const path = join(dir, `${A}.toml`);
  writeFileSync(
    path,
    `[interface]\nname = "${A}"\nprivate_key = "${keys.a}"\nlisten_port = 51850\naddress = ["198.18.8.1/24"]\n${extra}\n` +
      `[[peer]]\npublic_key = "${keys.pubB}"\nendpoint = "${NAME}:51851"\nallowed_ips = ["198.18.8.2/32"]\n`,
    { mode: 0o600 },
  );
  return path;
}

/** configB: passive, B only answers (no endpoint, no keepalive), so it never roams A by itself; active, it handshakes to A every second. */
function configB(active: boolean): string {
  const path = join(dir, `${B}.toml`);
  writeFileSync(
    path,
    `[interface]\nname = "${B}"\nprivate_key = "${keys.b}"\nlisten_port = 51851\naddress = ["198.18.8.2/24"]\n\n` +
      `[[peer]]\npublic_key = "${keys.pubA}"\nallowed_ips = ["198.18.8.1/32"]\n` +
      (active ? `endpoint = "198.19.8.1:51850"\npersistent_keepalive = 1\n` : ""),
    { mode: 0o600 },
  );
  return path;
}

function peerOfA(): { endpoint: string | null; endpointName?: string } {
  const s = JSON.parse(tunnelInA(["status", A, "--json"])) as { peers: { endpoint: string | null; endpointName?: string }[] };
  return s.peers[0]!;
}

async function waitForEndpoint(want: string, deadlineMs: number): Promise<number> {
  const start = Date.now();
  while (Date.now() - start < deadlineMs) {
    if (peerOfA().endpoint === want) return Date.now() - start;
    await Bun.sleep(500);
  }
  throw new Error(`A's endpoint is still ${peerOfA().endpoint}, not ${want}, after ${deadlineMs / 1000} s`);
}

describePrivileged("endpoints given as host names follow DNS (two namespaces, /etc/hosts we control)", { root: true, commands: ["ip", "sysctl"] }, () => {
  beforeAll(() => {
    bin = tunnelBinary();
    removeStale(PREFIX);
    dir = mkdtempSync(join(tmpdir(), "tunnel-dns-follow-"));
    nsA = Netns.create(PREFIX, "a");
    nsB = Netns.create(PREFIX, "b");
    nsA.vethTo(nsB, "veth-a", "198.19.8.1/24", "veth-b", "198.19.8.2/24");
    // B's second address survives the removal of the first (it would go with it as a secondary otherwise).
    nsB.exec(["sysctl", "-q", "-w", "net.ipv4.conf.veth-b.promote_secondaries=1"]);
    nsB.ip("address", "add", "198.19.8.3/24", "dev", "veth-b");
    nsB.ip("address", "add", "198.19.8.4/24", "dev", "veth-b");
    for (const k of ["a", "b"] as const) keys[k] = run([bin, "genkey"]).trim();
    keys.pubA = run([bin, "pubkey"], { input: keys.a }).trim();
    keys.pubB = run([bin, "pubkey"], { input: keys.b }).trim();
  });
  afterAll(() => {
    for (const [ns, name] of [
      [nsA, A],
      [nsB, B],
    ] as const) {
      if (!ns) continue;
      Bun.spawnSync(["ip", "netns", "exec", ns.name, bin, "down", name], { stdout: "ignore", stderr: "ignore" });
      Bun.spawnSync(["ip", "-n", ns.name, "link", "delete", name], { stderr: "ignore" });
    }
    nsA?.delete();
    nsB?.delete();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("the name resolves to an address; status shows both", async () => {
    setHosts("198.19.8.2");
    tunnelInB(["up", configB(false)]);
    tunnelInA(["up", configA()]);
    await pingUntil(nsA, "198.18.8.2");
    expect(peerOfA()).toMatchObject({ endpoint: "198.19.8.2:51851", endpointName: `${NAME}:51851` });
    expect(tunnelInA(["status", A])).toContain(`endpoint: 198.19.8.2:51851 (${NAME}:51851)`);
  });

  test("the record changes and the old address goes away: the endpoint moves once handshakes fail", async () => {
    // Traffic through the tunnel, answered by B: A hears from B all the time.
    const pinger = Bun.spawn(["ip", "netns", "exec", nsA.name, "ping", "-q", "-i", "0.5", "198.18.8.2"], { stdout: "ignore", stderr: "ignore" });
    try {
      await Bun.sleep(3000);
      // The server moves: the record changes and the old address goes away.
      setHosts("198.19.8.3");
      // B's answers must leave from .3 once .2 is gone; without this the kernel could pick .4.
      nsB.ip("route", "replace", "198.19.8.1/32", "dev", "veth-b", "src", "198.19.8.3");
      nsB.ip("address", "del", "198.19.8.2/24", "dev", "veth-b");
      const tookMs = await waitForEndpoint("198.19.8.3:51851", 90_000);
      // Not before the peer has been silent for KEEPALIVE+REKEY timeouts: the periodic refresh (5 min) is not due.
      expect(tookMs).toBeGreaterThan(8_000);
    } finally {
      pinger.kill();
    }
    await pingUntil(nsA, "198.18.8.2");
    expect(peerOfA().endpointName).toBe(`${NAME}:51851`);
  });

  test("a peer that roamed to a working address is not pulled back to what DNS says", async () => {
    // A re-resolves every 10 s; DNS points at an address where nobody listens.
    setHosts("198.19.8.9");
    tunnelInA(["down", A]);
    tunnelInB(["down", B]);
    nsB.ip("route", "replace", "198.19.8.1/32", "dev", "veth-b", "src", "198.19.8.4");
    tunnelInA(["up", configA("endpoint_refresh = 10")]);
    expect(peerOfA().endpoint).toBe("198.19.8.9:51851");
    // B handshakes to A from .4; A roams to it.
    tunnelInB(["up", configB(true)]);
    await waitForEndpoint("198.19.8.4:51851", 30_000);
    // Three refresh periods: each resolves the name to .9, and each must leave the working roamed endpoint alone.
    const until = Date.now() + 32_000;
    while (Date.now() < until) {
      expect(peerOfA().endpoint).toBe("198.19.8.4:51851");
      await Bun.sleep(2000);
    }
    ping(nsA, "198.18.8.2", 2);
  });
});
