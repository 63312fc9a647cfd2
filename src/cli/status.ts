// `tunnel status [NAME] [--json]`: what the device and its offloads are
// doing. Users cannot see GSO/GRO at work any other way, so next to peers and
// transfer it shows segments per super-packet, datagrams per UDP GSO batch,
// the coalescing ratio and every drop counter. For an interface served by
// another userspace WireGuard (no status socket), it shows what UAPI knows.
// Sockets a dead daemon left (kill -9) are listed as stale next to the live
// interfaces, never in their way.
//
// The common case (our daemon answers its status socket) loads as little as
// possible: the command's latency under load is mostly its own start-up, so
// the probes for stale sockets and other implementations (libc through FFI,
// node:net) and the Prometheus exposition are imported only when needed.
import { readdirSync } from "node:fs";
import { defineCommand } from "citty";
import type { DeviceStatus } from "../device/device-status.ts";
import { DEFAULT_STATUS_RUN_DIR, DEFAULT_UAPI_RUN_DIR } from "../device/socket-paths.ts";
import { queryStatus } from "../device/status-query.ts";
import type { LiveWgState } from "../device/uapi/client.ts";
import { netnsOf } from "../device/netns-of.ts";
import type { DaemonState } from "./daemon-state.ts";
import { CliError, EXIT } from "./errors.ts";
import { writeData } from "./output.ts";

/** listInterfaces names every interface with a socket in either run directory. */
function listInterfaces(dirs: string[]): string[] {
  const names = new Set<string>();
  for (const dir of dirs) {
    try {
      for (const f of readdirSync(dir)) if (f.endsWith(".sock")) names.add(f.slice(0, -5));
    } catch {
      // no such directory: nothing ran yet
    }
  }
  return [...names].sort();
}

function ago(ms: number, now: number): string {
  if (ms === 0) return "never";
  const s = Math.max(0, Math.round((now - ms) / 1000));
  return s < 120 ? `${s} s ago` : `${Math.round(s / 60)} min ago`;
}

function bytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i === 0 ? 0 : 2)} ${units[i]}`;
}

function base64Key(hexOrB64: string): string {
  return /^[0-9a-f]{64}$/.test(hexOrB64) ? Buffer.from(hexOrB64, "hex").toString("base64") : hexOrB64;
}

/** dropLabel turns a counter name such as "dropNoRoute" into "no route". */
function dropLabel(key: string): string {
  return key
    .replace(/^drop/, "")
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .toLowerCase()
    .trim();
}

/**
 * handshakeLine says what handshake processing is doing, and under a flood
 * how the device defends itself: messages answered with cookie replies
 * instead of a Diffie-Hellman, retries with a valid mac2 taken first, and
 * the queue's depth right now.
 */
function handshakeLine(c: DeviceStatus["counters"]): string {
  let line = `  handshakes: ${c.handshakesReceived} received, ${c.handshakesSent} sent, ${c.handshakesCompleted} completed`;
  if (c.handshakesUnderLoad > 0 || c.cookieRepliesSent > 0) {
    line += `; under load for ${c.handshakesUnderLoad} (answered ${c.cookieRepliesSent} with cookie replies, ${c.handshakesPrioritized} mac2 retries taken first), queue depth ${c.handshakeQueueDepth}`;
  }
  return line;
}

/**
 * workersLine says how many threads the data plane has and what the crypto
 * helpers do: the share of seals and opens they took, and how often the data
 * plane had to wait for one (a high share with many waits means the helpers
 * are the bottleneck; none taken means the traffic is too light to hand off).
 */
function workersLine(s: DeviceStatus): string | null {
  const w = s.workers;
  if (w === undefined) return null;
  const c = s.counters;
  const why = w.setting === "auto" ? `auto for ${w.cores} core${w.cores === 1 ? "" : "s"}` : "set";
  let line = `  workers: ${w.count} (${why})`;
  if (w.count === 1) return `${line}: the data plane seals and opens on its own thread`;
  line += `: the data plane + ${w.helpersUp} of ${w.count - 1} crypto helper${w.count === 2 ? "" : "s"} running`;
  const total = c.cryptoPacketsHelpers + c.cryptoPacketsInline;
  if (total > 0) {
    const share = Math.round((c.cryptoPacketsHelpers / total) * 100);
    line += `; helpers sealed or opened ${share} % of ${total} packets, the data plane waited for them ${c.cryptoWaits} times`;
  }
  if (c.cryptoHelperStalls > 0) line += `; helpers switched off after ${c.cryptoHelperStalls} stall(s)`;
  return line;
}

/** renderStatus is the human form of a DeviceStatus. */
export function renderStatus(s: DeviceStatus, now: number): string {
  const d = s.derived;
  const lines = [
    `interface: ${s.interfaceName}`,
    `  listening port: ${s.listenPort}`,
    `  crypto: ${s.crypto}`,
    ...s.offloads.description.map((l) => `  tun: ${l.replace(`${s.interfaceName}: `, "")}`),
    `  udp: IPv4 ${s.udp.v4 ? `GSO ${s.udp.v4.gso ? "on" : "off"}, GRO ${s.udp.v4.gro ? "on" : "off"}` : "off"}; IPv6 ${s.udp.v6 ? `GSO ${s.udp.v6.gso ? "on" : "off"}, GRO ${s.udp.v6.gro ? "on" : "off"}` : "off"}`,
    ...s.udp.notes.map((n) => `  udp: ${n}`),
    `  offloads at work: ${d.segmentsPerSuperPacket} segments per TUN super-packet, ${d.datagramsPerGsoBatch} datagrams per UDP GSO send, ${d.datagramsPerGroMessage} datagrams per UDP GRO receive, coalescing ${d.coalesceRatio}:1 on TUN writes`,
  ];
  const drops = Object.entries(s.drops).filter(([, n]) => n > 0);
  lines.push(`  drops: ${drops.length === 0 ? "none" : drops.map(([k, n]) => `${dropLabel(k)} ${n}`).join(", ")}`);
  lines.push(handshakeLine(s.counters));
  const workers = workersLine(s);
  if (workers !== null) lines.push(workers);
  if (s.counters.stickySourceResets > 0) {
    lines.push(`  sticky sources reset: ${s.counters.stickySourceResets} (the kernel refused a local address we answered a peer from; routing picked again)`);
  }
  for (const p of s.peers) {
    lines.push(
      "",
      `peer: ${p.publicKey}`,
      `  endpoint: ${p.endpoint ?? "(none)"}${p.endpointName === undefined ? "" : ` (${p.endpointName})`}`,
      ...(p.localSource === null ? [] : [`  local address: ${p.localSource.address} (ifindex ${p.localSource.ifindex})`]),
      `  allowed ips: ${p.allowedIps.join(", ") || "(none)"}`,
      `  latest handshake: ${ago(p.latestHandshakeMs, now)}`,
      `  transfer: ${bytes(p.rxBytes)} received, ${bytes(p.txBytes)} sent`,
    );
    if (p.persistentKeepaliveInterval > 0) lines.push(`  persistent keepalive: every ${p.persistentKeepaliveInterval} s`);
  }
  return lines.join("\n");
}

/** renderUapiOnly describes an interface we can only reach through UAPI (e.g. wireguard-go's). */
function renderUapiOnly(name: string, w: LiveWgState): string {
  const lines = [`interface: ${name} (served by another WireGuard implementation: no offload counters)`, `  listening port: ${w.listenPort}`];
  for (const p of w.peers) {
    lines.push(
      "",
      `peer: ${base64Key(p.publicKeyHex)}`,
      `  endpoint: ${p.endpoint ?? "(none)"}`,
      `  allowed ips: ${p.allowedIps.join(", ") || "(none)"}`,
      `  transfer: ${bytes(p.rxBytes)} received, ${bytes(p.txBytes)} sent`,
    );
  }
  return lines.join("\n");
}

/** Shown is one interface's entry: its JSON document and text, and whether a daemon serves it. */
interface Shown {
  doc: unknown;
  text: string;
  live: boolean;
}

function staleEntry(name: string, files: string[]): Shown {
  return {
    doc: { interfaceName: name, running: false, stale: true, files },
    text: `interface: ${name} (not running: a daemon that died left ${files.join(", ")}; 'tunnel down ${name}' removes them)`,
    live: false,
  };
}

/** inAnotherNetns adds the namespace line under the header of an interface served from elsewhere. */
function inAnotherNetns(text: string, pid: number | null): string {
  return text.replace(/\n/, `\n  network namespace: another one (daemon pid ${pid ?? "unknown"})\n`);
}

/**
 * show reads one interface; null when nothing of it exists. Our daemon's
 * status socket answers first (it says where it runs); only when it does
 * not are the sockets probed: stale, another implementation, or not running.
 */
async function show(name: string): Promise<Shown | null> {
  try {
    const s = (await queryStatus(name, DEFAULT_STATUS_RUN_DIR)) as DeviceStatus;
    const text = renderStatus(s, Date.now());
    const elsewhere = s.daemon !== undefined && s.daemon.netns !== null && s.daemon.netns !== netnsOf("self");
    return { doc: s, text: elsewhere ? inAnotherNetns(text, s.daemon!.pid) : text, live: true };
  } catch {
    // not ours, or not running: find out below
  }
  const { daemonState } = await import("./daemon-state.ts");
  let state: DaemonState;
  try {
    state = daemonState(name, "status");
  } catch (e) {
    // Root-only sockets refuse every interface alike: that is the one answer.
    if (e instanceof CliError && e.exitCode === EXIT.NO_PERMISSION) throw e;
    return { doc: { interfaceName: name, running: false, error: (e as Error).message }, text: `interface: ${name} (${(e as Error).message})`, live: false };
  }
  if (state.kind === "absent") return null;
  if (state.kind === "stale") return staleEntry(name, state.files);
  try {
    const { uapiGet } = await import("../device/uapi/client.ts");
    const w = await uapiGet(name);
    const text = renderUapiOnly(name, w);
    return { doc: { interfaceName: name, uapiOnly: true, ...w }, text: state.otherNetns ? inAnotherNetns(text, state.pid) : text, live: true };
  } catch (e) {
    const reason = `not answering (${(e as Error).message})`;
    return { doc: { interfaceName: name, running: true, error: reason }, text: `interface: ${name} (${reason})`, live: false };
  }
}

export default defineCommand({
  meta: { name: "status", description: "Show interfaces, peers, transfer, and what the offloads are doing" },
  args: {
    name: { type: "positional", description: "Interface (default: all)", required: false },
    json: { type: "boolean", description: "Print the status documents as JSON on stdout" },
    prometheus: { type: "boolean", description: "Print the Prometheus text exposition (format 0.0.4) on stdout" },
    "prometheus-file": { type: "string", description: "Write the exposition to FILE atomically (node_exporter textfile collector)" },
  },
  async run({ args }) {
    const promFile = args["prometheus-file"] ? String(args["prometheus-file"]) : "";
    const prometheus = promFile !== "" || args.prometheus ? await import("./status-prometheus.ts") : null;
    const output = (docs: unknown[], json: unknown, text: string): void => {
      if (prometheus !== null && promFile !== "") return prometheus.writeTextfile(promFile, prometheus.prometheusText(docs));
      if (prometheus !== null) return writeData(prometheus.prometheusText(docs).trimEnd());
      writeData(args.json ? JSON.stringify(json, null, 2) : text);
    };
    if (args.name) {
      const name = String(args.name);
      const one = await show(name);
      if (one === null) throw new CliError(`${name}: not running`, EXIT.UNAVAILABLE);
      if (!one.live) throw new CliError(one.text.replace(/^interface: /, ""), EXIT.UNAVAILABLE);
      return output([one.doc], one.doc, one.text);
    }
    const all: Shown[] = [];
    for (const name of listInterfaces([DEFAULT_UAPI_RUN_DIR, DEFAULT_STATUS_RUN_DIR])) {
      const one = await show(name);
      if (one !== null) all.push(one);
    }
    // An empty file, not an error: the textfile collector must stop exporting what is gone.
    if (!all.some((e) => e.live) && prometheus !== null && promFile !== "") return prometheus.writeTextfile(promFile, "");
    const docs = all.map((e) => e.doc);
    if (all.length > 0) output(docs, docs, all.map((e) => e.text).join("\n\n"));
    // Stale entries are a finding, not a failure; only "nothing runs at all" is.
    if (!all.some((e) => e.live)) throw new CliError("no interfaces are running", EXIT.UNAVAILABLE);
  },
});
