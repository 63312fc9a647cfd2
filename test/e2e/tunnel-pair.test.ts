// Two `tunnel up` interfaces in two namespaces joined by one veth: persistent
// keepalive with no traffic, CLI responsiveness (`wg show`, `tunnel status`
// as spawned processes) while iperf3 saturates the link, and roaming when A's
// underlay address changes. Tests run in order on the same pair: the
// keepalive test needs a pair that has carried no traffic yet.
//
//   ns a: e2a<tag> 198.18.20.1/24  veth 198.19.20.1 → (roams to) 198.19.20.101
//   ns b: e2b<tag> 198.18.20.2/24  veth 198.19.20.2
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { tunnelBinary } from "../support/binary.ts";
import { Netns, removeStale } from "../support/netns.ts";
import { describePrivileged } from "../support/privileges.ts";
import { queryStatus } from "../../src/device/status-query.ts";
import { iperfTcp, keyPair, ping, pingUntil, status, summary, TAG, timedSpawn, tomlConfig, until, up, wgColumn, writeConfig, tearDownPair } from "./harness.ts";

const PREFIX = "te2";
const A = `e2a${TAG}`;
const B = `e2b${TAG}`;
const PORT = { a: 51910, b: 51911 };
/** The bound from issue 5: a user's `wg show` / `tunnel status` must answer within this, load or not. */
const CLI_BOUND_MS = 100;
const RUNS = 10;

async function spawnMs(argv: string[]): Promise<number> {
  const r = await timedSpawn(argv);
  if (r.code !== 0) throw new Error(`${argv.join(" ")} exited ${r.code}`);
  return r.ms;
}

describePrivileged("e2e: two tunnel interfaces (keepalive, CLI under load, roaming)", { root: true, commands: ["ip", "wg", "ping", "iperf3"] }, () => {
  let bin = "";
  let dir = "";
  let nsA: Netns;
  let nsB: Netns;
  const ka = keyPair();
  const kb = keyPair();

  beforeAll(() => {
    bin = tunnelBinary();
    removeStale(PREFIX);
    dir = mkdtempSync(join(tmpdir(), "tunnel-e2e-pair-"));
    nsA = Netns.create(PREFIX, "a");
    nsB = Netns.create(PREFIX, "b");
    nsA.vethTo(nsB, "veth-a", "198.19.20.1/24", "veth-b", "198.19.20.2/24");
    // B first, with no keepalive: everything B receives before any traffic is A's doing.
    up(
      bin,
      nsB,
      writeConfig(
        dir,
        B,
        tomlConfig(B, kb.priv, PORT.b, ["198.18.20.2/24"], [{ pub: ka.pub, allowed: ["198.18.20.1/32"], endpoint: `198.19.20.1:${PORT.a}` }]),
      ),
    );
    up(
      bin,
      nsA,
      writeConfig(
        dir,
        A,
        tomlConfig(A, ka.priv, PORT.a, ["198.18.20.1/24"], [{ pub: kb.pub, allowed: ["198.18.20.2/32"], endpoint: `198.19.20.2:${PORT.b}`, keepalive: 1 }]),
      ),
    );
  }, 30_000);

  afterAll(() => tearDownPair(bin, dir, [nsA, A], [nsB, B]));

  test("persistent_keepalive = 1 with no traffic: the other side handshakes and receives 32-byte keepalives", async () => {
    const rx = () => Number(wgColumn(B, "transfer").get(ka.pub)?.split("\t")[0] ?? "0");
    // The keepalive needs a session, so A's first keepalive starts the handshake.
    await until("B's latest handshake", () => Number(wgColumn(B, "latest-handshakes").get(ka.pub) ?? "0") > 0, 8000);
    await Bun.sleep(300); // let the handshake's own messages land before the baseline
    const before = rx();
    await Bun.sleep(3000);
    const after = rx();
    const st = status(bin, B).peers.find((p) => p.publicKey === ka.pub)!;
    console.log(`keepalive: B rx ${before} → ${after} bytes over 3 s (${(after - before) / 32} keepalives); status latestHandshakeMs ${st.latestHandshakeMs}`);
    // 1 s interval over 3 s: 3 expected; allow timer slack of one either side.
    expect(after - before).toBeGreaterThanOrEqual(2 * 32);
    expect(after - before).toBeLessThanOrEqual(4 * 32);
    expect((after - before) % 32).toBe(0);
    expect(st.latestHandshakeMs).toBeGreaterThan(Date.now() - 15_000);
    expect(st.persistentKeepaliveInterval).toBe(0);
    expect(status(bin, A).peers[0]!.persistentKeepaliveInterval).toBe(1);
  }, 20_000);

  test(`wg show and tunnel status (compiled binary) answer within ${CLI_BOUND_MS} ms while iperf3 saturates the link`, async () => {
    await pingUntil(nsA, "198.18.20.2");
    // Each round runs every probe back to back, so idle/loaded and binary/query
    // numbers are comparable: `tunnel version` is the compiled binary's start-up
    // alone, the in-process status-socket query is the daemon's share.
    const probes: Record<string, () => Promise<number>> = {
      wgShow: () => spawnMs(["wg", "show", A]),
      status: () => spawnMs([bin, "status", A]),
      version: () => spawnMs([bin, "version"]),
      socket: async () => {
        const t = performance.now();
        await queryStatus(A);
        return performance.now() - t;
      },
    };
    const measure = async () => {
      const ms: Record<string, number[]> = Object.fromEntries(Object.keys(probes).map((k) => [k, []]));
      for (let i = 0; i < RUNS; i++) {
        for (const [k, probe] of Object.entries(probes)) ms[k]!.push(await probe());
        await Bun.sleep(50);
      }
      return ms;
    };
    const idle = await measure();

    const before = { a: nsA.nstat().TcpInCsumErrors ?? 0, b: nsB.nstat().TcpInCsumErrors ?? 0 };
    let loadRunning = true;
    const load = iperfTcp(nsA, nsB, "198.18.20.2", { seconds: 8 }).finally(() => (loadRunning = false));
    await Bun.sleep(1000); // past slow start: the link is saturated
    const loaded = await measure();
    // Numbers taken after iperf3 ended would not be "under load".
    expect(loadRunning).toBe(true);
    const r = await load;
    for (const k of Object.keys(probes)) console.log(`${k.padEnd(7)} idle: ${summary(idle[k]!)}; under load: ${summary(loaded[k]!)}`);
    console.log(
      `load: ${(r.receivedBitsPerSecond / 1e9).toFixed(2)} Gb/s A→B, min interval ${(Math.min(...r.intervals.map((i) => i.bitsPerSecond)) / 1e9).toFixed(2)} Gb/s`,
    );
    expect(r.receivedBitsPerSecond).toBeGreaterThan(100e6);
    expect((nsA.nstat().TcpInCsumErrors ?? 0) - before.a).toBe(0);
    expect((nsB.nstat().TcpInCsumErrors ?? 0) - before.b).toBe(0);
    // The daemon's own share (no process start-up) must be inside the bound on its own.
    expect(Math.max(...loaded.socket!)).toBeLessThan(CLI_BOUND_MS);
    // The bound holds for the commands as users run them, process start-up included;
    // a failure says whether start-up (`version`) or the query (`socket`) ate the time.
    for (const k of ["wgShow", "status"] as const) {
      const max = Math.max(...loaded[k]!);
      if (max >= CLI_BOUND_MS) {
        throw new Error(
          `${k} took ${max.toFixed(1)} ms under load (bound ${CLI_BOUND_MS} ms); binary start-up alone (version) under load: ${summary(loaded.version!)}, idle: ${summary(idle.version!)}; status socket query under load: ${summary(loaded.socket!)}`,
        );
      }
    }
  }, 60_000);

  test("roaming: after A's underlay address moves, B's endpoint follows and traffic flows both ways", async () => {
    await pingUntil(nsA, "198.18.20.2");
    expect(wgColumn(B, "endpoints").get(ka.pub)).toBe(`198.19.20.1:${PORT.a}`);
    // Delete before adding: adding first would make the new address a secondary that goes with the primary.
    nsA.ip("addr", "del", "198.19.20.1/24", "dev", "veth-a");
    nsA.ip("addr", "add", "198.19.20.101/24", "dev", "veth-a");
    await pingUntil(nsA, "198.18.20.2");
    await until("B's endpoint for A to follow", () => wgColumn(B, "endpoints").get(ka.pub) === `198.19.20.101:${PORT.a}`, 5000);
    ping(nsB, "198.18.20.1", 3);
    ping(nsA, "198.18.20.2", 3);
    const st = status(bin, B).peers.find((p) => p.publicKey === ka.pub)!;
    expect(st.endpoint).toBe(`198.19.20.101:${PORT.a}`);
  }, 30_000);
});
