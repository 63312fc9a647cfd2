// Handshakes per second a responder processes on one core: for each
// pre-built initiation, DeviceState.decapsulate checks mac1, consumes it
// (1 DH + precomputed static-static), creates the response (ephemeral keygen
// + 2 DH), derives the session and installs it as `next`. Target ≥ 2,000/s.
// Usage: bun bench/handshake.ts [count]   (TUNNEL_CRYPTO=typescript|libcrypto to force a backend)
import type { CryptoBackend } from "../src/crypto/types.ts";
import { MESSAGE_INITIATION_OFFSET_MAC1, MESSAGE_INITIATION_SIZE } from "../src/wireguard/constants.ts";
import { DeviceState } from "../src/wireguard/device-state.ts";
import { createInitiation } from "../src/wireguard/noise.ts";
import type { Tunn } from "../src/wireguard/peer.ts";

async function backend(): Promise<CryptoBackend> {
  try {
    const { selectBackend } = await import("../src/crypto/select.ts");
    const sel = selectBackend();
    if (sel.warning) console.error(sel.warning);
    return sel.backend;
  } catch (e) {
    console.error(`selectBackend unavailable (${String(e)}); using the test-only noble backend`);
    const { nobleBackend } = await import("../test/wireguard/noble-backend.ts");
    return nobleBackend();
  }
}

function key(seed: number): Uint8Array {
  const k = new Uint8Array(32);
  for (let i = 0; i < 32; i++) k[i] = (seed * 131 + i * 17) & 0xff;
  return k;
}

const count = Number(process.argv[2] ?? 5000);
const WARMUP = 300; // JIT and backend warm-up, not timed
const ROUNDS = 3; // report the best round: the host is shared, noise only slows us down
const total = WARMUP + count * ROUNDS;
const crypto = await backend();
const initiator = new DeviceState(crypto, key(1));
const responder = new DeviceState(crypto, key(2));
const toResponder = initiator.addPeer(responder.publicKey) as Tunn;
responder.addPeer(initiator.publicKey);

// Initiations 20 ms apart in both clocks: newer TAI64N each time, and exactly
// at the responder's 50/s per-peer flood limit.
const STEP_MS = 20;
const wall0 = 1_700_000_000_000;
const msgs: Uint8Array[] = [];
for (let i = 0; i < total; i++) {
  const m = new Uint8Array(MESSAGE_INITIATION_SIZE);
  const idx = initiator.reserveIndex(toResponder)!;
  const err = createInitiation(toResponder.handshake, m, 0, wall0 + i * STEP_MS, idx);
  if (err) throw new Error(err);
  toResponder.cookies.addMacs(i * STEP_MS, m, 0, MESSAGE_INITIATION_OFFSET_MAC1);
  msgs.push(m);
}

const src = { ip: Uint8Array.of(192, 0, 2, 1), port: 51820 };

/** run feeds msgs[from, from+n) to the responder; returns accepted handshakes per second. */
function run(from: number, n: number): number {
  let ok = 0;
  const t0 = performance.now();
  for (let i = from; i < from + n; i++) {
    const m = msgs[i]!;
    const r = responder.decapsulate(i * STEP_MS, src, m, 0, m.length);
    if (r.kind === "network") ok++;
    else if (r.kind === "error") throw new Error(`handshake ${i} rejected: ${r.code}`);
  }
  return ok / ((performance.now() - t0) / 1000);
}

run(0, WARMUP);
const rates: number[] = [];
for (let k = 0; k < ROUNDS; k++) rates.push(run(WARMUP + k * count, count));
const best = Math.max(...rates);
console.log(
  `backend=${crypto.name} handshakes/round=${count} rounds=${rates.map((r) => Math.round(r)).join(",")}/s ` +
    `best=${Math.round(best)}/s (target >= 2000/s on one core)`,
);
