// Linux errno numbers, names and messages, and the error every failing
// syscall in src/sys turns into. The numbers come from asm-generic/errno*.h,
// which x86_64 and aarch64 share; messages follow glibc's strerror.

/** ERRNO_TABLE lists [number, name, message] for the errnos we expect to meet. */
const ERRNO_TABLE: ReadonlyArray<readonly [number, string, string]> = [
  [1, "EPERM", "Operation not permitted"],
  [2, "ENOENT", "No such file or directory"],
  [3, "ESRCH", "No such process"],
  [4, "EINTR", "Interrupted system call"],
  [5, "EIO", "Input/output error"],
  [6, "ENXIO", "No such device or address"],
  [7, "E2BIG", "Argument list too long"],
  [8, "ENOEXEC", "Exec format error"],
  [9, "EBADF", "Bad file descriptor"],
  [10, "ECHILD", "No child processes"],
  [11, "EAGAIN", "Resource temporarily unavailable"],
  [12, "ENOMEM", "Cannot allocate memory"],
  [13, "EACCES", "Permission denied"],
  [14, "EFAULT", "Bad address"],
  [16, "EBUSY", "Device or resource busy"],
  [17, "EEXIST", "File exists"],
  [18, "EXDEV", "Invalid cross-device link"],
  [19, "ENODEV", "No such device"],
  [20, "ENOTDIR", "Not a directory"],
  [21, "EISDIR", "Is a directory"],
  [22, "EINVAL", "Invalid argument"],
  [23, "ENFILE", "Too many open files in system"],
  [24, "EMFILE", "Too many open files"],
  [25, "ENOTTY", "Inappropriate ioctl for device"],
  [26, "ETXTBSY", "Text file busy"],
  [27, "EFBIG", "File too large"],
  [28, "ENOSPC", "No space left on device"],
  [29, "ESPIPE", "Illegal seek"],
  [30, "EROFS", "Read-only file system"],
  [32, "EPIPE", "Broken pipe"],
  [34, "ERANGE", "Numerical result out of range"],
  [35, "EDEADLK", "Resource deadlock avoided"],
  [36, "ENAMETOOLONG", "File name too long"],
  [38, "ENOSYS", "Function not implemented"],
  [40, "ELOOP", "Too many levels of symbolic links"],
  [55, "ENOANO", "No anode"],
  [61, "ENODATA", "No data available"],
  [62, "ETIME", "Timer expired"],
  [71, "EPROTO", "Protocol error"],
  [74, "EBADMSG", "Bad message"],
  [75, "EOVERFLOW", "Value too large for defined data type"],
  [77, "EBADFD", "File descriptor in bad state"],
  [88, "ENOTSOCK", "Socket operation on non-socket"],
  [89, "EDESTADDRREQ", "Destination address required"],
  [90, "EMSGSIZE", "Message too long"],
  [91, "EPROTOTYPE", "Protocol wrong type for socket"],
  [92, "ENOPROTOOPT", "Protocol not available"],
  [93, "EPROTONOSUPPORT", "Protocol not supported"],
  [94, "ESOCKTNOSUPPORT", "Socket type not supported"],
  [95, "EOPNOTSUPP", "Operation not supported"],
  [96, "EPFNOSUPPORT", "Protocol family not supported"],
  [97, "EAFNOSUPPORT", "Address family not supported by protocol"],
  [98, "EADDRINUSE", "Address already in use"],
  [99, "EADDRNOTAVAIL", "Cannot assign requested address"],
  [100, "ENETDOWN", "Network is down"],
  [101, "ENETUNREACH", "Network is unreachable"],
  [102, "ENETRESET", "Network dropped connection on reset"],
  [103, "ECONNABORTED", "Software caused connection abort"],
  [104, "ECONNRESET", "Connection reset by peer"],
  [105, "ENOBUFS", "No buffer space available"],
  [106, "EISCONN", "Transport endpoint is already connected"],
  [107, "ENOTCONN", "Transport endpoint is not connected"],
  [108, "ESHUTDOWN", "Cannot send after transport endpoint shutdown"],
  [110, "ETIMEDOUT", "Connection timed out"],
  [111, "ECONNREFUSED", "Connection refused"],
  [112, "EHOSTDOWN", "Host is down"],
  [113, "EHOSTUNREACH", "No route to host"],
  [114, "EALREADY", "Operation already in progress"],
  [115, "EINPROGRESS", "Operation now in progress"],
  [125, "ECANCELED", "Operation canceled"],
];

export const EPERM = 1;
export const ENOENT = 2;
export const EINTR = 4;
export const EIO = 5;
export const EBADF = 9;
export const EAGAIN = 11;
/** EWOULDBLOCK is EAGAIN on Linux. */
export const EWOULDBLOCK = EAGAIN;
export const ENOMEM = 12;
export const EACCES = 13;
export const EFAULT = 14;
export const EBUSY = 16;
export const EEXIST = 17;
export const ENODEV = 19;
export const EINVAL = 22;
export const ENFILE = 23;
export const EMFILE = 24;
export const ENOTTY = 25;
export const ENOSPC = 28;
export const EPIPE = 32;
export const ENOSYS = 38;
export const ENOANO = 55;
export const EPROTO = 71;
export const EBADFD = 77;
export const ENOTSOCK = 88;
export const EDESTADDRREQ = 89;
export const EMSGSIZE = 90;
export const ENOPROTOOPT = 92;
export const EPROTONOSUPPORT = 93;
export const EOPNOTSUPP = 95;
/** ENOTSUP is EOPNOTSUPP on Linux. */
export const ENOTSUP = EOPNOTSUPP;
export const EAFNOSUPPORT = 97;
export const EADDRINUSE = 98;
export const EADDRNOTAVAIL = 99;
export const ENETDOWN = 100;
export const ENETUNREACH = 101;
export const ECONNRESET = 104;
export const ENOBUFS = 105;
export const ENOTCONN = 107;
export const ETIMEDOUT = 110;
export const ECONNREFUSED = 111;
export const EHOSTUNREACH = 113;

const NAMES = new Map<number, string>();
const MESSAGES = new Map<number, string>();
for (const [n, name, msg] of ERRNO_TABLE) {
  NAMES.set(n, name);
  MESSAGES.set(n, msg);
}

/** errnoName returns the symbolic name ("EINVAL") of errno n, or "E<n>" when unknown. */
export function errnoName(n: number): string {
  return NAMES.get(n) ?? `E${n}`;
}

/** errnoMessage returns glibc's strerror text for errno n, or "Unknown error <n>". */
export function errnoMessage(n: number): string {
  return MESSAGES.get(n) ?? `Unknown error ${n}`;
}

/**
 * SyscallError is a failed libc call. syscall names the call and, for
 * multiplexed calls, the operation ("ioctl(TUNSETOFFLOAD)"); errno is the raw
 * number and code its symbolic name, so callers can switch on either.
 */
export class SyscallError extends Error {
  readonly syscall: string;
  readonly errno: number;
  readonly code: string;

  constructor(syscall: string, errno: number, detail?: string) {
    const code = errnoName(errno);
    const suffix = detail === undefined ? "" : ` [${detail}]`;
    super(`${syscall}: ${code} (${errnoMessage(errno)})${suffix}`);
    this.name = "SyscallError";
    this.syscall = syscall;
    this.errno = errno;
    this.code = code;
  }
}

/** isSyscallError reports whether e is a SyscallError, optionally with the given code. */
export function isSyscallError(e: unknown, code?: string): e is SyscallError {
  return e instanceof SyscallError && (code === undefined || e.code === code);
}
