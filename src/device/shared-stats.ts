// The SharedArrayBuffer the data-plane worker writes and the main thread
// reads without messaging: device-wide counters (Float64, one writer, so
// plain stores are enough; a reader may see a counter one batch stale) and
// one 104-byte slot per peer (tx/rx bytes and transport messages, last
// handshake, how often the endpoint roamed, learned endpoint and the sticky
// local source replies leave from). Endpoint and source are
// several words, so they are published under a seqlock: the writer makes
// `seq` odd, writes, makes it even; a reader retries while seq is odd or
// changed under it. Both change rarely (roaming), so the writer only touches
// the slot when a value differs.

/** COUNTERS names every device-wide counter, in slot order. */
export const COUNTERS = [
  // TUN read side
  "tunReads",
  "tunReadBytes",
  "superPackets",
  "segments",
  // encryption and UDP send
  "txPackets",
  "txBytes",
  "sendCalls",
  "sendMessages",
  "gsoBatches",
  "gsoDatagrams",
  "gsoDisabledEio",
  "sendErrors",
  // sticky sources dropped because the kernel refused them (address gone)
  "stickySourceResets",
  // UDP receive
  "recvCalls",
  "recvMessages",
  "groMessages",
  "groDatagrams",
  "recvDatagrams",
  // decryption and TUN write side
  "rxPackets",
  "rxBytes",
  "coalesceIn",
  "coalesceOut",
  "tunWrites",
  "tunWriteErrors",
  // handshakes
  "handshakesReceived",
  "handshakesSent",
  "handshakesCompleted",
  "handshakeQueueDrops",
  "cookieRepliesSent",
  // handshake load: messages processed under load, mac2-verified ones taken
  // first, and the queue's depth at the last turn (a gauge, not a counter)
  "handshakesUnderLoad",
  "handshakesPrioritized",
  "handshakeQueueDepth",
  // drops by reason
  "dropBadMac",
  "dropReplay",
  "dropNoRoute",
  "dropNoEndpoint",
  "dropSourceCheck",
  "dropTruncated",
  "dropMalformed",
  "dropStagedOverflow",
  "dropUnknownIndex",
  "dropHandshake",
  "dropHandshakeSourceShare",
  "dropCookieRateLimit",
  "dropOther",
  // crypto helpers (crypto-pool.ts): packets sealed or opened by the data
  // plane's own thread and by helpers, jobs whose end waited for a helper,
  // helpers given up as stuck, and helpers running (a gauge)
  "cryptoPacketsInline",
  "cryptoPacketsHelpers",
  "cryptoWaits",
  "cryptoHelperStalls",
  "cryptoHelpersUp",
  // loop health
  "loopIterations",
  "controlMessages",
] as const;

export type CounterName = (typeof COUNTERS)[number];
export type Counters = Record<CounterName, number>;

/** C maps a counter name to its index in the Float64Array. */
export const C = Object.fromEntries(COUNTERS.map((n, i) => [n, i])) as Record<CounterName, number>;

/** MAX_PEER_SLOTS bounds peers per device (wireguard-go allows 2^16). */
export const MAX_PEER_SLOTS = 1 << 16;
const COUNTER_BYTES = 64 * 8;
const SLOT_BYTES = 104;
const SLOT_F64 = SLOT_BYTES / 8;
const SLOT_I32 = SLOT_BYTES / 4;
// Slot layout (bytes): f64 tx @0, f64 rx @8, f64 lastHandshakeWallMs @16,
// i32 seq @24, i32 family @28 (0/4/6), i32 port @32, i32 source family @36
// (0/4/6), endpoint addr[16] @40, source addr[16] @56, i32 source ifindex @72,
// f64 txPackets @80, f64 rxPackets @88, f64 endpoint roams @96.
const F_TX = 0;
const F_RX = 1;
const F_HS = 2;
const F_TX_PACKETS = 10;
const F_RX_PACKETS = 11;
const F_ROAMS = 12;
const I_SEQ = 6;
const I_FAMILY = 7;
const I_PORT = 8;
const I_SRC_FAMILY = 9;
const I_SRC_IFINDEX = 18;
const B_ADDR = 40;
const B_SRC_ADDR = 56;

/** PublishedSource is a peer's sticky local source as the main thread reads it. */
export interface PublishedSource {
  addr: Uint8Array;
  ifindex: number;
}

/** PeerTraffic is what the data plane publishes about one peer's traffic (plain stores, like the counters). */
export interface PeerTraffic {
  txBytes: number;
  rxBytes: number;
  lastHandshakeWallMs: number;
  /** Transport messages (keepalives included) sent and received. */
  txPackets: number;
  rxPackets: number;
  /** Times an authenticated packet moved the endpoint to a new address (roaming); configured changes are not counted. */
  endpointRoams: number;
}

/** SharedStats is a view over the shared buffer; create one per thread. */
export class SharedStats {
  readonly counters: Float64Array;
  private readonly f64: Float64Array;
  private readonly i32: Int32Array;
  private readonly u8: Uint8Array;

  constructor(readonly buffer: SharedArrayBuffer) {
    this.counters = new Float64Array(buffer, 0, COUNTERS.length);
    this.f64 = new Float64Array(buffer, COUNTER_BYTES);
    this.i32 = new Int32Array(buffer, COUNTER_BYTES);
    this.u8 = new Uint8Array(buffer, COUNTER_BYTES);
  }

  static allocate(peerSlots = MAX_PEER_SLOTS): SharedStats {
    return new SharedStats(new SharedArrayBuffer(COUNTER_BYTES + peerSlots * SLOT_BYTES));
  }

  /** readCounters copies every counter into a plain object. */
  readCounters(): Counters {
    const out = {} as Counters;
    for (let i = 0; i < COUNTERS.length; i++) out[COUNTERS[i]!] = this.counters[i]!;
    return out;
  }

  // --- writer side (data-plane worker) ---

  resetSlot(slot: number): void {
    const b = slot * SLOT_F64;
    this.f64[b + F_TX] = 0;
    this.f64[b + F_RX] = 0;
    this.f64[b + F_HS] = 0;
    this.f64[b + F_TX_PACKETS] = 0;
    this.f64[b + F_RX_PACKETS] = 0;
    this.f64[b + F_ROAMS] = 0;
    const i = slot * SLOT_I32;
    Atomics.add(this.i32, i + I_SEQ, 1);
    this.i32[i + I_FAMILY] = 0;
    this.i32[i + I_PORT] = 0;
    this.i32[i + I_SRC_FAMILY] = 0;
    this.i32[i + I_SRC_IFINDEX] = 0;
    Atomics.add(this.i32, i + I_SEQ, 1);
  }

  /** writePeer publishes a peer's PeerTraffic fields (positional: the data plane calls it every turn and must not allocate). */
  writePeer(slot: number, txBytes: number, rxBytes: number, lastHandshakeWallMs: number, txPackets: number, rxPackets: number, endpointRoams: number): void {
    const b = slot * SLOT_F64;
    this.f64[b + F_TX] = txBytes;
    this.f64[b + F_RX] = rxBytes;
    this.f64[b + F_HS] = lastHandshakeWallMs;
    this.f64[b + F_TX_PACKETS] = txPackets;
    this.f64[b + F_RX_PACKETS] = rxPackets;
    this.f64[b + F_ROAMS] = endpointRoams;
  }

  /** writeEndpoint publishes the endpoint; addr is 4 or 16 bytes (family 0 clears it). */
  writeEndpoint(slot: number, family: 0 | 4 | 6, addr: Uint8Array, port: number): void {
    const i = slot * SLOT_I32;
    Atomics.add(this.i32, i + I_SEQ, 1);
    this.i32[i + I_FAMILY] = family;
    this.i32[i + I_PORT] = port;
    const a = slot * SLOT_BYTES + B_ADDR;
    for (let k = 0; k < 16; k++) this.u8[a + k] = k < addr.length ? addr[k]! : 0;
    Atomics.add(this.i32, i + I_SEQ, 1);
  }

  /** writeSource publishes the peer's sticky local source; addr is 4 or 16 bytes (family 0 clears it). */
  writeSource(slot: number, family: 0 | 4 | 6, addr: Uint8Array, ifindex: number): void {
    const i = slot * SLOT_I32;
    Atomics.add(this.i32, i + I_SEQ, 1);
    this.i32[i + I_SRC_FAMILY] = family;
    this.i32[i + I_SRC_IFINDEX] = ifindex;
    const a = slot * SLOT_BYTES + B_SRC_ADDR;
    const n = family === 4 ? 4 : 16;
    for (let k = 0; k < 16; k++) this.u8[a + k] = k < n ? addr[k]! : 0;
    Atomics.add(this.i32, i + I_SEQ, 1);
  }

  // --- reader side (main thread) ---

  readPeer(slot: number): PeerTraffic {
    const b = slot * SLOT_F64;
    return {
      txBytes: this.f64[b + F_TX]!,
      rxBytes: this.f64[b + F_RX]!,
      lastHandshakeWallMs: this.f64[b + F_HS]!,
      txPackets: this.f64[b + F_TX_PACKETS]!,
      rxPackets: this.f64[b + F_RX_PACKETS]!,
      endpointRoams: this.f64[b + F_ROAMS]!,
    };
  }

  /** endpointVersion changes every time the worker writes the slot's endpoint or its sticky local source. */
  endpointVersion(slot: number): number {
    return Atomics.load(this.i32, slot * SLOT_I32 + I_SEQ);
  }

  /** readEndpoint returns the published endpoint (null when none) and the version it was read at. */
  readEndpoint(slot: number): { endpoint: { addr: Uint8Array; port: number } | null; version: number } {
    const i = slot * SLOT_I32;
    for (;;) {
      const s1 = Atomics.load(this.i32, i + I_SEQ);
      if (s1 & 1) continue;
      const family = this.i32[i + I_FAMILY]!;
      const port = this.i32[i + I_PORT]!;
      const a = slot * SLOT_BYTES + B_ADDR;
      const addr = this.u8.slice(a, a + (family === 4 ? 4 : 16));
      if (Atomics.load(this.i32, i + I_SEQ) !== s1) continue;
      return { endpoint: family === 0 ? null : { addr, port }, version: s1 };
    }
  }

  /** readSource returns the peer's published sticky local source, or null when routing picks it. */
  readSource(slot: number): PublishedSource | null {
    const i = slot * SLOT_I32;
    for (;;) {
      const s1 = Atomics.load(this.i32, i + I_SEQ);
      if (s1 & 1) continue;
      const family = this.i32[i + I_SRC_FAMILY]!;
      const ifindex = this.i32[i + I_SRC_IFINDEX]!;
      const a = slot * SLOT_BYTES + B_SRC_ADDR;
      const addr = this.u8.slice(a, a + (family === 4 ? 4 : 16));
      if (Atomics.load(this.i32, i + I_SEQ) !== s1) continue;
      return family === 0 ? null : { addr, ifindex };
    }
  }
}
