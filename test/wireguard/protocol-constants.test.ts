import { describe, expect, test } from "bun:test";
import {
  MESSAGE_COOKIE_REPLY_SIZE,
  MESSAGE_INITIATION_OFFSET_MAC1,
  MESSAGE_INITIATION_OFFSET_MAC2,
  MESSAGE_INITIATION_SIZE,
  MESSAGE_KEEPALIVE_SIZE,
  MESSAGE_RESPONSE_OFFSET_MAC1,
  MESSAGE_RESPONSE_OFFSET_MAC2,
  MESSAGE_RESPONSE_SIZE,
  MAX_TIMER_HANDSHAKES,
  NOISE_INITIAL_CHAIN_KEY_HEX,
  NOISE_INITIAL_HASH_HEX,
} from "../../src/wireguard/constants.ts";
import { Kdf } from "../../src/wireguard/kdf.ts";
import { decodeCookieReply, decodeInitiation, decodeResponse, messageType, readCounter, writeCounter } from "../../src/wireguard/messages.ts";
import { initialChainKey, initialHash } from "../../src/wireguard/noise.ts";
import { paddingFor, transportSize } from "../../src/wireguard/transport.ts";
import { nobleBackend } from "./noble-backend.ts";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const unhex = (s: string) => new Uint8Array(Buffer.from(s, "hex"));
const crypto = nobleBackend(1);

describe("noise constants", () => {
  test("C0 = HASH(CONSTRUCTION) and H0 = HASH(C0 ‖ IDENTIFIER) match the dossier", () => {
    expect(hex(initialChainKey(crypto))).toBe(NOISE_INITIAL_CHAIN_KEY_HEX);
    expect(hex(initialHash(crypto))).toBe(NOISE_INITIAL_HASH_HEX);
    expect(NOISE_INITIAL_CHAIN_KEY_HEX).toBe("60e26daef327efc02ec335e2a025d2d016eb4206f87277f52d38d1988b78cd36");
    expect(NOISE_INITIAL_HASH_HEX).toBe("2211b361081ac566691243db458ad5322d9c6c662293e8b70ee19c65ba079ef3");
  });

  test("MAX_TIMER_HANDSHAKES is REKEY_ATTEMPT_TIME / REKEY_TIMEOUT = 18", () => {
    expect(MAX_TIMER_HANDSHAKES).toBe(18);
  });
});

describe("kdf", () => {
  // WG-GO device/kdf_test.go (their t0/t1/t2 are our T1/T2/T3).
  const vectors = [
    [
      "746573742d6b6579",
      "746573742d696e707574",
      "6f0e5ad38daba1bea8a0d213688736f19763239305e0f58aba697f9ffc41c633",
      "df1194df20802a4fe594cde27e92991c8cae66c366e8106aaa937a55fa371e8a",
      "fac6e2745a325f5dc5d11a5b165aad08b0ada28e7b4e666b7c077934a4d76c24",
    ],
    [
      "776972656775617264",
      "776972656775617264",
      "491d43bbfdaa8750aaf535e334ecbfe5129967cd64635101c566d4caefda96e8",
      "1e71a379baefd8a79aa4662212fcafe19a23e2b609a3db7d6bcba8f560e3d25f",
      "31e1ae48bddfbe5de38f295e5452b1909a1b4e38e183926af3780b0c1e1f0160",
    ],
    [
      "",
      "",
      "8387b46bf43eccfcf349552a095d8315c4055beb90208fb1be23b894bc2ed5d0",
      "58a0e5f6faefccf4807bff1f05fa8a9217945762040bcec2f4b4a62bdfe0e86e",
      "0ce6ea98ec548f8e281e93e32db65621c45eb18dc6f0a7ad94178610a2f7338e",
    ],
  ] as const;
  const kdf = new Kdf(crypto);
  test.each(vectors)("KDF1/2/3(%s, %s)", (key, input, e1, e2, e3) => {
    const t1 = new Uint8Array(32),
      t2 = new Uint8Array(32),
      t3 = new Uint8Array(32);
    kdf.kdf3(t1, t2, t3, unhex(key), unhex(input));
    expect([hex(t1), hex(t2), hex(t3)]).toEqual([e1, e2, e3]);
    t1.fill(0);
    t2.fill(0);
    kdf.kdf2(t1, t2, unhex(key), unhex(input));
    expect([hex(t1), hex(t2)]).toEqual([e1, e2]);
    // Output aliasing the key (mixKey) must give the same answer.
    const c = unhex(key.length ? key.padEnd(64, "0") : "");
    const expect1 = new Uint8Array(32);
    kdf.kdf1(expect1, c.slice(), unhex(input));
    if (c.length === 32) {
      kdf.mixKey(c, unhex(input));
      expect(hex(c)).toBe(hex(expect1));
    }
  });
});

describe("messages", () => {
  test("sizes and mac offsets are exact", () => {
    expect([MESSAGE_INITIATION_SIZE, MESSAGE_RESPONSE_SIZE, MESSAGE_COOKIE_REPLY_SIZE, MESSAGE_KEEPALIVE_SIZE]).toEqual([148, 92, 64, 32]);
    expect([MESSAGE_INITIATION_OFFSET_MAC1, MESSAGE_INITIATION_OFFSET_MAC2]).toEqual([116, 132]);
    expect([MESSAGE_RESPONSE_OFFSET_MAC1, MESSAGE_RESPONSE_OFFSET_MAC2]).toEqual([60, 76]);
  });

  test("each type is accepted only at its exact size (transport ≥ 32)", () => {
    const buf = new Uint8Array(300);
    const cases: Array<[number, number, string | number]> = [
      [1, 148, 1],
      [1, 147, "truncated"],
      [1, 149, "oversized"],
      [2, 92, 2],
      [2, 91, "truncated"],
      [2, 93, "oversized"],
      [3, 64, 3],
      [3, 63, "truncated"],
      [3, 65, "oversized"],
      [4, 32, 4],
      [4, 31, "truncated"],
      [4, 300, 4],
      [5, 148, "unknown-type"],
      [0, 148, "unknown-type"],
    ];
    for (const [type, len, want] of cases) {
      buf.fill(0);
      buf[0] = type;
      expect(messageType(buf, 0, len)).toBe(want as never);
    }
    buf[0] = 1;
    buf[2] = 1;
    expect(messageType(buf, 0, 148)).toBe("bad-reserved");
    expect(messageType(buf, 0, 3)).toBe("truncated");
    expect(messageType(buf, 200, 148)).toBe("truncated"); // runs past the buffer
  });

  test("decoders return views at the documented offsets", () => {
    const buf = new Uint8Array(148);
    for (let i = 0; i < 148; i++) buf[i] = i;
    buf.set([1, 0, 0, 0]);
    const m = decodeInitiation(buf, 0, 148);
    if (typeof m === "string") throw new Error(m);
    expect(m.sender).toBe(0x07060504);
    expect([m.ephemeral[0], m.encryptedStatic[0], m.encryptedTimestamp[0], m.mac1[0], m.mac2[0]]).toEqual([8, 40, 88, 116, 132]);
    expect([m.encryptedStatic.length, m.encryptedTimestamp.length]).toEqual([48, 28]);
    buf.set([2, 0, 0, 0]);
    const r = decodeResponse(buf, 0, 92);
    if (typeof r === "string") throw new Error(r);
    expect([r.sender, r.receiver, r.ephemeral[0], r.encryptedNothing[0], r.mac1[0], r.mac2[0]]).toEqual([0x07060504, 0x0b0a0908, 12, 44, 60, 76]);
    buf.set([3, 0, 0, 0]);
    const c = decodeCookieReply(buf, 0, 64);
    if (typeof c === "string") throw new Error(c);
    expect([c.receiver, c.nonce[0], c.nonce.length, c.encryptedCookie[0], c.encryptedCookie.length]).toEqual([0x07060504, 8, 24, 32, 32]);
  });

  test("counters round-trip below 2^53 and larger wire values read as Infinity", () => {
    const b = new Uint8Array(8);
    for (const v of [0, 1, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1]) {
      writeCounter(b, 0, v);
      expect(readCounter(b, 0)).toBe(v);
    }
    b.set([0, 0, 0, 0, 0, 0, 0x20, 0]); // 2^53
    expect(readCounter(b, 0)).toBe(Number.POSITIVE_INFINITY);
    b.fill(0xff);
    expect(readCounter(b, 0)).toBe(Number.POSITIVE_INFINITY);
  });
});

describe("padding", () => {
  test("pads to 16 and never past the MTU (WG-GO calculatePaddingSize)", () => {
    expect(paddingFor(0, 1420)).toBe(0);
    expect(paddingFor(1, 1420)).toBe(15);
    expect(paddingFor(16, 1420)).toBe(0);
    expect(paddingFor(1419, 1420)).toBe(1);
    expect(paddingFor(1410, 1420)).toBe(10); // align16 = 1424 > MTU → cap 1420
    expect(paddingFor(1420, 1420)).toBe(0);
    expect(paddingFor(1421, 1420)).toBe(15); // GSO-sized: last segment 1 byte
    expect(paddingFor(17, 0)).toBe(15);
    expect(transportSize(0, 1420)).toBe(32);
  });
});
