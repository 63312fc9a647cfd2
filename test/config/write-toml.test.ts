import { describe, expect, test } from "bun:test";
import { convertWgQuickToToml } from "../../src/config/convert.ts";
import { parseTunnelConfig } from "../../src/config/parse-toml.ts";
import { parseWgQuickConfig } from "../../src/config/parse-wg-quick.ts";
import type { TunnelConfig } from "../../src/config/types.ts";
import { toToml, tomlString } from "../../src/config/write-toml.ts";
import { PEER_A_KEY, PEER_B_KEY, PRIVATE_KEY, PSK, testKey } from "./fixtures.ts";

const CONFIG: TunnelConfig = {
  interface: {
    name: "lab0",
    privateKey: { kind: "file", path: "keys/lab0.key", resolvedPath: "/etc/tunnel/keys/lab0.key" },
    listenPort: 51820,
    addresses: ["198.18.0.1/24", "fd00::1/64"],
    mtu: 1420,
    fwmark: 0xca6c,
  },
  peers: [
    {
      name: 'gateway "east"',
      description: "tab\there, backslash \\ and a newline\nin the middle",
      publicKey: PEER_A_KEY,
      presharedKey: { kind: "inline", key: PSK },
      endpoint: { family: "ipv6", host: "fd00::2", port: 51820 },
      allowedIps: ["198.18.1.0/24", "fd00:1::/64", "198.18.2.0/24", "198.18.3.0/24", "198.18.4.0/24"],
      persistentKeepalive: 0,
    },
    { publicKey: PEER_B_KEY, allowedIps: [], endpoint: { family: "name", host: "vpn.lab.internal", port: 1 } },
  ],
};

describe("config/write-toml", () => {
  test("writes a stable, readable layout", () => {
    expect(toToml(CONFIG)).toBe(`[interface]
name = "lab0"
private_key_file = "keys/lab0.key"
listen_port = 51820
address = ["198.18.0.1/24", "fd00::1/64"]
mtu = 1420
fwmark = 0xca6c

[[peer]]
name = "gateway \\"east\\""
description = "tab\\there, backslash \\\\ and a newline\\nin the middle"
public_key = "${PEER_A_KEY}"
preshared_key = "${PSK}"
endpoint = "[fd00::2]:51820"
allowed_ips = [
  "198.18.1.0/24",
  "fd00:1::/64",
  "198.18.2.0/24",
  "198.18.3.0/24",
  "198.18.4.0/24",
]
persistent_keepalive = 0

[[peer]]
public_key = "${PEER_B_KEY}"
endpoint = "vpn.lab.internal:1"
allowed_ips = []
`);
  });

  test("round trip: parse(toToml(c)) deep-equals c", () => {
    const result = parseTunnelConfig({ path: "/etc/tunnel/lab0.toml", text: toToml(CONFIG) });
    if (!result.ok) throw new Error(result.errors.map((e) => e.formatted).join("\n"));
    expect(result.config).toEqual(CONFIG);
  });

  test('workers round-trips, as a number or "auto"', () => {
    for (const workers of [3, "auto"] as const) {
      const c: TunnelConfig = { interface: { name: "x", privateKey: { kind: "inline", key: PRIVATE_KEY }, addresses: [], mtu: 1420, workers }, peers: [] };
      const text = toToml(c);
      expect(text).toContain(workers === "auto" ? 'workers = "auto"' : "workers = 3");
      const r = parseTunnelConfig({ path: "x.toml", text });
      expect(r.ok && r.config.interface.workers).toBe(workers);
    }
  });

  test("round trip of a minimal config and of many peers", () => {
    const minimal: TunnelConfig = {
      interface: { name: "x", privateKey: { kind: "inline", key: PRIVATE_KEY }, addresses: [], mtu: 1280 },
      peers: [],
    };
    const parsedMinimal = parseTunnelConfig({ path: "other-name.toml", text: toToml(minimal) });
    expect(parsedMinimal.ok && parsedMinimal.config).toEqual(minimal);

    const many: TunnelConfig = {
      ...minimal,
      peers: Array.from({ length: 40 }, (_, i) => ({
        publicKey: testKey(i + 1),
        allowedIps: [`198.18.${i}.0/24`, `fd00:${(i + 1).toString(16)}::/64`],
        endpoint: { family: "ipv4" as const, host: `198.19.0.${i + 1}`, port: 51820 + i },
        persistentKeepalive: i,
      })),
    };
    const parsedMany = parseTunnelConfig({ path: "x.toml", text: toToml(many) });
    expect(parsedMany.ok && parsedMany.config).toEqual(many);
  });

  test("strings with control characters survive", () => {
    const text = 'a\u0001b\u007f"\\ü';
    expect(Bun.TOML.parse(`v = ${tomlString(text)}`)).toEqual({ v: text });
  });
});

describe("config/convert (tunnel convert wg0.conf)", () => {
  const WG0 = `[Interface]
# lab box
PrivateKey = ${PRIVATE_KEY}
Address = 198.18.0.1/24
Address = fd00::1/64
ListenPort = 51820
DNS = 198.18.0.53, lab.internal
Table = 1234
PostUp = ip rule add from 198.18.0.0/24 table 7 # source routing
PreDown = logger "%i going down"
SaveConfig = true

[Peer]
PublicKey = ${PEER_A_KEY}
PresharedKey = ${PSK}
AllowedIPs = 198.18.1.0/24, fd00:1::/64
Endpoint = [fd00::2]:51820
PersistentKeepalive = 25
`;

  test("converts DNS, Table and hooks to keys; SaveConfig stays a comment with a warning", () => {
    const result = convertWgQuickToToml({ path: "/etc/wireguard/wg0.conf", text: WG0 });
    if (!result.ok) throw new Error(result.errors.map((e) => e.formatted).join("\n"));
    expect(result.toml).toBe(`# Converted from wg0.conf by tunnel convert.
# This file holds a private key: keep it mode 0600.

[interface]
name = "wg0"
private_key = "${PRIVATE_KEY}"
listen_port = 51820
address = ["198.18.0.1/24", "fd00::1/64"]
mtu = 1420
dns = ["198.18.0.53"]
dns_search = ["lab.internal"]
table = 1234
post_up = [
  "ip rule add from 198.18.0.0/24 table 7",
]
pre_down = [
  "logger \\"%i going down\\"",
]

# Not converted from wg0.conf: tunnel never writes its config back (SaveConfig).
# SaveConfig = true

[[peer]]
public_key = "${PEER_A_KEY}"
preshared_key = "${PSK}"
endpoint = "[fd00::2]:51820"
allowed_ips = ["198.18.1.0/24", "fd00:1::/64"]
persistent_keepalive = 25
`);
    expect(result.warnings.map((w) => w.formatted)).toEqual([
      "/etc/wireguard/wg0.conf:11: interface.SaveConfig: not converted: tunnel never writes the running state back into its config (edit the TOML and run `tunnel up` again instead); kept as a comment",
    ]);
  });

  test("the converted TOML parses to the same config as the wg-quick file", () => {
    const result = convertWgQuickToToml({ path: "wg0.conf", text: WG0 });
    if (!result.ok) throw new Error("convert failed");
    const fromToml = parseTunnelConfig({ path: "anything.toml", text: result.toml });
    const fromWg = parseWgQuickConfig({ path: "wg0.conf", text: WG0 });
    if (!fromToml.ok || !fromWg.ok) throw new Error("parse failed");
    expect(fromToml.config).toEqual(fromWg.config);
  });

  test("a newline smuggled into a hook cannot escape the comment", () => {
    const toml = toToml(
      { interface: { name: "a", privateKey: { kind: "inline", key: PRIVATE_KEY }, addresses: [], mtu: 1420 }, peers: [] },
      { interfaceComments: ["PostUp = x\nmtu = 9000"] },
    );
    expect(toml).toContain("# PostUp = x mtu = 9000");
    const parsed = parseTunnelConfig({ path: "a.toml", text: toml });
    expect(parsed.ok && parsed.config.interface.mtu).toBe(1420);
  });

  test("conversion errors name the file, line and key", () => {
    const result = convertWgQuickToToml({ path: "wg0.conf", text: WG0.replace("Endpoint = [fd00::2]:51820", "Endpoint = [fd00::2]") });
    expect(result.ok ? [] : result.errors.map((e) => e.formatted)).toEqual([
      "wg0.conf:17: peer[0].Endpoint: '[fd00::2]' is not a valid endpoint: missing ':port' after ']'",
    ]);
  });
});
