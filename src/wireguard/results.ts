// What the protocol asks the I/O layer to do: a closed union the data plane
// switches on (boringtun TunnResult). To keep the data path allocation-free,
// encapsulate/decapsulate/drain return objects owned by the peer or device
// that are overwritten by the next call on the same owner: consume a result
// (send it, write it, copy it) before calling again. tick() returns fresh
// objects with their own buffers.
import type { WireGuardErrorCode } from "./errors.ts";
import type { Tunn } from "./peer.ts";

/**
 * DoneResult: nothing to send. peer is set when an authenticated packet from
 * that peer was consumed (e.g. a keepalive): update its endpoint (roaming).
 */
export interface DoneResult {
  kind: "done";
  peer: Tunn | null;
}

/**
 * ErrorResult: the input was dropped for `code`. peer is set only when the
 * message authenticated as that peer's and a later check failed (inner
 * packet, allowed-IPs source): its endpoint is updated all the same, as the
 * kernel and wireguard-go do. With peer null, never update an endpoint.
 */
export interface ErrorResult {
  kind: "error";
  code: WireGuardErrorCode;
  peer: Tunn | null;
}

/**
 * NetworkResult: send buf[off, off+len) over UDP. From decapsulate it answers
 * the datagram's source (handshake response, cookie reply, confirmation
 * keepalive); from encapsulate/drain/tick it goes to peer's endpoint.
 * isHandshake marks types 1–2 (the kernel sends those with DSCP AF41).
 */
export interface NetworkResult {
  kind: "network";
  peer: Tunn | null;
  buf: Uint8Array;
  off: number;
  len: number;
  isHandshake: boolean;
}

/** TunnelResult: write the decrypted inner IP packet buf[off, off+len) to the TUN. */
export interface TunnelResult {
  kind: "tunnel";
  peer: Tunn;
  buf: Uint8Array;
  off: number;
  len: number;
  version: 4 | 6;
}

/** TunnResult is every action the protocol can return. */
export type TunnResult = DoneResult | ErrorResult | NetworkResult | TunnelResult;

/** ResultSlots holds one owner's reusable result objects. */
export class ResultSlots {
  private readonly doneR: DoneResult = { kind: "done", peer: null };
  private readonly errorR: ErrorResult = { kind: "error", code: "truncated", peer: null };
  private readonly networkR: NetworkResult = { kind: "network", peer: null, buf: new Uint8Array(0), off: 0, len: 0, isHandshake: false };
  private readonly tunnelR: TunnelResult;

  constructor(owner: Tunn | null) {
    this.tunnelR = { kind: "tunnel", peer: owner as Tunn, buf: new Uint8Array(0), off: 0, len: 0, version: 4 };
  }

  done(peer: Tunn | null): DoneResult {
    this.doneR.peer = peer;
    return this.doneR;
  }

  error(code: WireGuardErrorCode, peer: Tunn | null): ErrorResult {
    this.errorR.code = code;
    this.errorR.peer = peer;
    return this.errorR;
  }

  network(peer: Tunn | null, buf: Uint8Array, off: number, len: number, isHandshake: boolean): NetworkResult {
    const r = this.networkR;
    r.peer = peer;
    r.buf = buf;
    r.off = off;
    r.len = len;
    r.isHandshake = isHandshake;
    return r;
  }

  tunnel(peer: Tunn, buf: Uint8Array, off: number, len: number, version: 4 | 6): TunnelResult {
    const r = this.tunnelR;
    r.peer = peer;
    r.buf = buf;
    r.off = off;
    r.len = len;
    r.version = version;
    return r;
  }
}

/** detachResult copies a result (and its bytes) so it survives later calls. */
export function detachResult(r: TunnResult): TunnResult {
  switch (r.kind) {
    case "done":
      return { kind: "done", peer: r.peer };
    case "error":
      return { kind: "error", code: r.code, peer: r.peer };
    case "network":
      return { ...r, buf: r.buf.slice(r.off, r.off + r.len), off: 0 };
    case "tunnel":
      return { ...r, buf: r.buf.slice(r.off, r.off + r.len), off: 0 };
  }
}
