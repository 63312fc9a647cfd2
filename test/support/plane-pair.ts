// Two real data planes (src/device/dataplane.ts and all its parts, real
// crypto, real offload engine) wired to each other through the in-memory
// I/O of src/device/io-memory.ts: wireguard-go's genTestPair for tunnel.
// No root, no kernel, a manual clock. A is 198.18.0.1 / fd00::1 outside and
// 10.0.0.1 / fd00:a::1 inside; B is .2 / ::2.
import { selectBackend } from "../../src/crypto/select.ts";
import type { FromWorker, WorkerPeerConfig } from "../../src/device/dataplane-messages.ts";
import { DataPlane } from "../../src/device/dataplane.ts";
import { MemoryNetwork, parseIp, type MemoryHost } from "../../src/device/io-memory.ts";
import { C, SharedStats } from "../../src/device/shared-stats.ts";
import { generatePrivateKey, publicKeyOf } from "../../src/wireguard/keys.ts";

export interface PlaneSide {
  host: MemoryHost;
  plane: DataPlane;
  stats: SharedStats;
  privateKey: Uint8Array;
  publicKey: Uint8Array;
  events: FromWorker[];
  inner4: string;
  inner6: string;
  outer4: string;
  outer6: string;
  port: number;
  counter(name: keyof typeof C): number;
}

export interface PlanePair {
  net: MemoryNetwork;
  a: PlaneSide;
  b: PlaneSide;
  /** pump turns both planes until neither has anything to read (or maxTurns). */
  pump(maxTurns?: number): void;
  /** advance moves the clock in steps of stepMs, pumping after each step. */
  advance(ms: number, stepMs?: number): void;
  /** helpersUp waits (up to timeoutMs) until both sides' crypto helpers have started. */
  helpersUp(timeoutMs?: number): Promise<void>;
  /** close stops both sides' crypto helpers. */
  close(): void;
  /** configure (re)sends each side its peer config; endpoints on the given family. */
  configure(opts?: { endpointFamily?: 4 | 6; keepaliveSec?: number; presharedKey?: Uint8Array | null }): void;
}

const crypto = selectBackend({}).backend;

function side(net: MemoryNetwork, n: 1 | 2, opts: PlanePairOptions): PlaneSide {
  const outer4 = `198.18.0.${n}`;
  const outer6 = `fd00::${n}`;
  const port = 51819 + n;
  const host = net.host({ ip4: outer4, ip6: outer6, port, vnetHeader: opts.vnetHeader ?? true, gso: opts.gso ?? true, gro: opts.gro ?? true });
  const stats = SharedStats.allocate(4);
  const events: FromWorker[] = [];
  const plane = new DataPlane(
    host.io,
    {
      tcpGro: opts.tcpGro ?? true,
      udpGro: opts.udpGro ?? true,
      mtu: 1420,
      workers: opts.workers ?? 1,
      env: {},
      stats: stats.buffer,
      warmup: opts.warmup ?? false,
      loadedInMs: opts.loadedInMs ?? 0,
    },
    { post: (m) => events.push(m) },
  );
  plane.control({ type: "sockets", v4: host.v4, v6: host.v6 });
  const privateKey = generatePrivateKey(crypto);
  return {
    host,
    plane,
    stats,
    privateKey,
    publicKey: publicKeyOf(crypto, privateKey),
    events,
    inner4: `10.0.0.${n}`,
    inner6: `fd00:a::${n}`,
    outer4,
    outer6,
    port,
    counter: (name) => stats.counters[C[name]]!,
  };
}

export interface PlanePairOptions {
  vnetHeader?: boolean;
  gso?: boolean;
  gro?: boolean;
  tcpGro?: boolean;
  udpGro?: boolean;
  /** workers: data-plane threads per side (1: no crypto helpers). */
  workers?: number;
  /** warmup: the JIT warm-up in idle turns, as the daemon runs it (off by default). */
  warmup?: boolean;
  /** loadedInMs: how long the planes' worker took to load, as the daemon's worker reports it (default 0). */
  loadedInMs?: number;
}

const open = new Set<PlanePair>();

/** closePlanePairs stops the crypto helpers of every pair made so far (call it in afterEach/afterAll). */
export function closePlanePairs(): void {
  for (const p of open) p.close();
  open.clear();
}

export function planePair(opts: PlanePairOptions = {}): PlanePair {
  const net = new MemoryNetwork();
  const a = side(net, 1, opts);
  const b = side(net, 2, opts);
  const peerOf = (_self: PlaneSide, other: PlaneSide, family: 4 | 6, keepaliveSec: number, psk: Uint8Array | null): WorkerPeerConfig => ({
    publicKey: other.publicKey,
    presharedKey: psk,
    persistentKeepaliveSec: keepaliveSec,
    allowedIps: [
      { addr: parseIp(other.inner4), cidr: 32 },
      { addr: parseIp(other.inner6), cidr: 128 },
    ],
    slot: 0,
    endpoint: { addr: parseIp(family === 4 ? other.outer4 : other.outer6), port: other.port },
    keepaliveNow: false,
  });
  const pair: PlanePair = {
    net,
    a,
    b,
    pump(maxTurns = 10_000) {
      let quiet = 0;
      for (let t = 0; t < maxTurns && quiet < 3; t++) {
        a.plane.turn();
        b.plane.turn();
        const idle = a.host.idle && b.host.idle && !a.plane.inFlight && !b.plane.inFlight;
        quiet = idle && a.counter("handshakeQueueDepth") === 0 && b.counter("handshakeQueueDepth") === 0 ? quiet + 1 : 0;
      }
    },
    advance(ms, stepMs = 100) {
      for (let done = 0; done < ms; done += stepMs) {
        net.clock.advance(Math.min(stepMs, ms - done));
        pair.pump();
      }
    },
    async helpersUp(timeoutMs = 10_000) {
      const until = performance.now() + timeoutMs;
      for (const s of [a, b]) {
        while (s.plane.pool.started < s.plane.pool.helpers) {
          if (performance.now() > until) throw new Error(`crypto helpers: ${s.plane.pool.started} of ${s.plane.pool.helpers} started in ${timeoutMs} ms`);
          await Bun.sleep(5);
        }
      }
    },
    close() {
      a.plane.pool.stop();
      b.plane.pool.stop();
      open.delete(pair);
    },
    configure({ endpointFamily = 4, keepaliveSec = 0, presharedKey = null } = {}) {
      a.plane.control({ type: "config", privateKey: a.privateKey, peers: [peerOf(a, b, endpointFamily, keepaliveSec, presharedKey)] });
      b.plane.control({ type: "config", privateKey: b.privateKey, peers: [peerOf(b, a, endpointFamily, keepaliveSec, presharedKey)] });
    },
  };
  open.add(pair);
  return pair;
}
