// Known-answer self-test over a backend, from vectors embedded at build time
// (JSON imports, so `bun build --compile` bundles them into the binary).
// `tunnel selftest` runs it inside the compiled binary; test/crypto runs the
// same vectors over every backend. Sources are named in each JSON file.

import aeadVectors from "./vectors/chacha20poly1305.json";
import xaeadVectors from "./vectors/xchacha20poly1305.json";
import x25519Vectors from "./vectors/x25519.json";
import blake2sVectors from "./vectors/blake2s.json";
import kdfVectors from "./vectors/kdf-blake2s.json";
import type { CryptoBackendExt } from "./types.ts";

export interface SelftestResult {
  name: string;
  passed: boolean;
  detail: string;
}

export const VECTORS = { aeadVectors, xaeadVectors, x25519Vectors, blake2sVectors, kdfVectors };

export function hex(h: string): Uint8Array {
  const out = new Uint8Array(h.length >>> 1);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(h.substr(2 * i, 2), 16);
  return out;
}

export function toHex(b: Uint8Array): string {
  let s = "";
  for (const v of b) s += v.toString(16).padStart(2, "0");
  return s;
}

/** selftestSeq is RFC 7693 Appendix E's deterministic Fibonacci input generator. */
function selftestSeq(len: number, seed: number): Uint8Array {
  const out = new Uint8Array(len);
  let a = Math.imul(0xdead4bad, seed) >>> 0;
  let b = 1;
  for (let i = 0; i < len; i++) {
    const t = (a + b) >>> 0;
    a = b;
    b = t;
    out[i] = t >>> 24;
  }
  return out;
}

/** Each check returns "" on success or a description of the mismatch. */
type Check = [name: string, run: (b: CryptoBackendExt) => string];

const expectHex = (what: string, got: Uint8Array, want: string): string => (toHex(got) === want ? "" : `${what}: got ${toHex(got)}, want ${want}`);

function checks(opts: { slow?: boolean }): Check[] {
  const list: Check[] = [];
  for (const v of aeadVectors.vectors) {
    list.push([
      `ChaCha20-Poly1305 ${v.name}`,
      (b) => {
        const pt = hex(v.plaintext),
          out = new Uint8Array(pt.length + 16);
        b.aeadSealNonce(hex(v.key), hex(v.nonce), pt, hex(v.aad), out);
        const e = expectHex("seal", out, v.ciphertext + v.tag);
        if (e) return e;
        const back = new Uint8Array(pt.length);
        if (!b.aeadOpenNonce(hex(v.key), hex(v.nonce), out, hex(v.aad), back)) return "open rejected the vector";
        const bad = out.slice();
        bad[bad.length - 1]! ^= 1;
        if (b.aeadOpenNonce(hex(v.key), hex(v.nonce), bad, hex(v.aad), back)) return "open accepted a tampered tag";
        return expectHex("open", back, v.plaintext);
      },
    ]);
  }
  for (const v of xaeadVectors.vectors) {
    list.push([
      `XChaCha20-Poly1305 ${v.name}`,
      (b) => {
        const pt = hex(v.plaintext),
          out = new Uint8Array(pt.length + 16);
        b.xaeadSeal(hex(v.key), hex(v.nonce), pt, hex(v.aad), out);
        const e = expectHex("seal", out, v.ciphertext + v.tag);
        if (e) return e;
        const back = new Uint8Array(pt.length);
        if (!b.xaeadOpen(hex(v.key), hex(v.nonce), out, hex(v.aad), back)) return "open rejected the vector";
        return expectHex("open", back, v.plaintext);
      },
    ]);
  }
  for (const v of x25519Vectors.scalarmult) {
    list.push([
      `X25519 ${v.name}`,
      (b) => {
        const out = new Uint8Array(32);
        if (!b.x25519(hex(v.scalar), hex(v.u), out)) return "x25519 returned false";
        return expectHex("x25519", out, v.out);
      },
    ]);
  }
  const it = x25519Vectors.iterated;
  list.push([
    `X25519 RFC 7748 §5.2 iterated (1${opts.slow ? ", 1000, 1000000" : ", 1000"})`,
    (b) => {
      let k = hex(it.start),
        u = hex(it.start);
      const wanted = new Map(it.results.filter((r) => opts.slow || !("slow" in r)).map((r) => [r.iterations, r.out]));
      const last = Math.max(...wanted.keys());
      for (let i = 1; i <= last; i++) {
        const r = new Uint8Array(32);
        b.x25519(k, u, r);
        u = k;
        k = r;
        const w = wanted.get(i);
        if (w !== undefined && toHex(k) !== w) return `after ${i} iterations: got ${toHex(k)}, want ${w}`;
      }
      return "";
    },
  ]);
  const dh = x25519Vectors.dh;
  list.push([
    `X25519 ${dh.name}`,
    (b) => {
      const pa = new Uint8Array(32),
        pb = new Uint8Array(32),
        ka = new Uint8Array(32),
        kb = new Uint8Array(32);
      b.x25519Base(hex(dh.alicePrivate), pa);
      b.x25519Base(hex(dh.bobPrivate), pb);
      if (!b.x25519(hex(dh.alicePrivate), hex(dh.bobPublic), ka) || !b.x25519(hex(dh.bobPrivate), hex(dh.alicePublic), kb)) {
        return "x25519 returned false";
      }
      return (
        expectHex("alice public", pa, dh.alicePublic) ||
        expectHex("bob public", pb, dh.bobPublic) ||
        expectHex("alice shared", ka, dh.shared) ||
        expectHex("bob shared", kb, dh.shared)
      );
    },
  ]);
  list.push([
    "X25519 low-order point gives false",
    (b) => {
      const out = new Uint8Array(32);
      return b.x25519(hex(dh.alicePrivate), new Uint8Array(32), out) ? "accepted the all-zero point" : "";
    },
  ]);
  for (const v of blake2sVectors.unkeyed) {
    list.push([
      `BLAKE2s-256 ${v.name}`,
      (b) => {
        const out = new Uint8Array(32);
        b.blake2s256(out, hex(v.input));
        return expectHex("hash", out, v.out);
      },
    ]);
  }
  for (const v of blake2sVectors.keyed) {
    list.push([
      `keyed BLAKE2s ${v.name}`,
      (b) => {
        const out = new Uint8Array(32);
        b.blake2sKeyed(hex(v.key), hex(v.input), out);
        return expectHex("mac", out, v.out);
      },
    ]);
  }
  const st = blake2sVectors.selftest;
  list.push([
    `BLAKE2s ${st.name}`,
    (b) => {
      // The grand hash is BLAKE2s-256 over the 48 digests: collect them, then
      // hash them with the backend's multi-part blake2s256.
      const parts: Uint8Array[] = [];
      for (const outLen of st.digestLengths) {
        for (const inLen of st.inputLengths) {
          const input = selftestSeq(inLen, inLen);
          const md = new Uint8Array(outLen);
          b.blake2sKeyed(new Uint8Array(0), input, md); // unkeyed, any digest length
          parts.push(md);
          const md2 = new Uint8Array(outLen);
          if (outLen === 16)
            b.blake2sMac(selftestSeq(outLen, outLen), input, md2); // the WireGuard MAC path
          else b.blake2sKeyed(selftestSeq(outLen, outLen), input, md2);
          parts.push(md2);
        }
      }
      const out = new Uint8Array(32);
      b.blake2s256(out, ...parts);
      return expectHex("grand hash", out, st.out);
    },
  ]);
  for (const [i, v] of kdfVectors.vectors.entries()) {
    list.push([
      `HMAC-BLAKE2s KDF wireguard-go #${i + 1}`,
      (b) => {
        const prk = new Uint8Array(32),
          t0 = new Uint8Array(32),
          t1 = new Uint8Array(32),
          t2 = new Uint8Array(32);
        b.hmacBlake2s(hex(v.key), prk, hex(v.input));
        b.hmacBlake2s(prk, t0, Uint8Array.of(1));
        b.hmacBlake2s(prk, t1, t0, Uint8Array.of(2));
        b.hmacBlake2s(prk, t2, t1, Uint8Array.of(3));
        return expectHex("t0", t0, v.t0) || expectHex("t1", t1, v.t1) || expectHex("t2", t2, v.t2);
      },
    ]);
  }
  return list;
}

/** selftestNames lists the checks runSelftest performs (for test.each). */
export function selftestChecks(opts: { slow?: boolean } = {}): readonly Check[] {
  return checks(opts);
}

/** runSelftest re-runs every known-answer test against backend; slow adds the 1,000,000-iteration X25519 vector. */
export function runSelftest(backend: CryptoBackendExt, opts: { slow?: boolean } = {}): SelftestResult[] {
  return checks(opts).map(([name, run]) => {
    let detail: string;
    try {
      detail = run(backend);
    } catch (e) {
      detail = `threw: ${(e as Error).message}`;
    }
    return { name, passed: detail === "", detail: detail || "ok" };
  });
}
