import { describe, expect, test } from "bun:test";
import { diffConfigs } from "../../src/config/diff.ts";
import type { TunnelConfig } from "../../src/config/types.ts";
import { PEER_A_KEY, PEER_B_KEY, PRIVATE_KEY, PSK, testKey } from "./fixtures.ts";

function base(): TunnelConfig {
  return {
    interface: {
      name: "lab0",
      privateKey: { kind: "inline", key: PRIVATE_KEY },
      listenPort: 51820,
      addresses: ["198.18.0.1/24"],
      mtu: 1420,
    },
    peers: [
      {
        name: "gateway",
        publicKey: PEER_A_KEY,
        endpoint: { family: "ipv4", host: "198.19.0.1", port: 51820 },
        allowedIps: ["198.18.1.0/24"],
        persistentKeepalive: 25,
      },
      { publicKey: PEER_B_KEY, allowedIps: ["198.18.2.0/24", "fd00:2::/64"] },
    ],
  };
}

const A = `${PEER_A_KEY.slice(0, 8)}…`;
const B = `${PEER_B_KEY.slice(0, 8)}…`;

describe("config/diff", () => {
  test("identical configs: no changes", () => {
    expect(diffConfigs(base(), base())).toEqual([]);
  });

  test("peer order, list order, and absent-versus-zero are not changes", () => {
    const after = base();
    after.peers.reverse();
    after.peers[0]!.allowedIps.reverse();
    after.interface.fwmark = 0;
    after.peers[0]!.persistentKeepalive = 0;
    expect(diffConfigs(base(), after)).toEqual([]);
  });

  test("interface fields", () => {
    const after = base();
    after.interface.privateKey = { kind: "inline", key: testKey(0x55) };
    after.interface.listenPort = undefined;
    after.interface.addresses = ["198.18.0.2/24", "fd00::1/64"];
    after.interface.mtu = 1380;
    after.interface.fwmark = 0xca6c;
    expect(diffConfigs(base(), after)).toEqual([
      "private key: changed",
      "listen_port: 51820 → random",
      "address added: 198.18.0.2/24, fd00::1/64",
      "address removed: 198.18.0.1/24",
      "mtu: 1420 → 1380",
      "fwmark: off → 0xca6c",
    ]);
  });

  test("workers: absent means auto", () => {
    const after = base();
    after.interface.workers = "auto";
    expect(diffConfigs(base(), after)).toEqual([]);
    after.interface.workers = 2;
    expect(diffConfigs(base(), after)).toEqual(["workers: auto → 2"]);
  });

  test("private key moved to a file, never printing the key", () => {
    const after = base();
    after.interface.privateKey = { kind: "file", path: "lab0.key", resolvedPath: "/etc/tunnel/lab0.key" };
    const changes = diffConfigs(base(), after);
    expect(changes).toEqual(["private key: inline → file /etc/tunnel/lab0.key"]);
    expect(changes.join("\n")).not.toContain(PRIVATE_KEY);
  });

  test("peers added, removed and changed, matched by public key", () => {
    const after = base();
    after.peers[0]!.endpoint = { family: "ipv6", host: "fd00::9", port: 51820 };
    after.peers[0]!.allowedIps = ["198.18.1.0/24", "198.18.8.0/24"];
    after.peers[0]!.persistentKeepalive = undefined;
    after.peers[0]!.presharedKey = { kind: "inline", key: PSK };
    after.peers[1] = { publicKey: testKey(0x66), name: "laptop", allowedIps: ["198.18.6.0/24"] };
    expect(diffConfigs(base(), after)).toEqual([
      `peer ${B} removed`,
      `peer 'gateway' (${A}): preshared key: added`,
      `peer 'gateway' (${A}): endpoint: 198.19.0.1:51820 → [fd00::9]:51820`,
      `peer 'gateway' (${A}): allowed_ips added: 198.18.8.0/24`,
      `peer 'gateway' (${A}): persistent_keepalive: 25s → off`,
      `peer 'laptop' (${testKey(0x66).slice(0, 8)}…) added`,
    ]);
  });

  test("allowed_ips removed and endpoint dropped", () => {
    const after = base();
    after.peers[1]!.allowedIps = ["198.18.2.0/24"];
    after.peers[0]!.endpoint = undefined;
    after.peers[0]!.description = "moved to rack 4";
    expect(diffConfigs(base(), after)).toEqual([
      `peer 'gateway' (${A}): description: (none) → 'moved to rack 4'`,
      `peer 'gateway' (${A}): endpoint: 198.19.0.1:51820 → (none)`,
      `peer ${B}: allowed_ips removed: fd00:2::/64`,
    ]);
  });
});
