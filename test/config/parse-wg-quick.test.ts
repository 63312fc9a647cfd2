import { describe, expect, test } from "bun:test";
import { parseWgQuickConfig } from "../../src/config/parse-wg-quick.ts";
import { formatted, PEER_A_KEY, PEER_B_KEY, PRIVATE_KEY, PSK } from "./fixtures.ts";

const LAB_CONF = `# Lab box, managed by hand
[Interface]
PrivateKey = ${PRIVATE_KEY}   # never commit this
Address = 198.18.0.1/24, fd00::1/64
Address = 198.18.5.1
ListenPort = 51820
FwMark = 0xca6c
MTU = 1380
DNS = 198.18.0.53, fd00::53, lab.internal
Table = off
PostUp = iptables -A FORWARD -i %i -j ACCEPT # wg-quick cuts hooks at '#' like any other line
PostUp = logger "%i up"
PostDown = iptables -D FORWARD -i %i -j ACCEPT
SaveConfig = true

[Peer]
# the gateway
PublicKey = ${PEER_A_KEY}
PresharedKey = ${PSK}
AllowedIPs = 198.18.1.0/24, fd00:1::/64
AllowedIPs = 198.18.2.0/24
Endpoint = [fd00::2]:51820
PersistentKeepalive = 25

[peer]
publickey = ${PEER_B_KEY}
allowedips = 198.18.3.0/24
endpoint = vpn.lab.internal:51821
persistentkeepalive = off
`;

function errorsOf(text: string, file = "wg0.conf"): string[] {
  const result = parseWgQuickConfig({ path: file, text });
  if (result.ok) throw new Error("expected errors, got a config");
  return formatted(result.errors);
}

describe("config/parse-wg-quick", () => {
  test("parses a full wg-quick file: comments, repeated Address/AllowedIPs, IPv6 endpoint, PresharedKey, lower-case keys", () => {
    const result = parseWgQuickConfig({ path: "/etc/wireguard/wg0.conf", text: LAB_CONF });
    if (!result.ok) throw new Error(formatted(result.errors).join("\n"));
    expect(result.config).toEqual({
      interface: {
        name: "wg0",
        dns: ["198.18.0.53", "fd00::53"],
        dnsSearch: ["lab.internal"],
        table: "off",
        postUp: ["iptables -A FORWARD -i %i -j ACCEPT", 'logger "%i up"'],
        postDown: ["iptables -D FORWARD -i %i -j ACCEPT"],
        privateKey: { kind: "inline", key: PRIVATE_KEY },
        listenPort: 51820,
        fwmark: 0xca6c,
        addresses: ["198.18.0.1/24", "fd00::1/64", "198.18.5.1/32"],
        mtu: 1380,
      },
      peers: [
        {
          publicKey: PEER_A_KEY,
          presharedKey: { kind: "inline", key: PSK },
          allowedIps: ["198.18.1.0/24", "fd00:1::/64", "198.18.2.0/24"],
          endpoint: { family: "ipv6", host: "fd00::2", port: 51820 },
          persistentKeepalive: 25,
        },
        {
          publicKey: PEER_B_KEY,
          allowedIps: ["198.18.3.0/24"],
          endpoint: { family: "name", host: "vpn.lab.internal", port: 51821 },
          persistentKeepalive: 0,
        },
      ],
    });
    expect(result.unconverted).toEqual([{ key: "SaveConfig", value: "true", line: 14 }]);
    expect(formatted(result.warnings)).toEqual([
      "/etc/wireguard/wg0.conf:14: interface.SaveConfig: not converted: tunnel never writes the running state back into its config (edit the TOML and run `tunnel up` again instead); kept as a comment",
    ]);
  });

  test("DNS splits like wg-quick: addresses are servers, other words search domains; commas or blanks", () => {
    const text = `[Interface]\nPrivateKey = ${PRIVATE_KEY}\nDNS = 198.18.0.53,corp.example lab.example\nDNS = fd00::53\nTable = 1234\n`;
    const result = parseWgQuickConfig({ path: "wg0.conf", text });
    if (!result.ok) throw new Error(formatted(result.errors).join("\n"));
    expect(result.config.interface.dns).toEqual(["198.18.0.53", "fd00::53"]);
    expect(result.config.interface.dnsSearch).toEqual(["corp.example", "lab.example"]);
    expect(result.config.interface.table).toBe(1234);
  });

  test("bad DNS, Table and hook values are errors with the line", () => {
    const text = `[Interface]\nPrivateKey = ${PRIVATE_KEY}\nDNS = 198.18.0.300\nTable = vpn\nTable = 255\nPreUp =\n`;
    expect(errorsOf(text)).toEqual([
      "wg0.conf:3: interface.DNS: '198.18.0.300' is not an IP address; name servers are given by address",
      "wg0.conf:4: interface.Table: 'vpn' is not 'off', 'auto', 'main' or a table number (tunnel takes no table names from /etc/iproute2/rt_tables)",
      "wg0.conf:5: interface.Table: 255 cannot be used: 255 is the kernel's 'local' table; routes there would shadow local addresses (tunnel takes no table names from /etc/iproute2/rt_tables)",
      "wg0.conf:6: interface.PreUp: is empty; give a command or remove the item",
    ]);
  });

  test("CRLF line endings and an explicit name", () => {
    const text = `[Interface]\r\nPrivateKey = ${PRIVATE_KEY}\r\n[Peer]\r\nPublicKey = ${PEER_A_KEY}\r\nAllowedIPs = 198.18.1.0/24\r\n`;
    const result = parseWgQuickConfig({ path: "client.conf", text }, { name: "lab1" });
    expect(result.ok && result.config.interface.name).toBe("lab1");
    expect(result.ok && result.config.peers[0]!.allowedIps).toEqual(["198.18.1.0/24"]);
  });

  test("errors name the file, the line and the key", () => {
    const text = [
      "Foo = 1",
      "[Interface]",
      "PrivKey = x",
      "ListenPort = abc",
      "FwMark = 0xZZ",
      "MTU = 100000",
      "just some words",
      "[Peer]",
      "AllowedIPs = 198.18.0.300/24, fd00::/129",
      "Endpoint = fd00::1:51820",
      "PersistentKeepalive = x",
      "PresharedKey = short",
      "[Peers]",
      "Ignored = because the section is unknown",
    ].join("\n");
    expect(errorsOf(text)).toEqual([
      "wg0.conf:1: 'Foo' comes before any [Interface] or [Peer] section",
      "wg0.conf:3: interface.PrivKey: unknown key in [Interface]; did you mean 'PrivateKey'?",
      "wg0.conf:4: interface.ListenPort: 'abc' is not a decimal number",
      "wg0.conf:5: interface.FwMark: '0xZZ' is not a decimal number or 0x hex or 'off'",
      "wg0.conf:6: interface.MTU: 100000 is out of range; it must be from 576 to 65535",
      "wg0.conf:7: expected 'Key = Value', got 'just some words'",
      "wg0.conf:8: peer[0].PublicKey: missing; every [Peer] needs a PublicKey",
      "wg0.conf:9: peer[0].AllowedIPs: '198.18.0.300/24' is not a valid IPv4 prefix",
      "wg0.conf:9: peer[0].AllowedIPs: 'fd00::/129' is not a valid IPv6 prefix: the prefix length must be a number from 0 to 128",
      "wg0.conf:10: peer[0].Endpoint: 'fd00::1:51820' is not a valid endpoint: an IPv6 address must be in brackets, as in [fd00::1]:51820",
      "wg0.conf:11: peer[0].PersistentKeepalive: 'x' is not a decimal number or 'off'",
      "wg0.conf:12: peer[0].PresharedKey: the value is not a valid key (base64 of 32 bytes): expected 44 characters, got 5",
      "wg0.conf:13: unknown section '[Peers]'; did you mean [Peer]?",
      "wg0.conf: interface.PrivateKey: missing; tunnel needs the interface's private key",
    ]);
  });

  test("a missing [Interface] and a file name that is no interface name", () => {
    expect(errorsOf(`[Peer]\nPublicKey = ${PEER_A_KEY}\n`, "/home/me/my vpn.conf")).toEqual([
      "/home/me/my vpn.conf: interface.name: 'my vpn' is not a valid interface name: it must not contain '/', ':' or whitespace (taken from the file name; choose a name when converting)",
      "/home/me/my vpn.conf: interface: missing; the file needs an [Interface] section",
    ]);
  });

  test("duplicate peers and a repeated single-valued key", () => {
    const text = `[Interface]\nPrivateKey = ${PRIVATE_KEY}\nListenPort = 1\nListenPort = 2\n[Peer]\nPublicKey = ${PEER_A_KEY}\nAllowedIPs = 198.18.1.0/24\n[Peer]\nPublicKey = ${PEER_A_KEY}\nAllowedIPs = 198.18.2.0/24\n`;
    expect(errorsOf(text)).toEqual(["wg0.conf:9: peer[1].PublicKey: the same public key as peer[0]; each peer needs its own key"]);
    const fixed = parseWgQuickConfig({ path: "wg0.conf", text: text.replace(`${PEER_A_KEY}\nAllowedIPs = 198.18.2`, `${PEER_B_KEY}\nAllowedIPs = 198.18.2`) });
    if (!fixed.ok) throw new Error(formatted(fixed.errors).join("\n"));
    expect(fixed.config.interface.listenPort).toBe(2);
    expect(formatted(fixed.warnings)).toEqual(["wg0.conf:4: interface.ListenPort: set again (first on line 3); the last value wins"]);
  });

  test("an empty AllowedIPs and host bits give warnings with lines", () => {
    const text = `[Interface]\nPrivateKey = ${PRIVATE_KEY}\n[Peer]\nPublicKey = ${PEER_A_KEY}\nAllowedIPs =\n[Peer]\nPublicKey = ${PEER_B_KEY}\nAllowedIPs = 198.18.1.1/24\n`;
    const result = parseWgQuickConfig({ path: "wg0.conf", text });
    if (!result.ok) throw new Error(formatted(result.errors).join("\n"));
    expect(formatted(result.warnings)).toEqual([
      "wg0.conf:5: peer[0].AllowedIPs: none given, so no traffic will be sent to or accepted from this peer",
      "wg0.conf:8: peer[1].AllowedIPs: '198.18.1.1/24' has host bits set; using 198.18.1.0/24",
    ]);
  });
});
