// The handshake queue's fairness and load rules on crafted messages and
// sockaddrs (no sockets): wireguard-go's 1/8 threshold and its one-second
// afterglow, queue-full and per-source refusals, the priority lane for
// mac2-verified retries, and slot contents surviving the ring.
import { describe, expect, test } from "bun:test";
import { COOKIE_REPLIES_PER_SECOND, HandshakeQueue, sourceBucket, UNDER_LOAD_AFTER_MS } from "../../src/device/handshake-queue.ts";
import { newLocalSource } from "../../src/sys/udp.ts";

function sockaddr4(ip: [number, number, number, number], port: number): Uint8Array {
  const b = new Uint8Array(16);
  b[0] = 2; // AF_INET, little-endian sa_family
  b[2] = port >> 8;
  b[3] = port & 0xff;
  b.set(ip, 4);
  return b;
}

function sockaddr6(hex: string, port: number): Uint8Array {
  const b = new Uint8Array(28);
  b[0] = 10; // AF_INET6
  b[2] = port >> 8;
  b[3] = port & 0xff;
  b.set(Buffer.from(hex, "hex"), 8);
  return b;
}

const msg = (tag: number) => Uint8Array.from({ length: 148 }, (_, i) => (i === 0 ? 1 : (tag + i) & 0xff));
const local = newLocalSource();

function offer(q: HandshakeQueue, now: number, name: Uint8Array, tag = 0, priority = false) {
  const m = msg(tag);
  return q.offer(now, m, 0, m.length, name, 0, name.length, local, priority);
}

describe("HandshakeQueue", () => {
  test("under load from 1/8 full, and for a second after the backlog is gone", () => {
    const q = new HandshakeQueue(64, 8);
    for (let i = 0; i < 7; i++) offer(q, 0, sockaddr4([198, 19, 0, i], 1000));
    expect(q.underLoad(0)).toBe(false);
    offer(q, 0, sockaddr4([198, 19, 0, 7], 1000));
    expect(q.underLoad(10)).toBe(true);
    while (q.take() !== -1) {}
    expect(q.underLoad(10 + UNDER_LOAD_AFTER_MS - 1)).toBe(true);
    expect(q.underLoad(10 + UNDER_LOAD_AFTER_MS)).toBe(false);
  });

  test("a full queue refuses, counts as load, and takes messages again once drained", () => {
    const q = new HandshakeQueue(16, 4);
    for (let i = 0; i < 16; i++) expect(typeof offer(q, 0, sockaddr4([198, 19, 1, i], 1))).toBe("number");
    expect(offer(q, 5, sockaddr4([198, 19, 2, 1], 1))).toBe("full");
    expect(q.underLoad(5 + UNDER_LOAD_AFTER_MS - 1)).toBe(true);
    q.take();
    expect(typeof offer(q, 6, sockaddr4([198, 19, 2, 1], 1))).toBe("number");
  });

  test("one source holds at most a quarter of the queue, whatever ports it uses; others still get in", () => {
    const q = new HandshakeQueue(64, 8);
    let accepted = 0;
    for (let port = 1; port <= 64; port++) if (typeof offer(q, 0, sockaddr4([198, 19, 3, 3], port)) === "number") accepted++;
    expect(accepted).toBe(16);
    expect(offer(q, 0, sockaddr4([198, 19, 3, 3], 9999))).toBe("source-share");
    expect(q.underLoad(1)).toBe(true);
    expect(typeof offer(q, 0, sockaddr4([198, 19, 4, 4], 51820))).toBe("number");
    // Taking one of the flooder's messages gives it one place back.
    q.take();
    expect(typeof offer(q, 0, sockaddr4([198, 19, 3, 3], 1))).toBe("number");
  });

  test("IPv6 sources share by /64, as the kernel's rate limiter keys them", () => {
    const a = sockaddr6("fd000000000000010000000000000001", 1);
    const b = sockaddr6("fd00000000000001ffffffffffffffff", 2);
    const c = sockaddr6("fd000000000000020000000000000001", 1);
    expect(sourceBucket(a, 0)).toBe(sourceBucket(b, 0));
    expect(sourceBucket(a, 0)).not.toBe(sourceBucket(c, 0));
  });

  test("the priority lane is taken first; when it is full, priority messages queue normally", () => {
    const q = new HandshakeQueue(16, 2);
    offer(q, 0, sockaddr4([198, 19, 5, 1], 1), 1);
    const p1 = offer(q, 0, sockaddr4([198, 19, 5, 2], 1), 2, true);
    const p2 = offer(q, 0, sockaddr4([198, 19, 5, 3], 1), 3, true);
    const p3 = offer(q, 0, sockaddr4([198, 19, 5, 4], 1), 4, true);
    expect(p1 as number).toBeGreaterThanOrEqual(16);
    expect(p2 as number).toBeGreaterThanOrEqual(16);
    expect(p3 as number).toBeLessThan(16);
    const order: number[] = [];
    for (let s = q.take(); s !== -1; s = q.take()) order.push(q.data[q.messageOffset(s) + 1]!);
    expect(order).toEqual([3, 4, 2, 5]); // tags 2 and 3 (msg byte 1 = tag + 1) first, then FIFO
  });

  test("a slot keeps its message, sockaddr and local source until it is taken", () => {
    const q = new HandshakeQueue(8, 2);
    const src = newLocalSource();
    src.family = 4;
    src.ifindex = 7;
    src.addr.set([198, 19, 9, 9]);
    const name = sockaddr4([198, 19, 9, 1], 4242);
    const m = msg(77);
    const slot = q.offer(0, m, 0, m.length, name, 0, 16, src, false) as number;
    expect(q.take()).toBe(slot);
    expect(q.data.subarray(q.messageOffset(slot), q.messageOffset(slot) + 148)).toEqual(m);
    expect(q.lens[slot]).toBe(148);
    expect(q.names.subarray(q.nameOffset(slot), q.nameOffset(slot) + 16)).toEqual(name);
    expect(q.sources[slot]!.ifindex).toBe(7);
    expect(q.depth).toBe(0);
  });

  test("the ring wraps many times without losing or reordering a message", () => {
    const q = new HandshakeQueue(8, 2);
    const taken: number[] = [];
    for (let round = 0; round < 100; round++) {
      expect(typeof offer(q, 0, sockaddr4([198, 19, 10, round], 1), round)).toBe("number");
      if (q.depth === 3) taken.push(q.data[q.messageOffset(q.take()) + 1]! - 1);
    }
    for (let s = q.take(); s !== -1; s = q.take()) taken.push(q.data[q.messageOffset(s) + 1]! - 1);
    expect(taken).toEqual(Array.from({ length: 100 }, (_, i) => i));
  });
});

describe("HandshakeQueue.refusal", () => {
  test("predicts what a normal offer would get, and counts a refusal as load", () => {
    const q = new HandshakeQueue(8, 2);
    const flooder = sockaddr4([198, 19, 20, 1], 1);
    expect(q.refusal(0, flooder, 0)).toBeNull();
    offer(q, 0, flooder);
    offer(q, 0, sockaddr4([198, 19, 20, 1], 2));
    expect(q.refusal(0, flooder, 0)).toBe("source-share");
    expect(q.underLoad(1)).toBe(true);
    for (let i = 2; i < 8; i++) offer(q, 0, sockaddr4([198, 19, 21, i], 1));
    expect(q.refusal(0, sockaddr4([198, 19, 22, 1], 1), 0)).toBe("full");
  });
});

describe("HandshakeQueue.allowCookieReply", () => {
  test("a source gets its burst, then the sustained rate; another source keeps its own budget", () => {
    const q = new HandshakeQueue(64, 8);
    const flooder = sockaddr4([198, 19, 30, 1], 1);
    const other = sockaddr4([198, 19, 31, 1], 1);
    let granted = 0;
    for (let i = 0; i < COOKIE_REPLIES_PER_SECOND * 2; i++) if (q.allowCookieReply(1000, flooder, 0)) granted++;
    expect(granted).toBe(COOKIE_REPLIES_PER_SECOND);
    expect(q.allowCookieReply(1000, other, 0)).toBe(true);
    // 100 ms later: a tenth of a second's worth again, no more.
    granted = 0;
    for (let i = 0; i < COOKIE_REPLIES_PER_SECOND; i++) if (q.allowCookieReply(1100, flooder, 0)) granted++;
    expect(granted).toBe(COOKIE_REPLIES_PER_SECOND / 10);
  });
});
