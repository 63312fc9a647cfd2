// Sticky-source cmsgs (src/sys/udp.ts): IP_PKTINFO / IPV6_PKTINFO parsed from
// crafted control buffers (as the kernel lays them out, next to UDP_GRO's),
// written for sendmmsg byte for byte, and both directions on loopback: the
// kernel reports the local end of each datagram, and a send with a pktinfo
// leaves from the address it names (127.0.0.2: all of 127/8 is ours on lo).
import { afterEach, describe, expect, test } from "bun:test";
import { IPPROTO_IP, IPPROTO_IPV6, IPV6_PKTINFO, IP_PKTINFO, IP_TOS, MSG_DONTWAIT, SOL_UDP, UDP_GRO, UDP_SEGMENT } from "../../src/sys/constants.ts";
import { close, ifNametoindex, WOULD_BLOCK } from "../../src/sys/libc.ts";
import { CMSG_LEN, CMSG_SPACE, findCmsg, readSockaddr, readU64, writeCmsgHeader, writeCmsgInt, type SockAddr } from "../../src/sys/layout.ts";
import { MmsgBatch } from "../../src/sys/msgvec.ts";
import {
  clearLocalSource,
  copyLocalSource,
  enablePktinfo,
  enableUdpGro,
  groSegmentSize,
  newLocalSource,
  openUdp,
  prepareSend,
  readPktinfo,
  RECV_CONTROL_SIZE,
  recvBatch,
  recvPktinfo,
  sameLocalSource,
  SEND_CONTROL_SIZE,
  sendBatch,
  writePktinfoCmsg,
  type LocalSource,
} from "../../src/sys/udp.ts";

const V4_SPEC_DST = [198, 18, 0, 3];
const V4_HEADER_DST = [198, 18, 0, 255];
const V6_ADDR = [0xfd, 0, 0, 0x61, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3];

/** in4 writes an IP_PKTINFO cmsg as the kernel does (ifindex, spec_dst, addr) at off; returns the next offset. */
function in4(v: DataView, off: number, ifindex: number, specDst: number[], addr: number[], dataLen = 12): number {
  const d = writeCmsgHeader(v, off, IPPROTO_IP, IP_PKTINFO, dataLen);
  v.setInt32(d, ifindex, true);
  for (const [i, b] of specDst.entries()) v.setUint8(d + 4 + i, b);
  for (const [i, b] of addr.entries()) v.setUint8(d + 8 + i, b);
  return off + CMSG_SPACE(dataLen);
}

/** in6 writes an IPV6_PKTINFO cmsg (addr, ifindex) at off; returns the next offset. */
function in6(v: DataView, off: number, ifindex: number, addr: number[], dataLen = 20): number {
  const d = writeCmsgHeader(v, off, IPPROTO_IPV6, IPV6_PKTINFO, dataLen);
  for (const [i, b] of addr.entries()) v.setUint8(d + i, b);
  if (dataLen >= 20) v.setUint32(d + 16, ifindex, true);
  return off + CMSG_SPACE(dataLen);
}

function bytes(s: LocalSource): number[] {
  return [...s.addr.subarray(0, s.family === 4 ? 4 : 16)];
}

function stale(): LocalSource {
  const s = newLocalSource();
  s.family = 6;
  s.ifindex = 99;
  s.addr.fill(0xee);
  return s;
}

describe("readPktinfo on crafted control buffers", () => {
  const buf = new Uint8Array(256);
  const v = new DataView(buf.buffer);

  test("IPv4 after a UDP_GRO cmsg: ifindex and ipi_spec_dst (the local address), not ipi_addr", () => {
    buf.fill(0);
    let end = writeCmsgInt(v, 0, SOL_UDP, UDP_GRO, 1380);
    end = in4(v, end, 7, V4_SPEC_DST, V4_HEADER_DST);
    expect(end).toBe(24 + 32);
    expect(end).toBeLessThanOrEqual(RECV_CONTROL_SIZE);
    const out = stale();
    expect(readPktinfo(v, 0, end, out)).toBe(true);
    expect(out.family).toBe(4);
    expect(out.ifindex).toBe(7);
    expect(bytes(out)).toEqual(V4_SPEC_DST);
    expect([...out.addr.subarray(4)]).toEqual(new Array(12).fill(0));
  });

  test("IPv6 before a UDP_GRO cmsg: ipi6_addr and ipi6_ifindex; both fit RECV_CONTROL_SIZE", () => {
    buf.fill(0);
    let end = in6(v, 0, 0x01020304, V6_ADDR);
    end += writeCmsgInt(v, end, SOL_UDP, UDP_GRO, 1200);
    expect(end).toBe(RECV_CONTROL_SIZE);
    const out = newLocalSource();
    expect(readPktinfo(v, 0, end, out)).toBe(true);
    expect(out.family).toBe(6);
    expect(out.ifindex).toBe(0x01020304);
    expect(bytes(out)).toEqual(V6_ADDR);
    expect(readU64(v, 0)).toBe(CMSG_LEN(20));
  });

  test("at a non-zero offset (message i of a batch)", () => {
    buf.fill(0xaa);
    const end = in4(v, 64, 3, [127, 0, 0, 1], [127, 0, 0, 1]);
    const out = newLocalSource();
    expect(readPktinfo(v, 64, end - 64, out)).toBe(true);
    expect(out.ifindex).toBe(3);
    expect(bytes(out)).toEqual([127, 0, 0, 1]);
  });

  test("no pktinfo, another IP cmsg, an empty buffer: not found, and out is cleared", () => {
    buf.fill(0);
    const onlyGro = writeCmsgInt(v, 0, SOL_UDP, UDP_GRO, 1380);
    for (const [label, len] of [
      ["only UDP_GRO", onlyGro],
      ["nothing", 0],
    ] as const) {
      const out = stale();
      expect(readPktinfo(v, 0, len, out), label).toBe(false);
      expect(out).toEqual(newLocalSource());
    }
    const tos = writeCmsgInt(v, 0, IPPROTO_IP, IP_TOS, 0);
    const out = stale();
    expect(readPktinfo(v, 0, tos, out)).toBe(false);
    expect(out.family).toBe(0);
  });

  test("a pktinfo cmsg too short for its struct, or running past the buffer (MSG_CTRUNC), is ignored", () => {
    buf.fill(0);
    const short4 = in4(v, 0, 5, V4_SPEC_DST, [], 8);
    expect(readPktinfo(v, 0, short4, stale())).toBe(false);
    const short6 = in6(v, 0, 5, V6_ADDR, 16);
    expect(readPktinfo(v, 0, short6, stale())).toBe(false);
    const full = in6(v, 0, 5, V6_ADDR);
    // The kernel cut the control data short: cmsg_len says 36, only 30 bytes are there.
    expect(readPktinfo(v, 0, 30, stale())).toBe(false);
    expect(readPktinfo(v, 0, full, stale())).toBe(true);
  });

  test("a malformed cmsg_len (< header) ends the walk", () => {
    buf.fill(0);
    writeCmsgHeader(v, 0, SOL_UDP, UDP_GRO, 4);
    v.setUint32(0, 8, true); // cmsg_len 8 < 16
    in4(v, 24, 5, V4_SPEC_DST, V4_HEADER_DST);
    expect(readPktinfo(v, 0, 56, stale())).toBe(false);
  });
});

describe("writePktinfoCmsg", () => {
  const buf = new Uint8Array(128);
  const v = new DataView(buf.buffer);

  test("IPv4: IP_PKTINFO, CMSG_LEN(12), ipi_ifindex, ipi_spec_dst = the source, ipi_addr 0, padded to 32", () => {
    buf.fill(0xff);
    const s = newLocalSource();
    s.family = 4;
    s.ifindex = 4;
    s.addr.set(V4_SPEC_DST);
    expect(writePktinfoCmsg(v, 8, s)).toBe(32);
    expect(readU64(v, 8)).toBe(28);
    expect(v.getInt32(16, true)).toBe(IPPROTO_IP);
    expect(v.getInt32(20, true)).toBe(IP_PKTINFO);
    expect(v.getInt32(24, true)).toBe(4);
    expect([...buf.subarray(28, 32)]).toEqual(V4_SPEC_DST);
    expect([...buf.subarray(32, 40)]).toEqual(new Array(8).fill(0));
    expect(buf[40]).toBe(0xff);
    const back = newLocalSource();
    expect(readPktinfo(v, 8, 32, back)).toBe(true);
    expect(sameLocalSource(back, s)).toBe(true);
  });

  test("IPv6: IPV6_PKTINFO, CMSG_LEN(20), ipi6_addr, ipi6_ifindex, padded to 40", () => {
    buf.fill(0xff);
    const s = newLocalSource();
    s.family = 6;
    s.ifindex = 2;
    s.addr.set(V6_ADDR);
    expect(writePktinfoCmsg(v, 0, s)).toBe(40);
    expect(readU64(v, 0)).toBe(36);
    expect(v.getInt32(8, true)).toBe(IPPROTO_IPV6);
    expect(v.getInt32(12, true)).toBe(IPV6_PKTINFO);
    expect([...buf.subarray(16, 32)]).toEqual(V6_ADDR);
    expect(v.getUint32(32, true)).toBe(2);
    expect([...buf.subarray(36, 40)]).toEqual([0, 0, 0, 0]);
    const back = newLocalSource();
    expect(readPktinfo(v, 0, 40, back)).toBe(true);
    expect(sameLocalSource(back, s)).toBe(true);
  });

  test("an empty source writes nothing", () => {
    buf.fill(0xff);
    expect(writePktinfoCmsg(v, 0, newLocalSource())).toBe(0);
    expect(buf[0]).toBe(0xff);
  });

  test("prepareSend puts UDP_SEGMENT first and the pktinfo after it, within SEND_CONTROL_SIZE", () => {
    const batch = new MmsgBatch({ count: 2, bufSize: 64, controlSize: SEND_CONTROL_SIZE });
    const s = newLocalSource();
    s.family = 6;
    s.ifindex = 1;
    s.addr.set(V6_ADDR);
    prepareSend(batch, 1, 64, null, 16, s);
    const off = batch.controlOffset(1);
    const len = readU64(batch.headerView, 64 + 40); // mmsghdr 1, msg_controllen
    expect(len).toBe(24 + 40);
    expect(len).toBeLessThanOrEqual(SEND_CONTROL_SIZE);
    expect(batch.controlView.getUint16(findCmsg(batch.controlView, off, len, SOL_UDP, UDP_SEGMENT), true)).toBe(16);
    const back = newLocalSource();
    expect(readPktinfo(batch.controlView, off, len, back)).toBe(true);
    expect(sameLocalSource(back, s)).toBe(true);
  });

  test("LocalSource helpers: copy, compare, clear", () => {
    const a = newLocalSource();
    a.family = 4;
    a.ifindex = 3;
    a.addr.set([10, 0, 0, 1]);
    const b = newLocalSource();
    expect(sameLocalSource(a, b)).toBe(false);
    copyLocalSource(b, a);
    expect(sameLocalSource(a, b)).toBe(true);
    b.ifindex = 4;
    expect(sameLocalSource(a, b)).toBe(false);
    clearLocalSource(b);
    expect(b).toEqual(newLocalSource());
  });
});

const open: number[] = [];
afterEach(() => {
  for (const fd of open.splice(0)) close(fd);
});

function receive(fd: number, batch: MmsgBatch): number {
  for (let spins = 0; spins < 1000; spins++) {
    const n = recvBatch(fd, batch, batch.count, MSG_DONTWAIT);
    if (n !== WOULD_BLOCK && n > 0) return n;
    Bun.sleepSync(1);
  }
  throw new Error("nothing arrived");
}

describe.if(process.platform === "linux")("pktinfo on loopback", () => {
  const LO = process.platform === "linux" ? ifNametoindex("lo") : 1;
  const v4 = (a: number[]) => new Uint8Array(a);
  const V6_LOOPBACK = new Uint8Array(16);
  V6_LOOPBACK[15] = 1;

  test("IPv4: the receiver learns its local address and lo's ifindex; a send with 127.0.0.2 as source arrives from there", () => {
    const rx = openUdp({ family: 4, address: v4([127, 0, 0, 1]) });
    const tx = openUdp({ family: 4, address: v4([127, 0, 0, 1]) });
    open.push(rx.fd, tx.fd);
    enablePktinfo(rx.fd, 4);
    const send = new MmsgBatch({ count: 1, bufSize: 64, controlSize: SEND_CONTROL_SIZE });
    const src = newLocalSource();
    src.family = 4;
    src.ifindex = LO;
    src.addr.set([127, 0, 0, 2]);
    prepareSend(send, 0, 10, { family: 4, addr: v4([127, 0, 0, 1]), port: rx.port } as SockAddr, 0, src);
    expect(sendBatch(tx.fd, send, 1)).toBe(1);

    const recv = new MmsgBatch({ count: 4, bufSize: 64, controlSize: RECV_CONTROL_SIZE });
    expect(receive(rx.fd, recv)).toBe(1);
    expect(readSockaddr(recv.nameView, recv.nameOffset(0))).toMatchObject({ family: 4, port: tx.port, addr: v4([127, 0, 0, 2]) });
    const got = newLocalSource();
    expect(recvPktinfo(recv, 0, got)).toBe(true);
    expect(got.family).toBe(4);
    expect(got.ifindex).toBe(LO);
    expect(bytes(got)).toEqual([127, 0, 0, 1]);

    // A socket on 127.0.0.2 reports that address as its datagrams' local end.
    const other = openUdp({ family: 4, address: v4([127, 0, 0, 2]) });
    open.push(other.fd);
    enablePktinfo(other.fd, 4);
    prepareSend(send, 0, 10, { family: 4, addr: v4([127, 0, 0, 2]), port: other.port } as SockAddr);
    expect(sendBatch(rx.fd, send, 1)).toBe(1);
    expect(receive(other.fd, recv)).toBe(1);
    expect(recvPktinfo(recv, 0, got)).toBe(true);
    expect(got.ifindex).toBe(LO);
    expect(bytes(got)).toEqual([127, 0, 0, 2]);
  });

  test("IPv6: ::1 and lo's ifindex", () => {
    const rx = openUdp({ family: 6, address: V6_LOOPBACK });
    const tx = openUdp({ family: 6, address: V6_LOOPBACK });
    open.push(rx.fd, tx.fd);
    enablePktinfo(rx.fd, 6);
    const send = new MmsgBatch({ count: 1, bufSize: 64, controlSize: SEND_CONTROL_SIZE });
    const src = newLocalSource();
    src.family = 6;
    src.ifindex = LO;
    src.addr.set(V6_LOOPBACK);
    prepareSend(send, 0, 10, { family: 6, addr: V6_LOOPBACK, port: rx.port } as SockAddr, 0, src);
    expect(sendBatch(tx.fd, send, 1)).toBe(1);
    const recv = new MmsgBatch({ count: 4, bufSize: 64, controlSize: RECV_CONTROL_SIZE });
    expect(receive(rx.fd, recv)).toBe(1);
    const got = newLocalSource();
    expect(recvPktinfo(recv, 0, got)).toBe(true);
    expect(got.family).toBe(6);
    expect(got.ifindex).toBe(LO);
    expect(bytes(got)).toEqual([...V6_LOOPBACK]);
  });

  test("a GSO send with a pktinfo arrives as one GRO message; UDP_GRO and IP_PKTINFO both fit RECV_CONTROL_SIZE", () => {
    const rx = openUdp({ family: 4, address: v4([127, 0, 0, 1]) });
    const tx = openUdp({ family: 4, address: v4([127, 0, 0, 1]) });
    open.push(rx.fd, tx.fd);
    expect(enableUdpGro(rx.fd)).toBe(true);
    enablePktinfo(rx.fd, 4);
    const send = new MmsgBatch({ count: 1, bufSize: 8 * 1000, controlSize: SEND_CONTROL_SIZE });
    const src = newLocalSource();
    src.family = 4;
    src.ifindex = LO;
    src.addr.set([127, 0, 0, 3]);
    prepareSend(send, 0, 8 * 1000, { family: 4, addr: v4([127, 0, 0, 1]), port: rx.port } as SockAddr, 1000, src);
    expect(sendBatch(tx.fd, send, 1)).toBe(1);
    const recv = new MmsgBatch({ count: 2, bufSize: 65535, controlSize: RECV_CONTROL_SIZE });
    expect(receive(rx.fd, recv)).toBe(1);
    expect(recv.flags(0) & 0x08 /* MSG_CTRUNC */).toBe(0);
    expect(recv.msgLen(0)).toBe(8000);
    expect(groSegmentSize(recv, 0)).toBe(1000);
    expect(readSockaddr(recv.nameView, recv.nameOffset(0))).toMatchObject({ addr: v4([127, 0, 0, 3]) });
    const got = newLocalSource();
    expect(recvPktinfo(recv, 0, got)).toBe(true);
    expect(bytes(got)).toEqual([127, 0, 0, 1]);
  });
});
