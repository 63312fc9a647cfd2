// The TOML writer for `tunnel convert`: fixed key order, one blank line
// between tables, short arrays inline and long ones one item per line, so
// output is stable across runs and diffs well. parseTunnelConfig(toToml(c))
// gives back c (tested as a round trip).

import { formatEndpoint } from "./endpoint.ts";
import { HOOK_FIELDS, HOOK_KEYS, type KeySource, type TunnelConfig } from "./types.ts";

/** ToTomlOptions adds comment lines (without the leading '#'; "" gives a blank line) to the output. */
export interface ToTomlOptions {
  /** Lines at the top of the file. */
  header?: string[];
  /** Lines at the end of the [interface] table, e.g. wg-quick settings that were not converted. */
  interfaceComments?: string[];
}

const MAX_INLINE_WIDTH = 80;

/** toToml writes a config in the tunnel TOML format. */
export function toToml(config: TunnelConfig, options: ToTomlOptions = {}): string {
  const out: string[] = [];
  for (const line of options.header ?? []) out.push(comment(line));
  if (out.length > 0) out.push("");

  const iface = config.interface;
  out.push("[interface]");
  out.push(assign("name", tomlString(iface.name)));
  out.push(...keyLines("private_key", iface.privateKey));
  if (iface.listenPort !== undefined) out.push(assign("listen_port", String(iface.listenPort)));
  out.push(assign("address", tomlStringArray("address", iface.addresses)));
  out.push(assign("mtu", String(iface.mtu)));
  // Hex, as wg(8) shows marks; TOML reads 0x literals back as the same integer.
  if (iface.fwmark !== undefined) out.push(assign("fwmark", iface.fwmark === 0 ? "0" : `0x${iface.fwmark.toString(16)}`));
  if (iface.metricsListen !== undefined) out.push(assign("metrics_listen", tomlString(iface.metricsListen)));
  if (iface.dns !== undefined) out.push(assign("dns", tomlStringArray("dns", iface.dns)));
  if (iface.dnsSearch !== undefined) out.push(assign("dns_search", tomlStringArray("dns_search", iface.dnsSearch)));
  if (iface.table !== undefined) out.push(assign("table", typeof iface.table === "number" ? String(iface.table) : tomlString(iface.table)));
  for (const field of HOOK_FIELDS) {
    const hooks = iface[field];
    // One command per line: hooks are long and read better (and diff better) that way.
    if (hooks !== undefined) out.push(assign(HOOK_KEYS[field], hooks.length === 0 ? "[]" : `[\n${hooks.map((h) => `  ${tomlString(h)},`).join("\n")}\n]`));
  }
  if (iface.endpointRefresh !== undefined) out.push(assign("endpoint_refresh", String(iface.endpointRefresh)));
  if (iface.workers !== undefined) out.push(assign("workers", iface.workers === "auto" ? tomlString("auto") : String(iface.workers)));
  for (const line of options.interfaceComments ?? []) out.push(comment(line));

  for (const peer of config.peers) {
    out.push("", "[[peer]]");
    if (peer.name !== undefined) out.push(assign("name", tomlString(peer.name)));
    if (peer.description !== undefined) out.push(assign("description", tomlString(peer.description)));
    out.push(assign("public_key", tomlString(peer.publicKey)));
    if (peer.presharedKey !== undefined) out.push(...keyLines("preshared_key", peer.presharedKey));
    if (peer.endpoint !== undefined) out.push(assign("endpoint", tomlString(formatEndpoint(peer.endpoint))));
    out.push(assign("allowed_ips", tomlStringArray("allowed_ips", peer.allowedIps)));
    if (peer.persistentKeepalive !== undefined) {
      out.push(assign("persistent_keepalive", String(peer.persistentKeepalive)));
    }
  }
  return `${out.join("\n")}\n`;
}

function keyLines(base: string, source: KeySource): string[] {
  return source.kind === "inline" ? [assign(base, tomlString(source.key))] : [assign(`${base}_file`, tomlString(source.path))];
}

function assign(key: string, value: string): string {
  return `${key} = ${value}`;
}

function comment(line: string): string {
  // A newline inside a comment would end it and turn the rest into TOML.
  return line === "" ? "" : `# ${line.replace(/[\r\n]+/g, " ")}`;
}

function tomlStringArray(key: string, items: string[]): string {
  const inline = `[${items.map(tomlString).join(", ")}]`;
  if (`${key} = ${inline}`.length <= MAX_INLINE_WIDTH) return inline;
  return `[\n${items.map((item) => `  ${tomlString(item)},`).join("\n")}\n]`;
}

/** tomlString writes a TOML basic string, escaping quotes, backslashes and control characters. */
export function tomlString(text: string): string {
  let out = '"';
  for (const char of text) {
    const code = char.codePointAt(0)!;
    if (char === '"') out += '\\"';
    else if (char === "\\") out += "\\\\";
    else if (char === "\n") out += "\\n";
    else if (char === "\t") out += "\\t";
    else if (char === "\r") out += "\\r";
    else if (code < 0x20 || code === 0x7f) out += `\\u${code.toString(16).padStart(4, "0")}`;
    else out += char;
  }
  return `${out}"`;
}
