import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as C from "../../src/sys/constants.ts";
import * as E from "../../src/sys/errno.ts";
import {
  CMSG_ALIGN,
  CMSG_LEN,
  CMSG_SPACE,
  findCmsg,
  readEpollEvents,
  readEpollToken,
  readIfreqFlags,
  readIfreqInt,
  readIfreqName,
  readPollRevents,
  readSockaddr,
  readU64,
  sockaddrFamily,
  sockaddrPort,
  structLayout,
  writeCmsgInt,
  writeCmsgU16,
  writeEpollEvent,
  writeIfreqFlags,
  writeIfreqInt,
  writeIfreqName,
  writePollfd,
  writeSockaddr,
  writeSockaddrIn,
  writeSockaddrIn6,
  writeU64,
  type StructLayout,
} from "../../src/sys/layout.ts";

// The LP64 Linux ABI, field by field (dossier 6.3, measured with gcc/glibc on x86_64).
const COMMON = {
  ifreq: { size: 40, name: 0, nameSize: 16, flags: 16, ivalue: 16 },
  iovec: { size: 16, base: 0, len: 8 },
  msghdr: { size: 56, name: 0, namelen: 8, iov: 16, iovlen: 24, control: 32, controllen: 40, flags: 48 },
  mmsghdr: { size: 64, hdr: 0, len: 56 },
  cmsghdr: { size: 16, len: 0, level: 8, type: 12, data: 16 },
  sockaddrIn: { size: 16, family: 0, port: 2, addr: 4, zero: 8 },
  sockaddrIn6: { size: 28, family: 0, port: 2, flowinfo: 4, addr: 8, scopeId: 24 },
  sockaddrStorage: { size: 128 },
  inPktinfo: { size: 12, ifindex: 0, specDst: 4, addr: 8 },
  in6Pktinfo: { size: 20, addr: 0, ifindex: 16 },
  pollfd: { size: 8, fd: 0, events: 4, revents: 6 },
};

describe("structLayout", () => {
  test("x64 table pins every size and offset; epoll_event is packed to 12", () => {
    expect(structLayout("x64")).toEqual({ arch: "x64", ...COMMON, epollEvent: { size: 12, events: 0, data: 4 } });
  });

  test("arm64 table is the same except epoll_event, which is 16 with data at 8", () => {
    expect(structLayout("arm64")).toEqual({ arch: "arm64", ...COMMON, epollEvent: { size: 16, events: 0, data: 8 } });
  });

  test("rejects arches without a measured table", () => {
    expect(() => structLayout("ia32")).toThrow(/no struct layout/);
  });

  test("CMSG macros match glibc on LP64", () => {
    expect(CMSG_ALIGN(0)).toBe(0);
    expect(CMSG_ALIGN(1)).toBe(8);
    expect(CMSG_ALIGN(18)).toBe(24);
    expect(CMSG_LEN(2)).toBe(18);
    expect(CMSG_LEN(4)).toBe(20);
    expect(CMSG_SPACE(2)).toBe(24);
    expect(CMSG_SPACE(4)).toBe(24);
    expect(CMSG_SPACE(12)).toBe(32);
    expect(CMSG_SPACE(20)).toBe(40);
  });
});

describe("codecs", () => {
  test("writeU64/readU64 round-trip pointer-sized values without BigInt", () => {
    const v = new DataView(new ArrayBuffer(8));
    for (const x of [0, 1, 0xffffffff, 0x1_0000_0000, 0x7fff_1234_5678, Number.MAX_SAFE_INTEGER]) {
      writeU64(v, 0, x);
      expect(v.getBigUint64(0, true)).toBe(BigInt(x));
      expect(readU64(v, 0)).toBe(x);
    }
  });

  test("ifreq name, flags and int union", () => {
    const b = new Uint8Array(40).fill(0xaa);
    const v = new DataView(b.buffer);
    writeIfreqName(v, 0, "tun7");
    expect(Array.from(b.subarray(0, 6))).toEqual([0x74, 0x75, 0x6e, 0x37, 0, 0]);
    expect(b.every((x, i) => i < 4 || x === 0)).toBe(true);
    expect(readIfreqName(v, 0)).toBe("tun7");
    writeIfreqFlags(v, 0, C.IFF_TUN | C.IFF_NO_PI | C.IFF_VNET_HDR);
    expect(b[16]).toBe(0x01);
    expect(b[17]).toBe(0x50);
    expect(readIfreqFlags(v, 0)).toBe(0x5001);
    writeIfreqInt(v, 0, 1420);
    expect(readIfreqInt(v, 0)).toBe(1420);
    writeIfreqName(v, 0, "123456789012345");
    expect(readIfreqName(v, 0)).toBe("123456789012345");
  });

  test("ifreq rejects names the kernel would refuse", () => {
    const v = new DataView(new ArrayBuffer(40));
    for (const bad of ["", "1234567890123456", "a/b", "a:b", "a b"]) {
      expect(() => writeIfreqName(v, 0, bad)).toThrow(RangeError);
    }
  });

  test("sockaddr_in has a big-endian port and network-order address", () => {
    const b = new Uint8Array(16).fill(0xee);
    const v = new DataView(b.buffer);
    expect(writeSockaddrIn(v, 0, new Uint8Array([127, 0, 0, 1]), 51820)).toBe(16);
    expect(Array.from(b)).toEqual([2, 0, 0xca, 0x6c, 127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
    expect(sockaddrFamily(v, 0)).toBe(4);
    expect(sockaddrPort(v, 0)).toBe(51820);
    expect(readSockaddr(v, 0)).toEqual({ family: 4, port: 51820, addr: new Uint8Array([127, 0, 0, 1]) });
  });

  test("sockaddr_in6 round-trips with scope id", () => {
    const b = new Uint8Array(28 + 4);
    const v = new DataView(b.buffer);
    const addr = new Uint8Array(16);
    addr[0] = 0xfd;
    addr[15] = 1;
    expect(writeSockaddrIn6(v, 4, addr, 443, 0, 3)).toBe(28);
    expect(Array.from(b.subarray(4, 8))).toEqual([10, 0, 0x01, 0xbb]);
    expect(b[12]).toBe(0xfd);
    expect(b[4 + 24]).toBe(3);
    expect(readSockaddr(v, 4)).toEqual({ family: 6, port: 443, addr, flowinfo: 0, scopeId: 3 });
    expect(writeSockaddr(v, 4, { family: 4, addr: new Uint8Array([1, 2, 3, 4]), port: 1 })).toBe(16);
    expect(readSockaddr(new DataView(new ArrayBuffer(16)), 0)).toBeNull();
  });

  test("UDP_SEGMENT cmsg is CMSG_LEN(2) with a u16, and findCmsg walks aligned cmsgs", () => {
    const b = new Uint8Array(64);
    const v = new DataView(b.buffer);
    const n1 = writeCmsgInt(v, 0, C.SOL_IP, C.IP_TOS, 0x10);
    const n2 = writeCmsgU16(v, n1, C.SOL_UDP, C.UDP_SEGMENT, 1200);
    expect(n1).toBe(24);
    expect(n2).toBe(24);
    expect(v.getBigUint64(24, true)).toBe(18n);
    expect(v.getInt32(32, true)).toBe(17);
    expect(v.getInt32(36, true)).toBe(103);
    expect(v.getUint16(40, true)).toBe(1200);
    expect(findCmsg(v, 0, 48, C.SOL_UDP, C.UDP_SEGMENT)).toBe(40);
    expect(findCmsg(v, 0, 48, C.SOL_IP, C.IP_TOS)).toBe(16);
    expect(findCmsg(v, 0, 48, C.SOL_UDP, C.UDP_GRO)).toBe(-1);
    expect(findCmsg(v, 0, 24, C.SOL_UDP, C.UDP_SEGMENT)).toBe(-1);
    writeU64(v, 0, 9999); // corrupt length ends the walk instead of running off the end
    expect(findCmsg(v, 0, 48, C.SOL_UDP, C.UDP_SEGMENT)).toBe(-1);
  });

  test("pollfd array", () => {
    const v = new DataView(new ArrayBuffer(16));
    writePollfd(v, 1, 7, C.POLLIN | C.POLLOUT);
    expect(v.getInt32(8, true)).toBe(7);
    expect(v.getInt16(12, true)).toBe(5);
    v.setInt16(14, C.POLLHUP, true);
    expect(readPollRevents(v, 1)).toBe(C.POLLHUP);
  });

  test.each(["x64", "arm64"])("epoll_event array uses the %s stride", (arch) => {
    const L: StructLayout = structLayout(arch);
    const v = new DataView(new ArrayBuffer(L.epollEvent.size * 2));
    writeEpollEvent(v, 1, C.EPOLLIN | C.EPOLLET, 42, L);
    expect(v.getUint32(L.epollEvent.size, true)).toBe(0x80000001);
    expect(v.getUint32(L.epollEvent.size + L.epollEvent.data, true)).toBe(42);
    expect(readEpollEvents(v, 1, L)).toBe(0x80000001);
    expect(readEpollToken(v, 1, L)).toBe(42);
  });
});

// Compile a C program against the host headers and compare its sizeof/offsetof
// and constant values with ours, so a typo cannot hide behind a matching test table.
const gcc = Bun.which("gcc") ?? Bun.which("cc");
const onLinux = process.platform === "linux";
describe.skipIf(!gcc || !onLinux)(`host C headers${gcc ? "" : " [skipped: no gcc/cc on PATH]"}`, () => {
  const structs: Array<[string, string, Record<string, string>]> = [
    ["ifreq", "struct ifreq", { name: "ifr_name", flags: "ifr_flags", ivalue: "ifr_mtu" }],
    ["iovec", "struct iovec", { base: "iov_base", len: "iov_len" }],
    [
      "msghdr",
      "struct msghdr",
      {
        name: "msg_name",
        namelen: "msg_namelen",
        iov: "msg_iov",
        iovlen: "msg_iovlen",
        control: "msg_control",
        controllen: "msg_controllen",
        flags: "msg_flags",
      },
    ],
    ["mmsghdr", "struct mmsghdr", { hdr: "msg_hdr", len: "msg_len" }],
    ["cmsghdr", "struct cmsghdr", { len: "cmsg_len", level: "cmsg_level", type: "cmsg_type" }],
    ["sockaddrIn", "struct sockaddr_in", { family: "sin_family", port: "sin_port", addr: "sin_addr", zero: "sin_zero" }],
    [
      "sockaddrIn6",
      "struct sockaddr_in6",
      {
        family: "sin6_family",
        port: "sin6_port",
        flowinfo: "sin6_flowinfo",
        addr: "sin6_addr",
        scopeId: "sin6_scope_id",
      },
    ],
    ["sockaddrStorage", "struct sockaddr_storage", {}],
    ["inPktinfo", "struct in_pktinfo", { ifindex: "ipi_ifindex", specDst: "ipi_spec_dst", addr: "ipi_addr" }],
    ["in6Pktinfo", "struct in6_pktinfo", { addr: "ipi6_addr", ifindex: "ipi6_ifindex" }],
    ["pollfd", "struct pollfd", { fd: "fd", events: "events", revents: "revents" }],
    ["epollEvent", "struct epoll_event", { events: "events", data: "data" }],
  ];
  const constantNames = Object.keys(C).filter((k) => typeof (C as Record<string, unknown>)[k] === "number");
  const errnoNames = Object.keys(E).filter((k) => /^E[A-Z0-9]+$/.test(k) && typeof (E as Record<string, unknown>)[k] === "number");

  let host: { structs: Record<string, Record<string, number>>; constants: Record<string, number | null> } | null = null;
  function measure() {
    if (host) return host;
    const dir = mkdtempSync(join(tmpdir(), "tsys-layout-"));
    try {
      const lines: string[] = [];
      for (const [key, type, fields] of structs) {
        lines.push(`printf("\\"${key}\\":{\\"size\\":%zu", sizeof(${type}));`);
        for (const [f, c] of Object.entries(fields)) lines.push(`printf(",\\"${f}\\":%zu", offsetof(${type}, ${c}));`);
        lines.push(`printf("},");`);
      }
      lines.push(`printf("\\"ifreqNameSize\\":{\\"size\\":%zu},", sizeof(((struct ifreq*)0)->ifr_name));`);
      const consts = [...constantNames, ...errnoNames].map(
        (n) => `#ifdef ${n}\n printf("\\"${n}\\":%lld,", (long long)(${n}));\n#else\n printf("\\"${n}\\":null,");\n#endif`,
      );
      const src = `#define _GNU_SOURCE
#include <stdio.h>
#include <stddef.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/ioctl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#ifndef SOL_UDP
#define SOL_UDP 17
#endif
int main(void) {
  printf("{\\"structs\\":{");
  ${lines.join("\n  ")}
  printf("\\"end\\":{}},\\"constants\\":{");
  ${consts.join("\n  ")}
  printf("\\"end\\":0}}\\n");
  return 0;
}
`;
      writeFileSync(join(dir, "layout.c"), src);
      const cc = Bun.spawnSync([gcc!, "-o", join(dir, "layout"), join(dir, "layout.c")]);
      if (cc.exitCode !== 0) throw new Error(`gcc failed: ${cc.stderr.toString()}`);
      const run = Bun.spawnSync([join(dir, "layout")]);
      host = JSON.parse(run.stdout.toString());
      return host!;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  test("struct sizes and offsets match structLayout(process.arch)", () => {
    const h = measure();
    const ours = structLayout(process.arch) as unknown as Record<string, Record<string, number>>;
    for (const [key, , fields] of structs) {
      const want: Record<string, number> = { size: ours[key]!.size! };
      for (const f of Object.keys(fields)) want[f] = ours[key]![f]!;
      expect({ [key]: h.structs[key] }).toEqual({ [key]: want });
    }
    expect(h.structs.ifreqNameSize!.size).toBe(structLayout(process.arch).ifreq.nameSize);
  });

  test("constants match the C headers", () => {
    const h = measure();
    const mismatches: string[] = [];
    for (const n of [...constantNames, ...errnoNames]) {
      const ours = (n in C ? (C as Record<string, unknown>)[n] : (E as Record<string, unknown>)[n]) as number;
      const theirs = h.constants[n];
      if (theirs === null || theirs === undefined) continue;
      if (theirs !== ours) mismatches.push(`${n}: ours ${ours}, C ${theirs}`);
    }
    expect(mismatches).toEqual([]);
    // Older distro headers (Debian 12) lack the TUN_F_USO*/UDP_TUNNEL bits (6.2+/2025);
    // their values are pinned in tun.test.ts by what the running kernel accepts.
    const missing = [...constantNames, ...errnoNames].filter((n) => h.constants[n] === null);
    expect(missing.filter((n) => !n.startsWith("TUN_F_"))).toEqual([]);
  });
});
