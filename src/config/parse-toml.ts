// The tunnel TOML format (docs/config.md): `[interface]` plus `[[peer]]`
// tables. Bun.TOML handles the syntax; this file checks every key, type and
// value and collects all problems instead of stopping at the first, so one
// run of `tunnel up` shows the user everything to fix.

import { posix } from "node:path";
import { runCrossChecks, type KeyNamer } from "./cross-checks.ts";
import { parseEndpoint } from "./endpoint.ts";
import { formatMetricsListen, parseMetricsListen } from "./metrics-listen.ts";
import { didYouMean, IssueList } from "./errors.ts";
import {
  DEFAULT_MTU,
  HOOK_FIELDS,
  HOOK_KEYS,
  type ConfigResult,
  type ConfigSource,
  type InterfaceConfig,
  type KeySource,
  type PeerConfig,
  type TunnelConfig,
} from "./types.ts";
import {
  checkAllowedIp,
  checkDnsServer,
  checkHook,
  checkInterfaceAddress,
  checkInterfaceName,
  checkIntegerRange,
  checkKey,
  checkSearchDomain,
  checkTable,
  checkWorkers,
} from "./validate.ts";

export const TOP_LEVEL_KEYS = ["interface", "peer"] as const;
export const INTERFACE_KEYS = [
  "name",
  "private_key",
  "private_key_file",
  "listen_port",
  "address",
  "mtu",
  "fwmark",
  "metrics_listen",
  "dns",
  "dns_search",
  "table",
  "pre_up",
  "post_up",
  "pre_down",
  "post_down",
  "endpoint_refresh",
  "workers",
] as const;
export const PEER_KEYS = [
  "name",
  "description",
  "public_key",
  "preshared_key",
  "preshared_key_file",
  "endpoint",
  "allowed_ips",
  "persistent_keepalive",
] as const;

type Table = Record<string, unknown>;

/**
 * parseTunnelConfig parses and validates a tunnel TOML file. Relative key file
 * paths are resolved against the directory of source.path; nothing is read.
 */
export function parseTunnelConfig(source: ConfigSource): ConfigResult {
  const issues = new IssueList(source.path);
  let document: unknown;
  try {
    document = Bun.TOML.parse(source.text);
  } catch (error) {
    const reason = error instanceof Error ? error.message.replace(/^TOML Parse error: /, "") : String(error);
    issues.error("", `invalid TOML: ${reason}`, locateSyntaxError(source.text));
    return { ok: false, errors: issues.errors };
  }

  const root = document as Table;
  reportUnknownKeys(root, TOP_LEVEL_KEYS, "", issues);
  const reader = new TableReader(issues);

  let iface: InterfaceConfig | null = null;
  if (root.interface === undefined) {
    issues.error("interface", "missing; the file needs an [interface] table");
  } else if (!isTable(root.interface)) {
    issues.error("interface", `expected a table ([interface]), got ${describeType(root.interface)}`);
  } else {
    iface = readInterface(root.interface, source.path, reader);
  }

  const peers: PeerConfig[] = [];
  if (root.peer !== undefined) {
    if (isTable(root.peer)) {
      issues.error("peer", "expected an array of tables: write [[peer]], not [peer]");
    } else if (!Array.isArray(root.peer)) {
      issues.error("peer", `expected an array of tables ([[peer]]), got ${describeType(root.peer)}`);
    } else {
      root.peer.forEach((entry, index) => {
        const key = `peer[${index}]`;
        if (!isTable(entry)) {
          issues.error(key, `expected a table, got ${describeType(entry)}`);
          return;
        }
        peers.push(readPeer(entry, key, source.path, reader));
      });
    }
  }

  if (iface !== null) {
    const config: TunnelConfig = { interface: iface, peers };
    runCrossChecks(config, issues, TOML_KEY_NAMES);
    if (issues.errors.length === 0) return { ok: true, config, warnings: issues.warnings };
  }
  return { ok: false, errors: issues.errors };
}

const TOML_KEY_NAMES: KeyNamer = {
  interfaceField: (field) => ({ key: `interface.${field}` }),
  peerField: (peer, field) => ({ key: `peer[${peer}].${field}` }),
  allowedIp: (peer, item) => ({ key: `peer[${peer}].allowed_ips[${item}]` }),
};

function readInterface(table: Table, configPath: string, reader: TableReader): InterfaceConfig {
  const issues = reader.issues;
  reportUnknownKeys(table, INTERFACE_KEYS, "interface", issues);

  const explicitName = reader.string(table, "interface", "name");
  const fileName = defaultInterfaceName(configPath);
  const name = explicitName ?? fileName;
  const nameProblem = checkInterfaceName(name);
  if (nameProblem !== null) {
    const hint = explicitName === undefined ? " (taken from the file name; set interface.name to choose one)" : "";
    issues.error("interface.name", nameProblem + hint);
  }

  const privateKey = reader.keySource(table, "interface", "private_key", configPath) ?? { kind: "inline", key: "" };
  if (table.private_key === undefined && table.private_key_file === undefined) {
    issues.error("interface.private_key", "missing; set private_key or private_key_file");
  }

  const config: InterfaceConfig = {
    name,
    privateKey,
    addresses: reader.stringList(table, "interface", "address", checkInterfaceAddress) ?? [],
    mtu: reader.integer(table, "interface", "mtu", 0, Number.MAX_SAFE_INTEGER) ?? DEFAULT_MTU,
  };
  const listenPort = reader.integer(table, "interface", "listen_port", 0, 65535);
  if (listenPort !== undefined) config.listenPort = listenPort;
  const fwmark = reader.integer(table, "interface", "fwmark", 0, 0xffffffff);
  if (fwmark !== undefined) config.fwmark = fwmark;
  const metricsListen = reader.string(table, "interface", "metrics_listen");
  if (metricsListen !== undefined) {
    const m = parseMetricsListen(metricsListen);
    if (!m.ok) issues.error("interface.metrics_listen", m.message);
    else {
      config.metricsListen = formatMetricsListen(m.listen);
      if (m.warning !== undefined) issues.warn("interface.metrics_listen", m.warning);
    }
  }
  readWgQuickFeatures(table, config, reader);
  const refresh = reader.integer(table, "interface", "endpoint_refresh", 10, 86400);
  if (refresh !== undefined) config.endpointRefresh = refresh;
  const workers = table.workers;
  if (workers !== undefined) {
    const w = checkWorkers(workers);
    if (w.ok) config.workers = w.value;
    else issues.error("interface.workers", w.message);
  }
  return config;
}

/** readWgQuickFeatures reads the keys that mirror wg-quick's shell features: DNS, Table and the hooks. */
function readWgQuickFeatures(table: Table, config: InterfaceConfig, reader: TableReader): void {
  const issues = reader.issues;
  const dns = reader.stringList(table, "interface", "dns", checkDnsServer);
  if (dns !== undefined) config.dns = dns;
  const dnsSearch = reader.stringList(table, "interface", "dns_search", checkSearchDomain);
  if (dnsSearch !== undefined) config.dnsSearch = dnsSearch;
  if (dnsSearch !== undefined && dnsSearch.length > 0 && (dns === undefined || dns.length === 0)) {
    issues.error("interface.dns_search", "needs at least one server in interface.dns (search domains alone are not set, as with wg-quick)");
  }
  const routeTable = table.table;
  if (routeTable !== undefined) {
    if (typeof routeTable !== "string" && typeof routeTable !== "number") {
      issues.error("interface.table", `expected "off", "auto", "main" or a table number, got ${describeType(routeTable)}`);
    } else {
      const checked = checkTable(routeTable);
      if (checked.ok) config.table = checked.value;
      else issues.error("interface.table", checked.message);
    }
  }
  for (const field of HOOK_FIELDS) {
    const hooks = reader.stringList(table, "interface", HOOK_KEYS[field], checkHook);
    if (hooks !== undefined) config[field] = hooks;
  }
}

function readPeer(table: Table, path: string, configPath: string, reader: TableReader): PeerConfig {
  const issues = reader.issues;
  reportUnknownKeys(table, PEER_KEYS, path, issues);

  let publicKey = "";
  const publicKeyText = reader.string(table, path, "public_key");
  if (publicKeyText === undefined) {
    if (table.public_key === undefined) issues.error(`${path}.public_key`, "missing; every peer needs a public_key");
  } else {
    const checked = checkKey(publicKeyText, false);
    if (checked.ok) publicKey = checked.value;
    else issues.error(`${path}.public_key`, checked.message);
  }

  const peer: PeerConfig = {
    publicKey,
    allowedIps: reader.stringList(table, path, "allowed_ips", checkAllowedIp) ?? [],
  };

  const name = reader.string(table, path, "name");
  if (name !== undefined) peer.name = name;
  const description = reader.string(table, path, "description");
  if (description !== undefined) peer.description = description;

  const presharedKey = reader.keySource(table, path, "preshared_key", configPath);
  if (presharedKey !== undefined) peer.presharedKey = presharedKey;

  const endpointText = reader.string(table, path, "endpoint");
  if (endpointText !== undefined) {
    const parsed = parseEndpoint(endpointText);
    if (parsed.ok) peer.endpoint = parsed.endpoint;
    else issues.error(`${path}.endpoint`, parsed.message);
  }

  const keepalive = reader.integer(table, path, "persistent_keepalive", 0, 65535);
  if (keepalive !== undefined) peer.persistentKeepalive = keepalive;
  return peer;
}

/** defaultInterfaceName is the file's base name without ".toml": /etc/tunnel/wg0.toml → wg0. */
export function defaultInterfaceName(configPath: string): string {
  return posix.basename(configPath).replace(/\.toml$/i, "");
}

/** resolveKeyPath resolves a key file name against the config file's directory, without touching the disk. */
export function resolveKeyPath(configPath: string, keyPath: string): string {
  if (posix.isAbsolute(keyPath)) return posix.normalize(keyPath);
  return posix.join(posix.dirname(configPath), keyPath);
}

/** TableReader reads typed values out of parsed TOML tables, reporting wrong types as errors. */
class TableReader {
  constructor(readonly issues: IssueList) {}

  string(table: Table, path: string, key: string): string | undefined {
    const value = table[key];
    if (value === undefined) return undefined;
    if (typeof value === "string") return value;
    this.issues.error(`${path}.${key}`, `expected a string, got ${describeType(value)}`);
    return undefined;
  }

  integer(table: Table, path: string, key: string, min: number, max: number): number | undefined {
    const value = table[key];
    if (value === undefined) return undefined;
    if (typeof value !== "number" || !Number.isInteger(value)) {
      this.issues.error(`${path}.${key}`, `expected an integer, got ${describeType(value)}`);
      return undefined;
    }
    const problem = checkIntegerRange(value, min, max);
    if (problem !== null) {
      this.issues.error(`${path}.${key}`, problem);
      return undefined;
    }
    return value;
  }

  /** stringList reads an array of strings and runs check on each, reporting items by index. */
  stringList(
    table: Table,
    path: string,
    key: string,
    check: (text: string) => { ok: true; value: string; warning?: string } | { ok: false; message: string },
  ): string[] | undefined {
    const value = table[key];
    if (value === undefined) return undefined;
    if (!Array.isArray(value)) {
      const example = typeof value === "string" ? ` (write ${key} = ["${value}"])` : "";
      this.issues.error(`${path}.${key}`, `expected an array of strings, got ${describeType(value)}${example}`);
      return undefined;
    }
    const out: string[] = [];
    value.forEach((item: unknown, index) => {
      const itemKey = `${path}.${key}[${index}]`;
      if (typeof item !== "string") {
        this.issues.error(itemKey, `expected a string, got ${describeType(item)}`);
        return;
      }
      const checked = check(item);
      if (!checked.ok) {
        this.issues.error(itemKey, checked.message);
        return;
      }
      if (checked.warning !== undefined) this.issues.warn(itemKey, checked.warning);
      out.push(checked.value);
    });
    return out;
  }

  /** keySource reads `<base>` (inline base64) or `<base>_file` (a path), which exclude each other. */
  keySource(table: Table, path: string, base: string, configPath: string): KeySource | undefined {
    const inline = this.string(table, path, base);
    const file = this.string(table, path, `${base}_file`);
    if (table[base] !== undefined && table[`${base}_file`] !== undefined) {
      this.issues.error(`${path}.${base}`, `set either ${base} or ${base}_file, not both`);
      return undefined;
    }
    if (inline !== undefined) {
      const checked = checkKey(inline, true);
      if (checked.ok) return { kind: "inline", key: checked.value };
      this.issues.error(`${path}.${base}`, checked.message);
      return undefined;
    }
    if (file !== undefined) {
      if (file === "") {
        this.issues.error(`${path}.${base}_file`, "is empty; give the path of a file holding the key");
        return undefined;
      }
      return { kind: "file", path: file, resolvedPath: resolveKeyPath(configPath, file) };
    }
    return undefined;
  }
}

function reportUnknownKeys(table: Table, known: readonly string[], path: string, issues: IssueList): void {
  for (const key of Object.keys(table)) {
    if (known.includes(key)) continue;
    const suggestion = didYouMean(key, known);
    const hint = suggestion === null ? `; known keys: ${known.join(", ")}` : `; did you mean '${suggestion}'?`;
    issues.error(path === "" ? key : `${path}.${key}`, `unknown key${hint}`);
  }
}

function isTable(value: unknown): value is Table {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** describeType names a TOML value's type the way the TOML spec does, with the value when short. */
export function describeType(value: unknown): string {
  if (typeof value === "string") return value.length <= 40 ? `a string ('${value}')` : "a string";
  if (typeof value === "boolean") return `a boolean (${value})`;
  if (typeof value === "number") return Number.isInteger(value) ? `an integer (${value})` : `a float (${value})`;
  if (Array.isArray(value)) return "an array";
  if (isTable(value)) return "a table";
  return "a date/time";
}

/**
 * locateSyntaxError finds the line of a TOML syntax error. Bun's error carries
 * no position, so find the longest prefix of whole lines that still parses:
 * the error starts on the next line (for multi-line values, the line the value
 * starts on). Config files are small, so the repeated parses cost nothing.
 */
export function locateSyntaxError(text: string): number | undefined {
  const lines = text.split("\n");
  if (lines.length > 5000) return undefined;
  for (let count = lines.length - 1; count >= 0; count--) {
    try {
      Bun.TOML.parse(lines.slice(0, count).join("\n"));
      return count + 1;
    } catch {
      // Keep shrinking until a prefix parses.
    }
  }
  return undefined;
}
