// JIT warm-up for a new data plane. JavaScriptCore compiles a function to
// fast machine code only after it has run many times; until then it is
// interpreted, and a fresh daemon answered its first pings in 0.97 ms where a
// warm one takes 0.47 ms (bench/latency.ts, this machine kind; upstream
// wireguard-go, compiled ahead of time, 0.53 ms cold). So while a new data
// plane has nothing to do, it runs the very code packets take through a
// private pair of data planes: a handshake, lone pings (the small-packet
// path: no split, a job run on the spot, no coalescing) and TSO
// super-packets each way (split, GSO, GRO, coalescing). The pair runs on
// the Linux I/O over loopback sockets when it can, so the system-call code
// (epoll, read/write, recvmmsg with its GRO and pktinfo messages, sendmmsg
// with GSO) warms up too: first pings 0.71 against 0.81 ms with the pair on
// the in-memory I/O, which stays the fallback (warmup-links.ts). A slice runs
// only when no packet waits, looks for real traffic between any two of its
// packets and stops at once when some arrived, and is bounded in time
// besides; when the pair has carried WARMUP_ROUNDS rounds it is dropped for
// the GC. The pair shares nothing with the real device (own keys, stats,
// sockets), and sends nothing beyond its own loopback sockets.
import { checksum, pseudoHeaderChecksumNoFold, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4, VNET_HDR_LEN } from "../offload/index.ts";
import type { CryptoBackend } from "../crypto/types.ts";
import { generatePrivateKey, publicKeyOf } from "../wireguard/keys.ts";
import type { WorkerPeerConfig } from "./dataplane-messages.ts";
import type { DataPlane, DataPlaneOptions } from "./dataplane.ts";
import type { DataPlaneIo } from "./io.ts";
import { parseIp } from "./io-memory.ts";
import { SharedStats } from "./shared-stats.ts";
import { warmupLinks, type WarmupLink, type WarmupLinkKind } from "./warmup-links.ts";

/** WARMUP_ROUNDS: how many rounds (pings and super-packets both ways) the pair carries (~0.3 s of CPU here). */
const WARMUP_ROUNDS = 150;
/**
 * WARMUP_CPU_BUDGET_MS: a machine on which the whole warm-up would take
 * longer than this (an emulated one: a round takes 20 times as long under
 * qemu's TCG) gives it up after PROBE_ROUNDS: the CPU is better left to the
 * host's other work than spent to save a few tenths of a millisecond.
 */
const WARMUP_CPU_BUDGET_MS = 1500;
/**
 * WARMUP_LOAD_LIMIT_MS: a worker that took longer than this to load (its
 * modules parsed and run, up to building its plane) is on a machine where
 * the warm-up would cost more than WARMUP_CPU_BUDGET_MS: it costs about
 * seven times the load natively (23 ms to load, 150-175 ms to warm up on a
 * two-core EPYC). Judged before the pair is built, because under
 * emulation building it and running the probe rounds alone took a restarted
 * service's only vCPU for about half a second, on the way to its first
 * handshake.
 */
const WARMUP_LOAD_LIMIT_MS = 200;
const PROBE_ROUNDS = 10;
const PINGS_PER_ROUND = 4;
const MSS = 1368;
const SEGMENTS = 46;
/**
 * The first RAMP_ROUNDS rounds carry super-packets of RAMP_SEGMENTS only: a
 * step is not interruptible, and while the code is still interpreted the
 * first 46-segment super-packet took 8.6–8.8 ms where a 4-segment one took
 * 2.2 ms, time a real packet arriving then would wait.
 */
const RAMP_ROUNDS = 20;
const RAMP_SEGMENTS = 4;
const INNER = ["198.18.255.1", "198.18.255.2"] as const;
/** LINK_KINDS: what the pair is wired to, first choice first (warmup-links.ts). */
const LINK_KINDS: readonly WarmupLinkKind[] = ["loopback", "memory"];

/** warmupSkipReason says why a plane whose worker loaded in loadedInMs should not warm up, or null when it should. */
export function warmupSkipReason(loadedInMs: number): string | null {
  if (loadedInMs <= WARMUP_LOAD_LIMIT_MS) return null;
  return `JIT warm-up skipped: the data-plane worker took ${Math.round(loadedInMs)} ms to load (over ${WARMUP_LOAD_LIMIT_MS} ms: an emulated or very slow machine, where it would cost more CPU than it saves)`;
}

type MakePlane = (io: DataPlaneIo, opts: DataPlaneOptions) => DataPlane;

interface Side {
  link: WarmupLink;
  plane: DataPlane;
  key: Uint8Array;
  pub: Uint8Array;
}

export class Warmup {
  private sides: [Side, Side];
  /** via: what the pair runs on now (the first kind that could be had and carried packets). */
  via: WarmupLinkKind = "memory";
  /** The kinds not tried yet, in order of preference. */
  private readonly untried: WarmupLinkKind[];
  private readonly pings: Uint8Array[];
  private readonly supers: Uint8Array[];
  private readonly rampSupers: Uint8Array[];
  /** round: rounds carried (WARMUP_ROUNDS once over, given up or done). */
  round = 0;
  private step = 0;
  private spentMs = 0;
  /** written: packets the pair's planes wrote to their TUNs so far. */
  written = 0;

  /** makePlane builds a DataPlane (passed in: dataplane.ts owns the class and would otherwise import this file back). */
  constructor(
    private readonly crypto: CryptoBackend,
    private readonly opts: DataPlaneOptions,
    private readonly makePlane: MakePlane,
    private readonly cpuBudgetMs = WARMUP_CPU_BUDGET_MS,
    kinds: readonly WarmupLinkKind[] = LINK_KINDS,
  ) {
    this.untried = [...kinds];
    this.sides = this.wire();
    this.pings = [ping(0), ping(1)];
    this.supers = [superPacket(0, SEGMENTS), superPacket(1, SEGMENTS)];
    this.rampSupers = [superPacket(0, RAMP_SEGMENTS), superPacket(1, RAMP_SEGMENTS)];
  }

  /**
   * slice carries packets for up to budgetMs, or until interrupted() says
   * real work arrived (asked between any two packets); true once the
   * warm-up is over (the caller then drops it).
   */
  slice(budgetMs: number, now: () => number, interrupted: () => boolean = () => false): boolean {
    const start = now();
    const until = start + budgetMs;
    while (this.round < WARMUP_ROUNDS && now() < until) {
      // One round: PINGS_PER_ROUND pings then a super-packet from each side.
      const step = this.step++;
      const n = step % (2 * (PINGS_PER_ROUND + 1)) < PINGS_PER_ROUND + 1 ? 0 : 1;
      const isSuper = step % (PINGS_PER_ROUND + 1) === PINGS_PER_ROUND;
      const supers = this.round < RAMP_ROUNDS ? this.rampSupers : this.supers;
      this.sides[n]!.link.inject(isSuper ? supers[n]! : this.pings[n]!);
      this.pump();
      if (step % (2 * (PINGS_PER_ROUND + 1)) === 2 * (PINGS_PER_ROUND + 1) - 1) this.round++;
      // Links that were had but carry nothing (lo down, a firewall): the next kind, from the start.
      if (this.round === 1 && this.written === 0 && this.untried.length > 0) this.rewire();
      if (interrupted()) break;
    }
    this.spentMs += now() - start;
    if (this.round >= PROBE_ROUNDS && (this.spentMs / this.round) * WARMUP_ROUNDS > this.cpuBudgetMs) this.round = WARMUP_ROUNDS;
    if (this.round < WARMUP_ROUNDS) return false;
    this.close();
    return true;
  }

  /** close stops the pair and frees what it was wired to (also when a warm-up is abandoned). */
  close(): void {
    for (const s of this.sides) {
      s.plane.shutdown();
      s.link.close();
    }
  }

  /** wire builds the pair on the first untried kind of link that can be had, and configures each side as the other's peer. */
  private wire(): [Side, Side] {
    const failures: string[] = [];
    for (let kind = this.untried.shift(); kind !== undefined; kind = this.untried.shift()) {
      let links: [WarmupLink, WarmupLink] | null = null;
      let sides: [Side, Side];
      try {
        links = warmupLinks(kind);
        sides = [this.side(links[0]), this.side(links[1])];
      } catch (e) {
        for (const link of links ?? []) link.close();
        failures.push(`${kind}: ${(e as Error).message}`);
        continue;
      }
      this.via = kind;
      for (const n of [0, 1] as const) {
        const other = sides[1 - n]!;
        const peer: WorkerPeerConfig = {
          publicKey: other.pub,
          presharedKey: null,
          persistentKeepaliveSec: 0,
          allowedIps: [{ addr: parseIp(INNER[1 - n]!), cidr: 32 }],
          slot: 0,
          endpoint: other.link.endpoint,
          keepaliveNow: false,
        };
        sides[n].plane.control({ type: "config", privateKey: sides[n].key, peers: [peer] });
      }
      return sides;
    }
    throw new Error(`no link for the warm-up pair (${failures.join("; ")})`);
  }

  private side(link: WarmupLink): Side {
    const plane = this.makePlane(link.io, { ...this.opts, tcpGro: true, udpGro: true, workers: 1, stats: SharedStats.allocate(2).buffer, warmup: false });
    plane.control({ type: "sockets", v4: link.socket, v6: null });
    const key = generatePrivateKey(this.crypto);
    return { link, plane, key, pub: publicKeyOf(this.crypto, key) };
  }

  /** rewire drops the pair and starts over on the next kind of link. */
  private rewire(): void {
    this.close();
    this.sides = this.wire();
    this.round = 0;
    this.step = 0;
  }

  private pump(): void {
    for (let turns = 0; turns < 64; turns++) {
      let busy = false;
      for (const s of this.sides) {
        // A plane with nothing to read would block in its poller: turn only one that has work.
        if (!s.link.pending && !s.plane.inFlight) continue;
        s.plane.turn();
        this.written += s.link.discardWrites();
        busy = true;
      }
      if (!busy) return;
    }
  }
}

/** ping is what a TUN read gives for a 64-byte ICMP echo request from side n to the other (no offload). */
function ping(n: 0 | 1): Uint8Array {
  const ip = ipv4Header(n, 1, 20 + 8 + 56);
  const pkt = new Uint8Array(VNET_HDR_LEN + ip.length + 64);
  pkt.set(ip, VNET_HDR_LEN);
  pkt[VNET_HDR_LEN + 20] = 8; // echo request
  return pkt;
}

/** superPacket is what a TUN read gives for a TSO TCP super-packet of `segments` full segments (dossier 1.4). */
function superPacket(n: 0 | 1, segments: number): Uint8Array {
  const payload = segments * MSS;
  const total = 20 + 20 + payload;
  const pkt = new Uint8Array(VNET_HDR_LEN + total);
  const v = new DataView(pkt.buffer);
  pkt[0] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
  pkt[1] = VIRTIO_NET_HDR_GSO_TCPV4;
  v.setUint16(2, 40, true);
  v.setUint16(4, MSS, true);
  v.setUint16(6, 20, true);
  v.setUint16(8, 16, true);
  pkt.set(ipv4Header(n, 6, total), VNET_HDR_LEN);
  const tcp = VNET_HDR_LEN + 20;
  v.setUint16(tcp, 5201);
  v.setUint16(tcp + 2, 5201);
  v.setUint32(tcp + 4, 1);
  v.setUint32(tcp + 8, 1);
  pkt[tcp + 12] = 5 << 4;
  pkt[tcp + 13] = 0x18; // ACK|PSH
  v.setUint16(tcp + 14, 65535);
  for (let i = 0; i < payload; i++) pkt[tcp + 20 + i] = i & 0xff;
  // The kernel hands out CHECKSUM_PARTIAL: the field holds the folded pseudo-header sum.
  const pseudo = pseudoHeaderChecksumNoFold(pkt, VNET_HDR_LEN + 12, 4, 6, 20 + payload);
  v.setUint16(tcp + 16, ~checksum(new Uint8Array(0), 0, 0, pseudo) & 0xffff);
  return pkt;
}

function ipv4Header(n: 0 | 1, proto: number, total: number): Uint8Array {
  const h = new Uint8Array(20);
  const v = new DataView(h.buffer);
  h[0] = 0x45;
  v.setUint16(2, total);
  v.setUint16(6, 0x4000);
  h[8] = 64;
  h[9] = proto;
  h.set(parseIp(INNER[n]), 12);
  h.set(parseIp(INNER[1 - n]!), 16);
  v.setUint16(10, checksum(h, 0, 20, 0));
  return h;
}
