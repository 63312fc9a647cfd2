import { describe, expect, test } from "bun:test";
import { loadTunnelConfig, parseKeyFileText, permissionWarning } from "../../src/config/load.ts";
import { formatted, PEER_A_KEY, PRIVATE_KEY, PSK } from "./fixtures.ts";

/** filesFrom is an injected readFile backed by a Map; missing files throw like fs does. */
function filesFrom(files: Record<string, string>): (path: string) => string {
  return (path) => {
    const text = files[path];
    if (text === undefined) throw new Error(`ENOENT: no such file or directory, open '${path}'`);
    return text;
  };
}

const CONFIG = `[interface]
private_key_file = "keys/lab0.key"

[[peer]]
public_key = "${PEER_A_KEY}"
preshared_key_file = "/etc/tunnel/psk/gateway.psk"
allowed_ips = ["198.18.1.0/24"]
`;

describe("config/load: key files", () => {
  test("reads key files relative to the config and returns the keys", () => {
    const result = loadTunnelConfig(
      { path: "/etc/tunnel/lab0.toml", text: CONFIG },
      filesFrom({ "/etc/tunnel/keys/lab0.key": `${PRIVATE_KEY}\n`, "/etc/tunnel/psk/gateway.psk": `  ${PSK}  \n` }),
    );
    if (!result.ok) throw new Error(formatted(result.errors).join("\n"));
    expect(result.keys.privateKey).toBe(PRIVATE_KEY);
    expect(result.keys.presharedKeys).toEqual(new Map([[PEER_A_KEY, PSK]]));
  });

  test("inline keys need no reads", () => {
    const result = loadTunnelConfig({ path: "a.toml", text: `[interface]\nprivate_key = "${PRIVATE_KEY}"\n` }, filesFrom({}));
    expect(result.ok && result.keys.privateKey).toBe(PRIVATE_KEY);
  });

  test("unreadable and malformed key files are config errors naming the key", () => {
    const result = loadTunnelConfig(
      { path: "/etc/tunnel/lab0.toml", text: CONFIG },
      filesFrom({ "/etc/tunnel/psk/gateway.psk": "not a key" }),
    );
    expect(result.ok ? [] : formatted(result.errors)).toEqual([
      "/etc/tunnel/lab0.toml: interface.private_key_file: cannot read '/etc/tunnel/keys/lab0.key': ENOENT: no such file or directory, open '/etc/tunnel/keys/lab0.key'",
      "/etc/tunnel/lab0.toml: peer[0].preshared_key_file: '/etc/tunnel/psk/gateway.psk' does not hold a valid key: the file holds more than one word; it must hold only the key",
    ]);
  });

  test("key file contents", () => {
    expect(parseKeyFileText(`${PRIVATE_KEY}\n`)).toEqual({ ok: true, value: PRIVATE_KEY });
    expect(parseKeyFileText("")).toEqual({ ok: false, message: "the file is empty" });
    expect(parseKeyFileText("c2VjcmV0\n")).toEqual({
      ok: false,
      message: "the value is not a valid key (base64 of 32 bytes): expected 44 characters, got 8",
    });
  });

  test("parse errors come first; no key files are read for a broken config", () => {
    let reads = 0;
    const result = loadTunnelConfig({ path: "a.toml", text: `[interface]\nprivate_key_file = "k"\nmtu = "big"\n` }, () => {
      reads++;
      return PRIVATE_KEY;
    });
    expect(result.ok ? [] : formatted(result.errors)).toEqual(["a.toml: interface.mtu: expected an integer, got a string ('big')"]);
    expect(reads).toBe(0);
  });
});

describe("config/load: permission warning (as wg-quick gives)", () => {
  test.each([
    [0o600, null],
    [0o640, null],
    [0o660, null],
    [0o604, "Warning: `peer.toml' is world accessible"],
    [0o644, "Warning: `peer.toml' is world accessible"],
    [0o601, "Warning: `peer.toml' is world accessible"],
    [0o100644, "Warning: `peer.toml' is world accessible"],
  ])("mode %o → %p", (mode, expected) => {
    expect(permissionWarning("peer.toml", mode)).toBe(expected);
  });

  test("with the directory's mode, both must be world accessible (file & dir & 0007)", () => {
    expect(permissionWarning("/etc/tunnel/peer.toml", 0o644, 0o700)).toBeNull();
    expect(permissionWarning("/etc/tunnel/peer.toml", 0o644, 0o755)).toBe("Warning: `/etc/tunnel/peer.toml' is world accessible");
  });
});
