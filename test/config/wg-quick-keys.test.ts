// The TOML keys that mirror wg-quick's own features (dns, dns_search, table,
// the four hooks): what parses, what is refused and how, the round trip
// through toToml, and how a change is worded.
import { describe, expect, test } from "bun:test";
import { diffConfigs } from "../../src/config/diff.ts";
import { parseTunnelConfig } from "../../src/config/parse-toml.ts";
import { toToml } from "../../src/config/write-toml.ts";
import { formatted, PEER_A_KEY, PRIVATE_KEY } from "./fixtures.ts";

const config = (extra: string) =>
  `[interface]\nprivate_key = "${PRIVATE_KEY}"\naddress = ["198.18.0.1/24"]\n${extra}\n\n[[peer]]\npublic_key = "${PEER_A_KEY}"\nallowed_ips = ["198.18.1.0/24"]\n`;

function parse(extra: string) {
  const result = parseTunnelConfig({ path: "/etc/tunnel/wg0.toml", text: config(extra) });
  if (!result.ok) throw new Error(formatted(result.errors).join("\n"));
  return result.config;
}

function errorsOf(extra: string): string[] {
  const result = parseTunnelConfig({ path: "wg0.toml", text: config(extra) });
  return result.ok ? [] : formatted(result.errors);
}

describe("config: wg-quick feature keys", () => {
  test("dns, dns_search, table and hooks parse into the config", () => {
    const c = parse(
      `dns = ["198.18.0.53", "FD00::53"]\ndns_search = ["corp.example."]\ntable = 1234\npre_up = ["echo %i"]\npost_up = ["a", "b"]\npre_down = []\npost_down = ["c"]`,
    );
    expect(c.interface.dns).toEqual(["198.18.0.53", "fd00::53"]);
    expect(c.interface.dnsSearch).toEqual(["corp.example."]);
    expect(c.interface.table).toBe(1234);
    expect([c.interface.preUp, c.interface.postUp, c.interface.preDown, c.interface.postDown]).toEqual([["echo %i"], ["a", "b"], [], ["c"]]);
  });

  test("table takes off, auto, main (or 254) and numbers; case-insensitive words", () => {
    expect(parse(`table = "OFF"`).interface.table).toBe("off");
    expect(parse(`table = "auto"`).interface.table).toBe("auto");
    expect(parse(`table = 254`).interface.table).toBe("main");
    expect(parse(`table = "51820"`).interface.table).toBe(51820);
  });

  test("bad values name the key and say what is wrong", () => {
    expect(errorsOf(`dns = ["198.18.0.53:53", "vpn.example"]\ndns_search = ["bad domain"]\ntable = 255\npost_up = ["  "]`)).toEqual([
      "wg0.toml: interface.dns[0]: '198.18.0.53:53' is not an IP address; name servers are given by address",
      "wg0.toml: interface.dns[1]: 'vpn.example' is not an IP address; name servers are given by address",
      "wg0.toml: interface.dns_search[0]: 'bad domain' is not a valid search domain",
      "wg0.toml: interface.table: 255 cannot be used: 255 is the kernel's 'local' table; routes there would shadow local addresses",
      "wg0.toml: interface.post_up[0]: is empty; give a command or remove the item",
    ]);
    expect(errorsOf(`table = true`)).toEqual([`wg0.toml: interface.table: expected "off", "auto", "main" or a table number, got a boolean (true)`]);
    expect(errorsOf(`table = 0`)).toEqual(["wg0.toml: interface.table: 0 cannot be used: 0 means 'unspecified' to the kernel"]);
    expect(errorsOf(`dns_search = ["corp.example"]`)).toEqual([
      "wg0.toml: interface.dns_search: needs at least one server in interface.dns (search domains alone are not set, as with wg-quick)",
    ]);
    expect(errorsOf(`endpoint_refresh = 5`)).toEqual(["wg0.toml: interface.endpoint_refresh: 5 is out of range; it must be from 10 to 86400"]);
    expect(parse(`endpoint_refresh = 60`).interface.endpointRefresh).toBe(60);
    expect(errorsOf(`post_up = "echo hi"`)).toEqual([
      `wg0.toml: interface.post_up: expected an array of strings, got a string ('echo hi') (write post_up = ["echo hi"])`,
    ]);
  });

  test("toToml writes them back so they parse to the same config (quotes and %i intact)", () => {
    const c = parse(
      `dns = ["198.18.0.53"]\ndns_search = ["corp.example"]\ntable = "off"\npost_up = ["printf '%s\\\\n' \\"%i\\" > /run/x"]\npre_down = ["true"]`,
    );
    const again = parseTunnelConfig({ path: "/etc/tunnel/wg0.toml", text: toToml(c) });
    expect(again.ok && again.config).toEqual(c);
    expect(c.interface.postUp).toEqual([`printf '%s\\n' "%i" > /run/x`]);
  });

  test("diff words each change; hook order matters, dns order does not", () => {
    const a = parse(`dns = ["198.18.0.53", "198.18.0.54"]\npost_up = ["a", "b"]`);
    expect(diffConfigs(a, parse(`dns = ["198.18.0.54", "198.18.0.53"]\npost_up = ["a", "b"]`))).toEqual([]);
    expect(diffConfigs(a, parse(`dns = ["198.18.0.53"]\ntable = 7\npost_up = ["b", "a"]\npre_down = ["c"]`))).toEqual([
      "dns removed: 198.18.0.54",
      "table: auto → 7",
      "post_up changed: b; a",
      "pre_down added: c",
    ]);
  });
});
