// UdpSender over loopback: in-place datagrams gathered into sendmmsg
// messages, same-size runs to one endpoint merged with UDP_SEGMENT (one
// shorter tail allowed), everything arriving intact and in order.
import { afterAll, expect, test } from "bun:test";
import { closeSocketPair, openSocketPair } from "../../src/device/sockets.ts";
import { C, COUNTERS } from "../../src/device/shared-stats.ts";
import { UdpSender } from "../../src/device/udp-sender.ts";
import { ifNametoindex, setsockoptInt } from "../../src/sys/libc.ts";
import { SOL_SOCKET } from "../../src/sys/constants.ts";

/** SO_NO_CHECK (asm-generic/socket.h): no UDP checksums on send, which the kernel refuses to combine with GSO. */
const SO_NO_CHECK = 11;
import { writeSockaddrIn } from "../../src/sys/layout.ts";
import { addressOf, MmsgBatch } from "../../src/sys/msgvec.ts";
import { newLocalSource, recvBatch, type LocalSource } from "../../src/sys/udp.ts";

const env = { TUNNEL_DISABLE_UDP_GRO_SOCKET: "1" };
const tx = openSocketPair(0, 0, env);
const rx = openSocketPair(0, 0, env);
afterAll(() => {
  closeSocketPair(tx);
  closeSocketPair(rx);
});

test("runs of equal-size datagrams become GSO messages; every datagram arrives in order", async () => {
  const c = new Float64Array(COUNTERS.length);
  const sender = new UdpSender(tx.v4!.fd, 4, tx.v4!.gso, c);
  const name = new Uint8Array(32);
  void name.buffer;
  writeSockaddrIn(new DataView(name.buffer), 0, new Uint8Array([127, 0, 0, 1]), rx.port);
  const slab = new Uint8Array(64 * 2048);
  const sizes = [1200, 1200, 1200, 700, 1200, 1200, 90, 1300];
  sizes.forEach((len, i) => {
    slab.fill(i + 1, i * 2048, i * 2048 + len);
    sender.add(addressOf(slab, i * 2048), len, addressOf(name), 16);
  });
  expect(sender.flush()).toBe(sizes.length);
  if (tx.v4!.gso) {
    // [1200×3 + 700 tail], [1200×2 + 90 tail], [1300]
    expect(c[C.sendMessages]).toBe(3);
    expect(c[C.gsoBatches]).toBe(2);
    expect(c[C.gsoDatagrams]).toBe(7);
  }
  const mb = new MmsgBatch({ count: 16, bufSize: 2048 });
  const got: number[][] = [];
  for (let tries = 0; tries < 50 && got.length < sizes.length; tries++) {
    const n = recvBatch(rx.v4!.fd, mb, 16);
    if (n <= 0) {
      await Bun.sleep(10);
      continue;
    }
    for (let i = 0; i < n; i++) got.push([mb.msgLen(i), mb.bufs[i]![0]!, mb.bufs[i]![mb.msgLen(i) - 1]!]);
  }
  expect(got).toEqual(sizes.map((len, i) => [len, i + 1, i + 1]));
});

/** drain receives until `count` datagrams arrived: [len, first byte, source address] each. */
async function drain(fd: number, count: number): Promise<[number, number, string][]> {
  const mb = new MmsgBatch({ count: 16, bufSize: 2048 });
  const got: [number, number, string][] = [];
  for (let tries = 0; tries < 50 && got.length < count; tries++) {
    const n = recvBatch(fd, mb, 16);
    if (n <= 0) {
      await Bun.sleep(10);
      continue;
    }
    for (let i = 0; i < n; i++) got.push([mb.msgLen(i), mb.bufs[i]![0]!, mb.names.subarray(mb.nameOffset(i) + 4, mb.nameOffset(i) + 8).join(".")]);
  }
  return got;
}

function source(addr: number[], ifindex: number): LocalSource {
  const s = newLocalSource();
  s.family = 4;
  s.ifindex = ifindex;
  s.addr.set(addr);
  return s;
}

test("datagrams with a sticky source leave from it; a different source starts a new GSO message", async () => {
  const c = new Float64Array(COUNTERS.length);
  const sender = new UdpSender(tx.v4!.fd, 4, tx.v4!.gso, c);
  const name = new Uint8Array(32);
  void name.buffer;
  writeSockaddrIn(new DataView(name.buffer), 0, new Uint8Array([127, 0, 0, 1]), rx.port);
  const slab = new Uint8Array(8 * 2048);
  const src = source([127, 0, 0, 2], ifNametoindex("lo"));
  const plan: [number, LocalSource | null][] = [
    [1200, src],
    [1200, src],
    [1200, src],
    [1200, null],
    [1200, null],
  ];
  plan.forEach(([len, s], i) => {
    slab.fill(i + 1, i * 2048, i * 2048 + len);
    sender.add(addressOf(slab, i * 2048), len, addressOf(name), 16, s);
  });
  expect(sender.flush()).toBe(plan.length);
  if (tx.v4!.gso) expect(c[C.sendMessages]).toBe(2);
  expect(await drain(rx.v4!.fd, plan.length)).toEqual(plan.map(([len, s], i) => [len, i + 1, s === null ? "127.0.0.1" : "127.0.0.2"]));
  expect(c[C.stickySourceResets]).toBe(0);
  expect(src.family).toBe(4);
});

test("a source the kernel refuses (its interface is gone: ENODEV) is cleared, counted, and the batch resent without it", async () => {
  const c = new Float64Array(COUNTERS.length);
  const sender = new UdpSender(tx.v4!.fd, 4, tx.v4!.gso, c);
  const name = new Uint8Array(32);
  void name.buffer;
  writeSockaddrIn(new DataView(name.buffer), 0, new Uint8Array([127, 0, 0, 1]), rx.port);
  const slab = new Uint8Array(8 * 2048);
  const gone = source([127, 0, 0, 2], 0x7ffffff0);
  const sizes = [1200, 1200, 700, 90];
  sizes.forEach((len, i) => {
    slab.fill(i + 1, i * 2048, i * 2048 + len);
    // The last datagram is queued separately (no GSO merge after a tail): both messages carried the source.
    sender.add(addressOf(slab, i * 2048), len, addressOf(name), 16, gone);
  });
  expect(sender.flush()).toBe(sizes.length);
  expect(c[C.stickySourceResets]).toBe(1);
  expect(c[C.sendErrors]).toBe(0);
  expect(gone.family).toBe(0);
  expect(await drain(rx.v4!.fd, sizes.length)).toEqual(sizes.map((len, i) => [len, i + 1, "127.0.0.1"]));
});

test("EINVAL on a GSO message with a source falls back to single datagrams and keeps the source", () => {
  const pair = openSocketPair(0, 0, env);
  try {
    expect(pair.v4!.gso).toBe(true);
    // SO_NO_CHECK makes every UDP GSO send fail with EINVAL: a GSO problem, not a source problem.
    setsockoptInt(pair.v4!.fd, SOL_SOCKET, SO_NO_CHECK, 1, "SO_NO_CHECK");
    const c = new Float64Array(COUNTERS.length);
    const sender = new UdpSender(pair.v4!.fd, 4, true, c);
    const name = new Uint8Array(32);
    void name.buffer;
    writeSockaddrIn(new DataView(name.buffer), 0, new Uint8Array([127, 0, 0, 1]), rx.port);
    const src = newLocalSource();
    src.family = 4;
    src.ifindex = ifNametoindex("lo");
    src.addr.set([127, 0, 0, 1]);
    const slab = new Uint8Array(8192);
    for (let i = 0; i < 3; i++) sender.add(addressOf(slab, i * 2048), 1200, addressOf(name), 16, src);
    expect(sender.flush()).toBe(3);
    expect(c[C.stickySourceResets]).toBe(0);
    expect(src.family).toBe(4);
    expect(c[C.sendErrors]).toBe(0);
  } finally {
    closeSocketPair(pair);
  }
});
