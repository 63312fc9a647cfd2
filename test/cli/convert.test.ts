// `tunnel convert`, run in-process through citty so the test does not depend
// on the command being registered in src/cli/index.ts. Data on stdout is
// captured by spying on writeData (it writes fd 1 directly), logs by spying on
// stderr's write method.
import { afterEach, beforeEach, describe, expect, spyOn, test } from "bun:test";
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCommand } from "citty";
import convertCommand from "../../src/cli/convert.ts";
import { CliError, EXIT } from "../../src/cli/errors.ts";
import * as output from "../../src/cli/output.ts";
import { parseTunnelConfig } from "../../src/config/index.ts";
import { PEER_A_KEY, PRIVATE_KEY } from "../config/fixtures.ts";

const WG0 = `[Interface]
PrivateKey = ${PRIVATE_KEY}
Address = 198.18.0.1/24, fd00::1/64
DNS = 198.18.0.53
PostUp = echo up %i

[Peer]
PublicKey = ${PEER_A_KEY}
AllowedIPs = 198.18.1.0/24
Endpoint = 198.19.0.1:51820
`;

let dir: string;
let stdout: string;
let stderr: string;
let spies: { mockRestore(): void }[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "tunnel-convert-"));
  stdout = "";
  stderr = "";
  spies = [
    spyOn(output, "writeData").mockImplementation((text: string) => {
      stdout += text.endsWith("\n") ? text : `${text}\n`;
    }),
    spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
      stderr += String(chunk);
      return true;
    }),
  ];
});

afterEach(() => {
  for (const spy of spies) spy.mockRestore();
  rmSync(dir, { recursive: true, force: true });
});

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

async function convert(...rawArgs: string[]): Promise<CliError | null> {
  try {
    await runCommand(convertCommand, { rawArgs });
    return null;
  } catch (error) {
    if (error instanceof CliError) return error;
    throw error;
  }
}

describe("tunnel convert", () => {
  test("prints TOML on stdout that parses back; warnings only on stderr", async () => {
    const path = file("wg0.conf", WG0);
    expect(await convert(path)).toBeNull();
    const parsed = parseTunnelConfig({ path: "wg0.toml", text: stdout });
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.config.interface.name).toBe("wg0");
    expect(parsed.config.interface.addresses).toEqual(["198.18.0.1/24", "fd00::1/64"]);
    expect(parsed.config.peers[0]!.allowedIps).toEqual(["198.18.1.0/24"]);
    expect(parsed.config.interface.dns).toEqual(["198.18.0.53"]);
    expect(parsed.config.interface.postUp).toEqual(["echo up %i"]);
    expect(stderr).not.toContain("not converted");
    expect(stderr).not.toContain(PRIVATE_KEY);
  });

  test("--name overrides the interface name taken from the file name", async () => {
    const path = file("wg0.conf", WG0);
    expect(await convert(path, "--name", "lab7")).toBeNull();
    expect(stdout).toContain('name = "lab7"');
  });

  test("-o writes a 0600 file and nothing on stdout", async () => {
    const path = file("wg0.conf", WG0);
    const out = join(dir, "wg0.toml");
    expect(await convert(path, "-o", out)).toBeNull();
    expect(stdout).toBe("");
    expect(statSync(out).mode & 0o777).toBe(0o600);
    expect(readFileSync(out, "utf8")).toContain(`private_key = "${PRIVATE_KEY}"`);
  });

  test("-o refuses to overwrite an existing file; --force replaces it with a 0600 one", async () => {
    const path = file("wg0.conf", WG0);
    const out = file("wg0.toml", "keep me\n");
    chmodSync(out, 0o644);
    const error = await convert(path, "-o", out);
    expect(error?.message).toBe(`convert: ${out} already exists; use --force to replace it`);
    expect(readFileSync(out, "utf8")).toBe("keep me\n");

    expect(await convert(path, "-o", out, "--force")).toBeNull();
    expect(readFileSync(out, "utf8")).toContain("[interface]");
    // A rewrite in place would have kept the old 0644.
    expect(statSync(out).mode & 0o777).toBe(0o600);
  });

  test("a broken file is a config error naming file, line, key and problem", async () => {
    const path = file("wg1.conf", WG0.replace("Endpoint = 198.19.0.1:51820", "Endpoint = 198.19.0.1"));
    const out = join(dir, "never.toml");
    const error = await convert(path, "-o", out);
    expect(error?.exitCode).toBe(EXIT.CONFIG);
    expect(error?.message).toStartWith(`${path}:10: peer[0].Endpoint: `);
    expect(stdout).toBe("");
    expect(() => statSync(out)).toThrow();
  });

  test("several errors are all logged; the thrown error counts them", async () => {
    const broken = WG0.replace("Address = 198.18.0.1/24", "Address = 198.18.0.300/24").replace("AllowedIPs = 198.18.1.0/24", "AllowedIPs = nonsense");
    const path = file("wg2.conf", broken);
    const error = await convert(path);
    expect(error?.exitCode).toBe(EXIT.CONFIG);
    expect(error?.message).toBe(`${path}: 2 errors; nothing converted`);
    expect(stderr).toContain(`${path}:3: interface.Address`);
    expect(stderr).toContain(`${path}:9: peer[0].AllowedIPs`);
  });

  test("a missing input file is a config error", async () => {
    const error = await convert(join(dir, "absent.conf"));
    expect(error?.exitCode).toBe(EXIT.CONFIG);
    expect(error?.message).toContain("no such file (ENOENT)");
  });
});
