// Backend selection: libcrypto when it loads (its AEAD is ~20x faster), the
// TypeScript fallback otherwise, with one warning for the CLI to log at start-up.
// TUNNEL_CRYPTO=typescript|libcrypto forces a choice (tests, benchmarks, users
// who distrust one or the other); forcing libcrypto when it is missing is an error.
// TUNNEL_CRYPTO=libcrypto-evp is libcrypto through EVP only, never the
// provider's dispatch functions (A/B benchmarks, and a way out should a
// future OpenSSL change what the provider path relies on).

import { libcryptoLoadError, loadLibcrypto } from "../sys/libcrypto.ts";
import { createLibcryptoBackend } from "./libcrypto-backend.ts";
import { createTypeScriptBackend } from "./typescript-backend.ts";
import type { CryptoBackendExt } from "./types.ts";

export interface BackendSelection {
  backend: CryptoBackendExt;
  /** Set when the slow fallback was chosen implicitly; log it once at start-up. */
  warning?: string;
}

export function selectBackend(env: Record<string, string | undefined> = process.env): BackendSelection {
  const forced = env.TUNNEL_CRYPTO?.trim().toLowerCase();
  if (forced !== undefined && forced !== "" && forced !== "typescript" && forced !== "libcrypto" && forced !== "libcrypto-evp") {
    throw new Error(`TUNNEL_CRYPTO must be "typescript", "libcrypto" or "libcrypto-evp", not ${JSON.stringify(env.TUNNEL_CRYPTO)}`);
  }
  if (forced === "typescript") return { backend: createTypeScriptBackend() };
  const lib = loadLibcrypto();
  if (lib) return { backend: createLibcryptoBackend(lib, forced === "libcrypto-evp" ? "evp" : "auto") };
  if (forced === "libcrypto" || forced === "libcrypto-evp") {
    throw new Error(`TUNNEL_CRYPTO=libcrypto but no usable libcrypto could be loaded: ${libcryptoLoadError()}`);
  }
  return {
    backend: createTypeScriptBackend(),
    warning:
      "crypto: no usable libcrypto (libcrypto.so.3 / libcrypto.so.1.1) could be loaded " +
      `(${libcryptoLoadError()}); falling back to pure-TypeScript ChaCha20-Poly1305, which is about 20x slower ` +
      "(~0.5 Gbit/s per core instead of several). Install OpenSSL's libcrypto (e.g. libssl3) for full speed.",
  };
}
