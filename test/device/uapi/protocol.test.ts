// Pure tests of the UAPI text protocol: every set key, every refusal with its
// errno, the exact get output, and the folding of operations into a change.
import { describe, expect, test } from "bun:test";
import { UapiErrno, UapiError } from "../../../src/device/uapi/errors.ts";
import { type DeviceSnapshot, planChange } from "../../../src/device/uapi/model.ts";
import { SetBodyParser, formatDeviceSnapshot, formatGetReply, parseSetBody } from "../../../src/device/uapi/protocol.ts";
import { formatEndpoint, parseEndpoint } from "../../../src/device/uapi/values.ts";

const KEY_A = "a".repeat(64);
const KEY_B = "0b".repeat(32);
const ZERO = "0".repeat(64);

function bytes(hex: string): Uint8Array {
  return Uint8Array.from(Buffer.from(hex, "hex"));
}

function refusal(body: string): { errno: number; line: number | undefined } {
  try {
    parseSetBody(body);
  } catch (error) {
    if (error instanceof UapiError) return { errno: error.errno, line: error.line };
    throw error;
  }
  throw new Error(`accepted: ${JSON.stringify(body)}`);
}

describe("set body: device keys", () => {
  test("private_key, listen_port, fwmark, replace_peers", () => {
    expect(parseSetBody(`private_key=${KEY_A}\nlisten_port=51820\nfwmark=4294967295\nreplace_peers=true\n`)).toEqual([
      { key: "private_key", privateKey: bytes(KEY_A) },
      { key: "listen_port", port: 51820 },
      { key: "fwmark", fwmark: 0xffffffff },
      { key: "replace_peers" },
    ]);
  });

  test("an all-zero private key clears it; uppercase hex is accepted as Go's hex decoder does", () => {
    expect(parseSetBody(`private_key=${ZERO}`)).toEqual([{ key: "private_key", privateKey: null }]);
    expect(parseSetBody(`private_key=${KEY_A.toUpperCase()}`)).toEqual([{ key: "private_key", privateKey: bytes(KEY_A) }]);
  });

  test("numbers: leading zeros are fine, bounds are inclusive", () => {
    expect(parseSetBody("listen_port=0\nlisten_port=065535\nfwmark=0")).toEqual([
      { key: "listen_port", port: 0 },
      { key: "listen_port", port: 65535 },
      { key: "fwmark", fwmark: 0 },
    ]);
  });
});

describe("set body: peer keys", () => {
  test("every peer key", () => {
    const body = [
      `public_key=${KEY_B}`,
      "update_only=true",
      "remove=true",
      `preshared_key=${KEY_A}`,
      "endpoint=192.0.2.1:51820",
      "persistent_keepalive_interval=25",
      "replace_allowed_ips=true",
      "allowed_ip=10.0.0.0/8",
      "allowed_ip=-fd00::/64",
      "protocol_version=1",
    ].join("\n");
    expect(parseSetBody(body)).toEqual([
      { key: "public_key", publicKey: bytes(KEY_B) },
      { key: "update_only" },
      { key: "remove" },
      { key: "preshared_key", presharedKey: bytes(KEY_A) },
      { key: "endpoint", endpoint: { addr: Uint8Array.of(192, 0, 2, 1), port: 51820 } },
      { key: "persistent_keepalive_interval", seconds: 25 },
      { key: "replace_allowed_ips" },
      { key: "allowed_ip", prefix: { addr: Uint8Array.of(10, 0, 0, 0), cidr: 8 }, remove: false },
      { key: "allowed_ip", prefix: { addr: bytes("fd000000000000000000000000000000"), cidr: 64 }, remove: true },
      { key: "protocol_version", version: 1 },
    ]);
  });

  test("a zero preshared key means none", () => {
    expect(parseSetBody(`public_key=${KEY_B}\npreshared_key=${ZERO}`)[1]).toEqual({ key: "preshared_key", presharedKey: null });
  });

  test("allowed_ip host bits are cleared", () => {
    const [, op] = parseSetBody(`public_key=${KEY_B}\nallowed_ip=10.1.2.3/20`);
    expect(op).toEqual({ key: "allowed_ip", prefix: { addr: Uint8Array.of(10, 1, 0, 0), cidr: 20 }, remove: false });
  });
});

describe("endpoints", () => {
  test.each([
    ["1.2.3.4:51820", "1.2.3.4:51820"],
    ["[2001:db8::1]:443", "[2001:db8::1]:443"],
    ["[2001:0db8:0:0:0:0:0:1]:1", "[2001:db8::1]:1"],
    ["[fe80::1%eth0]:51820", "[fe80::1%eth0]:51820"],
    ["[::ffff:192.0.2.1]:9", "[::ffff:192.0.2.1]:9"],
    ["0.0.0.0:0", "0.0.0.0:0"],
  ])("%s prints as %s", (text, printed) => {
    const endpoint = parseEndpoint(text);
    expect(endpoint).not.toBeNull();
    expect(formatEndpoint(endpoint!)).toBe(printed);
  });

  test.each([
    "1.2.3.4",
    "1.2.3.4:",
    "1.2.3.4:65536",
    "1.2.3.4:-1",
    "01.2.3.4:1",
    "2001:db8::1:51820",
    "[2001:db8::1]51820",
    "[2001:db8::1:51820",
    "[1.2.3.4]:1",
    "1.2.3.4%eth0:1",
    "[fe80::1%]:1",
    "example.com:51820",
    "[::1/128]:1",
    "",
  ])("refuses %p", (text) => {
    expect(parseEndpoint(text)).toBeNull();
  });
});

describe("set body: refusals and their errno", () => {
  const peer = `public_key=${KEY_B}\n`;
  test.each([
    // EPROTO: not a key=value line.
    ["line without '='", "listen_port 1", UapiErrno.protocol, 1],
    ["empty key and value still parse as a key", "=", UapiErrno.invalid, 1],
    // EINVAL: unknown keys and bad values.
    ["unknown device key", "mtu=1420", UapiErrno.invalid, 1],
    ["peer key before any public_key", "endpoint=1.2.3.4:5", UapiErrno.invalid, 1],
    ["device key inside a peer section", `${peer}listen_port=1`, UapiErrno.invalid, 2],
    ["unknown peer key", `${peer}name=x`, UapiErrno.invalid, 2],
    ["short private key", `private_key=${KEY_A.slice(2)}`, UapiErrno.invalid, 1],
    ["non-hex private key", `private_key=${"g".repeat(64)}`, UapiErrno.invalid, 1],
    ["base64 key", "private_key=YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWE=", UapiErrno.invalid, 1],
    ["listen_port too big", "listen_port=65536", UapiErrno.invalid, 1],
    ["listen_port signed", "listen_port=+1", UapiErrno.invalid, 1],
    ["listen_port empty", "listen_port=", UapiErrno.invalid, 1],
    ["fwmark too big", "fwmark=4294967296", UapiErrno.invalid, 1],
    ["fwmark hex", "fwmark=0x10", UapiErrno.invalid, 1],
    ["replace_peers=false", "replace_peers=false", UapiErrno.invalid, 1],
    ["bad public key", "public_key=zz", UapiErrno.invalid, 1],
    ["update_only=1", `${peer}update_only=1`, UapiErrno.invalid, 2],
    ["remove=yes", `${peer}remove=yes`, UapiErrno.invalid, 2],
    ["replace_allowed_ips=false", `${peer}replace_allowed_ips=false`, UapiErrno.invalid, 2],
    ["bad preshared key", `${peer}preshared_key=00`, UapiErrno.invalid, 2],
    ["endpoint with a host name", `${peer}endpoint=vpn.example:51820`, UapiErrno.invalid, 2],
    ["keepalive too big", `${peer}persistent_keepalive_interval=65536`, UapiErrno.invalid, 2],
    ["allowed_ip without prefix length", `${peer}allowed_ip=10.0.0.1`, UapiErrno.invalid, 2],
    ["allowed_ip prefix too long", `${peer}allowed_ip=10.0.0.0/33`, UapiErrno.invalid, 2],
    ["allowed_ip prefix with leading zero", `${peer}allowed_ip=10.0.0.0/08`, UapiErrno.invalid, 2],
    ["allowed_ip with a zone", `${peer}allowed_ip=fe80::%eth0/64`, UapiErrno.invalid, 2],
    ["allowed_ip double minus", `${peer}allowed_ip=--10.0.0.0/8`, UapiErrno.invalid, 2],
    ["protocol_version=2", `${peer}protocol_version=2`, UapiErrno.invalid, 2],
  ])("%s", (_name, body, errno, line) => {
    expect(refusal(body)).toEqual({ errno, line });
  });

  test("the first refusal wins and later lines are not parsed", () => {
    const parser = new SetBodyParser();
    for (const line of ["listen_port=1", "bogus", "fwmark=x", "listen_port=2"]) parser.pushLine(line);
    expect(parser.error?.errno).toBe(UapiErrno.protocol);
    expect(parser.error?.line).toBe(2);
    expect(parser.operations).toEqual([{ key: "listen_port", port: 1 }]);
  });

  test("errors quote client text, cut short", () => {
    const parser = new SetBodyParser();
    parser.pushLine(`x${"y".repeat(1000)}=1`);
    expect(parser.error!.message.length).toBeLessThan(140);
  });
});

describe("get output", () => {
  const snapshot: DeviceSnapshot = {
    privateKey: bytes(KEY_A),
    listenPort: 51820,
    fwmark: 0x1234,
    peers: [
      {
        publicKey: bytes(KEY_B),
        presharedKey: null,
        endpoint: { addr: bytes("20010db8000000000000000000000001"), port: 443 },
        lastHandshakeTimeSec: 1700000000,
        lastHandshakeTimeNsec: 123456789,
        txBytes: 18446744073709551615n,
        rxBytes: 42,
        persistentKeepaliveInterval: 25,
        allowedIps: [
          { addr: Uint8Array.of(10, 0, 0, 0), cidr: 24 },
          { addr: bytes("fd000000000000000000000000000000"), cidr: 64 },
        ],
      },
      {
        publicKey: bytes(KEY_A),
        presharedKey: bytes(KEY_B),
        endpoint: null,
        lastHandshakeTimeSec: 0,
        lastHandshakeTimeNsec: 0,
        txBytes: 0,
        rxBytes: 0,
        persistentKeepaliveInterval: 0,
        allowedIps: [],
      },
    ],
  };

  test("keys in wireguard-go's order, then errno=0", () => {
    expect(formatGetReply(snapshot)).toBe(
      [
        `private_key=${KEY_A}`,
        "listen_port=51820",
        "fwmark=4660",
        `public_key=${KEY_B}`,
        `preshared_key=${ZERO}`,
        "protocol_version=1",
        "endpoint=[2001:db8::1]:443",
        "last_handshake_time_sec=1700000000",
        "last_handshake_time_nsec=123456789",
        "tx_bytes=18446744073709551615",
        "rx_bytes=42",
        "persistent_keepalive_interval=25",
        "allowed_ip=10.0.0.0/24",
        "allowed_ip=fd00::/64",
        `public_key=${KEY_A}`,
        `preshared_key=${KEY_B}`,
        "protocol_version=1",
        "last_handshake_time_sec=0",
        "last_handshake_time_nsec=0",
        "tx_bytes=0",
        "rx_bytes=0",
        "persistent_keepalive_interval=0",
        "errno=0",
        "",
        "",
      ].join("\n"),
    );
  });

  test("no private key, port 0 and fwmark 0 are left out", () => {
    expect(formatDeviceSnapshot({ privateKey: null, listenPort: 0, fwmark: 0, peers: [] })).toBe("");
    expect(formatGetReply({ privateKey: null, listenPort: 0, fwmark: 0, peers: [] })).toBe("errno=0\n\n");
  });

  test("keys are lowercase hex", () => {
    expect(formatDeviceSnapshot({ privateKey: bytes("AB".repeat(32)), listenPort: 0, fwmark: 0, peers: [] })).toBe(`private_key=${"ab".repeat(32)}\n`);
  });
});

describe("planChange: wireguard-go's line semantics as one transaction", () => {
  const plan = (lines: string[]) => planChange(parseSetBody(lines.join("\n")));
  const prefix = (a: number, cidr: number) => ({ addr: Uint8Array.of(a, 0, 0, 0), cidr });

  test("device fields, last value wins", () => {
    expect(plan([`private_key=${ZERO}`, "listen_port=1", "listen_port=2", "fwmark=3", "replace_peers=true"])).toEqual({
      privateKey: null,
      listenPort: 2,
      fwmark: 3,
      replacePeers: true,
      peers: [],
    });
  });

  test("untouched device fields stay undefined", () => {
    const change = plan([`public_key=${KEY_B}`]);
    expect("privateKey" in change || "listenPort" in change || "fwmark" in change).toBe(false);
    expect(change.peers).toEqual([{ publicKey: bytes(KEY_B), remove: false, updateOnly: false, replaceAllowedIps: false, allowedIps: [] }]);
  });

  test("replace_allowed_ips wipes allowed IPs added earlier in the section", () => {
    const [peer] = plan([`public_key=${KEY_B}`, "allowed_ip=1.0.0.0/8", "replace_allowed_ips=true", "allowed_ip=2.0.0.0/8", "allowed_ip=-3.0.0.0/8"]).peers;
    expect(peer!.replaceAllowedIps).toBe(true);
    expect(peer!.allowedIps).toEqual([
      { prefix: prefix(2, 8), remove: false },
      { prefix: prefix(3, 8), remove: true },
    ]);
  });

  test("remove makes the rest of the section a no-op", () => {
    const [peer] = plan([
      `public_key=${KEY_B}`,
      "endpoint=1.2.3.4:5",
      "allowed_ip=1.0.0.0/8",
      "remove=true",
      "allowed_ip=2.0.0.0/8",
      "persistent_keepalive_interval=5",
    ]).peers;
    expect(peer).toEqual({ publicKey: bytes(KEY_B), remove: true, updateOnly: false, replaceAllowedIps: false, allowedIps: [] });
  });

  test("update_only applies to the whole section wherever it appears", () => {
    const [peer] = plan([`public_key=${KEY_B}`, "persistent_keepalive_interval=5", "update_only=true"]).peers;
    expect(peer!.updateOnly).toBe(true);
    expect(peer!.persistentKeepaliveInterval).toBe(5);
  });

  test("each public_key line is its own section, in order", () => {
    const change = plan([`public_key=${KEY_B}`, "remove=true", `public_key=${KEY_B}`, "allowed_ip=1.0.0.0/8"]);
    expect(change.peers.map((p) => p.remove)).toEqual([true, false]);
    expect(change.peers[1]!.allowedIps).toEqual([{ prefix: prefix(1, 8), remove: false }]);
  });
});
