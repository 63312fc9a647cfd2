// Who listens on an AF_UNIX path (unix(7)): connect, send nothing, and ask
// the kernel for the listener's credentials with SO_PEERCRED. The connect is
// non-blocking, so a listener with a full backlog answers EAGAIN at once
// instead of hanging the caller.
import { AF_UNIX, SOCK_CLOEXEC, SOCK_NONBLOCK, SOCK_STREAM, SOL_SOCKET, SO_PEERCRED } from "./constants.ts";
import { close, errno, rawLibc } from "./libc.ts";

/** sun_path holds 108 bytes including the terminating NUL. */
const SUN_PATH_LEN = 108;
/** struct ucred: pid, uid, gid as 32-bit integers. */
const UCRED_LEN = 12;

/** UnixPeer is the listener's pid and uid, or the errno connect/getsockopt failed with. */
export type UnixPeer = { ok: true; pid: number; uid: number } | { ok: false; errno: number };

/** sockaddrUn builds a struct sockaddr_un for path and returns it with its length. */
function sockaddrUn(path: string): { addr: Uint8Array; len: number } {
  const bytes = Buffer.from(path, "utf8");
  if (bytes.length >= SUN_PATH_LEN) throw new RangeError(`socket path too long for AF_UNIX: ${path}`);
  const addr = new Uint8Array(2 + SUN_PATH_LEN);
  new DataView(addr.buffer).setUint16(0, AF_UNIX, true);
  addr.set(bytes, 2);
  return { addr, len: 2 + bytes.length + 1 };
}

/** unixPeer connects to the stream socket at path and reports who accepted. */
export function unixPeer(path: string): UnixPeer {
  const L = rawLibc();
  const { addr, len } = sockaddrUn(path);
  const fd = L.socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return { ok: false, errno: errno() };
  try {
    if (L.connect(fd, addr, len) < 0) return { ok: false, errno: errno() };
    const cred = new Int32Array(UCRED_LEN / 4);
    const credLen = new Uint32Array([UCRED_LEN]);
    if (L.getsockopt(fd, SOL_SOCKET, SO_PEERCRED, cred, credLen) < 0) return { ok: false, errno: errno() };
    return { ok: true, pid: cred[0]!, uid: cred[1]! };
  } finally {
    close(fd);
  }
}
