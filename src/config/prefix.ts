// IP addresses and CIDR prefixes for the config layer: the shapes and error
// reasons config messages need, and host-bit masking. The address syntax
// (inet_pton's rules) and the canonical formatting (glibc inet_ntop, as wg(8)
// prints) are src/wireguard/allowed-ips.ts's, so config and UAPI agree.
import { formatAddr, parseAddr } from "../wireguard/allowed-ips.ts";

export type IpFamily = 4 | 6;

/** IpAddress is an address in network byte order: 4 bytes for IPv4, 16 for IPv6. */
export interface IpAddress {
  family: IpFamily;
  bytes: Uint8Array;
}

/** IpPrefix is an address plus a prefix length; host bits may or may not be zero. */
export interface IpPrefix extends IpAddress {
  bits: number;
}

/** PrefixParse: on failure, `reason` is empty when the address itself is malformed (nothing more useful to say). */
export type PrefixParse = { ok: true; prefix: IpPrefix } | { ok: false; reason: string; family: IpFamily };

/** parseIpv4 parses dotted-quad text; leading zeros are refused, as inet_pton does. */
export function parseIpv4(text: string): Uint8Array | null {
  return text.includes(":") ? null : parseAddr(text);
}

/** parseIpv6 parses RFC 4291 §2.2 text, including '::' and a dotted IPv4 tail. */
export function parseIpv6(text: string): Uint8Array | null {
  return text.includes(":") ? parseAddr(text) : null;
}

/** parseIp parses an IPv4 or IPv6 address; a ':' selects IPv6, as wg(8) does. */
export function parseIp(text: string): IpAddress | null {
  if (text.includes(":")) {
    const bytes = parseIpv6(text);
    return bytes === null ? null : { family: 6, bytes };
  }
  const bytes = parseIpv4(text);
  return bytes === null ? null : { family: 4, bytes };
}

/**
 * parsePrefix parses "address/length". Without "/length" the prefix is a
 * single host (/32 or /128), matching wg(8) and ip(8). Host bits are kept;
 * callers decide whether to mask (allowed IPs) or not (interface addresses).
 */
export function parsePrefix(text: string): PrefixParse {
  const slash = text.indexOf("/");
  const addressText = slash === -1 ? text : text.slice(0, slash);
  const family: IpFamily = addressText.includes(":") ? 6 : 4;
  const address = parseIp(addressText);
  if (address === null) return { ok: false, family, reason: "" };
  const maxBits = family === 4 ? 32 : 128;
  if (slash === -1) return { ok: true, prefix: { ...address, bits: maxBits } };

  const lengthText = text.slice(slash + 1);
  if (!/^(?:0|[1-9][0-9]{0,2})$/.test(lengthText) || Number(lengthText) > maxBits) {
    return { ok: false, family, reason: `the prefix length must be a number from 0 to ${maxBits}` };
  }
  return { ok: true, prefix: { ...address, bits: Number(lengthText) } };
}

/** maskPrefix returns a copy of prefix with every bit past `bits` cleared. */
export function maskPrefix(prefix: IpPrefix): IpPrefix {
  const bytes = prefix.bytes.slice();
  for (let i = 0; i < bytes.length; i++) {
    const keep = Math.max(0, Math.min(8, prefix.bits - i * 8));
    bytes[i]! &= (0xff << (8 - keep)) & 0xff;
  }
  return { family: prefix.family, bytes, bits: prefix.bits };
}

/** hasHostBits reports whether any bit past the prefix length is set. */
export function hasHostBits(prefix: IpPrefix): boolean {
  const masked = maskPrefix(prefix);
  return masked.bytes.some((byte, i) => byte !== prefix.bytes[i]);
}

/** formatIp formats an address canonically: dotted quad, or IPv6 exactly as wg(8) prints it (glibc inet_ntop, RFC 5952). */
export function formatIp(address: IpAddress): string {
  return formatAddr(address.bytes);
}

/** formatPrefix formats "address/length" canonically (host bits as they are). */
export function formatPrefix(prefix: IpPrefix): string {
  return `${formatIp(prefix)}/${prefix.bits}`;
}
