// CSPRNG for both backends: WebCrypto getRandomValues (the OS generator via
// BoringSSL in Bun), which refuses more than 65536 bytes per call.
// The common case (a few bytes: timer jitter, indices, nonces) passes `out`
// itself: a subarray view is a heap object, and Tunn.jitter runs on the data
// path (every time sending data re-arms the new-handshake timer after a
// received packet cleared it, ~2000×/s on a bulk receiver). Those views were
// the only per-packet-rate allocation of the data-plane worker, and since the
// worker never yields to its event loop (no idle-time sweeping) they grew its
// JSC heap capacity, and RSS, by ~0.1 MB/s in the memory soak.
const MAX_PER_CALL = 65536;

export function fillRandom(out: Uint8Array): void {
  if (out.length <= MAX_PER_CALL) {
    crypto.getRandomValues(out);
    return;
  }
  for (let off = 0; off < out.length; off += MAX_PER_CALL) {
    crypto.getRandomValues(out.subarray(off, Math.min(out.length, off + MAX_PER_CALL)));
  }
}
