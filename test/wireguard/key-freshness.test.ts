// The rekey rules at their edges, with the whitepaper's constants:
// REKEY_AFTER_TIME 120 s (initiator only) and the last-minute handshake at
// REJECT_AFTER_TIME - KEEPALIVE_TIMEOUT - REKEY_TIMEOUT = 180 - 10 - 5 = 165 s.
import { describe, expect, test } from "bun:test";
import type { AeadKey } from "../../src/crypto/types.ts";
import { Keypair } from "../../src/wireguard/keypair.ts";
import { staleForReceiving, staleForSending } from "../../src/wireguard/key-freshness.ts";

const KEY = {} as AeadKey; // the rules never touch the keys
const T0 = 1_000_000;

function keypair(isInitiator: boolean): Keypair {
  return new Keypair(KEY, KEY, isInitiator, T0, 1, 2);
}

describe("staleForSending", () => {
  test.each([
    ["initiator, 119.999 s old", true, 119_999, false],
    ["initiator, 120 s old", true, 120_000, true],
    ["responder, 179 s old: only the initiator rekeys on time", false, 179_000, false],
  ])("%s", (_name, initiator, age, stale) => {
    expect(staleForSending(keypair(initiator), T0 + age)).toBe(stale);
  });

  test("more than REKEY_AFTER_MESSAGES sent: stale at any age, either role", () => {
    const kp = keypair(false);
    kp.sendCounter = 2 ** 61; // 2^60 + 1 is 2^60 as a double: the comparison is strict
    expect(staleForSending(kp, T0)).toBe(true);
  });
});

describe("staleForReceiving", () => {
  test.each([
    ["initiator, 164.999 s old", true, 164_999, false],
    ["initiator, 165 s old", true, 165_000, true],
    ["responder, 170 s old", false, 170_000, false],
  ])("%s", (_name, initiator, age, stale) => {
    expect(staleForReceiving(keypair(initiator), T0 + age)).toBe(stale);
  });

  test("no session, or its keys destroyed: nothing to keep fresh", () => {
    expect(staleForReceiving(null, T0 + 200_000)).toBe(false);
    const kp = keypair(true);
    kp.isValid = false;
    expect(staleForReceiving(kp, T0 + 200_000)).toBe(false);
  });
});
