// `tunnel convert wg0.conf`: a wg-quick config in, tunnel TOML out. DNS,
// Table and the hooks become TOML keys; SaveConfig, which has no meaning for
// a config tunnel never rewrites, is kept as a comment and warned about, so
// nothing disappears silently.

import { posix } from "node:path";
import type { ConfigIssue } from "./errors.ts";
import { parseWgQuickConfig, type WgQuickOptions } from "./parse-wg-quick.ts";
import type { ConfigSource } from "./types.ts";
import { toToml } from "./write-toml.ts";

export type ConvertResult = { ok: true; toml: string; warnings: ConfigIssue[] } | { ok: false; errors: ConfigIssue[] };

/** convertWgQuickToToml converts wg-quick text to tunnel TOML text; errors name the file, line and key. */
export function convertWgQuickToToml(source: ConfigSource, options: WgQuickOptions = {}): ConvertResult {
  const parsed = parseWgQuickConfig(source, options);
  if (!parsed.ok) return parsed;

  const interfaceComments: string[] = [];
  if (parsed.unconverted.length > 0) {
    interfaceComments.push(
      "",
      `Not converted from ${posix.basename(source.path)}: tunnel never writes its config back (SaveConfig).`,
      ...parsed.unconverted.map((setting) => `${setting.key} = ${setting.value}`),
    );
  }
  const toml = toToml(parsed.config, {
    header: [`Converted from ${posix.basename(source.path)} by tunnel convert.`, "This file holds a private key: keep it mode 0600."],
    interfaceComments,
  });
  return { ok: true, toml, warnings: parsed.warnings };
}
