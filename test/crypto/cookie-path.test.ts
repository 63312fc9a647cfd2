// The crypto a handshake flood runs per message, which must allocate nothing:
// our HChaCha20 against the draft's vector and @noble/ciphers, the re-keyed
// XChaCha20-Poly1305 sealer against the generic construction (and an open by
// every backend), and the range form of blake2sMac against a MAC of a copy.
import { describe, expect, test } from "bun:test";
import { hchacha } from "@noble/ciphers/chacha.js";
import { hchacha20 } from "../../src/crypto/hchacha.ts";
import { createLibcryptoBackend } from "../../src/crypto/libcrypto-backend.ts";
import { LibcryptoXaeadSealer } from "../../src/crypto/libcrypto-xaead.ts";
import { createTypeScriptBackend } from "../../src/crypto/typescript-backend.ts";
import type { CryptoBackendExt } from "../../src/crypto/types.ts";
import { loadLibcrypto } from "../../src/sys/libcrypto.ts";

const lib = loadLibcrypto();
const rand = (n: number) => crypto.getRandomValues(new Uint8Array(n));
const words = (b: Uint8Array) => new Uint32Array(b.slice().buffer);
const SIGMA = new Uint32Array([0x61707865, 0x3320646e, 0x79622d32, 0x6b206574]);

describe("hchacha20", () => {
  test("draft-irtf-cfrg-xchacha-03 §2.2.1 test vector", () => {
    const key = Uint8Array.from({ length: 32 }, (_, i) => i);
    const nonce = Uint8Array.from(Buffer.from("000000090000004a0000000031415927", "hex"));
    const out = new Uint32Array(8);
    hchacha20(words(key), words(nonce), out);
    expect(Buffer.from(out.buffer).toString("hex")).toBe("82413b4227b27bfed30e42508a877d73a0f9e4d58a74a853c12ec41326d3ecdc");
  });

  test("agrees with @noble/ciphers on 500 random inputs", () => {
    for (let i = 0; i < 500; i++) {
      const k = words(rand(32));
      const n = words(rand(16));
      const ours = new Uint32Array(8);
      const noble = new Uint32Array(8);
      hchacha20(k, n, ours);
      hchacha(SIGMA, k, n, noble);
      expect(ours).toEqual(noble);
    }
  });
});

const BACKENDS: [string, () => CryptoBackendExt][] = [["typescript", createTypeScriptBackend]];
if (lib) BACKENDS.push(["libcrypto", () => createLibcryptoBackend(lib)], ["libcrypto-evp", () => createLibcryptoBackend(lib, "evp")]);

describe.skipIf(lib === null)("LibcryptoXaeadSealer", () => {
  test("seals what the TypeScript construction seals, and every backend opens it", () => {
    const sealer = new LibcryptoXaeadSealer(lib!);
    const ts = createTypeScriptBackend();
    for (let i = 0; i < 200; i++) {
      const key = rand(32);
      const nonce = rand(24);
      const pt = rand(i % 40);
      const aad = rand(i % 3 === 0 ? 0 : 16);
      const ours = new Uint8Array(pt.length + 16);
      const ref = new Uint8Array(pt.length + 16);
      sealer.seal(key, nonce, pt, aad, ours);
      ts.xaeadSeal(key, nonce, pt, aad, ref);
      expect(ours).toEqual(ref);
      for (const [, make] of BACKENDS) {
        const out = new Uint8Array(pt.length);
        expect(make().xaeadOpen(key, nonce, ours, aad, out)).toBe(true);
        expect(out).toEqual(pt);
      }
    }
    sealer.destroy();
  });

  test("a re-keyed context never reuses the previous key", () => {
    const sealer = new LibcryptoXaeadSealer(lib!);
    const nonce = rand(24);
    const pt = rand(16);
    const a = new Uint8Array(32);
    const b = new Uint8Array(32);
    sealer.seal(rand(32), nonce, pt, new Uint8Array(16), a);
    sealer.seal(rand(32), nonce, pt, new Uint8Array(16), b);
    expect(a).not.toEqual(b);
    sealer.destroy();
  });
});

describe.each(BACKENDS)("%s blake2sMac over a range", (_name, make) => {
  test("equals the MAC of a copy of the range, for every offset and length up to 200", () => {
    const b = make();
    const key = rand(32);
    const buf = rand(400);
    const viaRange = new Uint8Array(16);
    const viaCopy = new Uint8Array(16);
    for (let off = 0; off < 200; off += 13) {
      for (let len = 0; len <= 200; len += 7) {
        b.blake2sMac(key, buf, viaRange, off, len);
        b.blake2sMac(key, buf.slice(off, off + len), viaCopy);
        expect(viaRange).toEqual(viaCopy);
      }
    }
  });
});
