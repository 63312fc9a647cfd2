// Session keypairs and their previous/current/next rotation (dossier 4.7;
// WG-KMOD noise.c add_new_keypair / wg_noise_received_with_keypair, WG-GO
// device/keypair.go). A keypair owns two AEAD keys, a send counter (a Number,
// capped below 2^53) and a replay filter for receiving.
import type { AeadKey, CryptoBackend } from "../crypto/types.ts";
import { ReplayFilter } from "./replay.ts";

/**
 * Keypair is one derived session. localIndex is the receiver index peers put
 * on packets for us; remoteIndex is what we put on packets for them.
 */
export class Keypair {
  sendCounter = 0;
  readonly replay = new ReplayFilter();
  /** isValid turns false once the keys are destroyed; nothing may use them afterwards. */
  isValid = true;

  constructor(
    readonly send: AeadKey,
    readonly recv: AeadKey,
    readonly isInitiator: boolean,
    readonly created: number,
    readonly localIndex: number,
    readonly remoteIndex: number,
  ) {}

  /** fromKeys wraps raw send/receive keys and zeroes the caller's copies. */
  static fromKeys(
    crypto: CryptoBackend,
    sendKey: Uint8Array,
    recvKey: Uint8Array,
    isInitiator: boolean,
    now: number,
    localIndex: number,
    remoteIndex: number,
  ): Keypair {
    const kp = new Keypair(crypto.aeadKey(sendKey), crypto.aeadKey(recvKey), isInitiator, now, localIndex, remoteIndex);
    sendKey.fill(0);
    recvKey.fill(0);
    return kp;
  }

  /** destroy zeroes both keys; idempotent. */
  destroy(): void {
    if (!this.isValid) return;
    this.isValid = false;
    this.send.destroy();
    this.recv.destroy();
    this.replay.reset();
  }
}

/**
 * Keypairs holds a peer's three slots. `onDrop` is told about every keypair
 * that leaves all slots so the device can free its index.
 */
export class Keypairs {
  previous: Keypair | null = null;
  current: Keypair | null = null;
  next: Keypair | null = null;

  constructor(private readonly onDrop: (kp: Keypair) => void) {}

  /**
   * add installs a freshly derived keypair. The initiator may use it at once
   * (it has seen the response), so it becomes current. The responder cannot
   * know the initiator has the keys until a packet arrives under them, so it
   * parks the keypair in `next` and also drops `previous`, which would be
   * stale by the time `next` is promoted (kernel add_new_keypair).
   */
  add(kp: Keypair): void {
    if (kp.isInitiator) {
      if (this.next !== null) {
        // An unconfirmed next is older than kp but newer than current: keep it as previous.
        this.drop(this.previous);
        this.previous = this.next;
        this.next = null;
        this.drop(this.current);
      } else {
        this.drop(this.previous);
        this.previous = this.current;
      }
      this.current = kp;
    } else {
      this.drop(this.next);
      this.next = kp;
      this.drop(this.previous);
      this.previous = null;
    }
  }

  /**
   * receivedWith is called after a packet authenticated under kp. Returns true
   * when that confirmed the responder's `next` keypair, which is then promoted
   * to current (the handshake is complete from the responder's side).
   */
  receivedWith(kp: Keypair): boolean {
    if (kp !== this.next) return false;
    this.drop(this.previous);
    this.previous = this.current;
    this.current = kp;
    this.next = null;
    return true;
  }

  /** clear destroys all three slots (zero-key-material timer, peer removal). */
  clear(): void {
    this.drop(this.previous);
    this.drop(this.current);
    this.drop(this.next);
    this.previous = this.current = this.next = null;
  }

  private drop(kp: Keypair | null): void {
    if (kp === null) return;
    kp.destroy();
    this.onDrop(kp);
  }
}
