// Enforces the architecture: which src/ folder may import which, that only
// sys/ touches bun:ffi, that the pure folders stay free of I/O modules, and
// that main.ts owns the only process.exit.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { Glob } from "bun";

/** ALLOWED maps a folder to the src folders it may import (its own is always allowed). */
const ALLOWED: Record<string, readonly string[]> = {
  main: ["cli", "config", "device", "wireguard", "offload", "crypto", "sys", "version"],
  cli: ["config", "device", "wireguard", "offload", "crypto", "version"],
  config: ["wireguard"],
  device: ["wireguard", "offload", "crypto", "sys"],
  wireguard: ["crypto"],
  offload: [],
  crypto: ["sys"],
  sys: [],
  version: [],
};

/** PURE folders take bytes and time as arguments: no runtime or OS modules. */
const PURE = new Set(["config", "wireguard", "offload"]);
/** PURE_ALLOWED are runtime modules that are string functions only (path joining for key files). */
const PURE_ALLOWED = new Set(["node:path"]);

const files = [...new Glob("src/**/*.ts").scanSync(".")].sort();

function folderOf(path: string): string {
  const rest = path.replace(/^src\//, "");
  const slash = rest.indexOf("/");
  return slash === -1 ? rest.replace(/\.ts$/, "") : rest.slice(0, slash);
}

function importsOf(source: string): string[] {
  const specs: string[] = [];
  const re = /(?:import|export)\s[^'"]*?from\s*["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)|require\(\s*["']([^"']+)["']\s*\)/g;
  for (const m of source.matchAll(re)) specs.push((m[1] ?? m[2] ?? m[3])!);
  return specs;
}

function resolveFolder(fromFile: string, spec: string): string | null {
  if (!spec.startsWith(".")) return null;
  const url = new URL(spec, `file:///${fromFile}`);
  const target = url.pathname.slice(1);
  if (!target.startsWith("src/")) return "outside-src";
  return folderOf(target);
}

describe("layering", () => {
  test("the tree has sources to check", () => {
    expect(files.length).toBeGreaterThan(3);
    expect(files).toContain("src/main.ts");
  });

  test.each(files)("%s imports only what its layer allows", (file) => {
    const source = readFileSync(file, "utf8");
    const from = folderOf(file);
    const allowed = ALLOWED[from];
    expect(allowed, `${file}: folder '${from}' has no layering rule`).toBeDefined();
    const violations: string[] = [];
    for (const spec of importsOf(source)) {
      if (spec === "bun:ffi" && from !== "sys") violations.push(`${spec} (only src/sys/ may touch bun:ffi)`);
      if (PURE.has(from) && !PURE_ALLOWED.has(spec) && (spec.startsWith("node:") || spec === "bun" || spec.startsWith("bun:") || spec === "consola" || spec === "citty")) {
        violations.push(`${spec} (src/${from}/ is pure)`);
      }
      const to = resolveFolder(file, spec);
      if (to === null || to === from) continue;
      if (to === "outside-src") {
        // version.ts reads package.json so the binary knows its version; nothing else leaves src/.
        if (!(from === "version" && spec.endsWith("/package.json"))) violations.push(`${spec} (outside src/)`);
        continue;
      }
      if (!allowed!.includes(to)) violations.push(`${spec} (src/${from}/ may not import src/${to}/)`);
    }
    expect(violations).toEqual([]);
  });

  test("only src/main.ts calls process.exit", () => {
    const callers = files.filter((f) => f !== "src/main.ts" && /process\.exit\s*\(/.test(readFileSync(f, "utf8")));
    expect(callers).toEqual([]);
  });

  test("pure folders never read the clock", () => {
    const readers = files.filter(
      (f) => PURE.has(folderOf(f)) && /\b(Date\.now|performance\.now|new Date\(\)|Bun\.nanoseconds)\b/.test(readFileSync(f, "utf8")),
    );
    expect(readers).toEqual([]);
  });
});
