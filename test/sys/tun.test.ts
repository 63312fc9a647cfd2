import { afterAll, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { describePrivileged } from "../support/privileges.ts";
import {
  IFF_MULTI_QUEUE,
  IFF_NO_PI,
  IFF_TUN,
  IFF_UP,
  IFF_VNET_HDR,
  O_NONBLOCK,
  F_GETFL,
  TUN_F_CSUM,
  TUN_F_TSO4,
  TUN_F_TSO6,
  TUN_F_USO4,
  TUN_F_USO6,
  TUNSETOFFLOAD,
} from "../../src/sys/constants.ts";
import { EINVAL, SyscallError } from "../../src/sys/errno.ts";
import { close, errno, fcntl, ifNametoindex, ioctl, rawLibc, read, write, WOULD_BLOCK } from "../../src/sys/libc.ts";
import {
  getIfIndex,
  getLinkFlags,
  getMtu,
  getTunFeatures,
  getVnetHdrSize,
  openTun,
  setLinkUp,
  setMtu,
  setNonBlocking,
  setTunOffload,
  setVnetHdrSize,
  type Tun,
} from "../../src/sys/tun.ts";

const name = `tsys${Math.floor(Math.random() * 0xffffff).toString(16)}`;
const opened: number[] = [];

function closeAll(): void {
  for (const fd of opened.splice(0)) {
    try {
      close(fd);
    } catch {
      // Already gone; nothing else to release.
    }
  }
}

describePrivileged("sys/tun (root)", { root: true }, () => {
  let tun: Tun;

  afterAll(() => {
    closeAll();
  });

  test("openTun creates the device and TUNGETIFF confirms IFF_VNET_HDR", () => {
    tun = openTun(name, { vnetHeader: true });
    opened.push(tun.fd);
    expect(tun.name).toBe(name);
    expect(tun.flags & (IFF_TUN | IFF_NO_PI | IFF_VNET_HDR)).toBe(IFF_TUN | IFF_NO_PI | IFF_VNET_HDR);
    expect(tun.flags & IFF_MULTI_QUEUE).toBe(0);
    expect(getIfIndex(name)).toBe(ifNametoindex(name));
    expect(getVnetHdrSize(tun.fd)).toBe(10);
    // TUNGETFEATURES lists IFF flags (dossier 1.1 measured 0x7173), not offloads.
    expect(getTunFeatures(tun.fd) & (IFF_TUN | IFF_NO_PI | IFF_VNET_HDR | IFF_MULTI_QUEUE)).toBe(0x5101);
  });

  test("TUNSETOFFLOAD accepts CSUM|TSO4|TSO6|USO4|USO6 (0x67) and rejects TSO4 alone with EINVAL", () => {
    const all = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_USO4 | TUN_F_USO6;
    expect(all).toBe(0x67);
    expect(setTunOffload(tun.fd, all)).toBe(0);
    expect(setTunOffload(tun.fd, TUN_F_TSO4)).toBe(EINVAL);
    expect(setTunOffload(tun.fd, TUN_F_CSUM | TUN_F_USO4)).toBe(EINVAL);
    let caught: unknown;
    try {
      ioctl(tun.fd, TUNSETOFFLOAD, TUN_F_TSO4, "TUNSETOFFLOAD");
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(SyscallError);
    expect((caught as SyscallError).code).toBe("EINVAL");
    expect((caught as SyscallError).message).toBe("ioctl(TUNSETOFFLOAD): EINVAL (Invalid argument)");
    expect(setTunOffload(tun.fd, 0x07)).toBe(0);
    expect(setTunOffload(tun.fd, all)).toBe(0);
  });

  test("a failing ioctl becomes SyscallError with code EINVAL", () => {
    let caught: unknown;
    try {
      setVnetHdrSize(tun.fd, 8);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(SyscallError);
    const err = caught as SyscallError;
    expect(err.code).toBe("EINVAL");
    expect(err.errno).toBe(22);
    expect(err.syscall).toBe("ioctl(TUNSETVNETHDRSZ)");
    expect(err.message).toBe("ioctl(TUNSETVNETHDRSZ): EINVAL (Invalid argument)");
    setVnetHdrSize(tun.fd, 12);
    expect(getVnetHdrSize(tun.fd)).toBe(12);
    setVnetHdrSize(tun.fd, 10);
  });

  test("MTU 1420 round-trips through SIOCSIFMTU/SIOCGIFMTU", () => {
    setMtu(name, 1420);
    expect(getMtu(name)).toBe(1420);
  });

  test("setLinkUp toggles IFF_UP", () => {
    expect(getLinkFlags(name) & IFF_UP).toBe(0);
    setLinkUp(name, true);
    expect(getLinkFlags(name) & IFF_UP).toBe(IFF_UP);
    setLinkUp(name, true); // idempotent
    expect(getLinkFlags(name) & IFF_UP).toBe(IFF_UP);
  });

  test("a 5-byte write (shorter than the vnet header) is EINVAL", () => {
    const five = new Uint8Array(5);
    expect(rawLibc().write(tun.fd, five, 5)).toBe(-1);
    expect(errno()).toBe(EINVAL);
    expect(() => write(tun.fd, five, 5)).toThrow(SyscallError);
    try {
      write(tun.fd, five, 5);
    } catch (e) {
      expect((e as SyscallError).code).toBe("EINVAL");
      expect((e as SyscallError).syscall).toBe("write");
    }
  });

  test("setNonBlocking makes an empty read return WOULD_BLOCK", () => {
    setNonBlocking(tun.fd);
    expect(fcntl(tun.fd, F_GETFL) & O_NONBLOCK).toBe(O_NONBLOCK);
    // A fresh point-to-point TUN may still receive IPv6 router solicitations; drain them first.
    const buf = new Uint8Array(65536 + 16);
    let n = 0;
    for (let i = 0; i < 64; i++) {
      n = read(tun.fd, buf, buf.length);
      if (n === WOULD_BLOCK) break;
    }
    expect(n).toBe(WOULD_BLOCK);
  });

  test("multi-queue: a second queue attaches to the same name", () => {
    const mqName = `${name}m`;
    const q0 = openTun(mqName, { vnetHeader: true, multiQueue: true });
    opened.push(q0.fd);
    const q1 = openTun(mqName, { vnetHeader: true, multiQueue: true });
    opened.push(q1.fd);
    expect(q0.flags & IFF_MULTI_QUEUE).toBe(IFF_MULTI_QUEUE);
    expect(q1.name).toBe(mqName);
    expect(getIfIndex(mqName)).toBeGreaterThan(0);
  });

  test("setLinkUp(false), then closing the last fd deletes the device", () => {
    setLinkUp(name, false);
    expect(getLinkFlags(name) & IFF_UP).toBe(0);
    closeAll();
    let code = "";
    try {
      getIfIndex(name);
    } catch (e) {
      code = (e as SyscallError).code;
    }
    expect(code).toBe("ENODEV");
  });

  test("openTun surfaces kernel refusals as SyscallError and leaks no fd", () => {
    const fds = () => readdirSync("/proc/self/fd").length;
    const before = fds();
    expect(() => openTun("lo", { vnetHeader: false })).toThrow(SyscallError);
    expect(fds()).toBe(before);
  });
});
