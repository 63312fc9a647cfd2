import { describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { systemLibraryCandidates, systemLibraryDirs } from "../../src/sys/library-dirs.ts";

describe("systemLibraryDirs", () => {
  test("x64 and arm64 search their multiarch directories first, then lib64 and the plain ones", () => {
    expect(systemLibraryDirs("x64")).toEqual(["/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib64", "/lib64", "/usr/lib", "/lib"]);
    expect(systemLibraryDirs("arm64").slice(0, 2)).toEqual(["/usr/lib/aarch64-linux-gnu", "/lib/aarch64-linux-gnu"]);
  });

  test("every directory is absolute, whatever the architecture", () => {
    for (const arch of ["x64", "arm64", "riscv64"]) expect(systemLibraryDirs(arch).every((d) => d.startsWith("/"))).toBe(true);
  });
});

describe("systemLibraryCandidates", () => {
  test("soname order first, each real file once, missing files left out", () => {
    const root = mkdtempSync(join(tmpdir(), "tunnel-libdirs-"));
    try {
      const a = join(root, "a");
      const b = join(root, "b");
      mkdirSync(a);
      mkdirSync(b);
      writeFileSync(join(b, "libx.so.3"), "");
      writeFileSync(join(a, "libx.so.1.1"), "");
      symlinkSync(join(b, "libx.so.3"), join(a, "libx.so.3")); // the same file seen through two directories
      expect(systemLibraryCandidates(["libx.so.3", "libx.so.1.1", "libx.so"], [a, b])).toEqual([join(a, "libx.so.3"), join(a, "libx.so.1.1")]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  test("a bare name never comes back: with no directories there is nothing to load", () => {
    expect(systemLibraryCandidates(["libc.so.6"], [])).toEqual([]);
  });

  test("finds this machine's libc by absolute path", () => {
    const found = systemLibraryCandidates(["libc.so.6"]);
    expect(found.length).toBeGreaterThan(0);
    expect(found[0]!.startsWith("/")).toBe(true);
  });
});
