// bun bench/handshake-load.ts — what one flood message costs the responder:
// DeviceState.decapsulate on valid-mac1 initiations under load (mac1, mac2
// check, cookie reply) and on bad-mac1 ones (mac1 only), in ns per message
// and JS heap objects allocated per message (bun:jsc heapStats, as in
// bench/rx-alloc.ts). A flood costs us this per message it gets through the
// queue; anything allocated here is garbage a never-yielding worker keeps.
import { fullGC, heapStats } from "bun:jsc";
import { selectBackend } from "../src/crypto/select.ts";
import type { SourceAddr } from "../src/wireguard/cookie.ts";
import { DeviceState } from "../src/wireguard/device-state.ts";
import { craftInitiation, cryptoFill, mac1Key } from "../test/reliability/flood/craft.ts";

const N = 20000;
const crypto = selectBackend(process.env).backend;
const priv = new Uint8Array(32);
crypto.randomBytes(priv);
const device = new DeviceState(crypto, priv);
const src: SourceAddr = { ip: new Uint8Array([198, 19, 1, 3]), port: 40000 };
const good = new Uint8Array(148 * 64);
const bad = new Uint8Array(148 * 64);
const key = mac1Key(device.publicKey);
for (let i = 0; i < 64; i++) {
  craftInitiation(good, i * 148, key, cryptoFill);
  craftInitiation(bad, i * 148, null, cryptoFill);
}

function objects(): number {
  return Object.values(heapStats().objectTypeCounts).reduce((a, b) => a + b, 0);
}

function measure(name: string, buf: Uint8Array, underLoad: boolean, expect: string): void {
  let now = performance.now();
  for (let i = 0; i < 2000; i++) device.decapsulate(now, src, buf, (i & 63) * 148, 148, underLoad);
  fullGC();
  const before = objects();
  const t0 = performance.now();
  for (let i = 0; i < N; i++) {
    const r = device.decapsulate(now, src, buf, (i & 63) * 148, 148, underLoad);
    if (r.kind !== expect && !(r.kind === "error" && r.code === expect)) throw new Error(`${name}: got ${r.kind} ${"code" in r ? r.code : ""}`);
  }
  const ns = ((performance.now() - t0) * 1e6) / N;
  const after = objects();
  console.log(`${name.padEnd(40)} ${ns.toFixed(0).padStart(6)} ns/message  ${((after - before) / N).toFixed(2)} heap objects/message`);
  now += 1;
}

measure("valid mac1, under load → cookie reply", good, true, "network");
measure("bad mac1 → drop", bad, true, "invalid-mac1");
measure("bad mac1, not under load → drop", bad, false, "invalid-mac1");
