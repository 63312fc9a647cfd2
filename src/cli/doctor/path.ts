// The outer path: whether the egress device and the path to each peer carry
// a full-size tunnel packet (interface MTU + 60 bytes over IPv4, + 80 over
// IPv6), and, on a gateway (forwarding on), whether the egress device has
// rx-udp-gro-forwarding, without which forwarded UDP loses GRO.
import type { Finding } from "./finding.ts";

/** WG_OVERHEAD is outer IP + UDP + WireGuard header and tag (20/40 + 8 + 32). */
export const WG_OVERHEAD = { 4: 60, 6: 80 } as const;

export interface PeerPathFacts {
  interfaceName: string;
  interfaceMtu: number;
  endpoint: string;
  family: 4 | 6;
  /** Egress device and its MTU from `ip route get`, null when there is no route. */
  egress: { dev: string; mtu: number } | null;
  /**
   * The largest outer packet that got an echo reply with DF set; null when
   * not probed or when even a small one got no reply (peer silent to ICMP).
   */
  pathMtu: number | null;
  /** Whether a full-size DF probe got a reply. null: not probed / no ICMP replies at all. */
  fullSizeOk: boolean | null;
}

export function pathFindings(peers: PeerPathFacts[]): Finding[] {
  const out: Finding[] = [];
  for (const p of peers) {
    const need = p.interfaceMtu + WG_OVERHEAD[p.family];
    const who = `${p.interfaceName} → ${p.endpoint}`;
    const fixMtu = (limit: number) =>
      `set mtu = ${limit - WG_OVERHEAD[p.family]} in the [interface] table (or: ip link set ${p.interfaceName} mtu ${limit - WG_OVERHEAD[p.family]})`;
    if (p.egress === null) {
      out.push({
        check: "path-mtu",
        level: "error",
        summary: `${who}: no route to the endpoint`,
        fix: `ip route get ${p.endpoint.replace(/:\d+$/, "").replace(/^\[|\]$/g, "")}   # add a route or fix the endpoint`,
      });
      continue;
    }
    if (p.egress.mtu < need) {
      out.push({
        check: "path-mtu",
        level: "warn",
        summary: `${who}: egress ${p.egress.dev} has MTU ${p.egress.mtu}, but a full ${p.interfaceMtu}-byte tunnel packet needs ${need}: large packets are fragmented`,
        fix: fixMtu(p.egress.mtu),
      });
      continue;
    }
    if (p.fullSizeOk === true)
      out.push({
        check: "path-mtu",
        level: "ok",
        summary: `${who}: the path carries ${need}-byte packets (interface MTU ${p.interfaceMtu}, via ${p.egress.dev})`,
      });
    else if (p.fullSizeOk === false && p.pathMtu !== null)
      out.push({
        check: "path-mtu",
        level: "warn",
        summary: `${who}: path MTU ${p.pathMtu} is below the ${need} bytes a full tunnel packet needs: large packets are fragmented or lost`,
        fix: fixMtu(p.pathMtu),
      });
    else
      out.push({
        check: "path-mtu",
        level: "info",
        summary: `${who}: path MTU not measured (the endpoint does not answer ICMP echo); egress ${p.egress.dev} MTU ${p.egress.mtu} fits ${need}`,
      });
  }
  return out;
}

export interface GatewayFacts {
  forwarding: boolean;
  /** Default-route egress device and its rx-udp-gro-forwarding state (null: ethtool unavailable or feature unknown). */
  egress: { dev: string; udpGroForwarding: boolean | null } | null;
}

export function gatewayFindings(g: GatewayFacts): Finding[] {
  if (!g.forwarding)
    return [{ check: "udp-gro-forwarding", level: "info", summary: "IP forwarding is off: not a gateway, rx-udp-gro-forwarding does not matter" }];
  if (g.egress === null) return [{ check: "udp-gro-forwarding", level: "info", summary: "forwarding is on but there is no default route to check" }];
  const { dev, udpGroForwarding } = g.egress;
  if (udpGroForwarding === null)
    return [
      { check: "udp-gro-forwarding", level: "info", summary: `cannot read ${dev}'s rx-udp-gro-forwarding (needs ethtool)`, fix: "apt-get install ethtool" },
    ];
  if (udpGroForwarding) return [{ check: "udp-gro-forwarding", level: "ok", summary: `gateway: ${dev} has rx-udp-gro-forwarding on` }];
  return [
    {
      check: "udp-gro-forwarding",
      level: "warn",
      summary: `gateway: ${dev} has rx-udp-gro-forwarding off: forwarded UDP is not coalesced, which costs throughput on exit nodes and subnet routers`,
      fix: `ethtool -K ${dev} rx-udp-gro-forwarding on rx-gro-list off`,
    },
  ];
}

/** parseEthtoolFeature reads "rx-udp-gro-forwarding: on [fixed]" from `ethtool -k` output. */
export function parseEthtoolFeature(text: string, feature: string): boolean | null {
  const m = new RegExp(`^\\s*${feature}:\\s*(on|off)`, "m").exec(text);
  return m === null ? null : m[1] === "on";
}
