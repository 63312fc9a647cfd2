// IP addresses and CIDR prefixes for the config layer: strict parsing (the
// same inputs inet_pton accepts, minus zone ids), host-bit masking, and
// canonical formatting (RFC 5952 for IPv6). Kept here so src/config stays free
// of imports from other src folders; src/wireguard has its own trie-side copy.

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

const DECIMAL_OCTET = /^(?:0|[1-9][0-9]{0,2})$/;
const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

/** parseIpv4 parses dotted-quad text; leading zeros are refused, as inet_pton does. */
export function parseIpv4(text: string): Uint8Array | null {
  const parts = text.split(".");
  if (parts.length !== 4) return null;
  const bytes = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const part = parts[i]!;
    if (!DECIMAL_OCTET.test(part)) return null;
    const value = Number(part);
    if (value > 255) return null;
    bytes[i] = value;
  }
  return bytes;
}

/** parseIpv6 parses RFC 4291 §2.2 text, including '::' and a dotted IPv4 tail. */
export function parseIpv6(text: string): Uint8Array | null {
  if (text.length === 0 || text.length > 45) return null;
  const doubleColon = text.indexOf("::");
  if (doubleColon !== -1 && text.indexOf("::", doubleColon + 1) !== -1) return null;

  const head = doubleColon === -1 ? text : text.slice(0, doubleColon);
  const tail = doubleColon === -1 ? "" : text.slice(doubleColon + 2);
  const headGroups = head === "" ? [] : head.split(":");
  const tailGroups = tail === "" ? [] : tail.split(":");

  const words: number[] = [];
  const parseGroups = (groups: string[], allowIpv4Tail: boolean): number[] | null => {
    const out: number[] = [];
    for (let i = 0; i < groups.length; i++) {
      const group = groups[i]!;
      const isLast = i === groups.length - 1;
      if (isLast && allowIpv4Tail && group.includes(".")) {
        const v4 = parseIpv4(group);
        if (v4 === null) return null;
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
        continue;
      }
      if (!HEX_GROUP.test(group)) return null;
      out.push(parseInt(group, 16));
    }
    return out;
  };

  const headWords = parseGroups(headGroups, doubleColon === -1);
  const tailWords = parseGroups(tailGroups, true);
  if (headWords === null || tailWords === null) return null;

  if (doubleColon === -1) {
    if (headWords.length !== 8) return null;
    words.push(...headWords);
  } else {
    const missing = 8 - headWords.length - tailWords.length;
    // '::' stands for at least one zero group (RFC 4291 §2.2, item 2).
    if (missing < 1) return null;
    words.push(...headWords, ...new Array<number>(missing).fill(0), ...tailWords);
  }

  const bytes = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    bytes[i * 2] = words[i]! >> 8;
    bytes[i * 2 + 1] = words[i]! & 0xff;
  }
  return bytes;
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

/** formatIp formats an address canonically: dotted quad, or RFC 5952 IPv6. */
export function formatIp(address: IpAddress): string {
  const b = address.bytes;
  if (address.family === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;

  const words: number[] = [];
  for (let i = 0; i < 8; i++) words.push((b[i * 2]! << 8) | b[i * 2 + 1]!);

  // RFC 5952 §5: IPv4-mapped addresses keep the dotted tail.
  const isV4Mapped = words.slice(0, 5).every((w) => w === 0) && words[5] === 0xffff;
  if (isV4Mapped) return `::ffff:${b[12]}.${b[13]}.${b[14]}.${b[15]}`;

  // RFC 5952 §4.2: compress the longest run of two or more zero groups, the first on a tie.
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = words.map((w) => w.toString(16));
  if (bestStart === -1) return hex.join(":");
  const left = hex.slice(0, bestStart).join(":");
  const right = hex.slice(bestStart + bestLen).join(":");
  return `${left}::${right}`;
}

/** formatPrefix formats "address/length" canonically (host bits as they are). */
export function formatPrefix(prefix: IpPrefix): string {
  return `${formatIp(prefix)}/${prefix.bits}`;
}
