// Roaming on a packet the allowed-IPs check drops. The kernel (receive.c
// wg_packet_consume_data_done) and wireguard-go (receive.go) set a peer's
// endpoint from every authenticated, non-replayed transport message, before
// the inner source is checked; a peer whose traffic is filtered still roams.
//
//   ns a: rfa<tag>, B allowed only 198.18.21.99/32  veth 198.19.21.1
//   ns b: rfb<tag> 198.18.21.2/24                   veth 198.19.21.2 → (moves to) 198.19.21.102
//
// B's pings carry source 198.18.21.2, which A drops (dropSourceCheck). After
// B's underlay address moves, only such data messages reach A (the session
// stands, so no handshake carries the new address): A's endpoint for B must
// follow them all the same.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { tunnelBinary } from "../support/binary.ts";
import { Netns, removeStale } from "../support/netns.ts";
import { describePrivileged } from "../support/privileges.ts";
import { keyPair, status, TAG, tomlConfig, until, up, wgColumn, writeConfig, tearDownPair } from "./harness.ts";

const PREFIX = "trf";
const A = `rfa${TAG}`;
const B = `rfb${TAG}`;
const PORT = { a: 51950, b: 51951 };

describePrivileged("e2e: a peer whose inner source is filtered still roams", { root: true, commands: ["ip", "wg", "ping"] }, () => {
  let bin = "";
  let dir = "";
  let nsA: Netns;
  let nsB: Netns;
  const ka = keyPair();
  const kb = keyPair();

  beforeAll(() => {
    bin = tunnelBinary();
    removeStale(PREFIX);
    dir = mkdtempSync(join(tmpdir(), "tunnel-roam-filtered-"));
    nsA = Netns.create(PREFIX, "a");
    nsB = Netns.create(PREFIX, "b");
    nsA.vethTo(nsB, "veth-a", "198.19.21.1/24", "veth-b", "198.19.21.2/24");
    // A knows no endpoint for B: it learns it from B's packets only.
    up(bin, nsA, writeConfig(dir, A, tomlConfig(A, ka.priv, PORT.a, ["198.18.21.1/24"], [{ pub: kb.pub, allowed: ["198.18.21.99/32"] }])));
    up(
      bin,
      nsB,
      writeConfig(
        dir,
        B,
        tomlConfig(B, kb.priv, PORT.b, ["198.18.21.2/24"], [{ pub: ka.pub, allowed: ["198.18.21.1/32"], endpoint: `198.19.21.1:${PORT.a}` }]),
      ),
    );
  }, 30_000);

  afterAll(() => tearDownPair(bin, dir, [nsA, A], [nsB, B]));

  /** pingsFromB sends pings A will never answer (it drops their source). */
  const pingsFromB = (count: number) => nsB.exec(["ping", "-c", String(count), "-i", "0.2", "-W", "1", "198.18.21.1"], { allowFail: true });

  test("A's endpoint for B follows data messages it drops by source", async () => {
    pingsFromB(3);
    await until(
      "the handshake and B's first filtered packets",
      () => {
        const s = status(bin, A);
        return s.counters.dropSourceCheck > 0 && s.peers[0]!.latestHandshakeMs > 0;
      },
      10_000,
    );
    expect(wgColumn(A, "endpoints").get(kb.pub)).toBe(`198.19.21.2:${PORT.b}`);
    const handshakesBefore = status(bin, A).counters.handshakesReceived;

    // Delete before adding: adding first would make the new address a secondary that goes with the primary.
    nsB.ip("addr", "del", "198.19.21.2/24", "dev", "veth-b");
    nsB.ip("addr", "add", "198.19.21.102/24", "dev", "veth-b");
    const dropsBefore = status(bin, A).counters.dropSourceCheck;
    pingsFromB(3);
    const after = status(bin, A);
    expect(after.counters.dropSourceCheck).toBeGreaterThan(dropsBefore);
    // No handshake came from the new address: only the dropped data messages can have moved the endpoint.
    expect(after.counters.handshakesReceived).toBe(handshakesBefore);
    expect(wgColumn(A, "endpoints").get(kb.pub)).toBe(`198.19.21.102:${PORT.b}`);
    expect(after.peers[0]!.endpoint).toBe(`198.19.21.102:${PORT.b}`);
  }, 30_000);
});
