// `tunnel status [NAME] [--json]`: what the device and its offloads are
// doing. Users cannot see GSO/GRO at work any other way, so next to peers and
// transfer it shows segments per super-packet, datagrams per UDP GSO batch,
// the coalescing ratio and every drop counter. For an interface served by
// another userspace WireGuard (no status socket), it shows what UAPI knows.
import { readdirSync } from "node:fs";
import { defineCommand } from "citty";
import type { DeviceStatus } from "../device/device.ts";
import { DEFAULT_STATUS_RUN_DIR, queryStatus } from "../device/status-socket.ts";
import { uapiGet, type LiveWgState } from "../device/uapi/client.ts";
import { DEFAULT_UAPI_RUN_DIR } from "../device/uapi/socket-file.ts";
import { CliError, EXIT } from "./errors.ts";
import { writeData } from "./log.ts";

function listInterfaces(dir: string): string[] {
  try {
    return readdirSync(dir)
      .filter((f) => f.endsWith(".sock"))
      .map((f) => f.slice(0, -5))
      .sort();
  } catch {
    return [];
  }
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
    lines.push("", `peer: ${base64Key(p.publicKeyHex)}`, `  endpoint: ${p.endpoint ?? "(none)"}`, `  allowed ips: ${p.allowedIps.join(", ") || "(none)"}`, `  transfer: ${bytes(p.rxBytes)} received, ${bytes(p.txBytes)} sent`);
  }
  return lines.join("\n");
}

export default defineCommand({
  meta: { name: "status", description: "Show interfaces, peers, transfer, and what the offloads are doing" },
  args: {
    name: { type: "positional", description: "Interface (default: all)", required: false },
    json: { type: "boolean", description: "Print the status documents as JSON on stdout" },
  },
  async run({ args }) {
    const names = args.name ? [String(args.name)] : listInterfaces(DEFAULT_UAPI_RUN_DIR);
    if (names.length === 0) throw new CliError("no interfaces are running", EXIT.UNAVAILABLE);
    const docs: unknown[] = [];
    const texts: string[] = [];
    for (const name of names) {
      try {
        const s = (await queryStatus(name, DEFAULT_STATUS_RUN_DIR)) as DeviceStatus;
        docs.push(s);
        texts.push(renderStatus(s, Date.now()));
      } catch {
        let w: LiveWgState;
        try {
          w = await uapiGet(name);
        } catch (e) {
          throw new CliError(`${name}: not running (${(e as Error).message})`, EXIT.UNAVAILABLE);
        }
        docs.push({ interfaceName: name, uapiOnly: true, ...w });
        texts.push(renderUapiOnly(name, w));
      }
    }
    writeData(args.json ? JSON.stringify(args.name ? docs[0] : docs, null, 2) : texts.join("\n\n"));
  },
});
