import { describe, expect, test } from "bun:test";
import { keyFilesOf, loadTunnelConfig, parseKeyFileText, permissionWarning } from "../../src/config/load.ts";
import { x25519BaseNoble } from "../../src/crypto/x25519.ts";
import { clampPrivateKey } from "../../src/wireguard/noise.ts";
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
    const result = loadTunnelConfig({ path: "/etc/tunnel/lab0.toml", text: CONFIG }, filesFrom({ "/etc/tunnel/psk/gateway.psk": "not a key" }));
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

describe("config/load: a peer with the interface's own key", () => {
  // The real derivation (X25519 of the clamped key), as the CLI injects it.
  const publicKeyOf = (priv: string) => {
    const out = new Uint8Array(32);
    x25519BaseNoble(clampPrivateKey(new Uint8Array(Buffer.from(priv, "base64"))), out);
    return Buffer.from(out).toString("base64");
  };
  const own = publicKeyOf(PRIVATE_KEY);
  const text = (peers: string[]) =>
    `[interface]\nprivate_key = "${PRIVATE_KEY}"\n${peers.map((k) => `\n[[peer]]\npublic_key = "${k}"\nallowed_ips = ["198.18.9.0/24"]\n`).join("")}`;

  test("is an error naming the file, the key and the value", () => {
    const result = loadTunnelConfig({ path: "lab0.toml", text: text([PEER_A_KEY, own]) }, filesFrom({}), publicKeyOf);
    expect(result.ok ? [] : formatted(result.errors)).toEqual([
      `lab0.toml: peer[1].public_key: '${own}' is this interface's own public key (from interface.private_key); a peer must be another host's key`,
    ]);
  });

  test("names private_key_file when the key came from a file", () => {
    const result = loadTunnelConfig(
      {
        path: "/etc/tunnel/lab0.toml",
        text: `[interface]\nprivate_key_file = "lab0.key"\n\n[[peer]]\npublic_key = "${own}"\nallowed_ips = ["198.18.9.0/24"]\n`,
      },
      filesFrom({ "/etc/tunnel/lab0.key": `${PRIVATE_KEY}\n` }),
      publicKeyOf,
    );
    expect(result.ok ? [] : formatted(result.errors)).toEqual([
      `/etc/tunnel/lab0.toml: peer[0].public_key: '${own}' is this interface's own public key (from interface.private_key_file); a peer must be another host's key`,
    ]);
  });

  test("other peers pass", () => {
    expect(loadTunnelConfig({ path: "lab0.toml", text: text([PEER_A_KEY]) }, filesFrom({}), publicKeyOf).ok).toBe(true);
  });
});

describe("config/load: key files for the permission check", () => {
  test("lists each key file once, resolved against the config's directory; inline keys are not files", () => {
    const result = loadTunnelConfig(
      {
        path: "/etc/tunnel/lab0.toml",
        text: `${CONFIG}\n[[peer]]\npublic_key = "${PSK}"\npreshared_key_file = "/etc/tunnel/psk/gateway.psk"\nallowed_ips = ["198.18.2.0/24"]\n`,
      },
      filesFrom({ "/etc/tunnel/keys/lab0.key": `${PRIVATE_KEY}\n`, "/etc/tunnel/psk/gateway.psk": `${PSK}\n` }),
    );
    if (!result.ok) throw new Error(formatted(result.errors).join("\n"));
    expect(keyFilesOf(result.config)).toEqual(["/etc/tunnel/keys/lab0.key", "/etc/tunnel/psk/gateway.psk"]);
    const inline = loadTunnelConfig({ path: "a.toml", text: `[interface]\nprivate_key = "${PRIVATE_KEY}"\n` }, filesFrom({}));
    expect(inline.ok && keyFilesOf(inline.config)).toEqual([]);
  });
});
