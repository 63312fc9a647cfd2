// Floods against the responder of an established tunnel (issue 11 §1, §5),
// from a third namespace with our own generator (test/reliability/flood/):
// garbage, forged transport and bad-mac1 initiations at the sender's full
// rate must be counted drops, and a 20k/s flood of initiations with a valid
// mac1 (which anyone who knows the public key can make) must put the
// responder "under load": cookie replies instead of a Diffie-Hellman per
// packet, the established session untouched, a new peer's handshake through
// within 6 s (one REKEY_TIMEOUT retry with the cookie), memory bounded.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { describePrivileged } from "../support/privileges.ts";
import { iperf3, pingUntil } from "../support/netns.ts";
import { alive, daemonPid, down, dropDelta, drops, flood, memoryMB, pingStats, startTopology, udpRcvbufErrors, up, type Topology } from "./harness.ts";

const PREFIX = "rfl";
/** RSS_LIMIT_MB is issue 11's bound for a daemon under attack. */
const RSS_LIMIT_MB = 150;
const HANDSHAKE_FLOOD_RATE = 20_000;
/** FRESH_HANDSHAKE_MS: one cookie-less attempt, REKEY_TIMEOUT (5 s), the retry with mac2; wireguard-go takes 5.0 s. */
const FRESH_HANDSHAKE_MS = 6000;
const MAX_PING_LOSS_PERCENT = 1;
/** MIN_THROUGHPUT_SHARE: TCP through the flooded responder keeps at least half its unflooded rate. */
const MIN_THROUGHPUT_SHARE = 0.5;
const TCP_SECONDS = 2;
/** BACKGROUND_DROPS: drops of other reasons a flood's few seconds may see anyway. */
const BACKGROUND_DROPS = 5;

describePrivileged("reliability: floods against an established tunnel", { root: true, commands: ["ip", "ping", "nstat", "iperf3"] }, () => {
  let t: Topology;
  let pidB = 0;

  beforeAll(async () => {
    t = await startTopology(PREFIX, 70, 52110);
    pidB = daemonPid(t.nsB, t.names.b);
  }, 60_000);

  afterAll(() => t?.stop());

  test.each([
    ["garbage", ["dropMalformed", "dropTruncated"]],
    ["transport", ["dropUnknownIndex"]],
    // Initiations wait in the handshake queue before their mac1 is checked; one source may hold only a share of it.
    ["bad-mac1-init", ["dropBadMac", "dropHandshakeSourceShare", "handshakeQueueDrops"]],
  ] as const)(
    "a %s flood at the sender's full rate is counted as dropped and the tunnel carries on",
    async (kind, reasons) => {
      const before = drops(t.bin, t.names.b);
      const kernelBefore = udpRcvbufErrors(t.nsB);
      const r = await flood(t.nsF, ["--target", `${t.bOuterForF}:${t.ports.b}`, "--kind", kind, "--rate", "max", "--seconds", "2"]);
      await Bun.sleep(300); // let the daemon finish its backlog before reading counters
      const delta = dropDelta(before, drops(t.bin, t.names.b));
      const kernel = udpRcvbufErrors(t.nsB) - kernelBefore;
      const counted = reasons.reduce((s, k) => s + (delta[k] ?? 0), 0);
      console.log(
        `${kind}: sent ${r.sent} (${Math.round(r.sentPerSecond)} pps); daemon counted ${JSON.stringify(delta)}; kernel socket-buffer drops ${kernel}; replies ${JSON.stringify(r.received)}`,
      );
      expect(alive(pidB)).toBe(true);
      expect(r.sent).toBeGreaterThan(10_000);
      // Whatever the daemon read it counted, under the reason the kind promises.
      expect(counted).toBeGreaterThan(0);
      expect(counted + kernel).toBeGreaterThanOrEqual(r.sent * 0.5);
      expect(counted).toBeLessThanOrEqual(r.sent);
      // Other reasons stay at the background's level (the kernel's own IPv6 chatter on the TUN is a no-route drop).
      for (const k of Object.keys(delta)) if (!(reasons as readonly string[]).includes(k)) expect(delta[k]!).toBeLessThanOrEqual(BACKGROUND_DROPS);
      // Nothing of it deserved an answer.
      expect(r.received).toEqual({});
      const p = await pingStats(t.nsA, t.inner.b, 5, 0.2);
      expect(p.lossPercent).toBe(0);
      expect(memoryMB(pidB).peak).toBeLessThanOrEqual(RSS_LIMIT_MB);
    },
    30_000,
  );

  interface HandshakeFlood {
    sentPerSecond: number;
    cookieReplies: number;
    lossPercent: number;
    tcpShare: number;
    freshMs: number | null;
    peakMB: number;
    stillFlooding: boolean;
  }

  /** handshakeFlood floods B with valid-mac1 initiations at rate while measuring the session, TCP and a new peer (C). */
  const handshakeFlood = async (rate: string): Promise<HandshakeFlood> => {
    await pingUntil(t.nsA, t.inner.b);
    // C must handshake from scratch: a fresh daemon has no session, whatever B remembers.
    // It starts before the flood, so its own start-up (which a starved machine
    // stretches) is not counted as handshake time; it sends nothing until pinged.
    down(t.bin, t.nsA, t.names.c);
    up(t.bin, t.nsA, t.configs.c);
    // Measured right before the flood: the machine's other load moves it a lot from minute to minute.
    const unfloodedBps = (await iperf3(t.nsA, t.nsB, t.inner.b, { seconds: TCP_SECONDS, port: 5311 })).bitsPerSecond;
    const seconds = 18;
    const floodDone = flood(t.nsF, [
      "--target",
      `${t.bOuterForF}:${t.ports.b}`,
      "--pubkey",
      t.keys.b.pub,
      "--kind",
      "mac1-init",
      "--rate",
      rate,
      "--seconds",
      String(seconds),
    ]);
    const startedAt = performance.now();
    await Bun.sleep(1500); // the responder's backlog builds: measure in the steady state
    // The established session, and a new peer (C, configured on B) handshaking at the same time.
    const session = pingStats(t.nsA, t.inner.b, 100, 0.05);
    const freshStart = performance.now();
    let freshMs: number | null = null;
    while (performance.now() - freshStart < FRESH_HANDSHAKE_MS + 4000 && performance.now() - startedAt < (seconds - TCP_SECONDS - 4) * 1000) {
      const out = t.nsA.exec(["ping", "-c", "1", "-W", "1", t.inner.bForC], { allowFail: true });
      if (out.includes(" 0% packet loss")) {
        freshMs = performance.now() - freshStart;
        break;
      }
    }
    const p = await session;
    const tcpBps = await iperf3(t.nsA, t.nsB, t.inner.b, { seconds: TCP_SECONDS, port: 5311 }).then(
      (r) => r.bitsPerSecond,
      () => 0, // iperf3 could not even connect
    );
    const stillFlooding = performance.now() - startedAt < seconds * 1000;
    const r = await floodDone;
    const mem = memoryMB(pidB);
    console.log(
      `handshake flood ${rate}/s: sent ${r.sent} (${Math.round(r.sentPerSecond)} pps), cookie replies ${r.cookieReplies}, other replies ${JSON.stringify(r.received)}; ` +
        `session ping loss ${p.lossPercent.toFixed(1)} % (avg ${p.avgMs ?? "-"} ms), TCP ${(tcpBps / 1e6).toFixed(0)} of ${(unfloodedBps / 1e6).toFixed(0)} Mb/s unflooded; new peer's handshake ${freshMs === null ? "none" : `${(freshMs / 1000).toFixed(2)} s`}; B RSS ${mem.rss.toFixed(0)} MB, peak ${mem.peak.toFixed(0)} MB`,
    );
    expect(alive(pidB)).toBe(true);
    return {
      sentPerSecond: r.sentPerSecond,
      cookieReplies: r.cookieReplies,
      lossPercent: p.lossPercent,
      tcpShare: tcpBps / unfloodedBps,
      freshMs,
      peakMB: mem.peak,
      stillFlooding,
    };
  };

  test(`a ${HANDSHAKE_FLOOD_RATE}/s flood of valid-mac1 initiations: cookie replies, ≤ ${MAX_PING_LOSS_PERCENT} % loss and ≥ ${MIN_THROUGHPUT_SHARE * 100} % throughput on the session, a new peer within ${FRESH_HANDSHAKE_MS / 1000} s, RSS ≤ ${RSS_LIMIT_MB} MB`, async () => {
    const f = await handshakeFlood(String(HANDSHAKE_FLOOD_RATE));
    expect(f.stillFlooding).toBe(true);
    // Two shared cores: the generator competes with the daemon it floods (and with
    // everything else on the machine), so allow it to fall short; 14k/s is still
    // more than the pre-fix responder's ~11k DH/s.
    expect(f.sentPerSecond).toBeGreaterThan(HANDSHAKE_FLOOD_RATE * 0.7);
    expect(f.cookieReplies).toBeGreaterThan(0);
    expect(f.lossPercent).toBeLessThanOrEqual(MAX_PING_LOSS_PERCENT);
    expect(f.tcpShare).toBeGreaterThanOrEqual(MIN_THROUGHPUT_SHARE);
    expect(f.freshMs).not.toBeNull();
    expect(f.freshMs!).toBeLessThanOrEqual(FRESH_HANDSHAKE_MS);
    expect(f.peakMB).toBeLessThanOrEqual(RSS_LIMIT_MB);
  }, 60_000);

  // At the sender's maximum the throughput share is logged, not asserted: on
  // two shared cores the sender, both daemons and iperf3 compete, and neither
  // tunnel (31 %) nor wireguard-go (23 %) kept half in bench/flood.ts.
  test(`a flood at the sender's full rate: cookie replies, ≤ ${MAX_PING_LOSS_PERCENT} % loss on the session, a new peer within ${FRESH_HANDSHAKE_MS / 1000} s, RSS ≤ ${RSS_LIMIT_MB} MB`, async () => {
    const f = await handshakeFlood("max");
    expect(f.stillFlooding).toBe(true);
    expect(f.sentPerSecond).toBeGreaterThan(HANDSHAKE_FLOOD_RATE);
    expect(f.cookieReplies).toBeGreaterThan(0);
    expect(f.lossPercent).toBeLessThanOrEqual(MAX_PING_LOSS_PERCENT);
    expect(f.freshMs).not.toBeNull();
    expect(f.freshMs!).toBeLessThanOrEqual(FRESH_HANDSHAKE_MS);
    expect(f.peakMB).toBeLessThanOrEqual(RSS_LIMIT_MB);
  }, 60_000);
});
