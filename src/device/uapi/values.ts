// Value codecs of the UAPI text protocol: 32-byte keys as hex, unsigned
// decimals, UDP endpoints, allowed-IP prefixes. Each parser returns null on
// bad input and never throws, so protocol.ts decides the errno. Syntax is
// what wireguard-go accepts (Go's hex.DecodeString, strconv.ParseUint base
// 10, netip.ParseAddrPort, netip.ParsePrefix); output is what it prints.
import { type AllowedIpEntry, formatAddr, parsePrefix } from "../../wireguard/allowed-ips.ts";

export const KEY_BYTES = 32;
const HEX_DIGITS = "0123456789abcdef";

/** parseKeyHex decodes exactly 64 hex digits (either case) into 32 bytes. */
export function parseKeyHex(text: string): Uint8Array | null {
  if (text.length !== KEY_BYTES * 2) return null;
  const key = new Uint8Array(KEY_BYTES);
  for (let i = 0; i < KEY_BYTES; i++) {
    const hi = hexValue(text.charCodeAt(2 * i));
    const lo = hexValue(text.charCodeAt(2 * i + 1));
    if (hi < 0 || lo < 0) return null;
    key[i] = (hi << 4) | lo;
  }
  return key;
}

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48; // 0-9
  if (c >= 97 && c <= 102) return c - 87; // a-f
  if (c >= 65 && c <= 70) return c - 55; // A-F
  return -1;
}

/** formatKeyHex renders a key as 64 lowercase hex digits. */
export function formatKeyHex(key: Uint8Array): string {
  let out = "";
  for (let i = 0; i < key.length; i++) out += HEX_DIGITS[key[i]! >> 4]! + HEX_DIGITS[key[i]! & 15]!;
  return out;
}

export function isZeroKey(key: Uint8Array): boolean {
  let bits = 0;
  for (let i = 0; i < key.length; i++) bits |= key[i]!;
  return bits === 0;
}

/**
 * parseUnsigned reads a plain decimal (digits only, leading zeros allowed, as
 * strconv.ParseUint(s, 10, n)) no greater than `max` (at most 2^32 - 1 here).
 */
export function parseUnsigned(text: string, max: number): number | null {
  if (text.length === 0) return null;
  let i = 0;
  while (i < text.length - 1 && text.charCodeAt(i) === 48) i++; // skip leading zeros
  if (text.length - i > 10) return null; // more digits than any u32 has
  let value = 0;
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) return null;
    value = value * 10 + (c - 48);
  }
  return value <= max ? value : null;
}

/** Endpoint is a peer's UDP address: 4- or 16-byte address, port, optional IPv6 zone. */
export interface Endpoint {
  addr: Uint8Array;
  port: number;
  /** IPv6 scope ("eth0" or "2") for link-local addresses; wg sends it as `%zone`. */
  zone?: string;
}

/**
 * parseEndpoint reads `a.b.c.d:port` or `[v6]:port` / `[v6%zone]:port`.
 * Addresses only: wg(8) resolves host names before it sends the line.
 */
export function parseEndpoint(text: string): Endpoint | null {
  let hostText: string;
  let portText: string;
  if (text.startsWith("[")) {
    const close = text.indexOf("]");
    if (close < 0 || text[close + 1] !== ":") return null;
    hostText = text.slice(1, close);
    portText = text.slice(close + 2);
    if (!hostText.includes(":")) return null; // brackets are for IPv6 only
  } else {
    const colon = text.lastIndexOf(":");
    if (colon < 0) return null;
    hostText = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (hostText.includes(":")) return null; // an IPv6 address must be bracketed
  }
  const port = parseUnsigned(portText, 0xffff);
  if (port === null) return null;
  let zone: string | undefined;
  const percent = hostText.indexOf("%");
  if (percent >= 0) {
    zone = hostText.slice(percent + 1);
    hostText = hostText.slice(0, percent);
    if (zone.length === 0 || !hostText.includes(":")) return null; // zones are IPv6-only
  }
  if (hostText.includes("/")) return null;
  const parsed = parsePrefix(hostText);
  if (typeof parsed === "string") return null;
  return zone === undefined ? { addr: parsed.addr, port } : { addr: parsed.addr, port, zone };
}

/** formatEndpoint prints `a.b.c.d:port` or `[v6%zone]:port`, as Go's AddrPort.String. */
export function formatEndpoint(endpoint: Endpoint): string {
  const addr = formatAddr(endpoint.addr);
  if (endpoint.addr.length === 4) return `${addr}:${endpoint.port}`;
  const zone = endpoint.zone === undefined ? "" : `%${endpoint.zone}`;
  return `[${addr}${zone}]:${endpoint.port}`;
}

/**
 * parseAllowedIp reads `addr/bits` (the slash is required and bits has no
 * leading zeros, as netip.ParsePrefix). Host bits are cleared: the routing
 * table stores masked prefixes and get prints them masked.
 */
export function parseAllowedIp(text: string): AllowedIpEntry | null {
  const slash = text.indexOf("/");
  if (slash < 0) return null;
  if (!/^(0|[1-9][0-9]{0,2})$/.test(text.slice(slash + 1))) return null;
  const parsed = parsePrefix(text);
  if (typeof parsed === "string") return null;
  return { addr: maskAddr(parsed.addr, parsed.cidr), cidr: parsed.cidr };
}

function maskAddr(addr: Uint8Array, cidr: number): Uint8Array {
  const out = new Uint8Array(addr);
  for (let i = 0; i < out.length; i++) {
    const bitsHere = Math.min(Math.max(cidr - 8 * i, 0), 8);
    out[i] = out[i]! & ((0xff00 >> bitsHere) & 0xff);
  }
  return out;
}
