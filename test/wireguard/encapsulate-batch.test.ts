// Tunn.encapsulateBatch must be byte-for-byte what one encapsulate per packet
// produces (same counters in order, same bookkeeping), and all-or-nothing.
import { describe, expect, test } from "bun:test";
import { REJECT_AFTER_MESSAGES } from "../../src/wireguard/constants.ts";
import { finishHandshake, IP_A, IP_B, makePair, SRC_A, startHandshake, type Pair } from "./helpers.ts";

const SLOT = 2048;
const N = 20;

function session(): Pair {
  const p = makePair({ seed: 7, peer: { mtu: 1420 } });
  finishHandshake(p, 1000, startHandshake(p, 1000));
  return p;
}

/** slab of N IPv4 packets A→B of varied sizes at offs[i] (16 headroom each). */
function slab(): { buf: Uint8Array; offs: Int32Array; lens: Int32Array } {
  const buf = new Uint8Array(SLOT * N);
  const offs = new Int32Array(N);
  const lens = new Int32Array(N);
  for (let i = 0; i < N; i++) {
    const p = i * SLOT + 16;
    const len = i === 3 ? 20 : 20 + ((i * 97) % 1400);
    buf[p] = 0x45;
    buf[p + 2] = len >>> 8;
    buf[p + 3] = len & 0xff;
    buf[p + 9] = 17;
    buf.set(IP_A, p + 12);
    buf.set(IP_B, p + 16);
    for (let k = 20; k < len; k++) buf[p + k] = (i + k) & 0xff;
    offs[i] = p;
    lens[i] = len;
  }
  return { buf, offs, lens };
}

describe("Tunn.encapsulateBatch", () => {
  test("same bytes, counters, lengths and bookkeeping as encapsulate per packet; B opens them all", () => {
    const one = session();
    const many = session();
    const s1 = slab();
    const s2 = slab();
    const out1 = new Int32Array(N);
    for (let i = 0; i < N; i++) {
      const r = one.peerB.encapsulate(2000, s1.buf, s1.offs[i]! - 16, s1.lens[i]!);
      if (r.kind !== "network") throw new Error(r.kind);
      expect(r.off).toBe(s1.offs[i]! - 16);
      out1[i] = r.len;
    }
    const out2 = new Int32Array(N);
    expect(many.peerB.encapsulateBatch(2000, s2.buf, s2.offs, s2.lens, 0, N, out2)).toBe(N);
    expect(Array.from(out2)).toEqual(Array.from(out1));
    expect(Buffer.from(s2.buf).equals(Buffer.from(s1.buf))).toBe(true);
    expect(many.peerB.keypairs.current!.sendCounter).toBe(one.peerB.keypairs.current!.sendCounter);
    expect(many.peerB.txBytes).toBe(one.peerB.txBytes);
    expect(many.peerB.timers.newHandshakeAt).toBe(one.peerB.timers.newHandshakeAt);
    for (let i = 0; i < N; i++) {
      const r = many.b.decapsulate(2000, SRC_A, s2.buf, s2.offs[i]! - 16, out2[i]!, false);
      expect(r.kind).toBe("tunnel");
    }
  });

  test("a sub-range [from, to) seals only those slots", () => {
    const p = session();
    const s = slab();
    const before = s.buf.slice();
    const out = new Int32Array(N);
    expect(p.peerB.encapsulateBatch(2000, s.buf, s.offs, s.lens, 5, 9, out)).toBe(4);
    expect(p.peerB.keypairs.current!.sendCounter).toBe(4 + 1); // + the handshake's confirmation keepalive
    expect(Buffer.from(s.buf.subarray(0, 5 * SLOT - 16)).equals(Buffer.from(before.subarray(0, 5 * SLOT - 16)))).toBe(true);
    expect(Buffer.from(s.buf.subarray(9 * SLOT)).equals(Buffer.from(before.subarray(9 * SLOT)))).toBe(true);
    expect(out[4]).toBe(0);
    expect(out[5]).toBeGreaterThan(0);
  });

  test("all-or-nothing: 0 and nothing touched without a session, past REJECT_AFTER_MESSAGES, or without tailroom", () => {
    const fresh = makePair({ seed: 3 });
    const s = slab();
    const before = s.buf.slice();
    const out = new Int32Array(N);
    expect(fresh.peerB.encapsulateBatch(2000, s.buf, s.offs, s.lens, 0, N, out)).toBe(0);
    expect(fresh.peerB.stagedCount).toBe(0);

    const p = session();
    const kp = p.peerB.keypairs.current!;
    kp.sendCounter = REJECT_AFTER_MESSAGES - N + 1; // one counter short of the whole range
    expect(p.peerB.encapsulateBatch(2000, s.buf, s.offs, s.lens, 0, N, out)).toBe(0);
    expect(kp.sendCounter).toBe(REJECT_AFTER_MESSAGES - N + 1);
    expect(Buffer.from(s.buf).equals(Buffer.from(before))).toBe(true);
    kp.sendCounter = REJECT_AFTER_MESSAGES - N; // exactly fits: the last counter is REJECT − 1
    expect(p.peerB.encapsulateBatch(2000, s.buf, s.offs, s.lens, 0, N, out)).toBe(N);
    expect(kp.sendCounter).toBe(REJECT_AFTER_MESSAGES);

    const q = session();
    const t = slab();
    const short = t.buf.subarray(0, t.offs[N - 1]! + t.lens[N - 1]! + 8); // last packet lacks tailroom
    const kq = q.peerB.keypairs.current!;
    const c0 = kq.sendCounter;
    expect(q.peerB.encapsulateBatch(2000, short, t.offs, t.lens, 0, N, out)).toBe(0);
    expect(kq.sendCounter).toBe(c0);
  });
});
