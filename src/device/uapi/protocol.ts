// The UAPI text protocol (wireguard.com/xplatform; WG-GO device/uapi.go,
// WG-TOOLS ipc-uapi.h): a `set=1` body parsed into typed operations, and a
// device snapshot printed as a `get=1` reply. Pure text in, text out; the
// framing of operations on a connection lives in server.ts.
import { type AllowedIpEntry, formatPrefix } from "../../wireguard/allowed-ips.ts";
import { UapiErrno, UapiError } from "./errors.ts";
import type { DeviceSnapshot } from "./model.ts";
import { type Endpoint, formatEndpoint, formatKeyHex, isZeroKey, parseAllowedIp, parseEndpoint, parseKeyHex, parseUnsigned } from "./values.ts";

/** SetOperation is one line of a set body, in the order it was sent. */
export type SetOperation =
  // Device keys, only before the first public_key.
  /** null clears the key (an all-zero key on the wire). */
  | { key: "private_key"; privateKey: Uint8Array | null }
  | { key: "listen_port"; port: number }
  /** 0 clears the mark. */
  | { key: "fwmark"; fwmark: number }
  | { key: "replace_peers" }
  // public_key starts a peer section; the keys after it apply to that peer.
  | { key: "public_key"; publicKey: Uint8Array }
  | { key: "update_only" }
  | { key: "remove" }
  /** null means no preshared key (all zeros on the wire). */
  | { key: "preshared_key"; presharedKey: Uint8Array | null }
  | { key: "endpoint"; endpoint: Endpoint }
  | { key: "persistent_keepalive_interval"; seconds: number }
  | { key: "replace_allowed_ips" }
  /** remove: the line was `allowed_ip=-prefix`, which drops one prefix from this peer. */
  | { key: "allowed_ip"; prefix: AllowedIpEntry; remove: boolean }
  | { key: "protocol_version"; version: 1 };

/**
 * SetBodyParser reads a set body one line at a time (without the '\n'), so a
 * server can parse while bytes arrive and keep only operations, not text.
 * The first refused line is kept as `error`; later lines are ignored, as
 * wireguard-go stops at the first error.
 */
export class SetBodyParser {
  readonly operations: SetOperation[] = [];
  error: UapiError | null = null;
  private inPeerSection = false;
  private lineNumber = 0;

  pushLine(line: string): void {
    this.lineNumber++;
    if (this.error !== null) return;
    const eq = line.indexOf("=");
    if (eq < 0) {
      this.error = new UapiError(UapiErrno.protocol, `line without '=': ${quote(line)}`, this.lineNumber);
      return;
    }
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1);
    const result = key === "public_key" ? parsePublicKey(value) : this.inPeerSection ? parsePeerLine(key, value) : parseDeviceLine(key, value);
    if (typeof result === "string") {
      this.error = new UapiError(UapiErrno.invalid, result, this.lineNumber);
      return;
    }
    if (result.key === "public_key") this.inPeerSection = true;
    this.operations.push(result);
  }
}

/** parseSetBody parses a whole body (lines separated by '\n', no blank terminator needed). */
export function parseSetBody(body: string): SetOperation[] {
  const parser = new SetBodyParser();
  const lines = body.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  for (const line of lines) parser.pushLine(line);
  if (parser.error !== null) throw parser.error;
  return parser.operations;
}

function parseDeviceLine(key: string, value: string): SetOperation | string {
  switch (key) {
    case "private_key": {
      const privateKey = parseKeyHex(value);
      if (privateKey === null) return `invalid private_key ${quote(value)}`;
      return { key, privateKey: isZeroKey(privateKey) ? null : privateKey };
    }
    case "listen_port": {
      const port = parseUnsigned(value, 0xffff);
      return port === null ? `invalid listen_port ${quote(value)}` : { key, port };
    }
    case "fwmark": {
      const fwmark = parseUnsigned(value, 0xffffffff);
      return fwmark === null ? `invalid fwmark ${quote(value)}` : { key, fwmark };
    }
    case "replace_peers":
      return value === "true" ? { key } : `invalid replace_peers ${quote(value)} (only "true")`;
    default:
      return `unknown device key ${quote(key)}`;
  }
}

function parsePublicKey(value: string): SetOperation | string {
  const publicKey = parseKeyHex(value);
  return publicKey === null ? `invalid public_key ${quote(value)}` : { key: "public_key", publicKey };
}

function parsePeerLine(key: string, value: string): SetOperation | string {
  switch (key) {
    case "update_only":
    case "remove":
    case "replace_allowed_ips":
      return value === "true" ? { key } : `invalid ${key} ${quote(value)} (only "true")`;
    case "preshared_key": {
      const presharedKey = parseKeyHex(value);
      if (presharedKey === null) return `invalid preshared_key ${quote(value)}`;
      return { key, presharedKey: isZeroKey(presharedKey) ? null : presharedKey };
    }
    case "endpoint": {
      const endpoint = parseEndpoint(value);
      return endpoint === null ? `invalid endpoint ${quote(value)} (want a.b.c.d:port or [v6]:port)` : { key, endpoint };
    }
    case "persistent_keepalive_interval": {
      const seconds = parseUnsigned(value, 0xffff);
      return seconds === null ? `invalid persistent_keepalive_interval ${quote(value)}` : { key, seconds };
    }
    case "allowed_ip": {
      const remove = value.startsWith("-");
      const prefix = parseAllowedIp(remove ? value.slice(1) : value);
      return prefix === null ? `invalid allowed_ip ${quote(value)}` : { key, prefix, remove };
    }
    case "protocol_version":
      return value === "1" ? { key, version: 1 } : `unsupported protocol_version ${quote(value)} (only 1)`;
    default:
      return `unknown peer key ${quote(key)}`;
  }
}

/** Error messages quote client text, cut short: a hostile line must not flood the log. */
function quote(text: string): string {
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…` : text);
}

/**
 * formatDeviceSnapshot prints the body of a get reply, in wireguard-go's key
 * order; the caller appends the status (formatStatus).
 */
export function formatDeviceSnapshot(snapshot: DeviceSnapshot): string {
  const lines: string[] = [];
  if (snapshot.privateKey !== null) lines.push(`private_key=${formatKeyHex(snapshot.privateKey)}`);
  if (snapshot.listenPort !== 0) lines.push(`listen_port=${snapshot.listenPort}`);
  if (snapshot.fwmark !== 0) lines.push(`fwmark=${snapshot.fwmark}`);
  for (const peer of snapshot.peers) {
    lines.push(`public_key=${formatKeyHex(peer.publicKey)}`);
    lines.push(`preshared_key=${peer.presharedKey === null ? ZERO_KEY_HEX : formatKeyHex(peer.presharedKey)}`);
    lines.push("protocol_version=1");
    if (peer.endpoint !== null) lines.push(`endpoint=${formatEndpoint(peer.endpoint)}`);
    lines.push(`last_handshake_time_sec=${peer.lastHandshakeTimeSec}`);
    lines.push(`last_handshake_time_nsec=${peer.lastHandshakeTimeNsec}`);
    lines.push(`tx_bytes=${peer.txBytes}`);
    lines.push(`rx_bytes=${peer.rxBytes}`);
    lines.push(`persistent_keepalive_interval=${peer.persistentKeepaliveInterval}`);
    for (const prefix of peer.allowedIps) lines.push(`allowed_ip=${formatPrefix(prefix.addr, prefix.cidr)}`);
  }
  return lines.length === 0 ? "" : `${lines.join("\n")}\n`;
}

const ZERO_KEY_HEX = "0".repeat(64);

/** formatStatus is the line that ends every reply: `errno=N` and a blank line. */
export function formatStatus(errno: number): string {
  return `errno=${errno}\n\n`;
}

/** formatGetReply is a whole successful get reply. */
export function formatGetReply(snapshot: DeviceSnapshot): string {
  return formatDeviceSnapshot(snapshot) + formatStatus(UapiErrno.ok);
}
