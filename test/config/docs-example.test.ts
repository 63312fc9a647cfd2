// Keeps docs/config.md honest: its TOML examples must parse, and the full one cleanly.
import { describe, expect, test } from "bun:test";
import { parseTunnelConfig } from "../../src/config/parse-toml.ts";

const markdown = await Bun.file(new URL("../../docs/config.md", import.meta.url)).text();
const tomlBlocks = [...markdown.matchAll(/```toml\n([\s\S]*?)```/g)].map((match) => match[1]!);

describe("docs/config.md", () => {
  test("has TOML examples", () => {
    expect(tomlBlocks.length).toBeGreaterThanOrEqual(2);
  });

  test("the full example parses without errors or warnings", () => {
    const result = parseTunnelConfig({ path: "/etc/tunnel/lab0.toml", text: tomlBlocks[0]! });
    expect(result.ok ? result.warnings : result.errors.map((e) => e.formatted)).toEqual([]);
    expect(result.ok && result.config.peers.length).toBe(2);
  });

  test("the converted example parses", () => {
    const converted = tomlBlocks.find((block) => block.includes("Not converted from wg0.conf"));
    const result = parseTunnelConfig({ path: "wg0.toml", text: converted! });
    expect(result.ok ? [] : result.errors.map((e) => e.formatted)).toEqual([]);
  });

  test("every snippet uses only known keys with valid values", () => {
    for (const block of tomlBlocks) {
      // Snippets show a few keys; give them what a whole file needs.
      let text = block.includes("[interface]") ? block : `[interface]\n${block}`;
      if (!/private_key/.test(text)) text = text.replace("[interface]", `[interface]\nprivate_key = "ERERERERERERERERERERERERERERERERERERERERERE="`);
      if (/dns_search/.test(text) && !/^dns =/m.test(text)) text = text.replace("[interface]", `[interface]\ndns = ["198.18.0.53"]`);
      const result = parseTunnelConfig({ path: "wg0.toml", text });
      expect(result.ok ? [] : result.errors.map((e) => e.formatted)).toEqual([]);
    }
  });
});
