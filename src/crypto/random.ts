// CSPRNG for both backends: WebCrypto getRandomValues (the OS generator via
// BoringSSL in Bun), which refuses more than 65536 bytes per call.
export function fillRandom(out: Uint8Array): void {
  for (let off = 0; off < out.length; off += 65536) {
    crypto.getRandomValues(out.subarray(off, Math.min(out.length, off + 65536)));
  }
}
