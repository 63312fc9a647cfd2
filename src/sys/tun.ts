// Raw TUN device operations (include/uapi/linux/if_tun.h) and the few link
// ioctls we need on it. No packet logic lives here: callers read and write
// the returned fd themselves (with the virtio-net header when vnetHeader).

import {
  AF_INET,
  F_GETFL,
  F_SETFL,
  IFF_MULTI_QUEUE,
  IFF_NO_PI,
  IFF_TUN,
  IFF_UP,
  IFF_VNET_HDR,
  O_CLOEXEC,
  O_NONBLOCK,
  O_RDWR,
  SIOCGIFFLAGS,
  SIOCGIFINDEX,
  SIOCGIFMTU,
  SIOCSIFFLAGS,
  SIOCSIFMTU,
  SOCK_CLOEXEC,
  SOCK_DGRAM,
  TUNGETFEATURES,
  TUNGETIFF,
  TUNGETVNETHDRSZ,
  TUNSETIFF,
  TUNSETOFFLOAD,
  TUNSETVNETHDRSZ,
} from "./constants.ts";
import { close, errno, fcntl, ioctl, open, rawLibc, socket } from "./libc.ts";
import { readIfreqFlags, readIfreqInt, readIfreqName, writeIfreqFlags, writeIfreqInt, writeIfreqName } from "./layout.ts";

/** TUN_DEVICE is the clone device every TUN fd is opened from. */
export const TUN_DEVICE = "/dev/net/tun";

/** TunOptions selects the TUNSETIFF flags beyond IFF_TUN|IFF_NO_PI. */
export interface TunOptions {
  /** vnetHeader adds IFF_VNET_HDR: every read and write carries a virtio_net_hdr. */
  vnetHeader: boolean;
  /** multiQueue adds IFF_MULTI_QUEUE; open the same name again for each extra queue. */
  multiQueue?: boolean;
}

/** Tun is an open TUN queue: its fd, the kernel-assigned name, and the flags TUNGETIFF reports. */
export interface Tun {
  readonly fd: number;
  readonly name: string;
  readonly flags: number;
}

function ifreq(name: string): { buf: Uint8Array; view: DataView } {
  const buf = new Uint8Array(40);
  const view = new DataView(buf.buffer);
  writeIfreqName(view, 0, name);
  return { buf, view };
}

/**
 * openTun opens /dev/net/tun (O_RDWR|O_CLOEXEC, blocking) and attaches it to
 * the TUN interface name, creating it if needed (a "%d" in name lets the
 * kernel pick). The returned flags come from TUNGETIFF, so callers see what
 * the kernel actually applied rather than what was asked for. The caller owns
 * fd; the interface disappears when its last fd closes (unless persistent).
 */
export function openTun(name: string, opts: TunOptions): Tun {
  const { buf, view } = ifreq(name);
  let flags = IFF_TUN | IFF_NO_PI;
  if (opts.vnetHeader) flags |= IFF_VNET_HDR;
  if (opts.multiQueue) flags |= IFF_MULTI_QUEUE;
  writeIfreqFlags(view, 0, flags);
  const fd = open(TUN_DEVICE, O_RDWR | O_CLOEXEC);
  try {
    ioctl(fd, TUNSETIFF, buf, "TUNSETIFF");
    const got = new Uint8Array(40);
    const gotView = new DataView(got.buffer);
    ioctl(fd, TUNGETIFF, got, "TUNGETIFF");
    return { fd, name: readIfreqName(gotView, 0), flags: readIfreqFlags(gotView, 0) };
  } catch (e) {
    close(fd);
    throw e;
  }
}

/**
 * setTunOffload issues TUNSETOFFLOAD with flags (TUN_F_*; the ioctl takes the
 * value, not a pointer) and returns 0 or the errno. Errors are returned, not
 * thrown, because EINVAL is how the kernel says "unsupported combination",
 * which callers probe for (e.g. try 0x67, fall back to 0x07).
 * Only call on a fd opened with vnetHeader: the kernel accepts offloads
 * without IFF_VNET_HDR and then delivers super-packets with no header.
 */
export function setTunOffload(fd: number, flags: number): number {
  return rawLibc().ioctl(fd, TUNSETOFFLOAD, flags) < 0 ? errno() : 0;
}

/** getTunFeatures returns TUNGETFEATURES: the IFF_* flags this kernel's TUN supports (not the TUN_F_* offloads). */
export function getTunFeatures(fd: number): number {
  const out = new Uint32Array(1);
  ioctl(fd, TUNGETFEATURES, out, "TUNGETFEATURES");
  return out[0]!;
}

/** setVnetHdrSize sets the virtio-net header length (>= 10; the kernel skips bytes beyond 10). */
export function setVnetHdrSize(fd: number, size: number): void {
  ioctl(fd, TUNSETVNETHDRSZ, new Int32Array([size]), "TUNSETVNETHDRSZ");
}

/** getVnetHdrSize returns the virtio-net header length in effect (default 10). */
export function getVnetHdrSize(fd: number): number {
  const out = new Int32Array(1);
  ioctl(fd, TUNGETVNETHDRSZ, out, "TUNGETVNETHDRSZ");
  return out[0]!;
}

/** setNonBlocking sets O_NONBLOCK on fd, preserving its other status flags. */
export function setNonBlocking(fd: number): void {
  const fl = fcntl(fd, F_GETFL);
  if ((fl & O_NONBLOCK) === 0) fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

// Link ioctls work on any socket; a throwaway AF_INET datagram socket needs no privileges to create.
function withIfreq<T>(name: string, fn: (sock: number, buf: Uint8Array, view: DataView) => T): T {
  const { buf, view } = ifreq(name);
  const sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC);
  try {
    return fn(sock, buf, view);
  } finally {
    close(sock);
  }
}

/** setMtu sets the link MTU of the named interface (SIOCSIFMTU; needs CAP_NET_ADMIN). */
export function setMtu(name: string, mtu: number): void {
  withIfreq(name, (sock, buf, view) => {
    writeIfreqInt(view, 0, mtu);
    ioctl(sock, SIOCSIFMTU, buf, "SIOCSIFMTU");
  });
}

/** getMtu returns the link MTU of the named interface. */
export function getMtu(name: string): number {
  return withIfreq(name, (sock, buf, view) => {
    ioctl(sock, SIOCGIFMTU, buf, "SIOCGIFMTU");
    return readIfreqInt(view, 0);
  });
}

/** getIfIndex returns the ifindex of the named interface. */
export function getIfIndex(name: string): number {
  return withIfreq(name, (sock, buf, view) => {
    ioctl(sock, SIOCGIFINDEX, buf, "SIOCGIFINDEX");
    return readIfreqInt(view, 0);
  });
}

/** getLinkFlags returns the low 16 bits of the interface flags (IFF_UP, IFF_RUNNING, ...). */
export function getLinkFlags(name: string): number {
  return withIfreq(name, (sock, buf, view) => {
    ioctl(sock, SIOCGIFFLAGS, buf, "SIOCGIFFLAGS");
    return readIfreqFlags(view, 0);
  });
}

/** setLinkUp sets or clears IFF_UP (read-modify-write of SIOCGIFFLAGS; needs CAP_NET_ADMIN). */
export function setLinkUp(name: string, up: boolean): void {
  withIfreq(name, (sock, buf, view) => {
    ioctl(sock, SIOCGIFFLAGS, buf, "SIOCGIFFLAGS");
    const flags = readIfreqFlags(view, 0);
    const next = up ? flags | IFF_UP : flags & ~IFF_UP;
    if (next === flags) return;
    writeIfreqFlags(view, 0, next);
    ioctl(sock, SIOCSIFFLAGS, buf, "SIOCSIFFLAGS");
  });
}
