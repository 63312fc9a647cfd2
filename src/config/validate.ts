// Field checks shared by the TOML and wg-quick parsers, so both give the
// same verdicts and the same wording. Each returns a message (what is wrong)
// or the normalized value; the parsers add the file and key.

import { isHostName } from "./endpoint.ts";
import { formatIp, formatPrefix, hasHostBits, maskPrefix, parseIp, parsePrefix } from "./prefix.ts";
import { MAX_IFNAME_LEN, MAX_MTU, MAX_WORKERS, MIN_MTU_IPV4, MIN_MTU_IPV6, type RouteTable, type WorkersSetting } from "./types.ts";

export type Checked<T> = { ok: true; value: T; warning?: string } | { ok: false; message: string };

/**
 * WG_KEY_BASE64 is a canonical base64 encoding of 32 bytes: 43 characters and
 * one '='. The 43rd character carries only 4 data bits, so its low 2 bits must
 * be zero; wg(8)'s key_from_base64 rejects the other spellings too.
 */
const WG_KEY_BASE64 = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/;

/** isWireGuardKey reports whether text is a canonical base64 WireGuard key. */
export function isWireGuardKey(text: string): boolean {
  return WG_KEY_BASE64.test(text);
}

/**
 * checkKey validates a base64 key. Secret keys are never echoed back: a
 * mistyped private key in a log is still a leaked private key.
 */
export function checkKey(text: string, isSecret: boolean): Checked<string> {
  if (isWireGuardKey(text)) return { ok: true, value: text };
  const shown = isSecret ? "the value" : `'${text}'`;
  let why: string;
  if (text.length !== 44) why = `expected 44 characters, got ${text.length}`;
  else if (!text.endsWith("=")) why = "it must end in '='";
  else if (!/^[A-Za-z0-9+/]{43}=$/.test(text)) why = "it contains characters outside the base64 alphabet";
  else why = "the last character before '=' has bits set past the 32nd byte";
  return { ok: false, message: `${shown} is not a valid key (base64 of 32 bytes): ${why}` };
}

/** checkInterfaceName applies the kernel's dev_valid_name rules (net/core/dev.c). */
export function checkInterfaceName(name: string): string | null {
  const bad = (why: string) => `'${name}' is not a valid interface name: ${why}`;
  if (name.length === 0) return bad("it is empty");
  if (name.length > MAX_IFNAME_LEN) return bad(`it has ${name.length} characters; the limit is ${MAX_IFNAME_LEN}`);
  if (name === "." || name === "..") return bad("'.' and '..' are reserved");
  if (/[/:\s]/.test(name)) return bad("it must not contain '/', ':' or whitespace");
  return null;
}

/** checkIntegerRange checks an already-integer value against inclusive bounds. */
export function checkIntegerRange(value: number, min: number, max: number): string | null {
  if (value < min || value > max) return `${value} is out of range; it must be from ${min} to ${max}`;
  return null;
}

/** checkMtu bounds the MTU; with an IPv6 address on the link the floor is 1280 (RFC 8200 §5). */
export function checkMtu(mtu: number, hasIpv6Address: boolean): string | null {
  const min = hasIpv6Address ? MIN_MTU_IPV6 : MIN_MTU_IPV4;
  if (mtu >= min && mtu <= MAX_MTU) return null;
  const why = hasIpv6Address ? " (IPv6 needs at least 1280)" : "";
  return `${mtu} is out of range; it must be from ${min} to ${MAX_MTU}${why}`;
}

/**
 * checkInterfaceAddress validates "198.18.0.1/24": host bits are the
 * interface's own address, so they are kept. No length means a single host.
 */
export function checkInterfaceAddress(text: string): Checked<string> {
  const parsed = parsePrefix(text);
  if (!parsed.ok) return { ok: false, message: describeBadPrefix(text, parsed, "address") };
  return { ok: true, value: formatPrefix(parsed.prefix) };
}

/**
 * checkAllowedIp validates an allowed-IPs prefix. Host bits are cleared with a
 * warning, as wg(8) does ("AllowedIP has nonzero host part"), because the
 * kernel masks them anyway and the user probably meant the network.
 */
export function checkAllowedIp(text: string): Checked<string> {
  const parsed = parsePrefix(text);
  if (!parsed.ok) return { ok: false, message: describeBadPrefix(text, parsed, "prefix") };
  const masked = formatPrefix(maskPrefix(parsed.prefix));
  if (hasHostBits(parsed.prefix)) {
    return { ok: true, value: masked, warning: `'${text}' has host bits set; using ${masked}` };
  }
  return { ok: true, value: masked };
}

function describeBadPrefix(text: string, parsed: { family: 4 | 6; reason: string }, what: string): string {
  const base = `'${text}' is not a valid IPv${parsed.family} ${what}`;
  return parsed.reason === "" ? base : `${base}: ${parsed.reason}`;
}

/** isIpv6Text tells IPv6 from IPv4 in already-validated canonical text. */
export function isIpv6Text(text: string): boolean {
  return text.includes(":");
}

/** checkDnsServer validates a name server: an IPv4 or IPv6 address, no port or prefix (resolv.conf takes none). */
export function checkDnsServer(text: string): Checked<string> {
  const address = parseIp(text);
  if (address === null) return { ok: false, message: `'${text}' is not an IP address; name servers are given by address` };
  return { ok: true, value: formatIp(address) };
}

/** checkSearchDomain validates a DNS search domain (a host name; a trailing dot is fine). */
export function checkSearchDomain(text: string): Checked<string> {
  if (isHostName(text)) return { ok: true, value: text };
  return { ok: false, message: `'${text}' is not a valid search domain` };
}

/**
 * isDnsServerText is wg-quick's own test for a DNS= item: digits and dots, or
 * anything with a ':' is a server; everything else is a search domain.
 */
export function isDnsServerText(text: string): boolean {
  return /^[0-9.]+$/.test(text) || text.includes(":");
}

/** MAX_TABLE is the largest routing table id the kernel takes (u32). */
const MAX_TABLE = 0xffffffff;
/** Tables the kernel reserves: 0 is "unspecified", 253 default, 255 local. */
const RESERVED_TABLES = new Map([
  [0, "0 means 'unspecified' to the kernel"],
  [253, "253 is the kernel's 'default' table"],
  [255, "255 is the kernel's 'local' table; routes there would shadow local addresses"],
]);

/** checkTable validates wg-quick's Table=: "off", "auto", "main" or a table number. */
export function checkTable(value: string | number): Checked<RouteTable> {
  if (typeof value === "string") {
    const lower = value.toLowerCase();
    if (lower === "off" || lower === "auto" || lower === "main") return { ok: true, value: lower };
    if (!/^[0-9]+$/.test(value)) return { ok: false, message: `'${value}' is not 'off', 'auto', 'main' or a table number` };
    value = Number(value);
  }
  if (!Number.isInteger(value) || value < 0 || value > MAX_TABLE)
    return { ok: false, message: `${value} is out of range; a table number is from 1 to ${MAX_TABLE}` };
  const reserved = RESERVED_TABLES.get(value);
  if (reserved !== undefined) return { ok: false, message: `${value} cannot be used: ${reserved}` };
  if (value === 254) return { ok: true, value: "main" };
  return { ok: true, value };
}

/** checkWorkers accepts "auto" or a whole number of threads from 1 to MAX_WORKERS (a string of digits too: TUNNEL_WORKERS). */
export function checkWorkers(value: unknown): Checked<WorkersSetting> {
  if (typeof value === "string") {
    if (value.trim().toLowerCase() === "auto") return { ok: true, value: "auto" };
    if (!/^\s*[0-9]+\s*$/.test(value)) return { ok: false, message: `'${value}' is not "auto" or a number of threads` };
    value = Number(value);
  }
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1 || value > MAX_WORKERS) {
    return { ok: false, message: `${String(value)} is not "auto" or a whole number of threads from 1 to ${MAX_WORKERS}` };
  }
  return { ok: true, value };
}

/** checkHook accepts any non-empty command line; it is run by bash, as wg-quick does. */
export function checkHook(text: string): Checked<string> {
  if (text.trim() === "") return { ok: false, message: "is empty; give a command or remove the item" };
  return { ok: true, value: text };
}
