// What a command loads before it can answer. The compiled binary is split into
// chunks (build.ts --splitting), so `tunnel status` and `tunnel version` load
// only their own imports; their latency under load is mostly that start-up.
// These tests bundle the CLI as build.ts does and follow the static imports
// from the entry and the command's chunk: node:net and its streams, consola,
// the FFI and libcrypto must not be among them (each cost milliseconds of
// start-up; together ~15 ms of a ~40 ms `tunnel status`).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const ROOT = new URL("../../", import.meta.url).pathname;
const HEAVY = ["net", "node:net", "crypto", "node:crypto", "child_process", "node:child_process", "bun:ffi", "readline", "node:readline"];

let dir = "";
let chunks: string[] = [];

/** staticImports lists what a chunk imports at load time (not import()). */
function staticImports(file: string): string[] {
  const text = readFileSync(join(dir, file), "utf8");
  return [...text.matchAll(/^import\s*(?:[^"';]*?from\s*)?"([^"]+)";?$/gms)].map((m) => m[1]!);
}

/** loadedAtStart follows static imports from the entry and the chunk a command's import() names. */
function loadedAtStart(command: string): { modules: Set<string>; sources: string } {
  const main = readFileSync(join(dir, "main.js"), "utf8");
  const chunk = main.match(new RegExp(`${command}: \\(\\) => import\\("\\./([^"]+)"\\)`))?.[1];
  if (chunk === undefined) throw new Error(`no chunk for ${command} in main.js`);
  const seen = new Set<string>();
  const modules = new Set<string>();
  let sources = "";
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    sources += readFileSync(join(dir, file), "utf8");
    for (const spec of staticImports(file)) {
      if (spec.startsWith("./")) visit(spec.slice(2));
      else modules.add(spec);
    }
  };
  visit("main.js");
  visit(chunk);
  return { modules, sources };
}

describe("start-up imports of the compiled CLI", () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "tunnel-chunks-"));
    const result = await Bun.build({ entrypoints: [join(ROOT, "src/main.ts")], outdir: dir, target: "bun", format: "esm", splitting: true });
    if (!result.success) throw new Error(result.logs.join("\n"));
    chunks = readdirSync(dir);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test("the bundle is split: commands are chunks of their own", () => {
    expect(chunks.length).toBeGreaterThan(5);
    expect(readFileSync(join(dir, "main.js"), "utf8")).toMatch(/status: \(\) => import\("\.\/[^"]+"\)/);
  });

  for (const command of ["status", "version"]) {
    test(`tunnel ${command} loads neither node:net, libcrypto, the FFI nor consola`, () => {
      const { modules, sources } = loadedAtStart(command);
      expect([...modules].filter((m) => HEAVY.includes(m))).toEqual([]);
      expect(sources.includes("node_modules/consola/")).toBe(false);
    });
  }

  test("the check can fail: the daemon command does load node:net and the FFI", () => {
    const { modules } = loadedAtStart("up");
    expect([...modules].filter((m) => HEAVY.includes(m)).length).toBeGreaterThan(0);
  });
});
