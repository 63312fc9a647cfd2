// The two DNS back ends' command lines. The resolvectl path is exercised
// with a stand-in `resolvectl` (a script that records its argv) because the
// test hosts do not run systemd-resolved; the resolvconf path runs the real
// openresolv in test/cli/wg-quick-parity.test.ts.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { applyDns, defaultDnsRunner, resolvconfInput, resolvconfRecord, revertDns, type DnsRunner } from "../../src/cli/dns.ts";
import { syncDns } from "../../src/cli/wgquick-features.ts";
import { CliError } from "../../src/cli/errors.ts";

let dir = "";
const calls = () => readFileSync(join(dir, "argv.log"), "utf8").trim().split("\n");

/** recordingRunner points both back ends at scripts that log argv (and stdin) and exit with `code`. */
function recordingRunner(resolved: boolean, code = 0, order: string | null = null): DnsRunner {
  for (const tool of ["resolvectl", "resolvconf"]) {
    const path = join(dir, tool);
    writeFileSync(path, `#!/bin/sh\necho "${tool} $*" >> "${dir}/argv.log"\n[ -t 0 ] || sed 's/^/  stdin: /' >> "${dir}/argv.log"\nexit ${code}\n`);
    chmodSync(path, 0o755);
  }
  writeFileSync(join(dir, "argv.log"), "");
  return {
    ...defaultDnsRunner,
    resolvectl: [join(dir, "resolvectl")],
    resolvconf: [join(dir, "resolvconf")],
    resolvedRunning: () => resolved,
    interfaceOrder: () => order,
  };
}

describe("DNS back ends", () => {
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "tunnel-dns-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test("with systemd-resolved: per-link servers, '~.' plus search domains, default-route; revert undoes it", async () => {
    const runner = recordingRunner(true);
    const applied = await applyDns("wg0", { servers: ["198.18.0.53", "fd00::53"], search: ["corp.example"] }, runner);
    expect(applied).toEqual({ via: "resolvectl", record: "wg0", servers: ["198.18.0.53", "fd00::53"], search: ["corp.example"] });
    expect(calls()).toEqual(["resolvectl dns wg0 198.18.0.53 fd00::53", "resolvectl domain wg0 ~. corp.example", "resolvectl default-route wg0 yes"]);
    writeFileSync(join(dir, "argv.log"), "");
    expect(await revertDns(applied, runner)).toBe("dns 198.18.0.53, fd00::53 removed (resolvectl)");
    expect(calls()).toEqual(["resolvectl revert wg0"]);
  });

  test("without it: wg-quick's resolvconf -a IF -m 0 -x with nameserver/search lines; -d IF -f to undo", async () => {
    const runner = recordingRunner(false);
    const applied = await applyDns("wg0", { servers: ["198.18.0.53"], search: ["a.example", "b.example"] }, runner);
    expect(calls()).toEqual(["resolvconf -a wg0 -m 0 -x", "  stdin: nameserver 198.18.0.53", "  stdin: search a.example b.example"]);
    writeFileSync(join(dir, "argv.log"), "");
    await revertDns(applied, runner);
    expect(calls()).toEqual(["resolvconf -d wg0 -f"]);
  });

  test("Debian resolvconf's interface-order gives the record wg-quick's prefix (tun.wg0)", () => {
    expect(resolvconfRecord("wg0", "# comment\nlo.inet*\ntun*\ntap*\n")).toBe("tun.wg0");
    expect(resolvconfRecord("wg0", "tun*\ntap*\n")).toBe("tun.wg0");
    expect(resolvconfRecord("wg0", "lo.inet6\n")).toBe("wg0");
    expect(resolvconfRecord("wg0", null)).toBe("wg0");
    expect(resolvconfInput({ servers: ["198.18.0.53"], search: [] })).toBe("nameserver 198.18.0.53\n");
  });

  test("a failing or missing back end is one clear error naming the command", async () => {
    await expect(applyDns("wg0", { servers: ["198.18.0.53"], search: [] }, recordingRunner(true, 1))).rejects.toThrow(
      new CliError(`wg0: setting DNS failed: ${join(dir, "resolvectl")} dns wg0 198.18.0.53: exit 1`),
    );
    const missing = { ...recordingRunner(false), resolvconf: [join(dir, "no-such-resolvconf")] };
    await expect(applyDns("wg0", { servers: ["198.18.0.53"], search: [] }, missing)).rejects.toThrow(
      "not installed (apt-get install openresolv, or run systemd-resolved)",
    );
  });

  test("syncDns: unchanged does nothing; a change re-applies; removing dns reverts", async () => {
    const runner = recordingRunner(true);
    const first = await syncDns("wg0", null, { servers: ["198.18.0.53"], search: [] }, runner);
    expect(first.changes).toEqual(["dns 198.18.0.53 set (resolvectl)"]);
    writeFileSync(join(dir, "argv.log"), "");
    expect((await syncDns("wg0", first.applied, { servers: ["198.18.0.53"], search: [] }, runner)).changes).toEqual([]);
    expect(readFileSync(join(dir, "argv.log"), "utf8")).toBe("");
    const gone = await syncDns("wg0", first.applied, null, runner);
    expect(gone).toEqual({ applied: null, changes: ["dns 198.18.0.53 removed (resolvectl)"] });
    expect(calls()).toEqual(["resolvectl revert wg0"]);
  });
});
