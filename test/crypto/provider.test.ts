// The OpenSSL 3 provider path (libcrypto-provider-aead.ts) relies on one
// piece of provider behaviour for safety: final() compares tag_len bytes,
// and a fresh context has tag_len 0. ProviderAeadKey therefore sets the tag
// length when it creates its open context, so a packet whose tag parameter
// were ever lost is refused instead of accepted. Both halves are pinned here
// on the real libcrypto.
import { expect, test } from "bun:test";
import { TagParams } from "../../src/crypto/libcrypto-aead-base.ts";
import { addressOf, loadChacha20Poly1305Provider, loadLibcrypto } from "../../src/sys/libcrypto.ts";

const lib = loadLibcrypto();
const provider = lib !== null && lib.v3 !== null ? loadChacha20Poly1305Provider(lib) : null;

/** openWithoutTagParam decrypts 64 random bytes plus a random "tag" without passing the tag; returns final()'s verdict. */
function openWithoutTagParam(setTagLengthAtCreation: boolean): number {
  const p = provider!;
  const key = new Uint8Array(new ArrayBuffer(32)).fill(3);
  const iv = new Uint8Array(new ArrayBuffer(16));
  const outl = new BigUint64Array(1);
  const buf = crypto.getRandomValues(new Uint8Array(new ArrayBuffer(80)));
  const lengthOnly = new TagParams();
  lengthOnly.pointAt(0);
  const ctx = p.newctx(p.provctx)!;
  try {
    expect(p.decryptInit(ctx, addressOf(key), 32, null, 0, setTagLengthAtCreation ? lengthOnly.address : null)).toBe(1);
    expect(p.decryptInit(ctx, null, 0, addressOf(iv), 12, null)).toBe(1);
    const b = addressOf(buf);
    expect(p.update(ctx, b, addressOf(outl), 64, b, 64)).toBe(1);
    const verdict = p.final(ctx, b + 64, addressOf(outl), 16);
    lib!.sym.ERR_clear_error();
    return verdict;
  } finally {
    p.freectx(ctx);
  }
}

test.skipIf(provider === null)("a context set up like ProviderAeadKey's refuses a packet whose tag parameter went missing", () => {
  expect(openWithoutTagParam(true)).toBe(0);
});

test.skipIf(provider === null)("without that set-up the provider would accept it (the fail-open the set-up closes)", () => {
  expect(openWithoutTagParam(false)).toBe(1);
});
