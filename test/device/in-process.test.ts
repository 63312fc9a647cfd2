// Two real data planes against each other in one process (test/support/
// plane-pair.ts over src/device/io-memory.ts): the whole of dataplane.ts and
// its parts with real crypto and the real offload engine, but the TUNs,
// sockets and clock in memory. No root. What it proves: the handshake,
// data both ways in the shapes the kernel produces (TSO super-packets in,
// UDP GSO sends, GRO messages, coalesced super-packets out), IPv6 outside
// and in, rekeying on the clock, roaming, and loss of data and of a
// handshake message.
import { afterEach, describe, expect, test } from "bun:test";
import { parseIp } from "../../src/device/io-memory.ts";
import { REKEY_AFTER_TIME_MS, REKEY_TIMEOUT_MS } from "../../src/wireguard/constants.ts";
import { l4Offset, superPacket, TCP_ACK, TCP_PSH, udp4, udp6, withVnetHeader } from "../offload/packets.ts";
import { closePlanePairs, planePair as makePair, type PlanePairOptions, type PlaneSide } from "../support/plane-pair.ts";

const VNET = 10;
const MSS = 1368;

/** datagram builds the TUN read of one UDP packet from side `from` to side `to` (no offload). */
function udpPacket(from: PlaneSide, to: PlaneSide, payload: number, v6 = false): Uint8Array {
  const build = v6 ? udp6 : udp4;
  const pkt = build({ src: v6 ? from.inner6 : from.inner4, dst: v6 ? to.inner6 : to.inner4, sport: 4000, dport: 5000, payload });
  return withVnetHeader(pkt, {});
}

/** tsoPacket builds a TSO super-packet of `segments` full segments from `from` to `to`, starting at seq. */
function tsoPacket(from: PlaneSide, to: PlaneSide, seq: number, segments: number): Uint8Array {
  return superPacket(
    "tcp4",
    { src: from.inner4, dst: to.inner4, sport: 40000, dport: 5201, seq, ack: 1, flags: TCP_ACK | TCP_PSH, payload: segments * MSS },
    MSS,
  );
}

/** tcpStream returns the TCP payload bytes the TUN writes carry, in write order, and their first sequence numbers. */
function tcpStream(written: Uint8Array[]): { bytes: Uint8Array; seqs: number[] } {
  const parts: Uint8Array[] = [];
  const seqs: number[] = [];
  for (const w of written) {
    const ip = w.subarray(VNET);
    const l4 = l4Offset(ip);
    const doff = (ip[l4 + 12]! >>> 4) * 4;
    seqs.push(new DataView(ip.buffer, ip.byteOffset + l4 + 4, 4).getUint32(0));
    parts.push(ip.subarray(l4 + doff));
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return { bytes: out, seqs };
}

function expectPattern(bytes: Uint8Array, seq: number, length: number): void {
  expect(bytes.length).toBe(length);
  let bad = -1;
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] !== ((seq + i) & 0xff)) {
      bad = i;
      break;
    }
  }
  expect(bad).toBe(-1);
}

function written(s: PlaneSide): Uint8Array[] {
  return s.host.tun.take();
}

afterEach(closePlanePairs);

// Everything runs with one worker (the data plane alone) and with two (a
// crypto helper sealing and opening beside it): the behaviour must not differ.
describe.each([1, 2])("in-process: two data planes over in-memory I/O, workers = %d", (workers) => {
  const planePair = (opts: PlanePairOptions = {}) => makePair({ ...opts, workers });

  test("a first packet starts the handshake, waits for it, and arrives; then packets flow both ways", () => {
    const p = planePair();
    p.configure();
    const first = udpPacket(p.a, p.b, 100);
    p.a.host.tun.inject(first);
    p.pump();
    expect(p.a.counter("handshakesCompleted")).toBe(1);
    expect(p.b.counter("handshakesCompleted")).toBe(1);
    const atB = written(p.b);
    expect(atB.length).toBe(1);
    expect(atB[0]!.subarray(VNET)).toEqual(first.subarray(VNET));

    const back = udpPacket(p.b, p.a, 1200);
    p.b.host.tun.inject(back);
    p.pump();
    const atA = written(p.a);
    expect(atA.length).toBe(1);
    expect(atA[0]!.subarray(VNET)).toEqual(back.subarray(VNET));
    expect(p.a.counter("rxPackets")).toBe(1);
    expect(p.b.counter("txPackets")).toBe(1);
    // B learned A's endpoint from the handshake: A's outer address and port.
    const ep = p.b.stats.readEndpoint(0).endpoint;
    expect(ep?.port).toBe(p.a.port);
  });

  test.each([
    ["A → B", 0],
    ["B → A", 1],
  ])("%s: TSO super-packets go out as UDP GSO sends, arrive as GRO messages and are written as coalesced super-packets", (_name, direction) => {
    const p = planePair();
    p.configure();
    const [from, to] = direction === 0 ? [p.a, p.b] : [p.b, p.a];
    p.a.host.tun.inject(udpPacket(p.a, p.b, 10));
    p.pump();
    written(p.b);
    const sender = from.host.socket(4).sender;
    const receiver = to.host.socket(4);
    const sendsBefore = sender.messagesOut;
    const messagesBefore = receiver.messagesIn;
    const seq = 7_000_000;
    const segments = 46;
    for (let i = 0; i < 4; i++) from.host.tun.inject(tsoPacket(from, to, seq + i * segments * MSS, segments));
    p.pump();
    expect(from.counter("superPackets")).toBe(4);
    expect(from.counter("segments")).toBeGreaterThanOrEqual(4 * segments);
    // ≤ 64 datagrams per GSO send: 184 datagrams in a handful of sends, not 184.
    expect(sender.messagesOut - sendsBefore).toBeLessThanOrEqual(8);
    expect(receiver.messagesIn - messagesBefore).toBeLessThanOrEqual(8);
    expect(to.counter("groMessages")).toBeGreaterThan(0);
    const out = written(to);
    expect(out.length).toBeLessThanOrEqual(8);
    expect(out[0]![1]).toBe(1); // VIRTIO_NET_HDR_GSO_TCPV4: written back as a super-packet
    const { bytes, seqs } = tcpStream(out);
    expect(seqs[0]).toBe(seq);
    expectPattern(bytes, seq, 4 * segments * MSS);
    expect(to.counter("coalesceIn")).toBeGreaterThan(to.counter("coalesceOut"));
  });

  test("without offloads (no virtio-net header, no GSO/GRO) every packet travels alone and still arrives", () => {
    const p = planePair({ vnetHeader: false, gso: false, gro: false });
    p.configure();
    const pkts = Array.from({ length: 20 }, (_, i) => udp4({ src: p.a.inner4, dst: p.b.inner4, sport: 1, dport: 2, payload: 200 + i }));
    for (const pkt of pkts) p.a.host.tun.inject(pkt);
    p.pump();
    const out = written(p.b);
    expect(out).toEqual(pkts);
    expect(p.b.counter("groMessages")).toBe(0);
  });

  test("IPv6 outside and inside", () => {
    const p = planePair();
    p.configure({ endpointFamily: 6 });
    const pkt = udpPacket(p.a, p.b, 900, true);
    p.a.host.tun.inject(pkt);
    p.pump();
    const out = written(p.b);
    expect(out.length).toBe(1);
    expect(out[0]!.subarray(VNET)).toEqual(pkt.subarray(VNET));
    expect(p.a.host.socket(6).sender.datagramsOut).toBeGreaterThan(0);
    expect(p.a.host.socket(4).sender.datagramsOut).toBe(0);
    expect(p.b.stats.readEndpoint(0).endpoint?.addr).toEqual(parseIp(p.a.outer6));
  });

  test("after REKEY_AFTER_TIME the sender rekeys on the clock, and traffic carries on", () => {
    const p = planePair();
    p.configure();
    p.a.host.tun.inject(udpPacket(p.a, p.b, 64));
    p.pump();
    expect(p.a.counter("handshakesCompleted")).toBe(1);
    written(p.b);
    p.advance(REKEY_AFTER_TIME_MS + 1000, 10_000);
    // The initiator's next send after REKEY_AFTER_TIME starts a new handshake (whitepaper §6.2).
    p.a.host.tun.inject(udpPacket(p.a, p.b, 64));
    p.pump();
    p.advance(500);
    expect(p.a.counter("handshakesCompleted")).toBe(2);
    p.a.host.tun.inject(udpPacket(p.a, p.b, 65));
    p.pump();
    expect(written(p.b).map((w) => w.length)).toEqual([VNET + 28 + 64, VNET + 28 + 65]);
  });

  test("roaming: when A's outer address changes, B follows it and answers there", () => {
    const p = planePair();
    p.configure();
    p.a.host.tun.inject(udpPacket(p.a, p.b, 64));
    p.pump();
    written(p.b);
    p.a.host.moveTo("198.18.0.11");
    p.a.host.tun.inject(udpPacket(p.a, p.b, 65));
    p.pump();
    expect(written(p.b).length).toBe(1);
    expect(p.b.stats.readEndpoint(0).endpoint?.addr).toEqual(parseIp("198.18.0.11"));
    p.b.host.tun.inject(udpPacket(p.b, p.a, 66));
    p.pump();
    expect(written(p.a).length).toBe(1);
    expect(p.b.stats.readPeer(0).endpointRoams).toBe(1);
  });

  test("loss: a lost initiation is retried after REKEY_TIMEOUT; lost data is just missing, the rest arrives in order", () => {
    const p = planePair();
    p.configure();
    let dropInitiations = 1;
    p.net.lose = (d) => d[0] === 1 && dropInitiations-- > 0;
    p.a.host.tun.inject(udpPacket(p.a, p.b, 64));
    p.pump();
    expect(p.a.counter("handshakesCompleted")).toBe(0);
    expect(written(p.b).length).toBe(0);
    p.advance(REKEY_TIMEOUT_MS + 1000);
    expect(p.a.counter("handshakesCompleted")).toBe(1);
    // The staged packet went out with the new session.
    expect(written(p.b).length).toBe(1);

    // Every fifth data datagram is lost.
    let n = 0;
    p.net.lose = (d) => d[0] === 4 && n++ % 5 === 2;
    const segments = 40;
    const seq = 1000;
    p.a.host.tun.inject(tsoPacket(p.a, p.b, seq, segments));
    p.pump();
    const { bytes, seqs } = tcpStream(written(p.b));
    const lost = Math.floor((segments - 3) / 5) + 1;
    expect(bytes.length).toBe((segments - lost) * MSS);
    for (let i = 1; i < seqs.length; i++) expect(seqs[i]!).toBeGreaterThan(seqs[i - 1]!);
    // What arrived is the sender's bytes at their sequence numbers.
    for (const s of seqs) expect((s - seq) % MSS === 0).toBe(true);
    expect(p.b.counter("dropReplay")).toBe(0);
  });
});

describe("in-process: crypto helpers", () => {
  test("with a helper sealing and opening on each side, 64 super-packets arrive whole and in order, and the helpers did part of the work", async () => {
    const p = makePair({ workers: 2 });
    p.configure();
    await p.helpersUp();
    p.a.host.tun.inject(udpPacket(p.a, p.b, 10));
    p.pump();
    written(p.b);
    const seq = 1_000_000;
    const segments = 46;
    const count = 64;
    for (let i = 0; i < count; i++) p.a.host.tun.inject(tsoPacket(p.a, p.b, seq + i * segments * MSS, segments));
    p.pump();
    const { bytes, seqs } = tcpStream(written(p.b));
    // Zero reordering: every write starts after the one before, and the bytes are the stream.
    for (let i = 1; i < seqs.length; i++) expect(seqs[i]!).toBeGreaterThan(seqs[i - 1]!);
    expectPattern(bytes, seq, count * segments * MSS);
    expect(p.a.counter("cryptoPacketsHelpers") + p.b.counter("cryptoPacketsHelpers")).toBeGreaterThan(0);
    expect(p.a.counter("cryptoPacketsHelpers") + p.a.counter("cryptoPacketsInline")).toBeGreaterThanOrEqual(count * segments);
    expect(p.b.counter("dropReplay") + p.b.counter("dropBadMac") + p.b.counter("dropOther")).toBe(0);
  });
});

describe("in-process: arrival checks", () => {
  test("a datagram with a handshake type and size but junk in the reserved bytes is malformed, not a bad MAC", () => {
    const p = makePair();
    p.configure();
    const junk = new Uint8Array(148);
    junk[0] = 1; // initiation
    junk[2] = 0x5a; // a reserved byte that must be zero
    const memory = p.net.memory;
    const at = memory.addressOf(junk);
    const from = p.a.host.socket(4).sockaddr;
    p.b.host.socket(4).arrive(memory, new Float64Array([at]), new Int32Array([junk.length]), 0, 1, from);
    p.pump();
    expect(p.b.counter("dropMalformed")).toBe(1);
    expect(p.b.counter("dropBadMac")).toBe(0);
  });
});
