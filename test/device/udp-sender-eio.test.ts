// The EIO fallback of UdpSender: a kernel that refuses a UDP_SEGMENT send
// with EIO (an egress device without checksum offload on older kernels, an
// IPsec route, UDP-Lite) must get the same datagrams one by one, and GSO must
// stay off for that socket. UDP-Lite sockets are the one way to provoke the
// EIO on this kernel: 6.18 checksums GSO in software for devices that can't,
// and it has no ESP to build an xfrm route with.
import { afterAll, expect, test } from "bun:test";
import { C, COUNTERS } from "../../src/device/shared-stats.ts";
import { UdpSender } from "../../src/device/udp-sender.ts";
import { AF_INET, SOCK_CLOEXEC, SOCK_DGRAM } from "../../src/sys/constants.ts";
import { bind, close, socket } from "../../src/sys/libc.ts";
import { writeSockaddrIn } from "../../src/sys/layout.ts";
import { addressOf, MmsgBatch } from "../../src/sys/msgvec.ts";
import { localPort, recvBatch } from "../../src/sys/udp.ts";

const IPPROTO_UDPLITE = 136;
const LOOPBACK = new Uint8Array([127, 0, 0, 1]);

function udpLiteSocket(): number {
  const fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_UDPLITE);
  const sa = new Uint8Array(16);
  writeSockaddrIn(new DataView(sa.buffer), 0, LOOPBACK, 0);
  bind(fd, sa, 16);
  return fd;
}

const tx = udpLiteSocket();
const rx = udpLiteSocket();
afterAll(() => {
  close(tx);
  close(rx);
});

test("a GSO send refused with EIO is resent datagram by datagram and GSO stays off", async () => {
  const c = new Float64Array(COUNTERS.length);
  const sender = new UdpSender(tx, 4, true, c);
  const name = new Uint8Array(32);
  void name.buffer;
  writeSockaddrIn(new DataView(name.buffer), 0, LOOPBACK, localPort(rx));
  const slab = new Uint8Array(8 * 2048);
  const sizes = [1200, 1200, 1200, 1200, 500];
  sizes.forEach((len, i) => {
    slab.fill(i + 1, i * 2048, i * 2048 + len);
    sender.add(addressOf(slab, i * 2048), len, addressOf(name), 16);
  });
  expect(sender.flush()).toBe(sizes.length);
  expect(c[C.gsoDisabledEio]).toBe(1);
  expect(sender.gso).toBe(false);
  expect(c[C.sendErrors]).toBe(0);

  const mb = new MmsgBatch({ count: 16, bufSize: 2048 });
  const got: number[][] = [];
  for (let tries = 0; tries < 50 && got.length < sizes.length; tries++) {
    const n = recvBatch(rx, mb, 16, 0x40 /* MSG_DONTWAIT */);
    if (n <= 0) {
      await Bun.sleep(10);
      continue;
    }
    for (let i = 0; i < n; i++) got.push([mb.msgLen(i), mb.bufs[i]![0]!, mb.bufs[i]![mb.msgLen(i) - 1]!]);
  }
  expect(got).toEqual(sizes.map((len, i) => [len, i + 1, i + 1]));

  // The next batch goes out without GSO from the start: no second EIO.
  for (const [i, len] of sizes.entries()) sender.add(addressOf(slab, i * 2048), len, addressOf(name), 16);
  expect(sender.flush()).toBe(sizes.length);
  expect(c[C.gsoDisabledEio]).toBe(1);
  expect(c[C.gsoBatches]).toBe(0);
});
