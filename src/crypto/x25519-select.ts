// Picks the X25519 implementation shared by both backends. Measured (bench/
// crypto.ts): node:crypto (BoringSSL built into Bun) ~35 µs per DH, libcrypto
// EVP_PKEY ~62 µs (eight FFI calls and two key objects per DH), @noble/curves
// ~320 µs. node:crypto is part of the Bun binary, not the system libcrypto, so
// the TypeScript backend may use it too; noble is the fallback if a Bun build
// ever lacks X25519 in node:crypto.

import { x25519BaseNode, x25519BaseNoble, x25519Node, x25519Noble } from "./x25519.ts";

export interface X25519Impl {
  name: string;
  dh(priv: Uint8Array, pub: Uint8Array, out: Uint8Array): boolean;
  base(priv: Uint8Array, out: Uint8Array): void;
}

const NOBLE: X25519Impl = { name: "@noble/curves", dh: x25519Noble, base: x25519BaseNoble };
const NODE: X25519Impl = { name: "node:crypto", dh: x25519Node, base: x25519BaseNode };

let chosen: X25519Impl | undefined;

/** pickX25519 returns node:crypto when it computes a correct DH on this runtime, else noble. */
export function pickX25519(): X25519Impl {
  if (chosen) return chosen;
  try {
    // Probe with two fixed scalars: the DH must agree both ways and with noble.
    const a = new Uint8Array(32).fill(1), b = new Uint8Array(32).fill(2);
    const pa = new Uint8Array(32), pb = new Uint8Array(32), s1 = new Uint8Array(32), s2 = new Uint8Array(32);
    NODE.base(a, pa);
    NODE.base(b, pb);
    const ok = NODE.dh(a, pb, s1) && NOBLE.dh(b, pa, s2) && s1.every((v, i) => v === s2[i]);
    chosen = ok ? NODE : NOBLE;
  } catch {
    chosen = NOBLE;
  }
  return chosen;
}
