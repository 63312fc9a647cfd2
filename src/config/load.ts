// Everything around the parse that touches files, kept pure by injection:
// the caller passes readFile, so tests use a Map and the CLI uses the disk.
// Also the wg-quick-style permission warning, computed from a mode the CLI
// got from stat().

import type { ConfigIssue } from "./errors.ts";
import { configIssue } from "./errors.ts";
import { parseTunnelConfig } from "./parse-toml.ts";
import type { ConfigSource, KeySource, TunnelConfig } from "./types.ts";
import { checkKey, type Checked } from "./validate.ts";

/** ReadFile returns a file's text or throws (the message is shown to the user). */
export type ReadFile = (path: string) => string;

/** ResolvedKeys holds the base64 keys the device needs, with key files already read. */
export interface ResolvedKeys {
  privateKey: string;
  /** Preshared keys by peer public key; peers without one are absent. */
  presharedKeys: Map<string, string>;
}

export type LoadResult = { ok: true; config: TunnelConfig; keys: ResolvedKeys; warnings: ConfigIssue[] } | { ok: false; errors: ConfigIssue[] };

/**
 * parseKeyFileText reads a key file's contents: one base64 key, surrounding
 * whitespace (a trailing newline from `wg genkey > file`) allowed, as in
 * wg(8)'s parse_keyfile. The key is never echoed in messages.
 */
export function parseKeyFileText(text: string): Checked<string> {
  const trimmed = text.trim();
  if (trimmed === "") return { ok: false, message: "the file is empty" };
  if (/\s/.test(trimmed)) return { ok: false, message: "the file holds more than one word; it must hold only the key" };
  return checkKey(trimmed, true);
}

/**
 * applyKeyFile resolves one KeySource: inline keys pass through; file keys
 * are read with readFile and checked. `key` is the config key to blame, e.g.
 * "interface.private_key_file".
 */
export function applyKeyFile(
  configPath: string,
  key: string,
  source: KeySource,
  readFile: ReadFile,
): { ok: true; key: string } | { ok: false; error: ConfigIssue } {
  if (source.kind === "inline") return { ok: true, key: source.key };
  let text: string;
  try {
    text = readFile(source.resolvedPath);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return { ok: false, error: configIssue(configPath, key, `cannot read '${source.resolvedPath}': ${reason}`) };
  }
  const parsed = parseKeyFileText(text);
  if (parsed.ok) return { ok: true, key: parsed.value };
  return { ok: false, error: configIssue(configPath, key, `'${source.resolvedPath}' does not hold a valid key: ${parsed.message}`) };
}

/** resolveKeys reads every key file a parsed config names and reports all failures together. */
export function resolveKeys(
  configPath: string,
  config: TunnelConfig,
  readFile: ReadFile,
): { ok: true; keys: ResolvedKeys } | { ok: false; errors: ConfigIssue[] } {
  const errors: ConfigIssue[] = [];
  const keyName = (path: string, base: string, source: KeySource) => (source.kind === "file" ? `${path}.${base}_file` : `${path}.${base}`);

  const iface = config.interface;
  const privateKey = applyKeyFile(configPath, keyName("interface", "private_key", iface.privateKey), iface.privateKey, readFile);
  if (!privateKey.ok) errors.push(privateKey.error);

  const presharedKeys = new Map<string, string>();
  config.peers.forEach((peer, index) => {
    if (peer.presharedKey === undefined) return;
    const key = keyName(`peer[${index}]`, "preshared_key", peer.presharedKey);
    const resolved = applyKeyFile(configPath, key, peer.presharedKey, readFile);
    if (resolved.ok) presharedKeys.set(peer.publicKey, resolved.key);
    else errors.push(resolved.error);
  });

  if (errors.length > 0 || !privateKey.ok) return { ok: false, errors };
  return { ok: true, keys: { privateKey: privateKey.key, presharedKeys } };
}

/** PublicKeyOf derives the base64 public key of a base64 private key (X25519, clamped); injected to keep config pure. */
export type PublicKeyOf = (privateKey: string) => string;

/**
 * ownKeyPeers names every peer that carries the interface's own public key.
 * WireGuard cannot have itself as a peer (the kernel and wireguard-go
 * silently ignore such a peer), so `up` would report it "added" on every run.
 */
export function ownKeyPeers(configPath: string, config: TunnelConfig, keys: ResolvedKeys, publicKeyOf: PublicKeyOf): ConfigIssue[] {
  const own = publicKeyOf(keys.privateKey);
  const from = config.interface.privateKey.kind === "file" ? "interface.private_key_file" : "interface.private_key";
  const issues: ConfigIssue[] = [];
  config.peers.forEach((peer, index) => {
    if (peer.publicKey === own) {
      issues.push(
        configIssue(configPath, `peer[${index}].public_key`, `'${own}' is this interface's own public key (from ${from}); a peer must be another host's key`),
      );
    }
  });
  return issues;
}

/**
 * loadTunnelConfig parses a tunnel TOML file and reads its key files: all the
 * CLI needs before `up`. With publicKeyOf it also rejects a peer that is the
 * interface itself.
 */
export function loadTunnelConfig(source: ConfigSource, readFile: ReadFile, publicKeyOf?: PublicKeyOf): LoadResult {
  const parsed = parseTunnelConfig(source);
  if (!parsed.ok) return parsed;
  const resolved = resolveKeys(source.path, parsed.config, readFile);
  if (!resolved.ok) return resolved;
  if (publicKeyOf !== undefined) {
    const errors = ownKeyPeers(source.path, parsed.config, resolved.keys, publicKeyOf);
    if (errors.length > 0) return { ok: false, errors };
  }
  return { ok: true, config: parsed.config, keys: resolved.keys, warnings: parsed.warnings };
}

/** keyFilesOf lists the key files a config reads (resolved paths), for the permission check. */
export function keyFilesOf(config: TunnelConfig): string[] {
  const sources = [config.interface.privateKey, ...config.peers.flatMap((p) => (p.presharedKey === undefined ? [] : [p.presharedKey]))];
  return [...new Set(sources.flatMap((s) => (s.kind === "file" ? [s.resolvedPath] : [])))];
}

/**
 * permissionWarning returns wg-quick's warning for a config others can read,
 * or null. Like wg-quick (linux.bash parse_options), only the "other" bits
 * count, and when the directory's mode is given the file is only exposed if
 * the directory is world-accessible too (file & dir & 0007).
 */
export function permissionWarning(path: string, mode: number, directoryMode?: number): string | null {
  const exposed = mode & (directoryMode ?? 0o7777) & 0o007;
  return exposed === 0 ? null : `Warning: \`${path}' is world accessible`;
}
