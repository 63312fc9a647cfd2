// Noise_IKpsk2 as WireGuard uses it (WG-KMOD noise.c, WG-GO
// device/noise-protocol.go, dossier 4.3):
//   -> e, es, s, ss, {t}
//   <- e, ee, se, psk, {}
// Message creation writes straight into caller buffers; mac1/mac2 are added
// afterwards by cookie.ts. Every consume works on scratch copies of hash and
// chaining key and commits them only after every check passed, so a bad
// message never disturbs a handshake in progress.
import type { CryptoBackend } from "../crypto/types.ts";
import {
  MESSAGE_INITIATION_OFFSET_EPHEMERAL,
  MESSAGE_INITIATION_OFFSET_SENDER,
  MESSAGE_INITIATION_OFFSET_STATIC,
  MESSAGE_INITIATION_OFFSET_TIMESTAMP,
  MESSAGE_INITIATION_SIZE,
  MESSAGE_INITIATION_TYPE,
  MESSAGE_RESPONSE_OFFSET_EMPTY,
  MESSAGE_RESPONSE_OFFSET_EPHEMERAL,
  MESSAGE_RESPONSE_OFFSET_RECEIVER,
  MESSAGE_RESPONSE_OFFSET_SENDER,
  MESSAGE_RESPONSE_SIZE,
  MESSAGE_RESPONSE_TYPE,
  NOISE_CONSTRUCTION,
  NOISE_IDENTIFIER,
  NOISE_TIMESTAMP_LEN,
} from "./constants.ts";
import type { WireGuardErrorCode } from "./errors.ts";
import { isZero, type Kdf } from "./kdf.ts";
import { Keypair } from "./keypair.ts";
import type { InitiationMessage, ResponseMessage } from "./messages.ts";
import { writeHeader, writeU32 } from "./messages.ts";
import { compareTai64n, tai64nInto } from "./tai64n.ts";

const ASCII = new TextEncoder();
const EMPTY = new Uint8Array(0);

/** HandshakeState names where a peer's handshake is (WG-GO handshakeState). */
export type HandshakeState = "zeroed" | "initiation-created" | "initiation-consumed" | "response-created" | "response-consumed";

/** initialChainKey computes C0 = HASH(CONSTRUCTION). */
export function initialChainKey(crypto: CryptoBackend): Uint8Array {
  const out = new Uint8Array(32);
  crypto.blake2s256(out, ASCII.encode(NOISE_CONSTRUCTION));
  return out;
}

/** initialHash computes H0 = HASH(C0 ‖ IDENTIFIER). */
export function initialHash(crypto: CryptoBackend): Uint8Array {
  const out = new Uint8Array(32);
  crypto.blake2s256(out, initialChainKey(crypto), ASCII.encode(NOISE_IDENTIFIER));
  return out;
}

/** clampPrivateKey applies the X25519 clamping in place (RFC 7748 §5). */
export function clampPrivateKey(k: Uint8Array): Uint8Array {
  k[0]! &= 248;
  k[31] = (k[31]! & 127) | 64;
  return k;
}

/**
 * StaticIdentity is the device's long-term key pair plus the values derived
 * from it once: HASH(H0 ‖ S_pub), which every received initiation starts from.
 */
export class StaticIdentity {
  readonly privateKey: Uint8Array;
  readonly publicKey = new Uint8Array(32);
  readonly chainKey0: Uint8Array;
  readonly hashForUs = new Uint8Array(32);

  constructor(
    readonly kdf: Kdf,
    privateKey: Uint8Array,
  ) {
    this.privateKey = clampPrivateKey(privateKey.slice());
    kdf.crypto.x25519Base(this.privateKey, this.publicKey);
    this.chainKey0 = initialChainKey(kdf.crypto);
    kdf.hash(this.hashForUs, initialHash(kdf.crypto), this.publicKey);
  }

  /** destroy zeroes the private key. */
  destroy(): void {
    this.privateKey.fill(0);
  }
}

/**
 * Handshake is one peer's handshake state (WG-GO Handshake). It is owned by
 * the peer; the device reaches it through its index table.
 */
export class Handshake {
  state: HandshakeState = "zeroed";
  readonly hash = new Uint8Array(32);
  readonly chainKey = new Uint8Array(32);
  readonly presharedKey = new Uint8Array(32);
  readonly localEphemeral = new Uint8Array(32);
  readonly remoteEphemeral = new Uint8Array(32);
  readonly remoteStatic: Uint8Array;
  /** precomputedStaticStatic = DH(S_local, S_remote); all zeros means the peer is unusable. */
  readonly precomputedStaticStatic = new Uint8Array(32);
  /** hashForPeer = HASH(H0 ‖ S_remote): the start of every initiation we send. */
  readonly hashForPeer = new Uint8Array(32);
  localIndex = 0;
  remoteIndex = 0;
  /** lastTimestamp is the newest TAI64N accepted from this peer (replay protection). */
  readonly lastTimestamp = new Uint8Array(NOISE_TIMESTAMP_LEN);
  /** lastInitiationConsumption (ms) limits a peer to INITIATIONS_PER_SECOND. */
  lastInitiationConsumption = Number.NEGATIVE_INFINITY;
  /** onIndexReleased is told when localIndex is dropped so the device can free its table entry. */
  onIndexReleased: ((index: number) => void) | null = null;

  constructor(
    readonly identity: StaticIdentity,
    remoteStatic: Uint8Array,
    presharedKey?: Uint8Array,
  ) {
    this.remoteStatic = remoteStatic.slice();
    if (presharedKey) this.presharedKey.set(presharedKey);
    const crypto = identity.kdf.crypto;
    if (!crypto.x25519(identity.privateKey, this.remoteStatic, this.precomputedStaticStatic)) {
      this.precomputedStaticStatic.fill(0);
    }
    identity.kdf.hash(this.hashForPeer, initialHash(crypto), this.remoteStatic);
  }

  /** setPresharedKey replaces the PSK (32 bytes; all zeros = none). */
  setPresharedKey(psk: Uint8Array | null): void {
    this.presharedKey.fill(0);
    if (psk) this.presharedKey.set(psk);
  }

  /** clear forgets the in-progress handshake and its secrets (not the replay state). */
  clear(): void {
    if (this.localIndex !== 0) this.onIndexReleased?.(this.localIndex);
    this.state = "zeroed";
    this.hash.fill(0);
    this.chainKey.fill(0);
    this.localEphemeral.fill(0);
    this.remoteEphemeral.fill(0);
    this.localIndex = 0;
    this.remoteIndex = 0;
  }

  /** destroy also wipes the long-term secrets held per peer. */
  destroy(): void {
    this.clear();
    this.presharedKey.fill(0);
    this.precomputedStaticStatic.fill(0);
  }
}

// Scratch shared by all handshakes of a module instance; JS is single-threaded
// and none of these outlive one call.
const key = new Uint8Array(32);
const ss = new Uint8Array(32);
const tau = new Uint8Array(32);
const h = new Uint8Array(32);
const c = new Uint8Array(32);
const staticPlain = new Uint8Array(48);
const tsPlain = new Uint8Array(28);
const emptySealed = new Uint8Array(16);

function wipeScratch(): void {
  key.fill(0);
  ss.fill(0);
  tau.fill(0);
  h.fill(0);
  c.fill(0);
  staticPlain.fill(0);
  tsPlain.fill(0);
}

/** aeadSealZero seals buf[off, off+len) in place with nonce 0 under a one-shot key. */
function aeadSealZero(crypto: CryptoBackend, k: Uint8Array, buf: Uint8Array, off: number, len: number, aad: Uint8Array): void {
  const a = crypto.aeadKey(k);
  a.seal(0, buf, off, len, aad);
  a.destroy();
}

function aeadOpenZero(crypto: CryptoBackend, k: Uint8Array, buf: Uint8Array, off: number, len: number, aad: Uint8Array): boolean {
  const a = crypto.aeadKey(k);
  const ok = a.open(0, buf, off, len, aad);
  a.destroy();
  return ok;
}

/**
 * createInitiation writes a handshake initiation (without macs) into
 * dst[off, off+148) and moves hs to "initiation-created". wallMs is the
 * wall-clock time for TAI64N; localIndex is a fresh index the device reserved.
 */
export function createInitiation(hs: Handshake, dst: Uint8Array, off: number, wallMs: number, localIndex: number): WireGuardErrorCode | undefined {
  const kdf = hs.identity.kdf;
  const crypto = kdf.crypto;
  if (dst.length - off < MESSAGE_INITIATION_SIZE) return "buffer-too-small";
  if (isZero(hs.precomputedStaticStatic)) return "zero-dh";
  hs.clear();
  hs.localIndex = localIndex; // reserved by the caller; released by clear() on failure
  c.set(hs.identity.chainKey0);
  h.set(hs.hashForPeer);
  // e
  crypto.randomBytes(hs.localEphemeral);
  clampPrivateKey(hs.localEphemeral);
  const ephPub = dst.subarray(off + MESSAGE_INITIATION_OFFSET_EPHEMERAL, off + MESSAGE_INITIATION_OFFSET_EPHEMERAL + 32);
  crypto.x25519Base(hs.localEphemeral, ephPub);
  kdf.mixHash(h, ephPub);
  kdf.mixKey(c, ephPub);
  // es
  if (!crypto.x25519(hs.localEphemeral, hs.remoteStatic, ss)) return fail(hs, "zero-dh");
  kdf.kdf2(c, key, c, ss);
  // s
  const sOff = off + MESSAGE_INITIATION_OFFSET_STATIC;
  dst.set(hs.identity.publicKey, sOff);
  aeadSealZero(crypto, key, dst, sOff, 32, h);
  kdf.mixHash(h, dst.subarray(sOff, sOff + 48));
  // ss
  kdf.kdf2(c, key, c, hs.precomputedStaticStatic);
  // {t}
  const tOff = off + MESSAGE_INITIATION_OFFSET_TIMESTAMP;
  tai64nInto(dst, tOff, wallMs);
  aeadSealZero(crypto, key, dst, tOff, NOISE_TIMESTAMP_LEN, h);
  kdf.mixHash(h, dst.subarray(tOff, tOff + NOISE_TIMESTAMP_LEN + 16));

  writeHeader(dst, off, MESSAGE_INITIATION_TYPE);
  writeU32(dst, off + MESSAGE_INITIATION_OFFSET_SENDER, localIndex);
  hs.hash.set(h);
  hs.chainKey.set(c);
  hs.state = "initiation-created";
  wipeScratch();
  return undefined;
}

function fail(hs: Handshake | null, code: WireGuardErrorCode): WireGuardErrorCode {
  hs?.clear();
  wipeScratch();
  return code;
}

/**
 * consumeInitiation authenticates an initiation addressed to `identity`
 * (mac1 already checked) and returns the handshake of the sending peer,
 * updated to "initiation-consumed". findPeer maps a static public key to that
 * peer's handshake. Replays (timestamp not newer) and floods (< 1/50 s since
 * the last accepted one) are refused before any state changes.
 */
export function consumeInitiation(
  identity: StaticIdentity,
  msg: InitiationMessage,
  now: number,
  minIntervalMs: number,
  findPeer: (publicKey: Uint8Array) => Handshake | undefined,
): Handshake | WireGuardErrorCode {
  const kdf = identity.kdf;
  const crypto = kdf.crypto;
  c.set(identity.chainKey0);
  h.set(identity.hashForUs);
  // e
  kdf.mixHash(h, msg.ephemeral);
  kdf.mixKey(c, msg.ephemeral);
  // es
  if (!crypto.x25519(identity.privateKey, msg.ephemeral, ss)) return fail(null, "zero-dh");
  kdf.kdf2(c, key, c, ss);
  // s
  staticPlain.set(msg.encryptedStatic);
  if (!aeadOpenZero(crypto, key, staticPlain, 0, 48, h)) return fail(null, "decrypt-failed");
  kdf.mixHash(h, msg.encryptedStatic);
  const hs = findPeer(staticPlain.subarray(0, 32));
  if (hs === undefined) return fail(null, "unknown-peer");
  // ss
  if (isZero(hs.precomputedStaticStatic)) return fail(null, "zero-dh");
  kdf.kdf2(c, key, c, hs.precomputedStaticStatic);
  // {t}
  tsPlain.set(msg.encryptedTimestamp);
  if (!aeadOpenZero(crypto, key, tsPlain, 0, 28, h)) return fail(null, "decrypt-failed");
  kdf.mixHash(h, msg.encryptedTimestamp);
  if (compareTai64n(tsPlain, 0, hs.lastTimestamp, 0) <= 0) return fail(null, "replayed-timestamp");
  if (now - hs.lastInitiationConsumption < minIntervalMs) return fail(null, "initiation-flood");

  // Commit: this initiation supersedes whatever hs was doing.
  hs.clear();
  hs.hash.set(h);
  hs.chainKey.set(c);
  hs.remoteEphemeral.set(msg.ephemeral);
  hs.remoteIndex = msg.sender;
  hs.lastTimestamp.set(tsPlain.subarray(0, NOISE_TIMESTAMP_LEN));
  hs.lastInitiationConsumption = now;
  hs.state = "initiation-consumed";
  wipeScratch();
  return hs;
}

/**
 * createResponse writes a handshake response (without macs) into
 * dst[off, off+92) for a consumed initiation and moves hs to "response-created".
 */
export function createResponse(hs: Handshake, dst: Uint8Array, off: number, localIndex: number): WireGuardErrorCode | undefined {
  const kdf = hs.identity.kdf;
  const crypto = kdf.crypto;
  if (hs.state !== "initiation-consumed") return "unexpected-state";
  if (dst.length - off < MESSAGE_RESPONSE_SIZE) return "buffer-too-small";
  c.set(hs.chainKey);
  h.set(hs.hash);
  // e
  crypto.randomBytes(hs.localEphemeral);
  clampPrivateKey(hs.localEphemeral);
  const eOff = off + MESSAGE_RESPONSE_OFFSET_EPHEMERAL;
  const ephPub = dst.subarray(eOff, eOff + 32);
  crypto.x25519Base(hs.localEphemeral, ephPub);
  kdf.mixHash(h, ephPub);
  kdf.mixKey(c, ephPub);
  // ee, se
  if (!crypto.x25519(hs.localEphemeral, hs.remoteEphemeral, ss)) return fail(hs, "zero-dh");
  kdf.mixKey(c, ss);
  if (!crypto.x25519(hs.localEphemeral, hs.remoteStatic, ss)) return fail(hs, "zero-dh");
  kdf.mixKey(c, ss);
  // psk
  kdf.kdf3(c, tau, key, c, hs.presharedKey);
  kdf.mixHash(h, tau);
  // {}
  const nOff = off + MESSAGE_RESPONSE_OFFSET_EMPTY;
  aeadSealZero(crypto, key, dst, nOff, 0, h);
  kdf.mixHash(h, dst.subarray(nOff, nOff + 16));

  writeHeader(dst, off, MESSAGE_RESPONSE_TYPE);
  writeU32(dst, off + MESSAGE_RESPONSE_OFFSET_SENDER, localIndex);
  writeU32(dst, off + MESSAGE_RESPONSE_OFFSET_RECEIVER, hs.remoteIndex);
  hs.localIndex = localIndex;
  hs.hash.set(h);
  hs.chainKey.set(c);
  hs.state = "response-created";
  wipeScratch();
  return undefined;
}

/**
 * consumeResponse authenticates a response to the initiation hs created
 * (the device found hs by the receiver index; mac1 already checked) and moves
 * hs to "response-consumed".
 */
export function consumeResponse(hs: Handshake, msg: ResponseMessage): WireGuardErrorCode | undefined {
  const kdf = hs.identity.kdf;
  const crypto = kdf.crypto;
  if (hs.state !== "initiation-created") return "unexpected-state";
  c.set(hs.chainKey);
  h.set(hs.hash);
  // e
  kdf.mixHash(h, msg.ephemeral);
  kdf.mixKey(c, msg.ephemeral);
  // ee, se
  if (!crypto.x25519(hs.localEphemeral, msg.ephemeral, ss)) return fail(null, "zero-dh");
  kdf.mixKey(c, ss);
  if (!crypto.x25519(hs.identity.privateKey, msg.ephemeral, ss)) return fail(null, "zero-dh");
  kdf.mixKey(c, ss);
  // psk
  kdf.kdf3(c, tau, key, c, hs.presharedKey);
  kdf.mixHash(h, tau);
  // {}
  emptySealed.set(msg.encryptedNothing);
  if (!aeadOpenZero(crypto, key, emptySealed, 0, 16, h)) return fail(null, "decrypt-failed");
  kdf.mixHash(h, msg.encryptedNothing);

  hs.hash.set(h);
  hs.chainKey.set(c);
  hs.remoteIndex = msg.sender;
  hs.localEphemeral.fill(0);
  hs.state = "response-consumed";
  wipeScratch();
  return undefined;
}

/**
 * beginSession derives the transport keys, (T_send, T_recv) = KDF2(C, ε)
 * swapped for the responder, and erases the handshake. The keypair inherits
 * the handshake's local index (the device swaps its index entry).
 */
export function beginSession(hs: Handshake, now: number): Keypair | WireGuardErrorCode {
  const crypto = hs.identity.kdf.crypto;
  const isInitiator = hs.state === "response-consumed";
  if (!isInitiator && hs.state !== "response-created") return "unexpected-state";
  const t1 = new Uint8Array(32);
  const t2 = new Uint8Array(32);
  hs.identity.kdf.kdf2(t1, t2, hs.chainKey, EMPTY);
  const kp = isInitiator
    ? Keypair.fromKeys(crypto, t1, t2, true, now, hs.localIndex, hs.remoteIndex)
    : Keypair.fromKeys(crypto, t2, t1, false, now, hs.localIndex, hs.remoteIndex);
  hs.localIndex = 0; // now the keypair's: clear() must not release it
  hs.clear();
  return kp;
}
