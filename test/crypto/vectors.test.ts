// Every known-answer vector (src/crypto/vectors/*.json, sources named inside) over
// every backend that can be built on this host.
import { describe, expect, test } from "bun:test";
import { loadLibcrypto } from "../../src/sys/libcrypto.ts";
import { createLibcryptoBackend } from "../../src/crypto/libcrypto-backend.ts";
import { createTypeScriptBackend } from "../../src/crypto/typescript-backend.ts";
import { selftestChecks } from "../../src/crypto/selftest.ts";
import type { CryptoBackendExt } from "../../src/crypto/types.ts";

const lib = loadLibcrypto();
export const BACKENDS: [string, () => CryptoBackendExt][] = [["typescript", createTypeScriptBackend]];
if (lib) BACKENDS.push(["libcrypto", () => createLibcryptoBackend(lib)], ["libcrypto-evp", () => createLibcryptoBackend(lib, "evp")]);

describe.each(BACKENDS)("%s backend", (_name, make) => {
  const backend = make();
  test.each(selftestChecks().map(([name, run]) => [name, run] as const))("%s", (_n, run) => {
    expect(run(backend)).toBe("");
  });
});

test("libcrypto is available on the test host (the fast path is exercised)", () => {
  expect(lib).not.toBeNull();
});
