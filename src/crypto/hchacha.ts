// HChaCha20 (draft-irtf-cfrg-xchacha-03 §2.2): the ChaCha20 block function
// without the final addition, keeping words 0..3 and 12..15. It derives the
// XChaCha20 subkey of every cookie reply; @noble/ciphers' version allocates
// three arrays per call, and a handshake flood makes one reply per message
// it gets through, so this one works in preallocated words only.

const state = new Uint32Array(16);

function quarterRound(x: Uint32Array, a: number, b: number, c: number, d: number): void {
  let va = x[a]!,
    vb = x[b]!,
    vc = x[c]!,
    vd = x[d]!;
  va = (va + vb) | 0;
  vd ^= va;
  vd = (vd << 16) | (vd >>> 16);
  vc = (vc + vd) | 0;
  vb ^= vc;
  vb = (vb << 12) | (vb >>> 20);
  va = (va + vb) | 0;
  vd ^= va;
  vd = (vd << 8) | (vd >>> 24);
  vc = (vc + vd) | 0;
  vb ^= vc;
  vb = (vb << 7) | (vb >>> 25);
  x[a] = va;
  x[b] = vb;
  x[c] = vc;
  x[d] = vd;
}

/**
 * hchacha20 writes the 32-byte subkey for key (8 little-endian words) and
 * the first 16 nonce bytes (4 words) into out (8 words). Words are host
 * order, which is little-endian on every target we build.
 */
export function hchacha20(key: Uint32Array, nonce: Uint32Array, out: Uint32Array): void {
  const x = state;
  x[0] = 0x61707865;
  x[1] = 0x3320646e;
  x[2] = 0x79622d32;
  x[3] = 0x6b206574; // "expand 32-byte k"
  for (let i = 0; i < 8; i++) x[4 + i] = key[i]!;
  for (let i = 0; i < 4; i++) x[12 + i] = nonce[i]!;
  for (let round = 0; round < 10; round++) {
    quarterRound(x, 0, 4, 8, 12);
    quarterRound(x, 1, 5, 9, 13);
    quarterRound(x, 2, 6, 10, 14);
    quarterRound(x, 3, 7, 11, 15);
    quarterRound(x, 0, 5, 10, 15);
    quarterRound(x, 1, 6, 11, 12);
    quarterRound(x, 2, 7, 8, 13);
    quarterRound(x, 3, 4, 9, 14);
  }
  for (let i = 0; i < 4; i++) {
    out[i] = x[i]!;
    out[4 + i] = x[12 + i]!;
  }
  x.fill(0);
}
