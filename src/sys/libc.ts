// The project's only dlopen: libc bound through bun:ffi, as raw functions
// (C names, return -1 and leave errno set) and checked wrappers (camelCase,
// throw SyscallError, retry EINTR). Hot paths use the raw table with
// preallocated buffers; everything else uses the checked wrappers.
//
// Binding notes (dossier 6.1): ssize_t returns are declared i32 so no BigInt
// is created per call (counts fit in 31 bits); variadic ioctl/fcntl/open are
// bound with fixed signatures, which is ABI-correct on x86_64 and aarch64
// Linux. errno is thread-local and read via __errno_location() right after the
// failed call, before any other libc call can overwrite it.

import { dlopen, read as ffiRead, type Pointer } from "bun:ffi";
import { EAGAIN, EINTR, SyscallError } from "./errno.ts";
import { systemLibraryCandidates, systemLibraryDirs } from "./library-dirs.ts";

/** Ptr is what pointer parameters accept: a TypedArray (its start), a raw address from ptr(), or null. */
export type Ptr = NodeJS.TypedArray | number | null;

/** RawLibc is the unwrapped libc table; each function returns -1 and sets errno on failure. */
export interface RawLibc {
  open(path: Ptr, flags: number, mode: number): number;
  close(fd: number): number;
  read(fd: number, buf: Ptr, len: number): number;
  write(fd: number, buf: Ptr, len: number): number;
  readv(fd: number, iov: Ptr, iovcnt: number): number;
  writev(fd: number, iov: Ptr, iovcnt: number): number;
  ioctl(fd: number, request: number, arg: Ptr): number;
  fcntl(fd: number, cmd: number, arg: number): number;
  socket(domain: number, type: number, protocol: number): number;
  socketpair(domain: number, type: number, protocol: number, sv: Ptr): number;
  bind(fd: number, addr: Ptr, addrlen: number): number;
  connect(fd: number, addr: Ptr, addrlen: number): number;
  listen(fd: number, backlog: number): number;
  accept4(fd: number, addr: Ptr, addrlen: Ptr, flags: number): number;
  getsockname(fd: number, addr: Ptr, addrlen: Ptr): number;
  setsockopt(fd: number, level: number, name: number, val: Ptr, len: number): number;
  getsockopt(fd: number, level: number, name: number, val: Ptr, len: Ptr): number;
  sendto(fd: number, buf: Ptr, len: number, flags: number, addr: Ptr, addrlen: number): number;
  recvfrom(fd: number, buf: Ptr, len: number, flags: number, addr: Ptr, addrlen: Ptr): number;
  sendmsg(fd: number, msg: Ptr, flags: number): number;
  recvmsg(fd: number, msg: Ptr, flags: number): number;
  sendmmsg(fd: number, msgvec: Ptr, vlen: number, flags: number): number;
  recvmmsg(fd: number, msgvec: Ptr, vlen: number, flags: number, timeout: Ptr): number;
  poll(fds: Ptr, nfds: number, timeoutMs: number): number;
  epoll_create1(flags: number): number;
  epoll_ctl(epfd: number, op: number, fd: number, event: Ptr): number;
  epoll_wait(epfd: number, events: Ptr, maxevents: number, timeoutMs: number): number;
  eventfd(initval: number, flags: number): number;
  if_nametoindex(name: Ptr): number;
  __errno_location(): number | null;
}

const SYMBOLS = {
  open: { args: ["ptr", "i32", "u32"], returns: "i32" },
  close: { args: ["i32"], returns: "i32" },
  read: { args: ["i32", "ptr", "u64"], returns: "i32" },
  write: { args: ["i32", "ptr", "u64"], returns: "i32" },
  readv: { args: ["i32", "ptr", "i32"], returns: "i32" },
  writev: { args: ["i32", "ptr", "i32"], returns: "i32" },
  ioctl: { args: ["i32", "u64", "ptr"], returns: "i32" },
  fcntl: { args: ["i32", "i32", "u64"], returns: "i32" },
  socket: { args: ["i32", "i32", "i32"], returns: "i32" },
  socketpair: { args: ["i32", "i32", "i32", "ptr"], returns: "i32" },
  bind: { args: ["i32", "ptr", "u32"], returns: "i32" },
  connect: { args: ["i32", "ptr", "u32"], returns: "i32" },
  listen: { args: ["i32", "i32"], returns: "i32" },
  accept4: { args: ["i32", "ptr", "ptr", "i32"], returns: "i32" },
  getsockname: { args: ["i32", "ptr", "ptr"], returns: "i32" },
  setsockopt: { args: ["i32", "i32", "i32", "ptr", "u32"], returns: "i32" },
  getsockopt: { args: ["i32", "i32", "i32", "ptr", "ptr"], returns: "i32" },
  sendto: { args: ["i32", "ptr", "u64", "i32", "ptr", "u32"], returns: "i32" },
  recvfrom: { args: ["i32", "ptr", "u64", "i32", "ptr", "ptr"], returns: "i32" },
  sendmsg: { args: ["i32", "ptr", "i32"], returns: "i32" },
  recvmsg: { args: ["i32", "ptr", "i32"], returns: "i32" },
  sendmmsg: { args: ["i32", "ptr", "u32", "i32"], returns: "i32" },
  recvmmsg: { args: ["i32", "ptr", "u32", "i32", "ptr"], returns: "i32" },
  poll: { args: ["ptr", "u64", "i32"], returns: "i32" },
  epoll_create1: { args: ["i32"], returns: "i32" },
  epoll_ctl: { args: ["i32", "i32", "i32", "ptr"], returns: "i32" },
  epoll_wait: { args: ["i32", "ptr", "i32", "i32"], returns: "i32" },
  eventfd: { args: ["u32", "i32"], returns: "i32" },
  if_nametoindex: { args: ["ptr"], returns: "u32" },
  __errno_location: { args: [], returns: "ptr" },
} as const;

// glibc first; musl's soname names the arch. Opened by absolute path only
// (library-dirs.ts): on musl a bare "libc.so.6" would fail and Bun would then
// try ./libc.so.6 in the working directory. No "libc.so": on glibc that is a
// linker script, which dlopen cannot load anyway.
const LIBC_NAMES = ["libc.so.6", "libc.musl-x86_64.so.1", "libc.musl-aarch64.so.1"];

let table: RawLibc | null = null;

/**
 * rawLibc returns the raw libc table, opening libc on first use (once per
 * thread: each Worker gets its own module instance). Throws if no libc loads.
 */
export function rawLibc(): RawLibc {
  if (table !== null) return table;
  if (process.platform !== "linux") throw new Error(`src/sys: Linux only (platform ${process.platform})`);
  const failures: string[] = [];
  const dirs = systemLibraryDirs();
  const paths = systemLibraryCandidates(LIBC_NAMES, dirs);
  if (paths.length === 0) failures.push(`none of ${LIBC_NAMES.join(", ")} in ${dirs.join(", ")}`);
  for (const name of paths) {
    try {
      table = dlopen(name, SYMBOLS).symbols as unknown as RawLibc;
      return table;
    } catch (e) {
      failures.push(`${name}: ${(e as Error).message}`);
    }
  }
  throw new Error(`src/sys: cannot load libc (${failures.join("; ")})`);
}

/** errno returns the calling thread's errno; call it immediately after the failed raw call. */
export function errno(): number {
  return ffiRead.i32(rawLibc().__errno_location() as Pointer, 0);
}

/** fail throws the SyscallError for the current errno. */
function fail(syscall: string): never {
  throw new SyscallError(syscall, errno());
}

/** WOULD_BLOCK is what checked I/O wrappers return instead of throwing EAGAIN on a non-blocking fd. */
export const WOULD_BLOCK = -1;

/** cString returns s as a NUL-terminated UTF-8 buffer for char* parameters. */
export function cString(s: string): Uint8Array {
  const b = new TextEncoder().encode(s);
  const out = new Uint8Array(b.length + 1);
  out.set(b);
  return out;
}

// ---- checked wrappers: throw SyscallError, retry EINTR -----------------

/** open opens path with flags (O_*) and returns the fd. */
export function open(path: string, flags: number, mode = 0): number {
  const L = rawLibc();
  const p = cString(path);
  for (;;) {
    const fd = L.open(p, flags, mode);
    if (fd >= 0) return fd;
    const e = errno();
    if (e !== EINTR) throw new SyscallError(`open(${path})`, e);
  }
}

/** close closes fd. Never retried: on Linux the fd is released even when close reports EINTR. */
export function close(fd: number): void {
  if (rawLibc().close(fd) < 0) fail("close");
}

/** read reads up to len bytes into buf; returns the count (0 = EOF) or WOULD_BLOCK. */
export function read(fd: number, buf: Ptr, len: number): number {
  const L = rawLibc();
  for (;;) {
    const n = L.read(fd, buf, len);
    if (n >= 0) return n;
    const e = errno();
    if (e === EAGAIN) return WOULD_BLOCK;
    if (e !== EINTR) throw new SyscallError("read", e);
  }
}

/** write writes len bytes from buf; returns the count written or WOULD_BLOCK. */
export function write(fd: number, buf: Ptr, len: number): number {
  const L = rawLibc();
  for (;;) {
    const n = L.write(fd, buf, len);
    if (n >= 0) return n;
    const e = errno();
    if (e === EAGAIN) return WOULD_BLOCK;
    if (e !== EINTR) throw new SyscallError("write", e);
  }
}

/** readv scatters into iovcnt iovecs at iov; returns the count or WOULD_BLOCK. */
export function readv(fd: number, iov: Ptr, iovcnt: number): number {
  const L = rawLibc();
  for (;;) {
    const n = L.readv(fd, iov, iovcnt);
    if (n >= 0) return n;
    const e = errno();
    if (e === EAGAIN) return WOULD_BLOCK;
    if (e !== EINTR) throw new SyscallError("readv", e);
  }
}

/** writev gathers from iovcnt iovecs at iov; returns the count or WOULD_BLOCK. */
export function writev(fd: number, iov: Ptr, iovcnt: number): number {
  const L = rawLibc();
  for (;;) {
    const n = L.writev(fd, iov, iovcnt);
    if (n >= 0) return n;
    const e = errno();
    if (e === EAGAIN) return WOULD_BLOCK;
    if (e !== EINTR) throw new SyscallError("writev", e);
  }
}

/**
 * ioctl issues request with arg (a pointer, or for value-style requests such
 * as TUNSETOFFLOAD a plain number) and returns the non-negative result.
 * label names the request in errors: "ioctl(<label>)".
 */
export function ioctl(fd: number, request: number, arg: Ptr, label = `0x${request.toString(16)}`): number {
  const L = rawLibc();
  for (;;) {
    const r = L.ioctl(fd, request, arg);
    if (r >= 0) return r;
    const e = errno();
    if (e !== EINTR) throw new SyscallError(`ioctl(${label})`, e);
  }
}

/** fcntl runs cmd (F_*) with an integer arg and returns its result. */
export function fcntl(fd: number, cmd: number, arg = 0): number {
  const L = rawLibc();
  for (;;) {
    const r = L.fcntl(fd, cmd, arg);
    if (r >= 0) return r;
    const e = errno();
    if (e !== EINTR) throw new SyscallError("fcntl", e);
  }
}

/** socket creates a socket (type may include SOCK_NONBLOCK|SOCK_CLOEXEC) and returns its fd. */
export function socket(domain: number, type: number, protocol = 0): number {
  const fd = rawLibc().socket(domain, type, protocol);
  if (fd < 0) fail("socket");
  return fd;
}

/** socketpair creates a pair of connected sockets (type may include SOCK_NONBLOCK|SOCK_CLOEXEC) and returns both fds. */
export function socketpair(domain: number, type: number, protocol = 0): [number, number] {
  const sv = new Int32Array(2);
  if (rawLibc().socketpair(domain, type, protocol, sv) < 0) fail("socketpair");
  return [sv[0]!, sv[1]!];
}

/** bind binds fd to the sockaddr in addr (addrlen bytes). */
export function bind(fd: number, addr: Ptr, addrlen: number): void {
  if (rawLibc().bind(fd, addr, addrlen) < 0) fail("bind");
}

/** connect connects fd to addr. EINTR is not retried: the connect continues in the background (POSIX). */
export function connect(fd: number, addr: Ptr, addrlen: number): void {
  if (rawLibc().connect(fd, addr, addrlen) < 0) fail("connect");
}

/** listen marks a stream socket passive. */
export function listen(fd: number, backlog: number): void {
  if (rawLibc().listen(fd, backlog) < 0) fail("listen");
}

/** accept4 accepts a connection; returns the new fd or WOULD_BLOCK. addr/addrlen may be null. */
export function accept4(fd: number, addr: Ptr, addrlen: Ptr, flags: number): number {
  const L = rawLibc();
  for (;;) {
    const r = L.accept4(fd, addr, addrlen, flags);
    if (r >= 0) return r;
    const e = errno();
    if (e === EAGAIN) return WOULD_BLOCK;
    if (e !== EINTR) throw new SyscallError("accept4", e);
  }
}

/** getsockname writes fd's local address into addr (capacity addr.byteLength) and returns its length. */
export function getsockname(fd: number, addr: Uint8Array): number {
  const len = new Uint32Array([addr.byteLength]);
  if (rawLibc().getsockname(fd, addr, len) < 0) fail("getsockname");
  return len[0]!;
}

/** setsockoptInt sets an int-valued socket option; label names it in errors ("setsockopt(<label>)"). */
export function setsockoptInt(fd: number, level: number, name: number, value: number, label = `${level}/${name}`): void {
  const v = new Int32Array([value]);
  if (rawLibc().setsockopt(fd, level, name, v, 4) < 0) fail(`setsockopt(${label})`);
}

/** getsockoptInt reads an int-valued socket option; label names it in errors. */
export function getsockoptInt(fd: number, level: number, name: number, label = `${level}/${name}`): number {
  const v = new Int32Array(1);
  const len = new Uint32Array([4]);
  if (rawLibc().getsockopt(fd, level, name, v, len) < 0) fail(`getsockopt(${label})`);
  return v[0]!;
}

/** sendmsg sends one msghdr; returns bytes sent or WOULD_BLOCK. */
export function sendmsg(fd: number, msg: Ptr, flags = 0): number {
  const L = rawLibc();
  for (;;) {
    const n = L.sendmsg(fd, msg, flags);
    if (n >= 0) return n;
    const e = errno();
    if (e === EAGAIN) return WOULD_BLOCK;
    if (e !== EINTR) throw new SyscallError("sendmsg", e);
  }
}

/** recvmsg receives into one msghdr; returns bytes received or WOULD_BLOCK. */
export function recvmsg(fd: number, msg: Ptr, flags = 0): number {
  const L = rawLibc();
  for (;;) {
    const n = L.recvmsg(fd, msg, flags);
    if (n >= 0) return n;
    const e = errno();
    if (e === EAGAIN) return WOULD_BLOCK;
    if (e !== EINTR) throw new SyscallError("recvmsg", e);
  }
}

/**
 * sendmmsg sends up to vlen mmsghdrs; returns how many were sent (may be
 * fewer: the caller loops) or WOULD_BLOCK. Errors on the first message throw.
 */
export function sendmmsg(fd: number, msgvec: Ptr, vlen: number, flags = 0): number {
  const L = rawLibc();
  for (;;) {
    const n = L.sendmmsg(fd, msgvec, vlen, flags);
    if (n >= 0) return n;
    const e = errno();
    if (e === EAGAIN) return WOULD_BLOCK;
    if (e !== EINTR) throw new SyscallError("sendmmsg", e);
  }
}

/** recvmmsg receives up to vlen messages (no timeout); returns the count or WOULD_BLOCK. */
export function recvmmsg(fd: number, msgvec: Ptr, vlen: number, flags = 0): number {
  const L = rawLibc();
  for (;;) {
    const n = L.recvmmsg(fd, msgvec, vlen, flags, null);
    if (n >= 0) return n;
    const e = errno();
    if (e === EAGAIN) return WOULD_BLOCK;
    if (e !== EINTR) throw new SyscallError("recvmmsg", e);
  }
}

/**
 * poll waits on nfds pollfds; returns the ready count (0 on timeout). EINTR
 * returns 0 rather than retrying, so a retry does not extend the timeout.
 */
export function poll(fds: Ptr, nfds: number, timeoutMs: number): number {
  const n = rawLibc().poll(fds, nfds, timeoutMs);
  if (n >= 0) return n;
  const e = errno();
  if (e === EINTR) return 0;
  throw new SyscallError("poll", e);
}

/** epollCreate1 returns a new epoll fd (flags: EPOLL_CLOEXEC). */
export function epollCreate1(flags: number): number {
  const fd = rawLibc().epoll_create1(flags);
  if (fd < 0) fail("epoll_create1");
  return fd;
}

/** epollCtl adds/modifies/deletes fd on epfd; event is one epoll_event (LAYOUT.epollEvent) or null for DEL. */
export function epollCtl(epfd: number, op: number, fd: number, event: Ptr): void {
  if (rawLibc().epoll_ctl(epfd, op, fd, event) < 0) fail("epoll_ctl");
}

/** epollWait waits for up to maxevents events; returns the count, 0 on timeout or EINTR. */
export function epollWait(epfd: number, events: Ptr, maxevents: number, timeoutMs: number): number {
  const n = rawLibc().epoll_wait(epfd, events, maxevents, timeoutMs);
  if (n >= 0) return n;
  const e = errno();
  if (e === EINTR) return 0;
  throw new SyscallError("epoll_wait", e);
}

/** eventfd returns a new eventfd (flags: EFD_*); writing an 8-byte count wakes pollers of it. */
export function eventfd(initval: number, flags: number): number {
  const fd = rawLibc().eventfd(initval, flags);
  if (fd < 0) fail("eventfd");
  return fd;
}

/** ifNametoindex returns the ifindex of the named interface. */
export function ifNametoindex(name: string): number {
  const i = rawLibc().if_nametoindex(cString(name));
  if (i === 0) throw new SyscallError(`if_nametoindex(${name})`, errno());
  return i;
}
