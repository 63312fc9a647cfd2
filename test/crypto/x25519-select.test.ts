// pickX25519's check of node:crypto: RFC 7748's known answer, so a runtime
// whose X25519 is wrong (or missing) falls back to noble without running
// noble at start-up (its cold JIT cost seconds per daemon start under emulation).
import { expect, test } from "bun:test";
import { answersKnownVector, pickX25519, type X25519Impl } from "../../src/crypto/x25519-select.ts";
import { x25519BaseNode, x25519BaseNoble, x25519Node, x25519Noble } from "../../src/crypto/x25519.ts";

const node: X25519Impl = { name: "node:crypto", dh: x25519Node, base: x25519BaseNode };
const noble: X25519Impl = { name: "@noble/curves", dh: x25519Noble, base: x25519BaseNoble };

test("both implementations give RFC 7748 §6.1's answer; Bun's node:crypto is picked", () => {
  expect(answersKnownVector(node)).toBe(true);
  expect(answersKnownVector(noble)).toBe(true);
  expect(pickX25519().name).toBe("node:crypto");
});

test("a wrong public key, a wrong shared secret or a refused DH fails the check", () => {
  const flip = (out: Uint8Array) => {
    out[0]! ^= 1;
  };
  const wrongBase: X25519Impl = {
    ...node,
    base: (p, out) => {
      node.base(p, out);
      flip(out);
    },
  };
  const wrongDh: X25519Impl = {
    ...node,
    dh: (a, b, out) => {
      node.dh(a, b, out);
      flip(out);
      return true;
    },
  };
  expect(answersKnownVector(wrongBase)).toBe(false);
  expect(answersKnownVector(wrongDh)).toBe(false);
  expect(answersKnownVector({ ...node, dh: () => false })).toBe(false);
});
