// Peer endpoints: "198.18.0.1:51820", "[fd00::1]:51820" or "vpn.example.com:51820".
// Only the shape is checked here; names are resolved by the CLI, because the
// config layer does no I/O. The split follows wg(8) parse_endpoint: a leading
// '[' means a bracketed IPv6 literal, otherwise the port follows the last ':'.

import { formatIp, parseIpv4, parseIpv6 } from "./prefix.ts";
import type { Endpoint } from "./types.ts";

export type EndpointParse = { ok: true; endpoint: Endpoint } | { ok: false; message: string };

const HOST_LABEL = /^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/;

/** parseEndpoint validates "host:port" / "[v6]:port" and canonicalizes IP literals. */
export function parseEndpoint(text: string): EndpointParse {
  const fail = (why: string): EndpointParse => ({ ok: false, message: `'${text}' is not a valid endpoint: ${why}` });
  if (text === "") return fail("it is empty; write host:port or [ipv6]:port");

  let hostText: string;
  let portText: string;
  if (text.startsWith("[")) {
    const close = text.indexOf("]");
    if (close === -1) return fail("missing ']' after the IPv6 address");
    if (text[close + 1] !== ":") return fail("missing ':port' after ']'");
    hostText = text.slice(1, close);
    portText = text.slice(close + 2);
  } else {
    const colon = text.lastIndexOf(":");
    if (colon === -1) return fail("missing ':port'");
    hostText = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (hostText.includes(":")) return fail("an IPv6 address must be in brackets, as in [fd00::1]:51820");
  }

  if (hostText === "") return fail("missing the host before ':port'");
  if (!/^[0-9]{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) {
    return fail(`the port must be a number from 1 to 65535`);
  }
  const port = Number(portText);

  if (text.startsWith("[")) {
    const bytes = parseIpv6(hostText);
    if (bytes === null) return fail(`'${hostText}' is not an IPv6 address`);
    return { ok: true, endpoint: { family: "ipv6", host: formatIp({ family: 6, bytes }), port } };
  }
  // Anything made of digits and dots is meant as IPv4; don't let "198.18.0.300" pass as a host name.
  if (/^[0-9.]+$/.test(hostText)) {
    const bytes = parseIpv4(hostText);
    if (bytes === null) return fail(`'${hostText}' is not an IPv4 address`);
    return { ok: true, endpoint: { family: "ipv4", host: formatIp({ family: 4, bytes }), port } };
  }
  if (!isHostName(hostText)) return fail(`'${hostText}' is neither an IP address nor a host name`);
  return { ok: true, endpoint: { family: "name", host: hostText, port } };
}

/** isHostName checks RFC 1123 shape (underscores allowed, as resolvers do); a trailing dot is fine. */
export function isHostName(text: string): boolean {
  const name = text.endsWith(".") ? text.slice(0, -1) : text;
  if (name.length === 0 || name.length > 253) return false;
  return name.split(".").every((label) => HOST_LABEL.test(label));
}

/** formatEndpoint writes an endpoint back as text, bracketing IPv6. */
export function formatEndpoint(endpoint: Endpoint): string {
  return endpoint.family === "ipv6" ? `[${endpoint.host}]:${endpoint.port}` : `${endpoint.host}:${endpoint.port}`;
}
