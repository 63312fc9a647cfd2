// systemd's notification protocol (sd_notify(3)) without libsystemd: one
// datagram of "KEY=value" lines on the AF_UNIX socket named by
// $NOTIFY_SOCKET. A leading '@' names an abstract socket, whose sun_path
// starts with a NUL byte and whose length is exact (no terminating NUL).
import { AF_UNIX, MSG_NOSIGNAL, SOCK_CLOEXEC, SOCK_DGRAM } from "./constants.ts";
import { EINTR, SyscallError } from "./errno.ts";
import { close, errno, rawLibc, socket } from "./libc.ts";

/** sockaddr_un: sa_family_t (2 bytes) then sun_path[108]. */
const SUN_PATH_OFFSET = 2;
const SUN_PATH_BYTES = 108;

/**
 * notifySocketAddress encodes $NOTIFY_SOCKET as a sockaddr_un and its
 * length, or throws on a value that cannot name an AF_UNIX socket (empty,
 * neither absolute nor abstract, or too long).
 */
export function notifySocketAddress(value: string): { addr: Uint8Array; length: number } {
  const abstract = value.startsWith("@");
  if (!abstract && !value.startsWith("/")) throw new Error(`NOTIFY_SOCKET=${JSON.stringify(value)}: neither an absolute path nor an abstract name`);
  const name = new TextEncoder().encode(abstract ? value.slice(1) : value);
  // An abstract name uses every byte after its leading NUL; a path needs room for its NUL.
  const pathBytes = abstract ? 1 + name.length : name.length + 1;
  if (pathBytes > SUN_PATH_BYTES || name.length === 0) throw new Error(`NOTIFY_SOCKET=${JSON.stringify(value)}: not a usable socket name`);
  const addr = new Uint8Array(SUN_PATH_OFFSET + SUN_PATH_BYTES);
  new DataView(addr.buffer).setUint16(0, AF_UNIX, true);
  addr.set(name, SUN_PATH_OFFSET + (abstract ? 1 : 0));
  return { addr, length: SUN_PATH_OFFSET + pathBytes };
}

/** NotifySocket sends datagrams to the service manager over one socket kept open for the daemon's life. */
export class NotifySocket {
  private fd: number;
  private readonly encoder = new TextEncoder();

  private constructor(
    private readonly addr: Uint8Array,
    private readonly addrLength: number,
  ) {
    this.fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC);
  }

  /** open returns null when value is unset or empty (not started by a service manager). */
  static open(value: string | undefined): NotifySocket | null {
    if (value === undefined || value === "") return null;
    const { addr, length } = notifySocketAddress(value);
    return new NotifySocket(addr, length);
  }

  /** send delivers one message ("READY=1\nSTATUS=..."); throws SyscallError when the manager is unreachable. */
  send(message: string): void {
    if (this.fd < 0) throw new Error("notify socket closed");
    const bytes = this.encoder.encode(message);
    for (;;) {
      const n = rawLibc().sendto(this.fd, bytes, bytes.length, MSG_NOSIGNAL, this.addr, this.addrLength);
      if (n >= 0) return;
      const e = errno();
      if (e !== EINTR) throw new SyscallError("sendto(NOTIFY_SOCKET)", e);
    }
  }

  close(): void {
    if (this.fd < 0) return;
    close(this.fd);
    this.fd = -1;
  }
}
