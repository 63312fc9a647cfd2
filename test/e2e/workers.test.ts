// Crypto helpers in the real daemons (issue 12 §2): two `tunnel up`
// interfaces with `workers = 2` in two namespaces over veth. A single TCP
// flow through them must arrive with zero reordering (the receiver's kernel
// queued no segment out of order) and zero retransmits, while the helpers
// really sealed and opened part of it; `tunnel status` says so; and `tunnel
// up` changes the thread count of the running daemon in place (reported as a
// change, idempotent, --dry-run first), with traffic flowing throughout.
//
//   ns a: wka<tag> 198.18.24.1/24  veth 198.19.24.1
//   ns b: wkb<tag> 198.18.24.2/24  veth 198.19.24.2
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { tunnelBinary } from "../support/binary.ts";
import { Netns, removeStale } from "../support/netns.ts";
import { describePrivileged } from "../support/privileges.ts";
import { iperfTcp, keyPair, ping, pingUntil, status, TAG, tomlConfig, tunnelIn, until, up, writeConfig, tearDownPair } from "./harness.ts";

const PREFIX = "twk";
const A = `wka${TAG}`;
const B = `wkb${TAG}`;
const PORT = { a: 51930, b: 51931 };

describePrivileged("e2e: crypto helpers (workers = 2) in the real daemons", { root: true, commands: ["ip", "wg", "ping", "iperf3", "nstat"] }, () => {
  let bin = "";
  let dir = "";
  let nsA: Netns;
  let nsB: Netns;
  const ka = keyPair();
  const kb = keyPair();
  const config = (side: "a" | "b", workers: string) => {
    const [name, k, other, port, addr, peerAddr, peerPort, peerVeth] =
      side === "a"
        ? [A, ka, kb, PORT.a, "198.18.24.1/24", "198.18.24.2/32", PORT.b, "198.19.24.2"]
        : [B, kb, ka, PORT.b, "198.18.24.2/24", "198.18.24.1/32", PORT.a, "198.19.24.1"];
    const text = tomlConfig(name, k.priv, port, [addr], [{ pub: other.pub, allowed: [peerAddr], endpoint: `${peerVeth}:${peerPort}` }]);
    return writeConfig(dir, name, text.replace("[interface]\n", `[interface]\nworkers = ${workers}\n`));
  };

  beforeAll(() => {
    bin = tunnelBinary();
    removeStale(PREFIX);
    dir = mkdtempSync(join(tmpdir(), "tunnel-e2e-workers-"));
    nsA = Netns.create(PREFIX, "a");
    nsB = Netns.create(PREFIX, "b");
    nsA.vethTo(nsB, "veth-a", "198.19.24.1/24", "veth-b", "198.19.24.2/24");
    up(bin, nsB, config("b", "2"));
    up(bin, nsA, config("a", "2"));
  }, 30_000);

  afterAll(() => tearDownPair(bin, dir, [nsA, A], [nsB, B]));

  test("status shows two workers, the helper running", async () => {
    await pingUntil(nsA, "198.18.24.2");
    for (const name of [A, B]) {
      await until(`${name}'s helper`, () => status(bin, name).workers?.helpersUp === 1, 10_000);
      expect(status(bin, name).workers).toMatchObject({ setting: 2, count: 2, helpersUp: 1 });
    }
    const text = tunnelIn(bin, nsA, ["status", A]).stdout;
    expect(text).toMatch(/workers: 2 \(set\): the data plane \+ 1 of 1 crypto helper running/);
  }, 30_000);

  test("a single TCP flow with helpers sealing and opening: no segment arrives out of order, none is retransmitted", async () => {
    const before = { a: status(bin, A).counters, b: status(bin, B).counters };
    const ofo0 = nsB.nstat().TcpExtTCPOFOQueue ?? 0;
    const r = await iperfTcp(nsA, nsB, "198.18.24.2", { seconds: 4 });
    const ofo = (nsB.nstat().TcpExtTCPOFOQueue ?? 0) - ofo0;
    const after = { a: status(bin, A).counters, b: status(bin, B).counters };
    const helped = { a: after.a.cryptoPacketsHelpers - before.a.cryptoPacketsHelpers, b: after.b.cryptoPacketsHelpers - before.b.cryptoPacketsHelpers };
    const all = {
      a: helped.a + after.a.cryptoPacketsInline - before.a.cryptoPacketsInline,
      b: helped.b + after.b.cryptoPacketsInline - before.b.cryptoPacketsInline,
    };
    console.log(
      `workers=2: ${(r.receivedBitsPerSecond / 1e9).toFixed(2)} Gb/s, retransmits ${r.retransmits}, receiver out-of-order queue ${ofo}; ` +
        `helpers sealed ${helped.a} of ${all.a} on A, opened ${helped.b} of ${all.b} on B`,
    );
    expect(r.receivedBytes).toBeGreaterThan(50e6);
    expect(ofo).toBe(0);
    expect(r.retransmits).toBe(0);
    expect(helped.a).toBeGreaterThan(0);
    expect(helped.b).toBeGreaterThan(0);
    expect(after.b.dropOther - before.b.dropOther).toBe(0);
  }, 60_000);

  test("tunnel up changes the running daemon's workers in place: dry-run first, then the change, then nothing", async () => {
    const pid = status(bin, A).daemon?.pid;
    const file = config("a", '"auto"');
    const dry = tunnelIn(bin, nsA, ["up", "--dry-run", "--json", file]);
    expect(dry.code).toBe(0);
    expect(JSON.parse(dry.stdout).changes).toEqual(["workers: 2 → auto"]);
    expect(status(bin, A).workers?.setting).toBe(2);
    const real = tunnelIn(bin, nsA, ["up", "--json", file]);
    expect(real.code).toBe(0);
    expect(JSON.parse(real.stdout)).toMatchObject({ changed: true, changes: ["workers: 2 → auto"] });
    const w = status(bin, A).workers!;
    expect(w.setting).toBe("auto");
    expect(w.count).toBe(w.cores <= 2 ? 1 : Math.min(4, w.cores));
    expect(status(bin, A).daemon?.pid).toBe(pid);
    ping(nsA, "198.18.24.2");
    const again = tunnelIn(bin, nsA, ["up", "--json", file]);
    expect(JSON.parse(again.stdout).changed).toBe(false);
  }, 30_000);
});
