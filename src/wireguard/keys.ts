// WireGuard keys as users see them: 32 bytes in standard base64 (44 chars),
// exactly as wg(8) prints and parses them.
import { clampPrivateKey } from "./noise.ts";
import type { CryptoBackend } from "../crypto/types.ts";

export const KEY_BASE64_LEN = 44;

const BASE64_KEY = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/;

/** encodeKey renders 32 bytes as base64. */
export function encodeKey(key: Uint8Array): string {
  let bin = "";
  for (const b of key) bin += String.fromCharCode(b);
  return btoa(bin);
}

/** decodeKey parses a canonical base64 key (as wg accepts), or returns null. */
export function decodeKey(text: string): Uint8Array | null {
  const t = text.trim();
  if (!BASE64_KEY.test(t)) return null;
  const bin = atob(t);
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** generatePrivateKey returns a fresh clamped X25519 private key. */
export function generatePrivateKey(crypto: CryptoBackend): Uint8Array {
  const k = new Uint8Array(32);
  crypto.randomBytes(k);
  return clampPrivateKey(k);
}

/** generatePresharedKey returns 32 random bytes. */
export function generatePresharedKey(crypto: CryptoBackend): Uint8Array {
  const k = new Uint8Array(32);
  crypto.randomBytes(k);
  return k;
}

/** publicKeyOf derives the public key of a private key (clamping a copy first, as wg does). */
export function publicKeyOf(crypto: CryptoBackend, privateKey: Uint8Array): Uint8Array {
  const out = new Uint8Array(32);
  crypto.x25519Base(clampPrivateKey(privateKey.slice()), out);
  return out;
}
