// The Prometheus text exposition (format 0.0.4) of what `tunnel status`
// knows: one family per metric with # HELP and # TYPE, samples labelled by
// interface (and public_key for peers). Raw counters are exported next to
// the derived ratios so PromQL can compute rates over any window; the ratios
// are since-start averages for humans reading one scrape.
import type { DeviceStatus } from "./device-status.ts";
import type { CounterName } from "./shared-stats.ts";

export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

type Kind = "counter" | "gauge";
type Labels = Record<string, string>;

interface Family {
  help: string;
  kind: Kind;
  samples: { labels: Labels; value: number }[];
}

/**
 * DEVICE_COUNTERS maps every device counter that is not a drop to its metric
 * (drops go to tunnel_dropped_packets_total by reason). The Record type makes
 * a new counter in shared-stats.ts a compile error here until it is named.
 */
const DEVICE_COUNTERS: Record<Exclude<CounterName, `drop${string}` | "handshakeQueueDrops" | "tunWriteErrors" | "sendErrors">, [string, Kind, string]> = {
  tunReads: ["tunnel_tun_reads_total", "counter", "TUN reads (each one packet or one super-packet)."],
  tunReadBytes: ["tunnel_tun_read_bytes_total", "counter", "Bytes read from the TUN device, virtio-net headers excluded."],
  superPackets: ["tunnel_tun_super_packets_total", "counter", "TUN reads that carried a TSO/USO super-packet of more than one segment."],
  segments: ["tunnel_tun_segments_total", "counter", "MTU-sized packets the TUN reads carried after splitting super-packets."],
  txPackets: ["tunnel_transmit_packets_total", "counter", "Transport messages sealed and handed to the outer sockets."],
  txBytes: ["tunnel_transmit_bytes_total", "counter", "Bytes of those transport messages as sent (UDP payload, WireGuard overhead included)."],
  sendCalls: ["tunnel_udp_send_calls_total", "counter", "sendmmsg calls on the outer sockets."],
  sendMessages: ["tunnel_udp_send_messages_total", "counter", "Messages (one datagram or one UDP GSO batch) those calls carried."],
  gsoBatches: ["tunnel_udp_gso_batches_total", "counter", "Messages sent as UDP GSO batches (UDP_SEGMENT)."],
  gsoDatagrams: ["tunnel_udp_gso_datagrams_total", "counter", "Datagrams sent inside UDP GSO batches."],
  gsoDisabledEio: [
    "tunnel_udp_gso_fallbacks_total",
    "counter",
    "Times the kernel refused a UDP GSO send with EIO and the socket fell back to one datagram per message.",
  ],
  stickySourceResets: [
    "tunnel_sticky_source_resets_total",
    "counter",
    "Sticky local source addresses dropped because the kernel refused them (routing picks again).",
  ],
  recvCalls: ["tunnel_udp_receive_calls_total", "counter", "recvmmsg calls on the outer sockets."],
  recvMessages: ["tunnel_udp_receive_messages_total", "counter", "Messages (one datagram or one UDP GRO batch) received."],
  groMessages: ["tunnel_udp_gro_messages_total", "counter", "Received messages that were UDP GRO batches of several datagrams."],
  groDatagrams: ["tunnel_udp_gro_datagrams_total", "counter", "Datagrams received inside UDP GRO batches."],
  recvDatagrams: ["tunnel_udp_receive_datagrams_total", "counter", "Datagrams received on the outer sockets."],
  rxPackets: ["tunnel_receive_packets_total", "counter", "Transport messages decrypted (keepalives included)."],
  rxBytes: ["tunnel_receive_bytes_total", "counter", "Bytes of inner packets they carried (plaintext, WireGuard overhead excluded)."],
  coalesceIn: ["tunnel_tun_coalesce_in_packets_total", "counter", "Decrypted packets offered to the TUN write coalescer."],
  coalesceOut: ["tunnel_tun_coalesce_out_writes_total", "counter", "TUN writes the coalescer made of them."],
  tunWrites: ["tunnel_tun_writes_total", "counter", "TUN writes."],
  handshakesReceived: ["tunnel_handshakes_received_total", "counter", "Handshake messages received."],
  handshakesSent: ["tunnel_handshakes_sent_total", "counter", "Handshake messages sent."],
  handshakesCompleted: ["tunnel_handshakes_completed_total", "counter", "Handshakes completed (sessions derived)."],
  cookieRepliesSent: ["tunnel_cookie_replies_sent_total", "counter", "Cookie replies sent to handshake initiators while under load."],
  handshakesUnderLoad: ["tunnel_handshakes_under_load_total", "counter", "Handshake messages processed while the handshake queue was under load."],
  handshakesPrioritized: ["tunnel_handshakes_prioritized_total", "counter", "Handshake messages with a valid cookie (mac2) taken ahead of the queue."],
  handshakeQueueDepth: ["tunnel_handshake_queue_depth", "gauge", "Handshake messages waiting in the queue at the data plane's last turn."],
  cryptoPacketsInline: ["tunnel_crypto_packets_dataplane_total", "counter", "Packets sealed or opened on the data plane's own thread."],
  cryptoPacketsHelpers: ["tunnel_crypto_packets_helpers_total", "counter", "Packets sealed or opened by crypto helper threads."],
  cryptoWaits: ["tunnel_crypto_waits_total", "counter", "Batches whose completion waited for a crypto helper's last chunk."],
  cryptoHelperStalls: ["tunnel_crypto_helper_stalls_total", "counter", "Times a crypto helper held a chunk too long and helpers were switched off."],
  cryptoHelpersUp: ["tunnel_crypto_helpers", "gauge", "Crypto helper threads taking work (workers - 1 unless switched off)."],
  loopIterations: ["tunnel_dataplane_loop_iterations_total", "counter", "Data-plane event-loop turns."],
  controlMessages: ["tunnel_dataplane_control_messages_total", "counter", "Configuration messages the data plane applied."],
};

/** snakeReason turns "dropNoRoute" into "no_route" and "handshakeQueueDrops" into "handshake_queue_drops". */
export function snakeReason(key: string): string {
  return key
    .replace(/^drop(?=[A-Z])/, "")
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .toLowerCase();
}

/** escapeLabel escapes a label value as format 0.0.4 requires (backslash, quote, newline). */
export function escapeLabel(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}

class Exposition {
  private readonly families = new Map<string, Family>();

  add(name: string, kind: Kind, help: string, labels: Labels, value: number): void {
    let f = this.families.get(name);
    if (f === undefined) {
      f = { help, kind, samples: [] };
      this.families.set(name, f);
    }
    f.samples.push({ labels, value });
  }

  text(): string {
    const out: string[] = [];
    for (const [name, f] of this.families) {
      out.push(`# HELP ${name} ${escapeHelp(f.help)}`, `# TYPE ${name} ${f.kind}`);
      for (const s of f.samples) {
        const labels = Object.entries(s.labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
        out.push(`${name}${labels.length ? `{${labels.join(",")}}` : ""} ${formatValue(s.value)}`);
      }
    }
    return `${out.join("\n")}\n`;
  }
}

const b = (x: boolean): number => (x ? 1 : 0);

function addDevice(e: Exposition, s: DeviceStatus): void {
  const i = { interface: s.interfaceName };
  e.add("tunnel_info", "gauge", "Always 1; the labels say which crypto backend the interface uses.", { ...i, crypto: s.crypto }, 1);
  e.add("tunnel_listen_port", "gauge", "UDP port the interface listens on.", i, s.listenPort);
  const o = s.offloads;
  const tun: [string, boolean][] = [
    ["vnet_header", o.vnetHeader],
    ["tso", o.tso],
    ["uso", o.uso],
    ["tcp_coalescing", o.tcpGro],
    ["udp_coalescing", o.udpGro],
  ];
  for (const [feature, on] of tun) {
    e.add(
      "tunnel_tun_offload_enabled",
      "gauge",
      "1 when the TUN offload is in use (tso/uso: the kernel hands us super-packets; *_coalescing: we write coalesced ones, after the GRO write probe).",
      { ...i, feature },
      b(on),
    );
  }
  for (const [family, sock] of [
    ["4", s.udp.v4],
    ["6", s.udp.v6],
  ] as const) {
    e.add("tunnel_udp_socket_open", "gauge", "1 when the outer socket of this address family is open.", { ...i, family }, b(sock !== null));
    if (sock === null) continue;
    e.add(
      "tunnel_udp_offload_enabled",
      "gauge",
      "1 when UDP GSO (send) or UDP GRO (receive) is in use on the outer socket.",
      { ...i, family, feature: "gso" },
      b(sock.gso),
    );
    e.add(
      "tunnel_udp_offload_enabled",
      "gauge",
      "1 when UDP GSO (send) or UDP GRO (receive) is in use on the outer socket.",
      { ...i, family, feature: "gro" },
      b(sock.gro),
    );
  }
  for (const [key, [name, kind, help]] of Object.entries(DEVICE_COUNTERS)) e.add(name, kind, help, i, s.counters[key as CounterName] ?? 0);
  for (const [key, n] of Object.entries(s.drops)) {
    e.add("tunnel_dropped_packets_total", "counter", "Packets the device threw away, by reason.", { ...i, reason: snakeReason(key) }, n);
  }
  const d = s.derived;
  e.add(
    "tunnel_segments_per_super_packet",
    "gauge",
    "Average MTU-sized segments per TUN read since start (TSO/USO at work; 1 = no super-packets).",
    i,
    d.segmentsPerSuperPacket,
  );
  e.add("tunnel_datagrams_per_gso_batch", "gauge", "Average datagrams per UDP GSO send since start.", i, d.datagramsPerGsoBatch);
  e.add("tunnel_datagrams_per_gro_message", "gauge", "Average datagrams per UDP GRO receive since start.", i, d.datagramsPerGroMessage);
  e.add("tunnel_coalesce_ratio", "gauge", "Average decrypted packets per coalesced TUN write since start.", i, d.coalesceRatio);
  if (s.workers !== undefined)
    e.add(
      "tunnel_workers",
      "gauge",
      "Data-plane threads configured: the data plane and its crypto helpers (workers setting, auto resolved for the cores).",
      i,
      s.workers.count,
    );
}

function addPeers(e: Exposition, s: DeviceStatus): void {
  for (const p of s.peers) {
    const l = { interface: s.interfaceName, public_key: p.publicKey };
    e.add("tunnel_peer_receive_bytes_total", "counter", "Bytes of transport messages received from the peer (as wg show transfer).", l, p.rxBytes);
    e.add("tunnel_peer_transmit_bytes_total", "counter", "Bytes of transport messages sent to the peer (as wg show transfer).", l, p.txBytes);
    e.add("tunnel_peer_receive_packets_total", "counter", "Transport messages (keepalives included) received from the peer.", l, p.rxPackets ?? 0);
    e.add("tunnel_peer_transmit_packets_total", "counter", "Transport messages (keepalives included) sent to the peer.", l, p.txPackets ?? 0);
    e.add(
      "tunnel_peer_last_handshake_seconds",
      "gauge",
      "Unix time of the latest completed handshake with the peer; 0 = never.",
      l,
      Math.floor(p.latestHandshakeMs / 1000),
    );
    e.add(
      "tunnel_peer_endpoint_changes_total",
      "counter",
      "Times an authenticated packet from a new address moved the peer's endpoint (roaming).",
      l,
      p.endpointRoams ?? 0,
    );
    e.add("tunnel_peer_persistent_keepalive_seconds", "gauge", "Persistent keepalive interval; 0 = off.", l, p.persistentKeepaliveInterval);
  }
}

/** renderPrometheus is the exposition of every status document given (one per interface). */
export function renderPrometheus(statuses: readonly DeviceStatus[]): string {
  const e = new Exposition();
  for (const s of statuses) addDevice(e, s);
  for (const s of statuses) addPeers(e, s);
  return e.text();
}
