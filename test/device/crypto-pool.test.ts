// The crypto pool (src/device/crypto-pool.ts, crypto-helper.ts,
// crypto-jobs.ts): a job sealed or opened by helpers must be exactly what
// one thread would produce, whoever runs which chunk; a forged packet must
// fail wherever it is opened; a helper that never returns its chunk must cost
// that chunk's packets and nothing else (and never let an unsealed packet
// through); a destroyed key's context must not outlive it in a helper.
// Helpers are driven by hand on this thread (spawn: false) where the order
// matters, and run as real threads where it does not.
import { afterEach, describe, expect, test } from "bun:test";
import { selectBackend } from "../../src/crypto/select.ts";
import type { AeadKey } from "../../src/crypto/types.ts";
import { CryptoHelper } from "../../src/device/crypto-helper.ts";
import { CHUNK_PACKETS, OP_OPEN, OP_SEAL } from "../../src/device/crypto-jobs.ts";
import { CryptoPool, type PoolBatch } from "../../src/device/crypto-pool.ts";
import { C, COUNTERS } from "../../src/device/shared-stats.ts";

const backend = selectBackend({ TUNNEL_CRYPTO: "libcrypto" }).backend;
const TAG = 16;
const pools: CryptoPool[] = [];
afterEach(() => {
  for (const p of pools) p.stop();
  pools.length = 0;
});

function pool(helpers: number, opts: { spawn?: boolean; stallMs?: number } = {}): CryptoPool {
  const logs: string[] = [];
  const p = new CryptoPool(backend, { helpers, env: { TUNNEL_CRYPTO: "libcrypto" }, log: (m) => logs.push(m), ...opts });
  p.c = new Float64Array(COUNTERS.length);
  pools.push(p);
  return p;
}

function keyBytes(seed: number): Uint8Array {
  return Uint8Array.from({ length: 32 }, (_, i) => (seed * 31 + i * 7) & 0xff);
}

interface Packet {
  off: number;
  len: number;
  counter: number;
  key: number;
}

/** layout places n packets of varied lengths (0..1500) in one slab, each with tag room. */
function layout(n: number, keys: number): { slab: Uint8Array; packets: Packet[] } {
  const packets: Packet[] = [];
  let at = 16;
  for (let i = 0; i < n; i++) {
    const len = (i * 397) % 1501;
    packets.push({ off: at, len, counter: 1000 + i * 3, key: i % keys });
    at += len + TAG + 16;
  }
  const slab = new Uint8Array(at);
  for (let i = 0; i < slab.length; i++) slab[i] = (i * 13 + 5) & 0xff;
  return { slab, packets };
}

/** reference seals every packet of a copy of slab on this thread, with plain backend keys. */
function reference(slab: Uint8Array, packets: Packet[], seeds: number[]): Uint8Array {
  const out = slab.slice();
  const keys = seeds.map((s) => backend.aeadKey(keyBytes(s)));
  for (const p of packets) keys[p.key]!.seal(p.counter, out, p.off, p.len);
  for (const k of keys) k.destroy();
  return out;
}

function fill(job: PoolBatch, slab: Uint8Array, packets: Packet[], keys: AeadKey[], open = false): void {
  job.begin(slab);
  for (const p of packets) job.add(keys[p.key]!, p.off, open ? p.len + TAG : p.len, p.counter);
}

describe("crypto pool", () => {
  test("a job shared by the data plane and a helper, chunk by chunk, seals exactly what one thread seals", () => {
    const p = pool(1, { spawn: false });
    const helper = new CryptoHelper(p.area, backend);
    const seeds = [1, 2];
    const keys = seeds.map((s) => p.backend.aeadKey(keyBytes(s)));
    const { slab, packets } = layout(300, 2);
    const want = reference(slab, packets, seeds);
    const job = p.batch(0, OP_SEAL);
    fill(job, slab, packets, keys);
    job.submit();
    expect(job.pending).toBe(true);
    // The helper takes every other chunk it can reach before the data plane comes back.
    for (let i = 0; i < 10; i++) expect(helper.step()).toBe(true);
    job.finish();
    expect(slab).toEqual(want);
    for (let i = 0; i < packets.length; i++) expect(job.ok(i)).toBe(true);
    expect(helper.chunksRun).toBe(10);
    expect(p.c[C.cryptoPacketsHelpers]).toBe(10 * CHUNK_PACKETS);
    expect(p.c[C.cryptoPacketsInline]).toBe(300 - 10 * CHUNK_PACKETS);
    expect(p.c[C.cryptoWaits]).toBe(0);
  });

  test("opens: the helper's and the data plane's chunks accept good tags and refuse every forged one", () => {
    const p = pool(1, { spawn: false });
    const helper = new CryptoHelper(p.area, backend);
    const keys = [p.backend.aeadKey(keyBytes(9))];
    const { slab, packets } = layout(200, 1);
    const sealed = reference(slab, packets, [9]);
    const plain = slab.slice();
    const forged = new Set([0, 7, 8, 63, 150, 199]);
    for (const i of forged) sealed[packets[i]!.off + packets[i]!.len]! ^= 0x40; // a tag bit
    const job = p.batch(2, OP_OPEN);
    fill(job, sealed, packets, keys, true);
    job.submit();
    while (helper.step() && helper.chunksRun < 12);
    job.finish();
    for (let i = 0; i < packets.length; i++) {
      expect(job.ok(i)).toBe(!forged.has(i));
      const q = packets[i]!;
      if (!forged.has(i)) expect(sealed.subarray(q.off, q.off + q.len)).toEqual(plain.subarray(q.off, q.off + q.len));
    }
  });

  test("a small job runs at once on the data plane's thread (a lone packet never waits for a hand-off)", () => {
    const p = pool(1, { spawn: false });
    const keys = [p.backend.aeadKey(keyBytes(3))];
    const { slab, packets } = layout(5, 1);
    const want = reference(slab, packets, [3]);
    const job = p.batch(1, OP_SEAL);
    fill(job, slab, packets, keys);
    job.submit();
    expect(job.pending).toBe(false);
    expect(slab).toEqual(want);
    expect(new CryptoHelper(p.area, backend).step()).toBe(false);
  });

  test("a helper that never returns its chunk: those packets are dropped, not sent unsealed, and helpers are switched off", () => {
    const p = pool(1, { spawn: false, stallMs: 30 });
    const keys = [p.backend.aeadKey(keyBytes(4))];
    const { slab, packets } = layout(100, 1);
    const before = slab.slice();
    const job = p.batch(0, OP_SEAL);
    fill(job, slab, packets, keys);
    job.submit();
    // A stuck thread: claims chunk 0 and never runs it.
    const stuck = p.area.oldestClaimable()!.claimChunk();
    expect(stuck).toBe(0);
    job.finish();
    for (let i = 0; i < packets.length; i++) expect(job.ok(i)).toBe(i >= CHUNK_PACKETS);
    // The stuck chunk's plaintext is untouched, and reported as not sealed.
    const q = packets[1]!;
    expect(slab.subarray(q.off, q.off + q.len)).toEqual(before.subarray(q.off, q.off + q.len));
    expect(p.c[C.cryptoHelperStalls]).toBe(1);
    expect(p.helpers).toBe(0);
    // From now on every job runs on the data plane's thread.
    fill(job, slab, packets, keys);
    job.submit();
    expect(job.pending).toBe(false);
  });

  test("a destroyed key's context is dropped by the helper", () => {
    const p = pool(1, { spawn: false });
    const helper = new CryptoHelper(p.area, backend);
    const keys = [p.backend.aeadKey(keyBytes(5)), p.backend.aeadKey(keyBytes(6))];
    const { slab, packets } = layout(64, 2);
    const job = p.batch(3, OP_SEAL);
    fill(job, slab, packets, keys);
    job.submit();
    while (helper.step());
    job.finish();
    expect(helper.cachedKeys).toBe(2);
    keys[0]!.destroy();
    expect(helper.step()).toBe(false);
    expect(helper.cachedKeys).toBe(1);
  });

  test("real helper threads: 400 jobs of every size, sealed then opened, match one thread byte for byte", async () => {
    const p = pool(2);
    const until = performance.now() + 10_000;
    while (p.started < 2 && performance.now() < until) await Bun.sleep(5);
    expect(p.started).toBe(2);
    const seeds = [11, 12, 13];
    const keys = seeds.map((s) => p.backend.aeadKey(keyBytes(s)));
    const seal = p.batch(0, OP_SEAL);
    const open = p.batch(1, OP_OPEN);
    for (let round = 0; round < 200; round++) {
      const { slab, packets } = layout(1 + ((round * 37) % 300), 3);
      const plain = slab.slice();
      const want = reference(slab, packets, seeds);
      fill(seal, slab, packets, keys);
      seal.submit();
      seal.finish();
      expect(slab).toEqual(want);
      fill(open, slab, packets, keys, true);
      open.submit();
      open.finish();
      for (let i = 0; i < packets.length; i++) expect(open.ok(i)).toBe(true);
      for (const q of packets) expect(slab.subarray(q.off, q.off + q.len)).toEqual(plain.subarray(q.off, q.off + q.len));
    }
    expect(p.c[C.cryptoPacketsHelpers]).toBeGreaterThan(0);
    expect(p.c[C.cryptoHelperStalls]).toBe(0);
  }, 60_000);
});
