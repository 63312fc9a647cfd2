// The flood generator's packets, judged by the project's own responder code:
// a crafted mac1 passes CookieChecker and, under load, earns a cookie reply
// from DeviceState; the bad-mac1, garbage and transport kinds are dropped for
// the reason their name promises.
import { describe, expect, test } from "bun:test";
import { createTypeScriptBackend } from "../../../src/crypto/typescript-backend.ts";
import { blake2s256 } from "../../../src/crypto/blake2s.ts";
import { CookieChecker } from "../../../src/wireguard/cookie.ts";
import { MESSAGE_INITIATION_OFFSET_MAC1, MESSAGE_INITIATION_OFFSET_MAC2 } from "../../../src/wireguard/constants.ts";
import { DeviceState } from "../../../src/wireguard/device-state.ts";
import { messageType, readU32 } from "../../../src/wireguard/messages.ts";
import { Prng } from "../../offload/prng.ts";
import { buildPool, craftGarbage, craftInitiation, craftTransport, GARBAGE_MAX_LEN, mac1Key } from "./craft.ts";

const crypto = createTypeScriptBackend();
const SRC = { ip: Uint8Array.of(198, 18, 9, 3), port: 40000 };

function responder(seed: number): DeviceState {
  return new DeviceState(crypto, new Prng(seed).bytes(32));
}

function fillFrom(seed: number): (b: Uint8Array) => void {
  const p = new Prng(seed);
  return (b) => p.fill(b);
}

function packet(pool: ReturnType<typeof buildPool>, i: number): Uint8Array {
  return pool.slab.slice(i * pool.stride, i * pool.stride + pool.lengths[i]!);
}

describe("flood packet crafting", () => {
  test("mac1Key is BLAKE2s-256 of the label and the key, as the project's checker derives it", () => {
    const pub = new Prng(1).bytes(32);
    const want = new Uint8Array(32);
    blake2s256(want, [new TextEncoder().encode("mac1----"), pub]);
    expect(mac1Key(pub)).toEqual(want);
    expect(() => mac1Key(new Uint8Array(31))).toThrow(RangeError);
  });

  test("a crafted initiation carries a mac1 the project's CookieChecker accepts, and a zero mac2", () => {
    const dev = responder(2);
    const checker = new CookieChecker(crypto, dev.publicKey);
    const buf = new Uint8Array(148);
    for (let i = 0; i < 20; i++) {
      expect(craftInitiation(buf, 0, mac1Key(dev.publicKey), fillFrom(i))).toBe(148);
      expect(messageType(buf, 0, 148)).toBe(1);
      expect(checker.checkMac1(buf, 0, MESSAGE_INITIATION_OFFSET_MAC1)).toBe(true);
      expect(buf.subarray(MESSAGE_INITIATION_OFFSET_MAC2).every((b) => b === 0)).toBe(true);
    }
    // A mac1 for another responder's key is not accepted here.
    craftInitiation(buf, 0, mac1Key(responder(3).publicKey), fillFrom(99));
    expect(checker.checkMac1(buf, 0, MESSAGE_INITIATION_OFFSET_MAC1)).toBe(false);
  });

  test("under load the project's responder answers mac1-init with a cookie reply to its sender index; at rest it spends a DH and drops it", () => {
    const dev = responder(4);
    const pool = buildPool("mac1-init", 8, dev.publicKey, fillFrom(5));
    for (let i = 0; i < 8; i++) {
      const pkt = packet(pool, i);
      const loaded = dev.decapsulate(1000, SRC, pkt.slice(), 0, 148, true);
      expect(loaded.kind).toBe("network");
      if (loaded.kind !== "network") continue;
      expect(loaded.len).toBe(64);
      const reply = loaded.buf.subarray(loaded.off, loaded.off + loaded.len);
      expect(messageType(reply, 0, 64)).toBe(3);
      expect(readU32(reply, 4)).toBe(readU32(pkt, 4));
      const rest = dev.decapsulate(1000, SRC, pkt.slice(), 0, 148, false);
      expect(rest.kind).toBe("error");
      // Past the mac1 gate: the failure is in the Noise decryption, not "invalid-mac1".
      if (rest.kind === "error") expect(rest.code).not.toBe("invalid-mac1");
    }
  });

  test("bad-mac1-init is a well-formed initiation that fails mac1 before any DH", () => {
    const dev = responder(6);
    const pool = buildPool("bad-mac1-init", 16, null, fillFrom(7));
    for (let i = 0; i < 16; i++) {
      const r = dev.decapsulate(1000, SRC, packet(pool, i), 0, 148, true);
      expect(r.kind === "error" && r.code).toBe("invalid-mac1");
    }
  });

  test("garbage never has a WireGuard header and is dropped at the header check", () => {
    const dev = responder(8);
    const pool = buildPool("garbage", 2000, null, fillFrom(9));
    const lengths = new Set<number>();
    for (let i = 0; i < 2000; i++) {
      const len = pool.lengths[i]!;
      expect(len).toBeGreaterThanOrEqual(1);
      expect(len).toBeLessThanOrEqual(GARBAGE_MAX_LEN);
      lengths.add(len);
      const r = dev.decapsulate(1000, SRC, packet(pool, i), 0, len, false);
      expect(r.kind === "error" && ["truncated", "unknown-type", "bad-reserved"].includes(r.code)).toBe(true);
    }
    expect(lengths.size).toBeGreaterThan(500);
    // The header fix-up: a fill that writes type 1 with zero reserved bytes still yields a non-header.
    const buf = new Uint8Array(200);
    craftGarbage(buf, 0, 148, (b) => b.fill(0).set([1, 0, 0, 0]));
    expect(typeof messageType(buf, 0, 148)).toBe("string");
    expect(() => craftGarbage(buf, 0, 0, fillFrom(1))).toThrow(RangeError);
  });

  test("transport is a type-4 header over a padded ciphertext with an index the responder does not know", () => {
    const dev = responder(10);
    const pool = buildPool("transport", 500, null, fillFrom(11));
    for (let i = 0; i < 500; i++) {
      const len = pool.lengths[i]!;
      expect(len).toBeGreaterThanOrEqual(32);
      expect((len - 16) % 16).toBe(0);
      const pkt = packet(pool, i);
      expect(messageType(pkt, 0, len)).toBe(4);
      const r = dev.decapsulate(1000, SRC, pkt, 0, len, false);
      expect(r.kind === "error" && r.code).toBe("unknown-index");
    }
    expect(() => craftTransport(new Uint8Array(64), 0, 40, fillFrom(1))).toThrow(RangeError);
  });

  test("mac1-init without a key is refused rather than sent with a wrong mac", () => {
    expect(() => buildPool("mac1-init", 1, null)).toThrow(/public key/);
  });
});
