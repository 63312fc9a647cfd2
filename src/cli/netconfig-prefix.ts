// Prefix arithmetic for netconfig: canonical text (so strings from the config
// and from `ip -j` compare equal), containment (for wg-quick's "already
// routed" check) and the subnet route the kernel makes for an address.
import { formatPrefix, maskPrefix, parsePrefix, type IpPrefix } from "../config/prefix.ts";

export type Family = 4 | 6;

function parseOrThrow(text: string): IpPrefix {
  const parsed = parsePrefix(text);
  if (!parsed.ok) throw new Error(`'${text}' is not an IP prefix${parsed.reason ? `: ${parsed.reason}` : ""}`);
  return parsed.prefix;
}

export function familyOf(text: string): Family {
  return text.includes(":") ? 6 : 4;
}

/** canonicalAddress keeps host bits ("198.18.0.1/24"); no length means a host (/32, /128). */
export function canonicalAddress(text: string): string {
  return formatPrefix(parseOrThrow(text));
}

/** canonicalRoute clears host bits; `ip` prints "default" for /0 and drops /32 and /128. */
export function canonicalRoute(text: string, family: Family): string {
  if (text === "default") return family === 4 ? "0.0.0.0/0" : "::/0";
  return formatPrefix(maskPrefix(parseOrThrow(text)));
}

export function isDefaultRoute(prefix: string): boolean {
  return prefix.endsWith("/0");
}

/** contains reports whether `outer` includes every address of `inner` (equal counts). */
export function contains(outer: string, inner: string): boolean {
  const a = parseOrThrow(outer);
  const b = parseOrThrow(inner);
  if (a.family !== b.family || a.bits > b.bits) return false;
  return formatPrefix(maskPrefix(a)) === formatPrefix(maskPrefix({ ...b, bits: a.bits }));
}

/**
 * subnetRouteOf is the main-table route the kernel adds for an interface
 * address ("198.18.0.1/24" → "198.18.0.0/24"), or null for a host address
 * (/32, /128), which gets only a local-table entry.
 */
export function subnetRouteOf(address: string): string | null {
  const prefix = parseOrThrow(address);
  if (prefix.bits === (prefix.family === 4 ? 32 : 128)) return null;
  return formatPrefix(maskPrefix(prefix));
}

/** isLinkLocal: fe80::/10 addresses are the kernel's own; tunnel never removes them. */
export function isLinkLocal(address: string): boolean {
  return familyOf(address) === 6 && contains("fe80::/10", address);
}

/** prefixLength of canonical text. */
export function prefixLength(prefix: string): number {
  return Number(prefix.slice(prefix.lastIndexOf("/") + 1));
}
