import { expect, test } from "bun:test";
import { selectBackend } from "../../src/crypto/select.ts";
import { runSelftest } from "../../src/crypto/selftest.ts";
import { loadChacha20Poly1305Provider, loadLibcrypto } from "../../src/sys/libcrypto.ts";

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

test("the AEAD calls the provider directly on OpenSSL 3, and TUNNEL_CRYPTO=libcrypto-evp goes through EVP", () => {
  const lib = loadLibcrypto();
  expect(lib).not.toBeNull();
  // On OpenSSL 3 the fast path must not silently disappear.
  if (lib!.v3 !== null) expect(loadChacha20Poly1305Provider(lib!)).not.toBeNull();
  const auto = selectBackend({}).backend;
  expect(auto.implementations.aead).toMatch(lib!.v3 !== null ? /provider dispatch/ : /EVP/);
  const evp = selectBackend({ TUNNEL_CRYPTO: "libcrypto-evp" }).backend;
  expect(evp.name).toBe("libcrypto");
  expect(evp.implementations.aead).toMatch(/EVP chacha20-poly1305/);
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
