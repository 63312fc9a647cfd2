// Mutated configs (test/reliability/config-mutate.ts) through the config
// loader in-process, thousands of them, and a sample through the compiled
// binary as users run it (`tunnel up FILE.toml`, `tunnel convert FILE.conf`):
// every rejected file gets clean one-line errors that start with the file
// (and line, for wg-quick) and name the key, exit code 78 (EX_CONFIG), and
// never a stack trace, a crash or a value the program made up.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadTunnelConfig, type ConfigIssue } from "../../src/config/index.ts";
import { parseWgQuickConfig } from "../../src/config/parse-wg-quick.ts";
import { EXIT } from "../../src/cli/errors.ts";
import { tunnelBinary } from "../support/binary.ts";
import { Netns, removeStale } from "../support/netns.ts";
import { describePrivileged } from "../support/privileges.ts";
import { Prng } from "../offload/prng.ts";
import { mutate } from "./config-mutate.ts";

const PRIV = Buffer.alloc(32, 0x11).toString("base64");
const PEER1 = Buffer.alloc(32, 0x22).toString("base64");
const PEER2 = Buffer.alloc(32, 0x33).toString("base64");
const PSK = Buffer.alloc(32, 0x44).toString("base64");

const TOML_SEED = `# reliability fuzz seed
[interface]
name = "rlfz0"
private_key_file = "keys/lab0.key"
listen_port = 51820
address = ["198.18.90.1/24", "fd00:90::1/64"]
mtu = 1420
fwmark = 0xca6c

[[peer]]
name = "gateway"
description = "lab gateway, rack 3"
public_key = "${PEER1}"
preshared_key_file = "keys/gateway.psk"
endpoint = "198.19.90.2:51820"
allowed_ips = ["198.18.91.0/24", "fd00:91::/64"]
persistent_keepalive = 25

[[peer]]
public_key = "${PEER2}"
preshared_key = "${PSK}"
endpoint = "[fd00::2]:51820"
allowed_ips = ["198.18.92.0/24"]
`;

const WG_QUICK_SEED = `[Interface]
PrivateKey = ${PRIV}
Address = 198.18.90.1/24, fd00:90::1/64
ListenPort = 51820
MTU = 1420
FwMark = 0xca6c
DNS = 198.18.90.53
Table = off
PostUp = echo up

[Peer]
PublicKey = ${PEER1}
PresharedKey = ${PSK}
AllowedIPs = 198.18.91.0/24, fd00:91::/64
Endpoint = 198.19.90.2:51820
PersistentKeepalive = 25

[Peer]
PublicKey = ${PEER2}
AllowedIPs = 198.18.92.0/24
Endpoint = [fd00::2]:51820
`;

const DIR = "/etc/tunnel";
const TOML_PATH = `${DIR}/lab0.toml`;
const CONF_PATH = `${DIR}/wg0.conf`;
const KEY_FILES = new Map([
  [`${DIR}/keys/lab0.key`, `${PRIV}\n`],
  [`${DIR}/keys/gateway.psk`, `${PSK}\n`],
]);

function readFromMap(path: string): string {
  const text = KEY_FILES.get(path);
  if (text === undefined) throw new Error(`ENOENT: no such file or directory, open '${path}'`);
  return text;
}

/** FABRICATED catches messages built from values the program never had. */
const FABRICATED = /undefined|\[object |(?<!float \()NaN|TypeError|RangeError|SyntaxError|^\s+at /;

function checkIssue(issue: ConfigIssue, path: string, withLine: boolean): void {
  expect(issue.formatted).not.toContain("\n");
  expect(issue.formatted.startsWith(withLine ? `${path}:` : path)).toBe(true);
  if (withLine) expect(issue.line).toBeGreaterThan(0);
  expect(issue.message.trim().length).toBeGreaterThan(0);
  expect(issue.formatted).not.toMatch(FABRICATED);
}

const MUTANTS = 3000;

describe("reliability: config fuzz, in-process", () => {
  test("the seeds are valid (so every rejection below comes from a mutation)", () => {
    expect(loadTunnelConfig({ path: TOML_PATH, text: TOML_SEED }, readFromMap).ok).toBe(true);
    expect(parseWgQuickConfig({ path: CONF_PATH, text: WG_QUICK_SEED }).ok).toBe(true);
  });

  test(`${MUTANTS} mutated TOML files: the loader never throws and every error names the file`, () => {
    const prng = new Prng(2026);
    let rejected = 0;
    let withKey = 0;
    for (let i = 0; i < MUTANTS; i++) {
      const text = mutate(TOML_SEED, prng);
      const r = loadTunnelConfig({ path: TOML_PATH, text }, readFromMap);
      if (r.ok) continue;
      rejected++;
      expect(r.errors.length).toBeGreaterThan(0);
      for (const e of r.errors) checkIssue(e, TOML_PATH, false);
      if (r.errors.every((e) => e.key !== "" || e.line !== undefined)) withKey++;
    }
    console.log(`config fuzz: ${rejected}/${MUTANTS} TOML mutants rejected, ${withKey} of them with a key or line on every error`);
    expect(rejected).toBeGreaterThan(MUTANTS / 3);
    // File-level errors (TOML syntax) may lack a key, but then they carry the line.
    expect(withKey / rejected).toBeGreaterThan(0.9);
  });

  test(`${MUTANTS} mutated wg-quick files: the parser never throws and every error has file, line and key`, () => {
    const prng = new Prng(2027);
    let rejected = 0;
    for (let i = 0; i < MUTANTS; i++) {
      const text = mutate(WG_QUICK_SEED, prng);
      const r = parseWgQuickConfig({ path: CONF_PATH, text });
      if (r.ok) continue;
      rejected++;
      for (const e of r.errors) checkIssue(e, CONF_PATH, e.line !== undefined);
    }
    console.log(`config fuzz: ${rejected}/${MUTANTS} wg-quick mutants rejected`);
    expect(rejected).toBeGreaterThan(MUTANTS / 4);
  });
});

/** LINE_KINDS: what the binary may print on stderr for a bad file. */
const STDERR_LINE = /^(\[error\] \[tunnel\] |\[warn\] \[tunnel\] |tunnel: )/;
const SAMPLE = 30;

describePrivileged("reliability: config fuzz, the compiled binary", { root: true, commands: ["ip"] }, () => {
  let bin = "";
  let dir = "";
  let ns: Netns;

  beforeAll(() => {
    bin = tunnelBinary();
    removeStale("rcf");
    ns = Netns.create("rcf", "x");
    dir = mkdtempSync(join(tmpdir(), "tunnel-config-fuzz-"));
    mkdirSync(join(dir, "keys"), { mode: 0o700 });
    writeFileSync(join(dir, "keys/lab0.key"), `${PRIV}\n`, { mode: 0o600 });
    writeFileSync(join(dir, "keys/gateway.psk"), `${PSK}\n`, { mode: 0o600 });
  }, 60_000); // the first tunnelBinary() of a test process builds dist/tunnel

  afterAll(() => {
    ns?.delete();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const runBin = (args: string[], inNs: boolean) => {
    const argv = inNs ? ["ip", "netns", "exec", ns.name, bin, ...args] : [bin, ...args];
    const p = Bun.spawnSync(argv, { stdout: "pipe", stderr: "pipe", env: { ...process.env, NO_COLOR: "1" } });
    return { code: p.exitCode, stderr: p.stderr.toString() };
  };

  /** checkCli: exit 78, only our own line kinds, every error on a line of its own, and the given last line. */
  const checkCli = (r: { code: number | null; stderr: string }, errors: ConfigIssue[], last: string) => {
    expect(r.code).toBe(EXIT.CONFIG);
    const lines = r.stderr.trimEnd().split("\n");
    for (const l of lines) expect(l).toMatch(STDERR_LINE);
    expect(r.stderr).not.toMatch(/^\s+at |\berror: |panic|Segmentation/m);
    for (const e of errors) expect(lines.some((l) => l.endsWith(e.formatted) || l.endsWith(`${e.formatted} (and ${errors.length - 1} more above)`))).toBe(true);
    expect(lines.at(-1)).toBe(last);
  };

  test(`${SAMPLE} rejected TOML mutants through tunnel up: exit 78, one line per error, the last names the file and key`, () => {
    const prng = new Prng(4242);
    let ran = 0;
    for (let i = 0; ran < SAMPLE && i < 10 * SAMPLE; i++) {
      const path = join(dir, `m${i}.toml`);
      writeFileSync(path, mutate(TOML_SEED, prng), { mode: 0o600 });
      const expected = loadTunnelConfig({ path, text: readFileSync(path, "utf8") }, (p) => readFileSync(p, "utf8"));
      if (expected.ok) continue; // a valid mutant would bring an interface up: not this test's business
      ran++;
      const n = expected.errors.length;
      checkCli(runBin(["up", path], true), expected.errors, `tunnel: ${expected.errors[0]!.formatted}${n > 1 ? ` (and ${n - 1} more above)` : ""}`);
    }
    expect(ran).toBe(SAMPLE);
  }, 60_000);

  test(`${SAMPLE} rejected wg-quick mutants through tunnel convert: the same, with the line number`, () => {
    const prng = new Prng(4343);
    let ran = 0;
    for (let i = 0; ran < SAMPLE && i < 10 * SAMPLE; i++) {
      const path = join(dir, `wg${i}.conf`);
      writeFileSync(path, mutate(WG_QUICK_SEED, prng), { mode: 0o600 });
      const expected = parseWgQuickConfig({ path, text: readFileSync(path, "utf8") });
      if (expected.ok) continue;
      ran++;
      const n = expected.errors.length;
      checkCli(
        runBin(["convert", path], false),
        expected.errors,
        n > 1 ? `tunnel: ${path}: ${n} errors; nothing converted` : `tunnel: ${expected.errors[0]!.formatted}`,
      );
    }
    expect(ran).toBe(SAMPLE);
  }, 60_000);
});
