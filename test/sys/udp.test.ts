import { afterEach, describe, expect, test } from "bun:test";
import { MSG_DONTWAIT, MSG_TRUNC } from "../../src/sys/constants.ts";
import { close, getsockoptInt, WOULD_BLOCK } from "../../src/sys/libc.ts";
import { readSockaddr, type SockAddr } from "../../src/sys/layout.ts";
import { MmsgBatch } from "../../src/sys/msgvec.ts";
import { enableUdpGro, groSegmentSize, localPort, openUdp, prepareSend, recvBatch, sendBatch, supportsUdpSegment, type UdpSocket } from "../../src/sys/udp.ts";

const LOOPBACK4 = new Uint8Array([127, 0, 0, 1]);
const LOOPBACK6 = (() => {
  const a = new Uint8Array(16);
  a[15] = 1;
  return a;
})();

const SEGMENTS = 10;
const SEGMENT = 1200;

function pattern(len: number, seed: number): Uint8Array {
  const b = new Uint8Array(len);
  for (let i = 0; i < len; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

/** receiveAll drains datagrams until `total` payload bytes arrived, returning [len, gso, src] per message. */
function receiveAll(sock: UdpSocket, batch: MmsgBatch, total: number) {
  const got: Array<{ len: number; gso: number; src: SockAddr | null; bytes: Uint8Array }> = [];
  let bytes = 0;
  for (let spins = 0; bytes < total && spins < 1000; spins++) {
    const n = recvBatch(sock.fd, batch, batch.count, MSG_DONTWAIT);
    if (n === WOULD_BLOCK) {
      Bun.sleepSync(1);
      continue;
    }
    for (let i = 0; i < n; i++) {
      expect(batch.flags(i) & MSG_TRUNC).toBe(0);
      const len = batch.msgLen(i);
      got.push({
        len,
        gso: groSegmentSize(batch, i),
        src: readSockaddr(batch.nameView, batch.nameOffset(i)),
        bytes: batch.bufs[i]!.slice(0, len),
      });
      bytes += len;
    }
  }
  return got;
}

const open: number[] = [];
afterEach(() => {
  for (const fd of open.splice(0)) close(fd);
});

describe.if(process.platform === "linux").each([
  ["IPv4", 4 as const, LOOPBACK4],
  ["IPv6", 6 as const, LOOPBACK6],
])("sys/udp over %s loopback", (_label, family, loopback) => {
  function pair(gro: boolean) {
    const rx = openUdp({ family, address: loopback });
    const tx = openUdp({ family, address: loopback });
    open.push(rx.fd, tx.fd);
    if (gro) expect(enableUdpGro(rx.fd)).toBe(true);
    return { rx, tx, dest: { family, addr: loopback, port: rx.port } as SockAddr };
  }

  test("binds an ephemeral port and reports it via getsockname", () => {
    const s = openUdp({ family, address: loopback });
    open.push(s.fd);
    expect(s.port).toBeGreaterThan(0);
    expect(localPort(s.fd)).toBe(s.port);
    expect(supportsUdpSegment(s.fd)).toBe(true);
    // The kernel doubles the request; without CAP_NET_ADMIN it is capped at rmem_max.
    expect(getsockoptInt(s.fd, 1, 8)).toBeGreaterThan(0);
  });

  test("GSO send of 10x1200 arrives as one 12000-byte GRO message with gso 1200", () => {
    const { rx, tx, dest } = pair(true);
    const send = new MmsgBatch({ count: 1, bufSize: 65535 });
    const payload = pattern(SEGMENTS * SEGMENT, 1);
    send.bufs[0]!.set(payload);
    prepareSend(send, 0, payload.length, dest, SEGMENT);
    expect(sendBatch(tx.fd, send, 1)).toBe(1);
    expect(send.msgLen(0)).toBe(payload.length);

    const recv = new MmsgBatch({ count: 8, bufSize: 65535 });
    const got = receiveAll(rx, recv, payload.length);
    expect(got.map((m) => [m.len, m.gso])).toEqual([[12000, 1200]]);
    expect(got[0]!.bytes).toEqual(payload);
    expect(got[0]!.src!.family).toBe(family);
    expect(got[0]!.src!.port).toBe(tx.port);
    expect(got[0]!.src!.addr).toEqual(loopback);
  });

  test("without GRO the same GSO send arrives as 10 datagrams of 1200", () => {
    const { rx, tx, dest } = pair(false);
    const send = new MmsgBatch({ count: 1, bufSize: 65535 });
    const payload = pattern(SEGMENTS * SEGMENT, 2);
    send.bufs[0]!.set(payload);
    prepareSend(send, 0, payload.length, dest, SEGMENT);
    expect(sendBatch(tx.fd, send, 1)).toBe(1);

    const recv = new MmsgBatch({ count: 16, bufSize: 2048 });
    const got = receiveAll(rx, recv, payload.length);
    expect(got.map((m) => m.len)).toEqual(new Array(SEGMENTS).fill(SEGMENT));
    expect(got.map((m) => m.gso)).toEqual(new Array(SEGMENTS).fill(0));
    expect(got.every((m) => m.src?.port === tx.port)).toBe(true);
    for (let i = 0; i < SEGMENTS; i++) {
      expect(got[i]!.bytes).toEqual(payload.subarray(i * SEGMENT, (i + 1) * SEGMENT));
    }
  });

  test("sendmmsg of distinct datagrams (short tail) arrives intact and in order", () => {
    const { rx, tx, dest } = pair(false);
    const sizes = [1, 100, 1420, 1420, 7];
    const send = new MmsgBatch({ count: sizes.length, bufSize: 2048, controlSize: 0 });
    const payloads = sizes.map((len, i) => pattern(len, 10 + i));
    payloads.forEach((p, i) => {
      send.bufs[i]!.set(p);
      prepareSend(send, i, p.length, dest);
    });
    expect(sendBatch(tx.fd, send, sizes.length)).toBe(sizes.length);

    const recv = new MmsgBatch({ count: 8, bufSize: 2048 });
    const got = receiveAll(
      rx,
      recv,
      sizes.reduce((a, b) => a + b, 0),
    );
    expect(got.map((m) => m.bytes)).toEqual(payloads);
  });
});
