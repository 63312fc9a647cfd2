// wg-quick(8) INI files, for `tunnel convert`. Semantics follow wireguard-tools:
// keys and section names are case-insensitive (config.c strncasecmp), '#'
// starts a comment anywhere on a line, Address and AllowedIPs are
// comma-separated and may repeat, a repeated single-valued key keeps the last
// value, and "off" means 0 for FwMark and PersistentKeepalive. wg-quick's
// own keys are translated as its parse_options reads them: DNS= items are
// servers when they look like addresses and search domains otherwise, Table=
// is kept, hooks accumulate in order. SaveConfig alone has no TOML meaning
// (tunnel never rewrites its config); it comes back as `unconverted`.

import { posix } from "node:path";
import { runCrossChecks, type KeyNamer } from "./cross-checks.ts";
import { parseEndpoint } from "./endpoint.ts";
import { didYouMean, IssueList, type ConfigIssue } from "./errors.ts";
import { DEFAULT_MTU, type ConfigSource, type InterfaceConfig, type PeerConfig, type TunnelConfig } from "./types.ts";
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
  isDnsServerText,
} from "./validate.ts";

const INTERFACE_KEYS = [
  "PrivateKey",
  "ListenPort",
  "FwMark",
  "Address",
  "MTU",
  "DNS",
  "Table",
  "PreUp",
  "PostUp",
  "PreDown",
  "PostDown",
  "SaveConfig",
] as const;
const PEER_KEYS = ["PublicKey", "PresharedKey", "AllowedIPs", "Endpoint", "PersistentKeepalive"] as const;
const SECTIONS = ["Interface", "Peer"] as const;

const HOOK_KEYS = new Set<string>(["PreUp", "PostUp", "PreDown", "PostDown"]);
const HOOK_FIELD_OF = { PreUp: "preUp", PostUp: "postUp", PreDown: "preDown", PostDown: "postDown" } as const;

/** UnconvertedSetting is a wg-quick line kept verbatim for a TOML comment. */
export interface UnconvertedSetting {
  key: string;
  value: string;
  line: number;
}

export type WgQuickResult =
  | { ok: true; config: TunnelConfig; warnings: ConfigIssue[]; unconverted: UnconvertedSetting[] }
  | { ok: false; errors: ConfigIssue[] };

export interface WgQuickOptions {
  /** Interface name to use instead of the file's base name (wg0.conf → wg0). */
  name?: string;
}

interface PeerDraft {
  peer: PeerConfig;
  line: number;
  publicKeyLine?: number;
  allowedIpLines: number[];
  seen: Map<string, number>;
}

/** parseWgQuickConfig parses a wg-quick config into the tunnel config, collecting every problem. */
export function parseWgQuickConfig(source: ConfigSource, options: WgQuickOptions = {}): WgQuickResult {
  const issues = new IssueList(source.path);
  const unconverted: UnconvertedSetting[] = [];
  const fileName = posix.basename(source.path).replace(/\.conf$/i, "");
  const name = options.name ?? fileName;
  const iface: InterfaceConfig = { name, privateKey: { kind: "inline", key: "" }, addresses: [], mtu: DEFAULT_MTU };
  const peers: PeerDraft[] = [];
  const interfaceSeen = new Map<string, number>();
  let hasInterfaceSection = false;
  let hasPrivateKey = false;
  let mtuLine: number | undefined;
  let dnsLine: number | undefined;
  let section: "Interface" | "Peer" | "unknown" | null = null;

  const lines = source.text.split("\n");
  lines.forEach((rawLine, index) => {
    const lineNumber = index + 1;
    const line = rawLine.replace(/\r$/, "");
    const stripped = line.split("#", 1)[0]!.trim();
    if (stripped === "") return;

    if (stripped.startsWith("[")) {
      const header = stripped.replace(/\s+/g, "");
      const match = /^\[([^\]]*)\]$/.exec(header);
      const known = match === null ? undefined : SECTIONS.find((s) => s.toLowerCase() === match[1]!.toLowerCase());
      if (known === "Interface") {
        section = "Interface";
        hasInterfaceSection = true;
      } else if (known === "Peer") {
        section = "Peer";
        peers.push({ peer: { publicKey: "", allowedIps: [] }, line: lineNumber, allowedIpLines: [], seen: new Map() });
      } else {
        section = "unknown";
        const suggestion = match === null ? null : didYouMean(match[1]!, SECTIONS);
        const hint = suggestion === null ? "expected [Interface] or [Peer]" : `did you mean [${suggestion}]?`;
        issues.error("", `unknown section '${stripped}'; ${hint}`, lineNumber);
      }
      return;
    }

    const equals = stripped.indexOf("=");
    if (equals === -1) {
      issues.error("", `expected 'Key = Value', got '${stripped}'`, lineNumber);
      return;
    }
    const keyText = stripped.slice(0, equals).trim();
    const value = stripped.slice(equals + 1).trim();

    if (section === null) {
      issues.error("", `'${keyText}' comes before any [Interface] or [Peer] section`, lineNumber);
      return;
    }
    if (section === "unknown") return; // Already reported at the section header.

    const known = section === "Interface" ? INTERFACE_KEYS : PEER_KEYS;
    const key = known.find((k) => k.toLowerCase() === keyText.toLowerCase());
    const draft = section === "Peer" ? peers[peers.length - 1]! : undefined;
    const path = draft === undefined ? `interface.${keyText}` : `peer[${peers.length - 1}].${keyText}`;
    if (key === undefined) {
      const suggestion = didYouMean(keyText, known);
      const hint = suggestion === null ? `known keys: ${known.join(", ")}` : `did you mean '${suggestion}'?`;
      issues.error(path, `unknown key in [${section}]; ${hint}`, lineNumber);
      return;
    }
    const keyPath = draft === undefined ? `interface.${key}` : `peer[${peers.length - 1}].${key}`;

    // Address and AllowedIPs accumulate; hooks repeat; everything else keeps the last value, as wg(8) does.
    const repeatable = key === "Address" || key === "AllowedIPs" || key === "DNS" || HOOK_KEYS.has(key);
    const seen = draft === undefined ? interfaceSeen : draft.seen;
    const earlier = seen.get(key);
    if (earlier !== undefined && !repeatable) {
      issues.warn(keyPath, `set again (first on line ${earlier}); the last value wins`, lineNumber);
    }
    seen.set(key, lineNumber);

    if (key === "SaveConfig") {
      if (value.toLowerCase() === "false") return; // The default; nothing is lost.
      unconverted.push({ key, value, line: lineNumber });
      issues.warn(
        keyPath,
        "not converted: tunnel never writes the running state back into its config (edit the TOML and run `tunnel up` again instead); kept as a comment",
        lineNumber,
      );
      return;
    }

    const error = (message: string) => issues.error(keyPath, message, lineNumber);
    switch (key) {
      case "PrivateKey": {
        const checked = checkKey(value, true);
        if (checked.ok) {
          iface.privateKey = { kind: "inline", key: checked.value };
          hasPrivateKey = true;
        } else error(checked.message);
        break;
      }
      case "ListenPort": {
        const port = parseInteger(value, 0, 65535);
        if (typeof port === "number") iface.listenPort = port;
        else error(port.message);
        break;
      }
      case "FwMark": {
        const mark = parseInteger(value, 0, 0xffffffff, { hex: true, off: true });
        if (typeof mark === "number") iface.fwmark = mark;
        else error(mark.message);
        break;
      }
      case "MTU": {
        const mtu = parseInteger(value, 0, Number.MAX_SAFE_INTEGER);
        if (typeof mtu === "number") {
          iface.mtu = mtu;
          mtuLine = lineNumber;
        } else error(mtu.message);
        break;
      }
      case "Address":
        for (const item of splitList(value)) {
          const checked = checkInterfaceAddress(item);
          if (checked.ok) iface.addresses.push(checked.value);
          else error(checked.message);
        }
        break;
      case "PublicKey": {
        const checked = checkKey(value, false);
        if (checked.ok) draft!.peer.publicKey = checked.value;
        else error(checked.message);
        draft!.publicKeyLine = lineNumber;
        break;
      }
      case "PresharedKey": {
        const checked = checkKey(value, true);
        if (checked.ok) draft!.peer.presharedKey = { kind: "inline", key: checked.value };
        else error(checked.message);
        break;
      }
      case "AllowedIPs":
        for (const item of splitList(value)) {
          const checked = checkAllowedIp(item);
          if (!checked.ok) {
            error(checked.message);
            continue;
          }
          if (checked.warning !== undefined) issues.warn(keyPath, checked.warning, lineNumber);
          draft!.peer.allowedIps.push(checked.value);
          draft!.allowedIpLines.push(lineNumber);
        }
        break;
      case "Endpoint": {
        const parsed = parseEndpoint(value);
        if (parsed.ok) draft!.peer.endpoint = parsed.endpoint;
        else error(parsed.message);
        break;
      }
      case "DNS":
        // wg-quick splits on commas and blanks: `for v in ${value//,/ }`.
        for (const item of value.split(/[\s,]+/).filter((v) => v !== "")) {
          const checked = isDnsServerText(item) ? checkDnsServer(item) : checkSearchDomain(item);
          if (!checked.ok) error(checked.message);
          else if (isDnsServerText(item)) {
            iface.dns ??= [];
            iface.dns.push(checked.value);
          } else {
            iface.dnsSearch ??= [];
            iface.dnsSearch.push(checked.value);
          }
        }
        dnsLine = lineNumber;
        break;
      case "Table": {
        const checked = checkTable(value);
        if (checked.ok) iface.table = checked.value;
        else error(`${checked.message} (tunnel takes no table names from /etc/iproute2/rt_tables)`);
        break;
      }
      case "PreUp":
      case "PostUp":
      case "PreDown":
      case "PostDown": {
        // wg-quick (parse_options) cuts the line at the first '#' for hooks too: `stripped="${line%%\#*}"`.
        const checked = checkHook(value);
        if (checked.ok) {
          const field = HOOK_FIELD_OF[key];
          iface[field] ??= [];
          iface[field].push(checked.value);
        } else error(checked.message);
        break;
      }
      case "PersistentKeepalive": {
        const interval = parseInteger(value, 0, 65535, { off: true });
        if (typeof interval === "number") draft!.peer.persistentKeepalive = interval;
        else error(interval.message);
        break;
      }
    }
  });

  const nameProblem = checkInterfaceName(name);
  if (nameProblem !== null) {
    const hint = options.name === undefined ? " (taken from the file name; choose a name when converting)" : "";
    issues.error("interface.name", nameProblem + hint);
  }
  if (!hasInterfaceSection) issues.error("interface", "missing; the file needs an [Interface] section");
  else if (!hasPrivateKey && !interfaceSeen.has("PrivateKey")) {
    issues.error("interface.PrivateKey", "missing; tunnel needs the interface's private key");
  }
  if (iface.dnsSearch !== undefined && iface.dns === undefined) {
    // wg-quick's set_dns returns early without servers, so the domains never take effect.
    issues.warn("interface.DNS", `search domains without a server are ignored by wg-quick; dropped: ${iface.dnsSearch.join(", ")}`, dnsLine);
    delete iface.dnsSearch;
  }
  peers.forEach((draft, index) => {
    if (draft.publicKeyLine === undefined) {
      issues.error(`peer[${index}].PublicKey`, "missing; every [Peer] needs a PublicKey", draft.line);
    }
  });

  const config: TunnelConfig = { interface: iface, peers: peers.map((d) => d.peer) };
  const names: KeyNamer = {
    interfaceField: () => (mtuLine === undefined ? { key: "interface.MTU" } : { key: "interface.MTU", line: mtuLine }),
    peerField: (peer, field) => {
      const draft = peers[peer]!;
      if (field === "public_key") return { key: `peer[${peer}].PublicKey`, line: draft.publicKeyLine ?? draft.line };
      return { key: `peer[${peer}].AllowedIPs`, line: draft.seen.get("AllowedIPs") ?? draft.line };
    },
    allowedIp: (peer, item) => ({ key: `peer[${peer}].AllowedIPs`, line: peers[peer]!.allowedIpLines[item] ?? peers[peer]!.line }),
  };
  runCrossChecks(config, issues, names);
  if (issues.errors.length > 0) return { ok: false, errors: byLine(issues.errors) };
  return { ok: true, config, warnings: byLine(issues.warnings), unconverted };
}

/** byLine orders issues as they appear in the file; whole-file issues (no line) go last. Stable. */
function byLine(issues: ConfigIssue[]): ConfigIssue[] {
  return [...issues].sort((a, b) => (a.line ?? Infinity) - (b.line ?? Infinity));
}

/** splitList splits a comma-separated value, ignoring empty items ("AllowedIPs =" is an empty list). */
function splitList(value: string): string[] {
  return value
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item !== "");
}

/**
 * parseInteger accepts decimal within bounds, plus what wg(8) allows per key:
 * 0x hex (FwMark) and "off" for 0 (FwMark, PersistentKeepalive).
 */
function parseInteger(text: string, min: number, max: number, forms: { hex?: boolean; off?: boolean } = {}): number | { message: string } {
  if (forms.off === true && text.toLowerCase() === "off") return 0;
  const isDecimal = /^[0-9]+$/.test(text);
  const isHex = forms.hex === true && /^0x[0-9a-fA-F]+$/.test(text);
  if (!isDecimal && !isHex) {
    const accepted = ["a decimal number", forms.hex === true ? "0x hex" : "", forms.off === true ? "'off'" : ""];
    return { message: `'${text}' is not ${accepted.filter((a) => a !== "").join(" or ")}` };
  }
  const value = isHex ? parseInt(text.slice(2), 16) : Number(text);
  const problem = checkIntegerRange(value, min, max);
  return problem === null ? value : { message: problem };
}
