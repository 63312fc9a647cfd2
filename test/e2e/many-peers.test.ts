// One `tunnel up` config with 100 peers (fresh keys, one /32 each), three of
// which are real: tunnel instances in three spoke namespaces, each on its own
// veth to the hub. Checks that the hub routes to the right peer among 100,
// that wg(8) and `tunnel status --json` list all 100, and that only the three
// that saw traffic have handshakes.
//
//   hub  e1h<tag>  198.18.10.254/24   veth 198.19.1{1,2,3}.1  ← one per spoke
//   spoke i        198.18.10.<slot>/24 veth 198.19.1{1,2,3}.2  (slots 7, 50, 93)
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { tunnelBinary } from "../support/binary.ts";
import { Netns, removeStale } from "../support/netns.ts";
import { describePrivileged } from "../support/privileges.ts";
import { udpEchoRtts } from "../support/udp-echo.ts";
import { down, keyPair, ping, pingUntil, status, TAG, tomlConfig, up, wg, wgColumn, writeConfig, type KeyPair, type PeerSpec } from "./harness.ts";

const PREFIX = "te1";
const PEERS = 100;
const HUB = `e1h${TAG}`;
const HUB_PORT = 51900;
/** Which of the 100 peer entries (1-based slot = last octet of its /32) are real. */
const REAL = [7, 50, 93] as const;
const spokeName = (i: number) => `e1s${i}${TAG}`;

describePrivileged("e2e: one interface with 100 peers, three of them real", { root: true, commands: ["ip", "wg", "ping"] }, () => {
  let bin = "";
  let dir = "";
  let hub: Netns;
  const spokes: Netns[] = [];
  const keys: KeyPair[] = [];
  const hubKey = keyPair();

  beforeAll(() => {
    bin = tunnelBinary();
    removeStale(PREFIX);
    dir = mkdtempSync(join(tmpdir(), "tunnel-e2e-peers-"));
    hub = Netns.create(PREFIX, "hub");
    for (let slot = 1; slot <= PEERS; slot++) keys.push(keyPair());
    const peers: PeerSpec[] = keys.map((k, i) => ({ pub: k.pub, allowed: [`198.18.10.${i + 1}/32`] }));
    REAL.forEach((slot, i) => {
      const ns = Netns.create(PREFIX, `s${i}`);
      spokes.push(ns);
      const net = 11 + i;
      hub.ip("link", "add", `vs${i}`, "type", "veth", "peer", "name", "vhub", "netns", ns.name);
      hub.ip("addr", "add", `198.19.${net}.1/24`, "dev", `vs${i}`);
      ns.ip("addr", "add", `198.19.${net}.2/24`, "dev", "vhub");
      hub.ip("link", "set", `vs${i}`, "up");
      ns.ip("link", "set", "vhub", "up");
      peers[slot - 1]!.endpoint = `198.19.${net}.2:${52000 + i}`;
      const cfg = tomlConfig(
        spokeName(i),
        keys[slot - 1]!.priv,
        52000 + i,
        [`198.18.10.${slot}/24`],
        [{ pub: hubKey.pub, allowed: ["198.18.10.254/32"], endpoint: `198.19.${net}.1:${HUB_PORT}` }],
      );
      up(bin, ns, writeConfig(dir, spokeName(i), cfg));
    });
    const t = performance.now();
    up(bin, hub, writeConfig(dir, HUB, tomlConfig(HUB, hubKey.priv, HUB_PORT, ["198.18.10.254/24"], peers)));
    console.log(`tunnel up with ${PEERS} peers: ${(performance.now() - t).toFixed(0)} ms`);
  }, 60_000);

  afterAll(() => {
    down(bin, hub, HUB);
    for (const [i, ns] of spokes.entries()) down(bin, ns, spokeName(i));
    hub?.delete();
    for (const ns of spokes) ns.delete();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("wg show lists all 100 peers with their /32 each", () => {
    const peers = wg("show", HUB, "peers").trim().split("\n");
    expect(peers).toHaveLength(PEERS);
    expect(new Set(peers)).toEqual(new Set(keys.map((k) => k.pub)));
    const allowed = wgColumn(HUB, "allowed-ips");
    for (const [i, k] of keys.entries()) expect(allowed.get(k.pub)).toBe(`198.18.10.${i + 1}/32`);
  });

  test("each of the three real peers answers ping and UDP echo through the hub, both directions", async () => {
    for (const [i, slot] of REAL.entries()) {
      await pingUntil(hub, `198.18.10.${slot}`);
      ping(spokes[i]!, "198.18.10.254", 2);
      expect(await udpEchoRtts(hub, spokes[i]!, `198.18.10.${slot}`, 2)).toHaveLength(2);
    }
  }, 60_000);

  test("tunnel status --json lists 100 peers; only the three real ones have handshakes and traffic", () => {
    const s = status(bin, HUB);
    expect(s.peers).toHaveLength(PEERS);
    const realKeys = new Set(REAL.map((slot) => keys[slot - 1]!.pub));
    const handshaken = s.peers.filter((p) => p.latestHandshakeMs > 0).map((p) => p.publicKey);
    expect(new Set(handshaken)).toEqual(realKeys);
    for (const p of s.peers) {
      if (realKeys.has(p.publicKey)) {
        expect(p.rxBytes).toBeGreaterThan(0);
        expect(p.txBytes).toBeGreaterThan(0);
      } else {
        expect(p.rxBytes + p.txBytes).toBe(0);
      }
    }
    // wg(8) agrees with the status socket on who has handshaken.
    const latest = wgColumn(HUB, "latest-handshakes");
    expect(
      [...latest]
        .filter(([, v]) => v !== "0")
        .map(([k]) => k)
        .sort(),
    ).toEqual([...realKeys].sort());
  });
});
