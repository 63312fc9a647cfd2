// Linux ABI constants used by src/sys: TUN (include/uapi/linux/if_tun.h),
// net-device flags and SIOC* ioctls (linux/if.h, linux/sockios.h), sockets,
// fcntl, epoll, poll and eventfd. Values are identical on x86_64 and aarch64
// (both use the generic _IOC encoding and asm-generic fcntl/socket numbers);
// test/sys/layout.test.ts checks them against the host's C headers.

// TUNSETIFF ifr_flags.
export const IFF_TUN = 0x0001;
export const IFF_TAP = 0x0002;
export const IFF_NAPI = 0x0010;
export const IFF_NAPI_FRAGS = 0x0020;
export const IFF_NO_CARRIER = 0x0040;
export const IFF_MULTI_QUEUE = 0x0100;
export const IFF_NO_PI = 0x1000;
export const IFF_ONE_QUEUE = 0x2000;
export const IFF_VNET_HDR = 0x4000;
export const IFF_TUN_EXCL = 0x8000;

// TUN ioctls. TUNSETOFFLOAD takes the flag value itself, not a pointer.
export const TUNSETIFF = 0x400454ca;
export const TUNSETPERSIST = 0x400454cb;
export const TUNGETFEATURES = 0x800454cf;
export const TUNSETOFFLOAD = 0x400454d0;
export const TUNGETIFF = 0x800454d2;
export const TUNSETSNDBUF = 0x400454d4;
export const TUNGETVNETHDRSZ = 0x800454d7;
export const TUNSETVNETHDRSZ = 0x400454d8;
export const TUNSETQUEUE = 0x400454d9;
export const TUNSETVNETLE = 0x400454dc;
export const TUNGETVNETLE = 0x800454dd;

// TUNSETOFFLOAD bits. Every bit but CSUM needs CSUM; USO4 and USO6 only together.
export const TUN_F_CSUM = 0x01;
export const TUN_F_TSO4 = 0x02;
export const TUN_F_TSO6 = 0x04;
export const TUN_F_TSO_ECN = 0x08;
export const TUN_F_UFO = 0x10;
export const TUN_F_USO4 = 0x20;
export const TUN_F_USO6 = 0x40;
export const TUN_F_UDP_TUNNEL_GSO = 0x80;
export const TUN_F_UDP_TUNNEL_GSO_CSUM = 0x100;

// Net-device flags (ifr_flags of SIOCGIFFLAGS, a short: only the low 16 bits fit).
export const IFF_UP = 0x1;
export const IFF_BROADCAST = 0x2;
export const IFF_LOOPBACK = 0x8;
export const IFF_POINTOPOINT = 0x10;
export const IFF_RUNNING = 0x40;
export const IFF_NOARP = 0x80;
export const IFF_MULTICAST = 0x1000;

// Interface ioctls on any socket; all take a struct ifreq*.
export const SIOCGIFFLAGS = 0x8913;
export const SIOCSIFFLAGS = 0x8914;
export const SIOCGIFMTU = 0x8921;
export const SIOCSIFMTU = 0x8922;
export const SIOCGIFINDEX = 0x8933;
export const IFNAMSIZ = 16;

export const AF_UNSPEC = 0;
export const AF_UNIX = 1;
export const AF_INET = 2;
export const AF_INET6 = 10;
export const AF_NETLINK = 16;

export const SOCK_STREAM = 1;
export const SOCK_DGRAM = 2;
export const SOCK_RAW = 3;
export const SOCK_NONBLOCK = 0x800;
export const SOCK_CLOEXEC = 0x80000;

export const SOL_SOCKET = 1;
export const SO_REUSEADDR = 2;
export const SO_TYPE = 3;
export const SO_ERROR = 4;
export const SO_SNDBUF = 7;
export const SO_RCVBUF = 8;
export const SO_REUSEPORT = 15;
export const SO_PEERCRED = 17;
export const SO_BINDTODEVICE = 25;
export const SO_SNDBUFFORCE = 32;
export const SO_RCVBUFFORCE = 33;
export const SO_MARK = 36;

export const IPPROTO_IP = 0;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IPPROTO_IPV6 = 41;
export const SOL_IP = IPPROTO_IP;
export const SOL_IPV6 = IPPROTO_IPV6;
export const SOL_UDP = IPPROTO_UDP;

export const IP_TOS = 1;
export const IP_PKTINFO = 8;
export const IP_MTU_DISCOVER = 10;
export const IP_PMTUDISC_DONT = 0;
export const IP_PMTUDISC_DO = 2;
export const IPV6_V6ONLY = 26;
export const IPV6_RECVPKTINFO = 49;
export const IPV6_PKTINFO = 50;
export const IPV6_TCLASS = 67;
export const IPV6_MTU_DISCOVER = 23;

// UDP GSO/GRO (include/uapi/linux/udp.h): SOL_UDP options and cmsg types.
export const UDP_SEGMENT = 103;
export const UDP_GRO = 104;

export const O_RDONLY = 0;
export const O_WRONLY = 1;
export const O_RDWR = 2;
export const O_NONBLOCK = 0x800;
export const O_CLOEXEC = 0x80000;

export const F_GETFD = 1;
export const F_SETFD = 2;
export const F_GETFL = 3;
export const F_SETFL = 4;
export const FD_CLOEXEC = 1;

export const MSG_PEEK = 0x2;
export const MSG_CTRUNC = 0x8;
export const MSG_TRUNC = 0x20;
export const MSG_DONTWAIT = 0x40;
export const MSG_NOSIGNAL = 0x4000;
export const MSG_WAITFORONE = 0x10000;

export const EPOLLIN = 0x1;
export const EPOLLPRI = 0x2;
export const EPOLLOUT = 0x4;
export const EPOLLERR = 0x8;
export const EPOLLHUP = 0x10;
export const EPOLLRDHUP = 0x2000;
export const EPOLLEXCLUSIVE = 1 << 28;
export const EPOLLONESHOT = 1 << 30;
// 1 << 31 is negative in JS; the kernel only sees the low 32 bits either way.
export const EPOLLET = 0x80000000;
export const EPOLL_CTL_ADD = 1;
export const EPOLL_CTL_DEL = 2;
export const EPOLL_CTL_MOD = 3;
export const EPOLL_CLOEXEC = 0x80000;

export const POLLIN = 0x1;
export const POLLPRI = 0x2;
export const POLLOUT = 0x4;
export const POLLERR = 0x8;
export const POLLHUP = 0x10;
export const POLLNVAL = 0x20;

export const EFD_SEMAPHORE = 1;
export const EFD_NONBLOCK = 0x800;
export const EFD_CLOEXEC = 0x80000;
