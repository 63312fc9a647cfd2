// When a session asks for a new handshake (the kernel's keep_key_fresh in
// send.c and receive.c; WG-GO keepKeyFreshSending/Receiving).
import { KEEPALIVE_TIMEOUT_MS, REJECT_AFTER_TIME_MS, REKEY_AFTER_MESSAGES, REKEY_AFTER_TIME_MS, REKEY_TIMEOUT_MS } from "./constants.ts";
import type { Keypair } from "./keypair.ts";

/**
 * staleForSending: the session is old (initiator only, so both sides do not
 * rekey at once) or has sent many messages. REKEY_AFTER_MESSAGES (2^60)
 * exceeds the 2^53 Number cap, so in practice only the time rule fires;
 * REJECT_AFTER_MESSAGES still guards sending.
 */
export function staleForSending(kp: Keypair, now: number): boolean {
  return kp.sendCounter > REKEY_AFTER_MESSAGES || (kp.isInitiator && now - kp.created >= REKEY_AFTER_TIME_MS);
}

/**
 * staleForReceiving: an initiator whose session nears REJECT_AFTER_TIME and
 * who only receives must rekey once before it can no longer send (the
 * "last-minute handshake", 165 s).
 */
export function staleForReceiving(kp: Keypair | null, now: number): boolean {
  if (kp === null || !kp.isValid || !kp.isInitiator) return false;
  return now - kp.created >= REJECT_AFTER_TIME_MS - KEEPALIVE_TIMEOUT_MS - REKEY_TIMEOUT_MS;
}
