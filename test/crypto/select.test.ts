import { expect, test } from "bun:test";
import { selectBackend } from "../../src/crypto/select.ts";
import { runSelftest } from "../../src/crypto/selftest.ts";

test("libcrypto is preferred when loadable, with no warning", () => {
  const { backend, warning } = selectBackend({});
  expect(backend.name).toBe("libcrypto");
  expect(warning).toBeUndefined();
});

test("TUNNEL_CRYPTO forces a backend", () => {
  expect(selectBackend({ TUNNEL_CRYPTO: "typescript" }).backend.name).toBe("typescript");
  expect(selectBackend({ TUNNEL_CRYPTO: "libcrypto" }).backend.name).toBe("libcrypto");
  expect(() => selectBackend({ TUNNEL_CRYPTO: "openssl" })).toThrow(/TUNNEL_CRYPTO/);
});

test("runSelftest passes on the selected backend and names every check", () => {
  const results = runSelftest(selectBackend({}).backend);
  expect(results.length).toBeGreaterThanOrEqual(20);
  expect(results.filter((r) => !r.passed)).toEqual([]);
});

test("x25519 all-zero result (low-order point) returns false on both backends", () => {
  for (const env of [{ TUNNEL_CRYPTO: "typescript" }, { TUNNEL_CRYPTO: "libcrypto" }]) {
    const b = selectBackend(env).backend;
    const out = new Uint8Array(32);
    const priv = crypto.getRandomValues(new Uint8Array(32));
    // u = 0 and u = 1 are low-order points; both give an all-zero shared secret.
    expect(b.x25519(priv, new Uint8Array(32), out)).toBe(false);
    const one = new Uint8Array(32);
    one[0] = 1;
    expect(b.x25519(priv, one, out)).toBe(false);
  }
});
