// Protocol numbers for WireGuard, named as in the whitepaper and the Linux
// module (drivers/net/wireguard/messages.h) with the unit suffixed. Wire
// offsets follow wireguard-go device/noise-protocol.go. A spec audit of this
// file should be a diff against those two sources.

// --- Message types (first byte; the next three bytes are zero on the wire).
export const MESSAGE_INITIATION_TYPE = 1;
export const MESSAGE_RESPONSE_TYPE = 2;
export const MESSAGE_COOKIE_REPLY_TYPE = 3;
export const MESSAGE_TRANSPORT_TYPE = 4;

// --- Handshake initiation (148 bytes).
export const MESSAGE_INITIATION_SIZE = 148;
export const MESSAGE_INITIATION_OFFSET_SENDER = 4;
export const MESSAGE_INITIATION_OFFSET_EPHEMERAL = 8;
export const MESSAGE_INITIATION_OFFSET_STATIC = 40;
export const MESSAGE_INITIATION_OFFSET_TIMESTAMP = 88;
export const MESSAGE_INITIATION_OFFSET_MAC1 = 116;
export const MESSAGE_INITIATION_OFFSET_MAC2 = 132;

// --- Handshake response (92 bytes).
export const MESSAGE_RESPONSE_SIZE = 92;
export const MESSAGE_RESPONSE_OFFSET_SENDER = 4;
export const MESSAGE_RESPONSE_OFFSET_RECEIVER = 8;
export const MESSAGE_RESPONSE_OFFSET_EPHEMERAL = 12;
export const MESSAGE_RESPONSE_OFFSET_EMPTY = 44;
export const MESSAGE_RESPONSE_OFFSET_MAC1 = 60;
export const MESSAGE_RESPONSE_OFFSET_MAC2 = 76;

// --- Cookie reply (64 bytes).
export const MESSAGE_COOKIE_REPLY_SIZE = 64;
export const MESSAGE_COOKIE_REPLY_OFFSET_RECEIVER = 4;
export const MESSAGE_COOKIE_REPLY_OFFSET_NONCE = 8;
export const MESSAGE_COOKIE_REPLY_OFFSET_COOKIE = 32;

// --- Transport data (16-byte header, ciphertext, 16-byte tag).
export const MESSAGE_TRANSPORT_HEADER_SIZE = 16;
export const MESSAGE_TRANSPORT_OFFSET_RECEIVER = 4;
export const MESSAGE_TRANSPORT_OFFSET_COUNTER = 8;
export const MESSAGE_TRANSPORT_OFFSET_CONTENT = 16;
export const MESSAGE_TRANSPORT_SIZE_MIN = 32;
/** MESSAGE_KEEPALIVE_SIZE is a transport message with an empty plaintext. */
export const MESSAGE_KEEPALIVE_SIZE = 32;
/** MESSAGE_PADDING_MULTIPLE: plaintexts are zero-padded to a multiple of 16 (capped at the MTU). */
export const MESSAGE_PADDING_MULTIPLE = 16;
/** MESSAGE_TRANSPORT_OVERHEAD is header plus tag: the headroom+tailroom a caller must leave, plus ≤15 padding bytes. */
export const MESSAGE_TRANSPORT_OVERHEAD = 32;

// --- Lengths (noise_lengths).
export const NOISE_PUBLIC_KEY_LEN = 32;
export const NOISE_SYMMETRIC_KEY_LEN = 32;
export const NOISE_HASH_LEN = 32;
export const NOISE_TIMESTAMP_LEN = 12;
export const NOISE_AUTHTAG_LEN = 16;
export const COOKIE_LEN = 16;
export const COOKIE_NONCE_LEN = 24;
export const MAC_LEN = 16;

// --- Limits (enum limits). Times in milliseconds.
export const REKEY_AFTER_MESSAGES = 2 ** 60;
/**
 * REJECT_AFTER_MESSAGES is 2^64 − 2^13 − 1 on the wire, which a Number cannot
 * hold. Counters here are Numbers, so the effective limit is 2^53: a sender
 * never uses counter ≥ 2^53 and a received counter ≥ 2^53 is rejected. At
 * 10^7 packets/s that is 28 years per session, far beyond REJECT_AFTER_TIME.
 */
export const REJECT_AFTER_MESSAGES = 2 ** 53;
export const REKEY_AFTER_TIME_MS = 120_000;
export const REJECT_AFTER_TIME_MS = 180_000;
export const REKEY_ATTEMPT_TIME_MS = 90_000;
export const REKEY_TIMEOUT_MS = 5_000;
/** REKEY_TIMEOUT_JITTER_MAX_MS: jitter is uniform in [0, 334) ms (kernel HZ/3, wireguard-go). */
export const REKEY_TIMEOUT_JITTER_MAX_MS = 334;
export const KEEPALIVE_TIMEOUT_MS = 10_000;
export const MAX_TIMER_HANDSHAKES = REKEY_ATTEMPT_TIME_MS / REKEY_TIMEOUT_MS;
export const INITIATIONS_PER_SECOND = 50;
/** INITIATION_MIN_INTERVAL_MS: a peer's initiations closer than 1/50 s are floods. */
export const INITIATION_MIN_INTERVAL_MS = 1000 / INITIATIONS_PER_SECOND;
export const COOKIE_SECRET_MAX_AGE_MS = 120_000;
/** COOKIE_SECRET_LATENCY_MS: we stop using a received cookie 5 s early so it is still fresh on arrival. */
export const COOKIE_SECRET_LATENCY_MS = 5_000;
export const MAX_PEERS = 1 << 20;
/** MAX_STAGED_PACKETS bounds the per-peer queue awaiting a handshake (kernel MAX_QUEUED_PACKETS). */
export const MAX_STAGED_PACKETS = 128;

// --- Replay window (counter_values, current kernel: 8192 bits, 8128 usable).
export const COUNTER_BITS_TOTAL = 8192;
export const COUNTER_REDUNDANT_BITS = 64;
export const COUNTER_WINDOW_SIZE = COUNTER_BITS_TOTAL - COUNTER_REDUNDANT_BITS;

// --- Noise constants (noise.c); strings are ASCII without a trailing NUL.
export const NOISE_CONSTRUCTION = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";
export const NOISE_IDENTIFIER = "WireGuard v1 zx2c4 Jason@zx2c4.com";
export const LABEL_MAC1 = "mac1----";
export const LABEL_COOKIE = "cookie--";
/** NOISE_INITIAL_CHAIN_KEY_HEX = HASH(CONSTRUCTION) (dossier 4.3). */
export const NOISE_INITIAL_CHAIN_KEY_HEX = "60e26daef327efc02ec335e2a025d2d016eb4206f87277f52d38d1988b78cd36";
/** NOISE_INITIAL_HASH_HEX = HASH(C0 ‖ IDENTIFIER) (dossier 4.3). */
export const NOISE_INITIAL_HASH_HEX = "2211b361081ac566691243db458ad5322d9c6c662293e8b70ee19c65ba079ef3";

/** HANDSHAKE_DSCP is the AF41 TOS byte the kernel puts on handshake packets. */
export const HANDSHAKE_DSCP = 0x88;
