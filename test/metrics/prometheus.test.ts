import { describe, expect, test } from "bun:test";
import type { DeviceStatus, PeerStatus } from "../../src/device/device-status.ts";
import { escapeLabel, renderPrometheus, snakeReason } from "../../src/device/prometheus.ts";
import { COUNTERS, type Counters } from "../../src/device/shared-stats.ts";
import { parseExposition, sampleValue } from "../support/prometheus-parse.ts";

function peer(publicKey: string, over: Partial<PeerStatus> = {}): PeerStatus {
  return {
    publicKey,
    endpoint: "198.19.1.2:51821",
    latestHandshakeMs: 1_764_800_000_123,
    txBytes: 1000,
    rxBytes: 2000,
    txPackets: 10,
    rxPackets: 20,
    endpointRoams: 2,
    persistentKeepaliveInterval: 25,
    allowedIps: ["198.18.1.2/32"],
    localSource: null,
    ...over,
  };
}

function status(name: string, peers: PeerStatus[]): DeviceStatus {
  const counters = Object.fromEntries(COUNTERS.map((c, i) => [c, (i + 1) * 10])) as Counters;
  const drops: Record<string, number> = {};
  for (const [k, v] of Object.entries(counters))
    if (k.startsWith("drop") || k === "handshakeQueueDrops" || k === "tunWriteErrors" || k === "sendErrors") drops[k] = v;
  return {
    interfaceName: name,
    listenPort: 51820,
    crypto: "libcrypto",
    offloads: { vnetHeader: true, offloadFlags: 0x67, tso: true, uso: true, tcpGro: true, udpGro: false, reasons: ["GRO off: test"], description: [] },
    udp: { v4: { gso: true, gro: true }, v6: null, notes: [] },
    counters,
    derived: { segmentsPerSuperPacket: 46.85, datagramsPerGsoBatch: 29.38, datagramsPerGroMessage: 6.61, coalesceRatio: 1 },
    drops,
    workers: { setting: 4, count: 4, cores: 8, helpersUp: 3 },
    peers,
  };
}

describe("Prometheus exposition", () => {
  const a = status("lab0", [peer("h0en2RD6IRFjm9Zr1vBydYsHTNfBNh0G5Jbv/FSZBSo=")]);
  const b = status("lab1", [peer("MzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzM=", { latestHandshakeMs: 0, rxBytes: 7 })]);
  const text = renderPrometheus([a, b]);
  const fams = parseExposition(text);

  test("is valid format 0.0.4: every family once, with HELP and TYPE, samples grouped under it", () => {
    expect(fams.size).toBeGreaterThan(40);
    for (const [name, f] of fams) {
      expect(f.help.length).toBeGreaterThan(0);
      expect(["counter", "gauge"]).toContain(f.type);
      if (f.type === "counter") expect(name.endsWith("_total")).toBe(true);
    }
  });

  test("per-peer bytes, packets, last handshake (seconds), roams, per interface and public key", () => {
    const k = { interface: "lab0", public_key: "h0en2RD6IRFjm9Zr1vBydYsHTNfBNh0G5Jbv/FSZBSo=" };
    expect(sampleValue(fams, "tunnel_peer_receive_bytes_total", k)).toBe(2000);
    expect(sampleValue(fams, "tunnel_peer_transmit_bytes_total", k)).toBe(1000);
    expect(sampleValue(fams, "tunnel_peer_receive_packets_total", k)).toBe(20);
    expect(sampleValue(fams, "tunnel_peer_transmit_packets_total", k)).toBe(10);
    expect(sampleValue(fams, "tunnel_peer_last_handshake_seconds", k)).toBe(1_764_800_000);
    expect(sampleValue(fams, "tunnel_peer_endpoint_changes_total", k)).toBe(2);
    expect(sampleValue(fams, "tunnel_peer_last_handshake_seconds", { interface: "lab1" })).toBe(0);
    expect(sampleValue(fams, "tunnel_peer_receive_bytes_total", { interface: "lab1" })).toBe(7);
  });

  test("every counter of the shared stats is exported, drops by reason, the queue depth as a gauge", () => {
    const c = a.counters;
    expect(sampleValue(fams, "tunnel_dropped_packets_total", { interface: "lab0", reason: "no_route" })).toBe(c.dropNoRoute);
    expect(sampleValue(fams, "tunnel_dropped_packets_total", { interface: "lab0", reason: "handshake_source_share" })).toBe(c.dropHandshakeSourceShare);
    expect(sampleValue(fams, "tunnel_dropped_packets_total", { interface: "lab0", reason: "handshake_queue_drops" })).toBe(c.handshakeQueueDrops);
    expect(sampleValue(fams, "tunnel_cookie_replies_sent_total", { interface: "lab0" })).toBe(c.cookieRepliesSent);
    expect(sampleValue(fams, "tunnel_udp_gso_fallbacks_total", { interface: "lab0" })).toBe(c.gsoDisabledEio);
    expect(fams.get("tunnel_handshake_queue_depth")!.type).toBe("gauge");
    expect(sampleValue(fams, "tunnel_handshake_queue_depth", { interface: "lab1" })).toBe(c.handshakeQueueDepth);
    // Every counter value appears somewhere for lab0: none is forgotten.
    const values = new Set([...fams.values()].flatMap((f) => f.samples.filter((s) => s.labels.interface === "lab0").map((s) => s.value)));
    for (const name of COUNTERS) expect(values.has(c[name])).toBe(true);
  });

  test("offload state and ratios", () => {
    expect(sampleValue(fams, "tunnel_tun_offload_enabled", { interface: "lab0", feature: "uso" })).toBe(1);
    expect(sampleValue(fams, "tunnel_tun_offload_enabled", { interface: "lab0", feature: "udp_coalescing" })).toBe(0);
    expect(sampleValue(fams, "tunnel_udp_offload_enabled", { interface: "lab0", family: "4", feature: "gso" })).toBe(1);
    expect(sampleValue(fams, "tunnel_udp_socket_open", { interface: "lab0", family: "6" })).toBe(0);
    expect(sampleValue(fams, "tunnel_segments_per_super_packet", { interface: "lab0" })).toBe(46.85);
    expect(sampleValue(fams, "tunnel_info", { interface: "lab0" })).toBe(1);
  });

  test("label values are escaped", () => {
    expect(escapeLabel('a"b\\c\nd')).toBe('a\\"b\\\\c\\nd');
    const odd = renderPrometheus([status('we"ird\\', [])]);
    expect(sampleValue(parseExposition(odd), "tunnel_listen_port", { interface: 'we"ird\\' })).toBe(51820);
  });

  test("reason names", () => {
    expect(snakeReason("dropBadMac")).toBe("bad_mac");
    expect(snakeReason("tunWriteErrors")).toBe("tun_write_errors");
  });
});
