import { describe, expect, test } from "bun:test";
import { parseTunnelConfig } from "../../src/config/parse-toml.ts";
import type { TunnelConfig } from "../../src/config/types.ts";
import { formatted, PEER_A_KEY, PEER_B_KEY, PRIVATE_KEY, PSK } from "./fixtures.ts";

const FULL_EXAMPLE = `
[interface]
name = "lab0"
private_key = "${PRIVATE_KEY}"
listen_port = 51820
address = ["198.18.0.1/24", "fd00:0:0:0::1/64"]
mtu = 1380
fwmark = 0xca6c

[[peer]]
name = "gateway"
description = "lab gateway, rack 3"
public_key = "${PEER_A_KEY}"
preshared_key = "${PSK}"
endpoint = "198.19.0.1:51820"
allowed_ips = ["198.18.1.0/24", "fd00:1::/64"]
persistent_keepalive = 25

[[peer]]
public_key = "${PEER_B_KEY}"
preshared_key_file = "keys/peer-b.psk"
endpoint = "[FD00::2]:51821"
allowed_ips = ["198.18.2.0/24"]
`;

/** errorsOf parses text as `file` and returns the formatted errors (failing if the parse succeeded). */
function errorsOf(text: string, file = "peer.toml"): string[] {
  const result = parseTunnelConfig({ path: file, text });
  if (result.ok) throw new Error("expected errors, got a config");
  return formatted(result.errors);
}

function minimal(extraInterface = "", peers = ""): string {
  return `[interface]\nprivate_key = "${PRIVATE_KEY}"\n${extraInterface}\n${peers}`;
}

function peer(body: string): string {
  return `[[peer]]\npublic_key = "${PEER_A_KEY}"\nallowed_ips = ["198.18.1.0/24"]\n${body}\n`;
}

describe("config/parse-toml: a valid file", () => {
  test("parses the full example into the typed config", () => {
    const result = parseTunnelConfig({ path: "/etc/tunnel/lab0.toml", text: FULL_EXAMPLE });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const expected: TunnelConfig = {
      interface: {
        name: "lab0",
        privateKey: { kind: "inline", key: PRIVATE_KEY },
        listenPort: 51820,
        addresses: ["198.18.0.1/24", "fd00::1/64"],
        mtu: 1380,
        fwmark: 0xca6c,
      },
      peers: [
        {
          name: "gateway",
          description: "lab gateway, rack 3",
          publicKey: PEER_A_KEY,
          presharedKey: { kind: "inline", key: PSK },
          endpoint: { family: "ipv4", host: "198.19.0.1", port: 51820 },
          allowedIps: ["198.18.1.0/24", "fd00:1::/64"],
          persistentKeepalive: 25,
        },
        {
          publicKey: PEER_B_KEY,
          presharedKey: { kind: "file", path: "keys/peer-b.psk", resolvedPath: "/etc/tunnel/keys/peer-b.psk" },
          endpoint: { family: "ipv6", host: "fd00::2", port: 51821 },
          allowedIps: ["198.18.2.0/24"],
        },
      ],
    };
    expect(result.config).toEqual(expected);
    expect(result.warnings).toEqual([]);
  });

  test("defaults: name from the file name, MTU 1420, no peers", () => {
    const result = parseTunnelConfig({ path: "/etc/tunnel/wg-home.toml", text: minimal() });
    expect(result.ok && result.config).toEqual({
      interface: { name: "wg-home", privateKey: { kind: "inline", key: PRIVATE_KEY }, addresses: [], mtu: 1420 },
      peers: [],
    });
  });

  test("private_key_file is resolved against the config's directory, absolute paths kept", () => {
    const relative = parseTunnelConfig({ path: "conf/wg0.toml", text: `[interface]\nprivate_key_file = "../secrets/wg0.key"\n` });
    expect(relative.ok && relative.config.interface.privateKey).toEqual({
      kind: "file",
      path: "../secrets/wg0.key",
      resolvedPath: "secrets/wg0.key",
    });
    const absolute = parseTunnelConfig({ path: "conf/wg0.toml", text: `[interface]\nprivate_key_file = "/etc/tunnel/wg0.key"\n` });
    expect(absolute.ok && absolute.config.interface.privateKey).toEqual({
      kind: "file",
      path: "/etc/tunnel/wg0.key",
      resolvedPath: "/etc/tunnel/wg0.key",
    });
  });

  test("endpoints may be host names; the parser does not resolve them", () => {
    const result = parseTunnelConfig({ path: "a.toml", text: minimal("", peer(`endpoint = "vpn.lab.internal:51820"`)) });
    expect(result.ok && result.config.peers[0]!.endpoint).toEqual({ family: "name", host: "vpn.lab.internal", port: 51820 });
  });
});

describe("config/parse-toml: errors name the file, the key and what is wrong", () => {
  test("TOML syntax errors give the line", () => {
    expect(errorsOf(`[interface]\nname = "lab0"\nmtu = \n`)).toEqual(["peer.toml:3: invalid TOML: Missing value after '='; values must be on the same line"]);
    expect(errorsOf(`[interface]\nname = "a"\nname = "b"\n`)).toEqual(["peer.toml:3: invalid TOML: Cannot redefine key 'name'"]);
  });

  test("invalid prefix in allowed_ips, counted from 0", () => {
    const text = minimal("", `${peer("")}[[peer]]\npublic_key = "${PEER_B_KEY}"\nallowed_ips = ["198.18.0.300/32"]\n`);
    expect(errorsOf(text)).toEqual(["peer.toml: peer[1].allowed_ips[0]: '198.18.0.300/32' is not a valid IPv4 prefix"]);
  });

  test("prefix length out of range", () => {
    expect(errorsOf(minimal(`address = ["198.18.0.1/33", "fd00::1/129"]`))).toEqual([
      "peer.toml: interface.address[0]: '198.18.0.1/33' is not a valid IPv4 address: the prefix length must be a number from 0 to 32",
      "peer.toml: interface.address[1]: 'fd00::1/129' is not a valid IPv6 address: the prefix length must be a number from 0 to 128",
    ]);
  });

  test("unknown keys, with a suggestion when one is close", () => {
    expect(errorsOf(minimal(`listenport = 51820\nAllowedIPs = []\nbogus = 1`, "[peers]\nx = 1\n"))).toEqual([
      "peer.toml: peers: unknown key; did you mean 'peer'?",
      "peer.toml: interface.listenport: unknown key; did you mean 'listen_port'?",
      "peer.toml: interface.AllowedIPs: unknown key; known keys: name, private_key, private_key_file, listen_port, address, mtu, fwmark, metrics_listen, dns, dns_search, table, pre_up, post_up, pre_down, post_down, endpoint_refresh, workers",
      "peer.toml: interface.bogus: unknown key; known keys: name, private_key, private_key_file, listen_port, address, mtu, fwmark, metrics_listen, dns, dns_search, table, pre_up, post_up, pre_down, post_down, endpoint_refresh, workers",
    ]);
    expect(errorsOf(minimal("", peer(`PersistentKeepalive = 25`)))).toEqual([
      "peer.toml: peer[0].PersistentKeepalive: unknown key; did you mean 'persistent_keepalive'?",
    ]);
  });

  test("wrong types", () => {
    expect(errorsOf(minimal(`listen_port = "51820"\nmtu = 1420.5\naddress = "198.18.0.1/24"\nname = 7`))).toEqual([
      "peer.toml: interface.name: expected a string, got an integer (7)",
      "peer.toml: interface.address: expected an array of strings, got a string ('198.18.0.1/24') (write address = [\"198.18.0.1/24\"])",
      "peer.toml: interface.mtu: expected an integer, got a float (1420.5)",
      "peer.toml: interface.listen_port: expected an integer, got a string ('51820')",
    ]);
    expect(errorsOf(minimal("", peer(`persistent_keepalive = true\nendpoint = 1979-05-27`)))).toEqual([
      "peer.toml: peer[0].endpoint: expected a string, got a date/time",
      "peer.toml: peer[0].persistent_keepalive: expected an integer, got a boolean (true)",
    ]);
    expect(errorsOf(`interface = 1\npeer = [1]\n`)).toEqual([
      "peer.toml: interface: expected a table ([interface]), got an integer (1)",
      "peer.toml: peer[0]: expected a table, got an integer (1)",
    ]);
  });

  test("[peer] instead of [[peer]]", () => {
    expect(errorsOf(minimal("", `[peer]\npublic_key = "${PEER_A_KEY}"\n`))).toEqual([
      "peer.toml: peer: expected an array of tables: write [[peer]], not [peer]",
    ]);
  });

  test("out-of-range numbers", () => {
    expect(errorsOf(minimal(`listen_port = 65536\nfwmark = -1\nmtu = 500`, peer("persistent_keepalive = 70000")))).toEqual([
      "peer.toml: interface.listen_port: 65536 is out of range; it must be from 0 to 65535",
      "peer.toml: interface.fwmark: -1 is out of range; it must be from 0 to 4294967295",
      "peer.toml: peer[0].persistent_keepalive: 70000 is out of range; it must be from 0 to 65535",
      "peer.toml: interface.mtu: 500 is out of range; it must be from 576 to 65535",
    ]);
  });

  test("an IPv6 address raises the MTU floor to 1280", () => {
    expect(errorsOf(minimal(`address = ["fd00::1/64"]\nmtu = 1200`))).toEqual([
      "peer.toml: interface.mtu: 1200 is out of range; it must be from 1280 to 65535 (IPv6 needs at least 1280)",
    ]);
    const v4Only = parseTunnelConfig({ path: "a.toml", text: minimal(`address = ["198.18.0.1/24"]\nmtu = 1200`) });
    expect(v4Only.ok).toBe(true);
  });

  test("keys: wrong length, bad alphabet, non-canonical; secrets are not echoed", () => {
    const text = `[interface]\nprivate_key = "c2VjcmV0"\n[[peer]]\npublic_key = "${PEER_A_KEY.slice(0, 43)}!"\nallowed_ips = []\n[[peer]]\npublic_key = "${PEER_B_KEY.slice(0, 42)}N="\npreshared_key = "${PSK.slice(0, 43)}"\nallowed_ips = []\n`;
    expect(errorsOf(text)).toEqual([
      "peer.toml: interface.private_key: the value is not a valid key (base64 of 32 bytes): expected 44 characters, got 8",
      `peer.toml: peer[0].public_key: '${PEER_A_KEY.slice(0, 43)}!' is not a valid key (base64 of 32 bytes): it must end in '='`,
      `peer.toml: peer[1].public_key: '${PEER_B_KEY.slice(0, 42)}N=' is not a valid key (base64 of 32 bytes): the last character before '=' has bits set past the 32nd byte`,
      "peer.toml: peer[1].preshared_key: the value is not a valid key (base64 of 32 bytes): expected 44 characters, got 43",
    ]);
  });

  test("private key missing, or given twice", () => {
    expect(errorsOf(`[interface]\nlisten_port = 1\n`)).toEqual(["peer.toml: interface.private_key: missing; set private_key or private_key_file"]);
    expect(errorsOf(`[interface]\nprivate_key = "${PRIVATE_KEY}"\nprivate_key_file = "wg0.key"\n`)).toEqual([
      "peer.toml: interface.private_key: set either private_key or private_key_file, not both",
    ]);
    expect(errorsOf(minimal("", peer(`preshared_key = "${PSK}"\npreshared_key_file = "x.psk"`)))).toEqual([
      "peer.toml: peer[0].preshared_key: set either preshared_key or preshared_key_file, not both",
    ]);
    expect(errorsOf(`[interface]\nprivate_key_file = ""\n`)).toEqual([
      "peer.toml: interface.private_key_file: is empty; give the path of a file holding the key",
    ]);
  });

  test("missing [interface] and missing public_key", () => {
    expect(errorsOf(`[[peer]]\nallowed_ips = []\n`)).toEqual([
      "peer.toml: interface: missing; the file needs an [interface] table",
      "peer.toml: peer[0].public_key: missing; every peer needs a public_key",
    ]);
  });

  test("duplicate peer public keys", () => {
    const text = minimal(
      "",
      `${peer("")}[[peer]]\npublic_key = "${PEER_B_KEY}"\nallowed_ips = []\n[[peer]]\npublic_key = "${PEER_A_KEY}"\nallowed_ips = ["198.18.9.0/24"]\n`,
    );
    expect(errorsOf(text)).toEqual(["peer.toml: peer[2].public_key: the same public key as peer[0]; each peer needs its own key"]);
  });

  test("interface names follow the kernel's rules", () => {
    expect(errorsOf(minimal(`name = "a-name-that-is-too-long"`))).toEqual([
      "peer.toml: interface.name: 'a-name-that-is-too-long' is not a valid interface name: it has 23 characters; the limit is 15",
    ]);
    expect(errorsOf(minimal(`name = "wg 0"`))).toEqual([
      "peer.toml: interface.name: 'wg 0' is not a valid interface name: it must not contain '/', ':' or whitespace",
    ]);
    expect(errorsOf(minimal(`name = ".."`))).toEqual(["peer.toml: interface.name: '..' is not a valid interface name: '.' and '..' are reserved"]);
    expect(errorsOf(minimal(), "/etc/tunnel/my office vpn.toml")).toEqual([
      "/etc/tunnel/my office vpn.toml: interface.name: 'my office vpn' is not a valid interface name: it must not contain '/', ':' or whitespace (taken from the file name; set interface.name to choose one)",
    ]);
  });

  test("endpoint shapes", () => {
    const bad = [
      "198.18.0.1",
      "198.18.0.1:0",
      "198.18.0.1:65536",
      "198.18.0.300:51820",
      "fd00::1:51820",
      "[fd00::1]51820",
      "[fd00::1:51820",
      "[198.18.0.1]:51820",
      "bad_host!:51820",
      ":51820",
    ];
    const text = minimal(
      "",
      bad.map((endpoint, i) => `[[peer]]\npublic_key = "${Buffer.alloc(32, i + 1).toString("base64")}"\nallowed_ips = []\nendpoint = "${endpoint}"\n`).join(""),
    );
    expect(errorsOf(text)).toEqual([
      "peer.toml: peer[0].endpoint: '198.18.0.1' is not a valid endpoint: missing ':port'",
      "peer.toml: peer[1].endpoint: '198.18.0.1:0' is not a valid endpoint: the port must be a number from 1 to 65535",
      "peer.toml: peer[2].endpoint: '198.18.0.1:65536' is not a valid endpoint: the port must be a number from 1 to 65535",
      "peer.toml: peer[3].endpoint: '198.18.0.300:51820' is not a valid endpoint: '198.18.0.300' is not an IPv4 address",
      "peer.toml: peer[4].endpoint: 'fd00::1:51820' is not a valid endpoint: an IPv6 address must be in brackets, as in [fd00::1]:51820",
      "peer.toml: peer[5].endpoint: '[fd00::1]51820' is not a valid endpoint: missing ':port' after ']'",
      "peer.toml: peer[6].endpoint: '[fd00::1:51820' is not a valid endpoint: missing ']' after the IPv6 address",
      "peer.toml: peer[7].endpoint: '[198.18.0.1]:51820' is not a valid endpoint: '198.18.0.1' is not an IPv6 address",
      "peer.toml: peer[8].endpoint: 'bad_host!:51820' is not a valid endpoint: 'bad_host!' is neither an IP address nor a host name",
      "peer.toml: peer[9].endpoint: ':51820' is not a valid endpoint: missing the host before ':port'",
    ]);
  });

  test("collects every error rather than stopping at the first", () => {
    const text = `[interface]\nprivate_key = "nope"\nlisten_port = -1\n[[peer]]\npublic_key = "nope"\nallowed_ips = ["x"]\n`;
    const errors = parseTunnelConfig({ path: "peer.toml", text });
    expect(errors.ok).toBe(false);
    if (errors.ok) return;
    expect(errors.errors.map((e) => e.key)).toEqual(["interface.private_key", "interface.listen_port", "peer[0].public_key", "peer[0].allowed_ips[0]"]);
    expect(errors.errors[3]).toEqual({
      file: "peer.toml",
      key: "peer[0].allowed_ips[0]",
      message: "'x' is not a valid IPv4 prefix",
      formatted: "peer.toml: peer[0].allowed_ips[0]: 'x' is not a valid IPv4 prefix",
    });
  });
});

describe("config/parse-toml: workers", () => {
  test('"auto" or a whole number of threads from 1 to 64', () => {
    const workers = (v: string) => {
      const r = parseTunnelConfig({ path: "a.toml", text: minimal(`workers = ${v}`) });
      return r.ok ? r.config.interface.workers : formatted(r.errors);
    };
    expect(workers('"auto"')).toBe("auto");
    expect(workers('"AUTO"')).toBe("auto");
    expect(workers("1")).toBe(1);
    expect(workers("64")).toBe(64);
    expect(workers('"4"')).toBe(4);
    expect(
      parseTunnelConfig({ path: "a.toml", text: minimal() }).ok &&
        (parseTunnelConfig({ path: "a.toml", text: minimal() }) as { config: TunnelConfig }).config.interface.workers,
    ).toBeUndefined();
    expect(workers("0")).toEqual(['a.toml: interface.workers: 0 is not "auto" or a whole number of threads from 1 to 64']);
    expect(workers("65")).toEqual(['a.toml: interface.workers: 65 is not "auto" or a whole number of threads from 1 to 64']);
    expect(workers("2.5")).toEqual(['a.toml: interface.workers: 2.5 is not "auto" or a whole number of threads from 1 to 64']);
    expect(workers('"many"')).toEqual([`a.toml: interface.workers: 'many' is not "auto" or a number of threads`]);
    expect(workers("true")).toEqual(['a.toml: interface.workers: true is not "auto" or a whole number of threads from 1 to 64']);
  });
});

describe("config/parse-toml: warnings", () => {
  test("host bits in allowed_ips are cleared, with a warning", () => {
    const result = parseTunnelConfig({ path: "peer.toml", text: minimal("", peer("").replace("198.18.1.0/24", "198.18.1.7/24")) });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.config.peers[0]!.allowedIps).toEqual(["198.18.1.0/24"]);
    expect(formatted(result.warnings)).toEqual(["peer.toml: peer[0].allowed_ips[0]: '198.18.1.7/24' has host bits set; using 198.18.1.0/24"]);
  });

  test("interface addresses keep their host bits", () => {
    const result = parseTunnelConfig({ path: "peer.toml", text: minimal(`address = ["198.18.0.7/24", "fd00::7/64", "198.18.0.9"]`) });
    expect(result.ok && result.config.interface.addresses).toEqual(["198.18.0.7/24", "fd00::7/64", "198.18.0.9/32"]);
  });

  test("a prefix claimed by two peers, listed twice, or a peer with no allowed_ips", () => {
    const text = minimal(
      "",
      `${peer("")}[[peer]]\npublic_key = "${PEER_B_KEY}"\nallowed_ips = ["198.18.1.0/24", "fd00::/64", "fd00::/64"]\n[[peer]]\npublic_key = "${PSK}"\n`,
    );
    const result = parseTunnelConfig({ path: "peer.toml", text });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(formatted(result.warnings)).toEqual([
      "peer.toml: peer[1].allowed_ips[0]: 198.18.1.0/24 is also allowed for peer[0]; only the last peer listed gets it",
      "peer.toml: peer[1].allowed_ips[2]: fd00::/64 is listed twice for this peer",
      "peer.toml: peer[2].allowed_ips: none given, so no traffic will be sent to or accepted from this peer",
    ]);
  });
});

describe("config/parse-toml: formatted messages stay on one line", () => {
  test("a newline inside a bad value is escaped", () => {
    const result = parseTunnelConfig({ path: "peer.toml", text: minimal(`name = "wg\\n0"`) });
    expect(result.ok ? [] : formatted(result.errors)).toEqual([
      "peer.toml: interface.name: 'wg\\n0' is not a valid interface name: it must not contain '/', ':' or whitespace",
    ]);
  });
});
