// UAPI status codes. A reply ends with `errno=N`, N negative, exactly as
// wireguard-go writes them (ipc/uapi_unix.go): wg(8)'s set path returns the
// number as-is and then reports errno = -N, so a positive value would be
// misreported. Linux errno numbers; the protocol is Linux-numbered in practice.

export const UapiErrno = {
  ok: 0,
  /** I/O failure while reading the request or writing the reply. */
  io: -5,
  /** The request is not well-formed (no '=' in a line, oversized input). */
  protocol: -71,
  /** A key is unknown or a value is out of range. */
  invalid: -22,
  /** The new listen port could not be bound (or the fwmark could not be set). */
  addressInUse: -98,
  /** Anything else (ENOANO, as wireguard-go uses for "other"). */
  unknown: -55,
} as const;

/** UapiError is a refused request: `errno` (negative) is what goes on the wire. */
export class UapiError extends Error {
  constructor(
    readonly errno: number,
    message: string,
    /** 1-based line of the set body that was refused, when there is one. */
    readonly line?: number,
  ) {
    super(line === undefined ? message : `line ${line}: ${message}`);
    this.name = "UapiError";
  }
}
