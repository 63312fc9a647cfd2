// What the daemon implements for UAPI: a snapshot for get, and one
// transaction per set. The server parses and validates the whole set body
// before the device sees it, then hands over a DeviceChange: a normalised
// plan in which the order-dependent rules of the line protocol (dummy
// sections after remove, replace_allowed_ips wiping earlier lines, ...) are
// already resolved. The device only has to apply it, so the failures left
// are resource ones (binding the port), which it checks before mutating.
import type { AllowedIpEntry } from "../../wireguard/allowed-ips.ts";
import type { SetOperation } from "./protocol.ts";
import type { Endpoint } from "./values.ts";

export interface PeerSnapshot {
  publicKey: Uint8Array;
  presharedKey: Uint8Array | null;
  /** Last known endpoint, or null before one is configured or learned. */
  endpoint: Endpoint | null;
  /** Wall-clock time of the last completed handshake; 0 and 0 mean never. */
  lastHandshakeTimeSec: number;
  lastHandshakeTimeNsec: number;
  txBytes: number | bigint;
  rxBytes: number | bigint;
  persistentKeepaliveInterval: number;
  allowedIps: AllowedIpEntry[];
}

export interface DeviceSnapshot {
  privateKey: Uint8Array | null;
  /** Actual bound port (0 = not bound); get omits it when 0. */
  listenPort: number;
  fwmark: number;
  peers: PeerSnapshot[];
}

/** AllowedIpChange adds a prefix to the peer (taking it from any other owner) or removes it if this peer owns it. */
export interface AllowedIpChange {
  prefix: AllowedIpEntry;
  remove: boolean;
}

export interface PeerChange {
  publicKey: Uint8Array;
  /** Remove the peer if it exists; every other field is then empty. */
  remove: boolean;
  /** Change the peer only if it already exists; never create it. */
  updateOnly: boolean;
  /** undefined: unchanged; null: clear. */
  presharedKey?: Uint8Array | null;
  endpoint?: Endpoint;
  /** Turning it on from 0 should send a keepalive right away (WG-GO). */
  persistentKeepaliveInterval?: number;
  /** Drop all current allowed IPs before applying `allowedIps`. */
  replaceAllowedIps: boolean;
  allowedIps: AllowedIpChange[];
}

/**
 * DeviceChange is one set request. Apply in this order: device fields
 * (privateKey undefined: unchanged, null: clear), replacePeers (remove every
 * peer), then `peers` in order. A peer change whose key equals the device's
 * own public key (after the privateKey change) is ignored, as wireguard-go
 * does; a new private key also removes any peer that has its public key.
 */
export interface DeviceChange {
  /**
   * The device stores (and get reports) the key clamped per RFC 7748, as the
   * kernel and wireguard-go do: `get` after `set` of an unclamped key differs.
   */
  privateKey?: Uint8Array | null;
  listenPort?: number;
  fwmark?: number;
  replacePeers: boolean;
  peers: PeerChange[];
}

/** errno is 0 or a negative UapiErrno value. */
export interface UapiResult {
  errno: number;
}

export interface UapiDevice {
  snapshot(): DeviceSnapshot;
  /**
   * apply performs one set request. It must not half-apply: check what can
   * fail (bind the new port, set the mark) before changing anything, and on
   * failure leave the device as it was and return the errno
   * (UapiErrno.addressInUse for a port or mark failure, as wireguard-go).
   * Synchronous on purpose: sets from different connections then never interleave.
   */
  apply(change: DeviceChange): UapiResult;
}

/**
 * planChange folds parsed operations (already validated, in wire order) into a
 * DeviceChange with wireguard-go's line-by-line semantics:
 * - the last value of a repeated key wins;
 * - `remove=true` removes the peer and turns the rest of its section into a
 *   no-op (wireguard-go's "dummy" peer), so earlier lines of the section are moot;
 * - `update_only=true` anywhere in a section means "only if it exists";
 * - `replace_allowed_ips=true` wipes the allowed IPs, including ones added
 *   earlier in the same section.
 */
export function planChange(operations: readonly SetOperation[]): DeviceChange {
  const change: DeviceChange = { replacePeers: false, peers: [] };
  let peer: PeerChange | null = null;
  for (const op of operations) {
    if (op.key === "public_key") {
      peer = emptyPeerChange(op.publicKey);
      change.peers.push(peer);
      continue;
    }
    if (peer === null) {
      applyDeviceOperation(change, op);
    } else if (!peer.remove) {
      applyPeerOperation(peer, op);
    }
  }
  return change;
}

function emptyPeerChange(publicKey: Uint8Array): PeerChange {
  return { publicKey, remove: false, updateOnly: false, replaceAllowedIps: false, allowedIps: [] };
}

function applyDeviceOperation(change: DeviceChange, op: SetOperation): void {
  switch (op.key) {
    case "private_key":
      change.privateKey = op.privateKey;
      break;
    case "listen_port":
      change.listenPort = op.port;
      break;
    case "fwmark":
      change.fwmark = op.fwmark;
      break;
    case "replace_peers":
      change.replacePeers = true;
      break;
    default:
      // The parser only yields peer keys inside a peer section.
      throw new Error(`peer key ${op.key} outside a peer section`);
  }
}

function applyPeerOperation(peer: PeerChange, op: SetOperation): void {
  switch (op.key) {
    case "remove":
      peer.remove = true;
      peer.updateOnly = false;
      peer.replaceAllowedIps = false;
      peer.allowedIps = [];
      delete peer.presharedKey;
      delete peer.endpoint;
      delete peer.persistentKeepaliveInterval;
      break;
    case "update_only":
      peer.updateOnly = true;
      break;
    case "preshared_key":
      peer.presharedKey = op.presharedKey;
      break;
    case "endpoint":
      peer.endpoint = op.endpoint;
      break;
    case "persistent_keepalive_interval":
      peer.persistentKeepaliveInterval = op.seconds;
      break;
    case "replace_allowed_ips":
      peer.replaceAllowedIps = true;
      peer.allowedIps = [];
      break;
    case "allowed_ip":
      peer.allowedIps.push({ prefix: op.prefix, remove: op.remove });
      break;
    case "protocol_version":
      break;
    default:
      throw new Error(`device key ${op.key} inside a peer section`);
  }
}
