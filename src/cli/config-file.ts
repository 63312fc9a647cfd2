// Reading a tunnel TOML file for `up` and `down`: permission warning as wg
// gives it, every config error (file, key, what is wrong) on stderr, then one
// CliError, before anything on the system is touched.
import { readFileSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { lookup } from "node:dns/promises";
import { keyFilesOf, loadTunnelConfig, permissionWarning, type ResolvedKeys, type TunnelConfig } from "../config/index.ts";
import { pickX25519 } from "../crypto/x25519-select.ts";
import { clampPrivateKey } from "../wireguard/noise.ts";
import { decodeKey, encodeKey } from "../wireguard/keys.ts";
import type { DesiredWg } from "./wg-plan.ts";
import { CliError, EXIT } from "./errors.ts";
import { log } from "./log.ts";

export interface LoadedConfig {
  config: TunnelConfig;
  keys: ResolvedKeys;
}

/** readConfigFile loads and validates path, or throws a CliError after listing every problem. */
export function readConfigFile(path: string): LoadedConfig {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
    const warning = permissionWarning(path, statSync(path).mode, statSync(dirname(path)).mode);
    if (warning) log.warn(warning);
  } catch (e) {
    throw new CliError(`${path}: cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, EXIT.CONFIG);
  }
  const result = loadTunnelConfig({ path, text }, (p) => readFileSync(p, "utf8"), publicKeyOf);
  if (!result.ok) {
    for (const e of result.errors.slice(1)) log.error(e.formatted);
    const more = result.errors.length > 1 ? ` (and ${result.errors.length - 1} more above)` : "";
    throw new CliError(`${result.errors[0]!.formatted}${more}`, EXIT.CONFIG);
  }
  for (const w of result.warnings) log.warn(w.formatted);
  // A key file others can read leaks the key just as a readable config would.
  for (const keyFile of keyFilesOf(result.config)) {
    const warning = permissionWarning(keyFile, statSync(keyFile).mode, statSync(dirname(keyFile)).mode);
    if (warning) log.warn(warning);
  }
  return { config: result.config, keys: result.keys };
}

/** publicKeyOf derives a base64 private key's public key, as `wg pubkey` does. */
function publicKeyOf(privateKey: string): string {
  const key = decodeKey(privateKey);
  if (key === null) throw new CliError(`invalid key slipped past validation`, EXIT.CONFIG);
  const pub = new Uint8Array(32);
  // node:crypto when it passes its known-answer check: noble is pure TypeScript, seconds of cold JIT on a slow CPU.
  pickX25519().base(clampPrivateKey(key), pub);
  return encodeKey(pub);
}

function hexOf(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("hex");
}

/** keyHex decodes a base64 key that the config layer already validated. */
function keyHex(base64: string, clamp = false): string {
  const key = decodeKey(base64);
  if (key === null) throw new CliError(`invalid key slipped past validation`, EXIT.CONFIG);
  return hexOf(clamp ? clampPrivateKey(key) : key);
}

/** resolveEndpoint turns a config endpoint into UAPI's address form, resolving host names once (as wg does). */
async function resolveEndpoint(path: string, index: number, ep: NonNullable<TunnelConfig["peers"][number]["endpoint"]>): Promise<string> {
  let host = ep.host;
  let v6 = ep.family === "ipv6";
  if (ep.family === "name") {
    try {
      const r = await lookup(ep.host);
      host = r.address;
      v6 = r.family === 6;
    } catch (e) {
      throw new CliError(
        `${path}: peer[${index}].endpoint: cannot resolve '${ep.host}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
        EXIT.CONFIG,
      );
    }
  }
  return v6 ? `[${host}]:${ep.port}` : `${host}:${ep.port}`;
}

/** desiredWgState is the config as UAPI values: hex keys, resolved endpoints. */
export async function desiredWgState(path: string, loaded: LoadedConfig, fwmark: number): Promise<DesiredWg> {
  const { config, keys } = loaded;
  const peers = await Promise.all(
    config.peers.map(async (p, i) => ({
      publicKeyHex: keyHex(p.publicKey),
      label: p.name ?? `${p.publicKey.slice(0, 8)}…`,
      presharedKeyHex: keys.presharedKeys.has(p.publicKey) ? keyHex(keys.presharedKeys.get(p.publicKey)!) : "0".repeat(64),
      endpoint: p.endpoint ? await resolveEndpoint(path, i, p.endpoint) : null,
      persistentKeepalive: p.persistentKeepalive ?? 0,
      allowedIps: [...p.allowedIps],
    })),
  );
  const desired: DesiredWg = { privateKeyHex: keyHex(keys.privateKey, true), fwmark, peers };
  if (config.interface.listenPort !== undefined) desired.listenPort = config.interface.listenPort;
  return desired;
}
