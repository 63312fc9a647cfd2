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

// RFC 7748 §6.1 (Alice and Bob): a known answer checks node:crypto without
// running noble, whose first use costs over a second of cold JIT on a slow
// CPU (measured under emulation) on the path from exec to a running daemon.
const KAT = {
  alicePrivate: "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
  alicePublic: "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a",
  bobPublic: "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f",
  shared: "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742",
};

/** answersKnownVector reports whether impl derives Alice's public key and the shared secret of RFC 7748 §6.1. */
export function answersKnownVector(impl: X25519Impl): boolean {
  const hex = (h: string) => Uint8Array.from(Buffer.from(h, "hex"));
  const pub = new Uint8Array(32),
    shared = new Uint8Array(32);
  impl.base(hex(KAT.alicePrivate), pub);
  if (Buffer.from(pub).toString("hex") !== KAT.alicePublic) return false;
  return impl.dh(hex(KAT.alicePrivate), hex(KAT.bobPublic), shared) && Buffer.from(shared).toString("hex") === KAT.shared;
}

/** pickX25519 returns node:crypto when it gives RFC 7748's known answer on this runtime, else noble. */
export function pickX25519(): X25519Impl {
  if (chosen) return chosen;
  try {
    chosen = answersKnownVector(NODE) ? NODE : NOBLE;
  } catch {
    chosen = NOBLE;
  }
  return chosen;
}
