// Seeded property tests: every decoder and DeviceState.decapsulate, fed
// truncated, oversized and random bytes, returns a typed result and never
// throws. Inputs are biased toward valid headers and exact sizes so the
// decoders get past the first check; only a small share carries a valid mac1
// (and so reaches DH), keeping the run fast.
import { describe, expect, test } from "bun:test";
import { MESSAGE_INITIATION_OFFSET_MAC1, MESSAGE_RESPONSE_OFFSET_MAC1 } from "../../src/wireguard/constants.ts";
import { CookieGenerator } from "../../src/wireguard/cookie.ts";
import { WIREGUARD_ERROR_CODES, type WireGuardErrorCode } from "../../src/wireguard/errors.ts";
import { decodeCookieReply, decodeInitiation, decodeResponse, messageType } from "../../src/wireguard/messages.ts";
import { detachResult } from "../../src/wireguard/results.ts";
import { finishHandshake, makePair, SRC_A, startHandshake } from "./helpers.ts";

const CASES = 100_000;
const CODES = new Set<string>(WIREGUARD_ERROR_CODES);
const SIZES = [0, 1, 3, 4, 31, 32, 33, 63, 64, 65, 91, 92, 93, 147, 148, 149, 200, 1500];

/** rng is a seeded xorshift32 returning [0, 2^32). */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

/** fuzzInput writes one biased random datagram into buf at a random offset; returns [off, len]. */
function fuzzInput(next: () => number, buf: Uint8Array, indices: number[]): [number, number] {
  const off = next() % 16;
  const r = next() % 10;
  const len = r < 6 ? SIZES[next() % SIZES.length]! : next() % 400;
  for (let i = 0; i < len; i += 4) {
    const v = next();
    buf[off + i] = v;
    buf[off + i + 1] = v >>> 8;
    buf[off + i + 2] = v >>> 16;
    buf[off + i + 3] = v >>> 24;
  }
  if (len >= 4 && r < 8) {
    buf[off] = 1 + (next() % 4); // a known type
    if (next() % 8 !== 0) buf[off + 1] = buf[off + 2] = buf[off + 3] = 0;
  }
  if (len >= 8 && indices.length > 0 && next() % 2 === 0) {
    // Point the receiver field (offset 4 for types 3–4, 8 for type 2) at a live index.
    const idx = indices[next() % indices.length]!;
    const at = buf[off] === 2 && len >= 12 ? 8 : 4;
    buf[off + at] = idx;
    buf[off + at + 1] = idx >>> 8;
    buf[off + at + 2] = idx >>> 16;
    buf[off + at + 3] = idx >>> 24;
  }
  return [off, len];
}

function isTypedError(x: unknown): x is WireGuardErrorCode {
  return typeof x === "string" && CODES.has(x);
}

describe("fuzz", () => {
  const buf = new Uint8Array(1600);

  test.each([
    ["messageType", (b: Uint8Array, o: number, l: number) => messageType(b, o, l)],
    ["decodeInitiation", decodeInitiation],
    ["decodeResponse", decodeResponse],
    ["decodeCookieReply", decodeCookieReply],
  ] as const)(`%s: ${CASES} seeded cases return a value or a typed error`, (_name, decode) => {
    const next = rng(0xc0ffee);
    let bad = 0;
    let ok = 0;
    for (let i = 0; i < CASES; i++) {
      const [off, len] = fuzzInput(next, buf, []);
      // Also lie about the length: past the end of the buffer.
      const l = i % 97 === 0 ? buf.length : len;
      let r: unknown;
      try {
        r = decode(buf, off, l);
      } catch {
        bad++;
        continue;
      }
      if (typeof r === "string") {
        if (!isTypedError(r)) bad++;
      } else ok++;
    }
    expect(bad).toBe(0);
    expect(ok).toBeGreaterThan(0);
  });

  test(`DeviceState.decapsulate: ${CASES} seeded datagrams, never throws, always a typed result`, () => {
    const p = makePair({ seed: 9 });
    finishHandshake(p, 1000, startHandshake(p, 1000));
    const next = rng(0xbadf00d);
    const indices = [...p.b.indexTable.keys(), ...p.a.indexTable.keys()];
    // A generator that can stamp a valid mac1 for B, so some inputs reach DH.
    const toB = new CookieGenerator(p.crypto, p.b.publicKey);
    const counts = new Map<string, number>();
    let bad = 0;
    for (let i = 0; i < CASES; i++) {
      const [off, len] = fuzzInput(next, buf, indices);
      if (i % 500 === 0 && len >= 148) {
        buf.set([1, 0, 0, 0], off);
        toB.addMacs(1000, buf, off, MESSAGE_INITIATION_OFFSET_MAC1);
      } else if (i % 500 === 250 && len >= 92) {
        buf.set([2, 0, 0, 0], off);
        toB.addMacs(1000, buf, off, MESSAGE_RESPONSE_OFFSET_MAC1);
      }
      const underLoad = i % 3 === 0;
      try {
        const r = detachResult(p.b.decapsulate(1000 + i / 100, SRC_A, buf, off, i % 89 === 0 ? 9999 : len, underLoad));
        const key = r.kind === "error" ? r.code : r.kind;
        counts.set(key, (counts.get(key) ?? 0) + 1);
        if (r.kind === "error" && !isTypedError(r.code)) bad++;
        if (r.kind === "tunnel") bad++; // random bytes must never authenticate
      } catch (e) {
        bad++;
        if (bad < 3) console.error(e);
      }
    }
    expect(bad).toBe(0);
    // The bias reached the deep checks, not just the framing.
    for (const code of ["truncated", "oversized", "invalid-mac1", "unknown-index", "decrypt-failed"]) {
      expect(counts.get(code) ?? 0).toBeGreaterThan(0);
    }
  });

  test("encapsulate rejects impossible buffers with a typed error", () => {
    const p = makePair({ seed: 3 });
    finishHandshake(p, 1000, startHandshake(p, 1000));
    const next = rng(7);
    let bad = 0;
    for (let i = 0; i < 20_000; i++) {
      const size = next() % 300;
      const b = new Uint8Array(size);
      const off = (next() % 40) - 8;
      const len = (next() % 320) - 8;
      try {
        const r = p.peerB.encapsulate(1001, b, off, len);
        if (r.kind === "error" && !isTypedError(r.code)) bad++;
        if (r.kind === "network" && r.off + r.len > b.length) bad++;
      } catch {
        bad++;
      }
    }
    expect(bad).toBe(0);
  });
});
