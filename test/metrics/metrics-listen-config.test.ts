// metrics_listen in the TOML: canonical form, errors naming file and key, a
// warning off loopback, and a round trip through toToml.
import { expect, test } from "bun:test";
import { parseTunnelConfig } from "../../src/config/parse-toml.ts";
import { toToml } from "../../src/config/write-toml.ts";
import { desiredMetricsListen } from "../../src/cli/metrics-daemon.ts";
import { formatted, PRIVATE_KEY } from "../config/fixtures.ts";

const file = (listen: string) => `[interface]\nprivate_key = "${PRIVATE_KEY}"\nmetrics_listen = ${listen}\n`;

test("metrics_listen: IPv6 canonicalized, kept through toToml", () => {
  const r = parseTunnelConfig({ path: "/etc/tunnel/lab0.toml", text: file('"[0:0::1]:9586"') });
  if (!r.ok) throw new Error(formatted(r.errors).join("\n"));
  expect(r.config.interface.metricsListen).toBe("[::1]:9586");
  expect(r.warnings).toEqual([]);
  const again = parseTunnelConfig({ path: "/etc/tunnel/lab0.toml", text: toToml(r.config) });
  expect(again.ok && again.config.interface.metricsListen).toBe("[::1]:9586");
});

test("metrics_listen: a host name, a missing port or a number are errors naming file and key; a public address warns", () => {
  for (const [v, why] of [
    ['"localhost:9586"', "names a host"],
    ['"127.0.0.1"', "missing ':port'"],
    ["9586", "expected a string"],
  ] as const) {
    const r = parseTunnelConfig({ path: "/etc/tunnel/lab0.toml", text: file(v) });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(formatted(r.errors).join("\n")).toContain("lab0.toml: interface.metrics_listen");
    if (!r.ok) expect(formatted(r.errors).join("\n")).toContain(why);
  }
  const wide = parseTunnelConfig({ path: "/etc/tunnel/lab0.toml", text: file('"198.18.0.1:9586"') });
  expect(wide.ok && formatted(wide.warnings).join("\n")).toContain("reachable beyond this host");
});

test("tunnel up: the file's key wins over TUNNEL_METRICS_LISTEN; a bad variable is a config error", () => {
  expect(desiredMetricsListen("127.0.0.1:1", { TUNNEL_METRICS_LISTEN: "127.0.0.1:2" })).toBe("127.0.0.1:1");
  expect(desiredMetricsListen(undefined, { TUNNEL_METRICS_LISTEN: " 127.0.0.1:2 " })).toBe("127.0.0.1:2");
  expect(desiredMetricsListen(undefined, {})).toBe("");
  expect(() => desiredMetricsListen(undefined, { TUNNEL_METRICS_LISTEN: "nowhere" })).toThrow("TUNNEL_METRICS_LISTEN");
});
