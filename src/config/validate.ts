// Field checks shared by the TOML and wg-quick parsers, so both give the
// same verdicts and the same wording. Each returns a message (what is wrong)
// or the normalized value; the parsers add the file and key.

import { formatPrefix, hasHostBits, maskPrefix, parsePrefix } from "./prefix.ts";
import { MAX_IFNAME_LEN, MAX_MTU, MIN_MTU_IPV4, MIN_MTU_IPV6 } from "./types.ts";

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
