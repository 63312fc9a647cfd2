// Enforces the architecture: which src/ folder may import which (side-effect
// imports included), that only sys/ touches bun:ffi, that the pure folders
// stay free of I/O modules, that no two files import each other through any
// chain (inside a folder too: a circle means a shared piece belongs in a file
// of its own), that the README's layout table says exactly these rules, and
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

function importsOf(source: string, opts: { typeOnly?: boolean } = {}): string[] {
  const specs: string[] = [];
  // import/export … from "x", import("x"), require("x"), and side-effect imports (import "x").
  const re =
    /(?:import|export)(\s+type)?\s[^'"]*?from\s*["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)|require\(\s*["']([^"']+)["']\s*\)|^\s*import\s*["']([^"']+)["']/gm;
  for (const m of source.matchAll(re)) {
    if (m[1] !== undefined && opts.typeOnly === false) continue;
    specs.push((m[2] ?? m[3] ?? m[4] ?? m[5])!);
  }
  return specs;
}

/** resolveFile is the src file a relative import names, or null (a package, a runtime module). */
function resolveFile(fromFile: string, spec: string): string | null {
  if (!spec.startsWith(".")) return null;
  return new URL(spec, `file:///${fromFile}`).pathname.slice(1);
}

/** cycleFrom returns a chain of value imports from start back to itself, or null. */
function cycleFrom(start: string, graph: Map<string, string[]>): string[] | null {
  const path: string[] = [];
  const seen = new Set<string>();
  const visit = (f: string): string[] | null => {
    if (f === start && path.length > 0) return [...path, f];
    if (seen.has(f)) return null;
    seen.add(f);
    path.push(f);
    for (const next of graph.get(f) ?? []) {
      const found = visit(next);
      if (found !== null) return found;
    }
    path.pop();
    return null;
  };
  return visit(start);
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
      if (
        PURE.has(from) &&
        !PURE_ALLOWED.has(spec) &&
        (spec.startsWith("node:") || spec === "bun" || spec.startsWith("bun:") || spec === "consola" || spec === "citty")
      ) {
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

  test("no file imports itself through a chain of others (type-only imports aside: they vanish at run time)", () => {
    const graph = new Map<string, string[]>();
    for (const f of files) {
      const targets = importsOf(readFileSync(f, "utf8"), { typeOnly: false })
        .map((spec) => resolveFile(f, spec))
        .filter((t): t is string => t?.startsWith("src/") === true);
      graph.set(f, targets);
    }
    const cycles = files.map((f) => cycleFrom(f, graph)).filter((c): c is string[] => c !== null);
    expect(cycles.map((c) => c.join(" → "))).toEqual([]);
  });

  test("the README's layout table states exactly these rules", () => {
    const readme = readFileSync("README.md", "utf8");
    const section = readme.slice(readme.indexOf("## Layout"));
    const rows = new Map<string, string[]>();
    for (const m of section.matchAll(/^\| `src\/([a-z]+)(?:\/|\.ts)` \| [^|]+ \| ([^|]+) \|$/gm)) {
      const cell = m[2]!.trim();
      rows.set(m[1]!, cell === "nothing" || cell === "everything" ? [cell] : cell.replace(/\s*\(.*?\)/g, "").split(/,\s*/));
    }
    for (const [folder, allowed] of Object.entries(ALLOWED)) {
      if (folder === "version") continue;
      const row = rows.get(folder);
      expect(row, `README has no layout row for src/${folder}`).toBeDefined();
      if (row![0] === "everything") expect(folder).toBe("main");
      else expect([...row!].filter((x) => x !== "nothing").sort()).toEqual(allowed.filter((x) => x !== "version").sort());
    }
    expect([...rows.keys()].sort()).toEqual(
      Object.keys(ALLOWED)
        .filter((k) => k !== "version")
        .sort(),
    );
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
