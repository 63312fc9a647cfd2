// Facts about the network around the running interfaces: firewall verdicts
// for their listen ports, the path to each peer, forwarding and the egress
// device's UDP GRO forwarding, and stale run-directory sockets.
import { readFileSync } from "node:fs";
import type { DeviceStatus } from "../../device/device-status.ts";
import { runTool } from "./exec.ts";
import { analyseIptablesSave, analyseNft, type PortVerdict } from "./firewall.ts";
import { parseEthtoolFeature, WG_OVERHEAD, type GatewayFacts, type PeerPathFacts } from "./path.ts";
import { probeSocket, RUN_DIRS, socketFiles, type SocketState } from "./stale-sockets.ts";

/** MAX_PEERS_PROBED bounds the path probes (each a few one-second pings) on a hub with many peers. */
const MAX_PEERS_PROBED = 16;

function readNumber(path: string): number | null {
  try {
    const n = Number(readFileSync(path, "utf8").trim());
    return Number.isFinite(n) ? n : null;
  } catch {
    return null;
  }
}

export async function gatherFirewall(ports: number[]): Promise<{ verdicts: PortVerdict[]; unreadable: string[] }> {
  const verdicts: PortVerdict[] = [];
  const unreadable: string[] = [];
  if (ports.length === 0) return { verdicts, unreadable: ["no listen port to check (no interface running; pass --port)"] };
  const nft = await runTool(["nft", "-j", "list", "ruleset"]);
  if (nft === null) unreadable.push("nft not installed: nftables rules not checked");
  else if (nft.code !== 0) unreadable.push(`nft list ruleset failed (${nft.stderr.trim() || `exit ${nft.code}`}): nftables rules not checked`);
  else verdicts.push(...analyseNft(nft.stdout, ports));
  for (const tool of ["iptables-save", "ip6tables-save"]) {
    const r = await runTool([tool]);
    if (r === null) continue;
    // iptables-nft's rules already showed up in the nft ruleset; only legacy tables add anything.
    if (r.code === 0 && !r.stdout.includes("# Warning: iptables-legacy tables present"))
      verdicts.push(...analyseIptablesSave(r.stdout, ports, tool.replace("-save", "")));
  }
  return { verdicts: dedupe(verdicts), unreadable };
}

function dedupe(v: PortVerdict[]): PortVerdict[] {
  const seen = new Set<string>();
  return v.filter((x) => {
    const k = `${x.port}|${x.where}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

function hostOf(endpoint: string): { host: string; family: 4 | 6 } {
  const m = /^\[(.*)\]:\d+$/.exec(endpoint);
  return m ? { host: m[1]!, family: 6 } : { host: endpoint.replace(/:\d+$/, ""), family: 4 };
}

async function routeEgress(host: string): Promise<{ dev: string; mtu: number } | null> {
  const r = await runTool(["ip", "-j", "route", "get", host]);
  if (r === null || r.code !== 0) return null;
  const route = (JSON.parse(r.stdout) as { dev?: string; metrics?: { mtu?: number }[] }[])[0];
  if (route?.dev === undefined) return null;
  const lockedMtu = route.metrics?.find((m) => m.mtu !== undefined)?.mtu;
  return { dev: route.dev, mtu: lockedMtu ?? readNumber(`/sys/class/net/${route.dev}/mtu`) ?? 1500 };
}

/**
 * pingDf sends one echo of an outer IP packet of size bytes with DF set. ok:
 * a reply within a second; mtu: the MTU ping reports from an ICMP "frag
 * needed" / "packet too big" or the local route ("message too long, mtu=1400").
 */
async function pingDf(host: string, family: 4 | 6, size: number): Promise<{ ok: boolean; mtu: number | null }> {
  const payload = size - (family === 4 ? 28 : 48);
  const r = await runTool(["ping", family === 4 ? "-4" : "-6", "-n", "-M", "do", "-c", "1", "-W", "1", "-s", String(payload), host], 2500);
  if (r === null) return { ok: false, mtu: null };
  const m = /mtu\s*=\s*(\d+)/i.exec(r.stdout + r.stderr);
  return { ok: r.code === 0, mtu: m ? Number(m[1]) : null };
}

async function probePeer(interfaceName: string, interfaceMtu: number, endpoint: string): Promise<PeerPathFacts> {
  const { host, family } = hostOf(endpoint);
  const egress = await routeEgress(host);
  const facts: PeerPathFacts = { interfaceName, interfaceMtu, endpoint, family, egress, pathMtu: null, fullSizeOk: null };
  const need = interfaceMtu + WG_OVERHEAD[family];
  if (egress === null || egress.mtu < need) return facts;
  const full = await pingDf(host, family, need);
  if (full.ok) return { ...facts, fullSizeOk: true, pathMtu: need };
  // The router's ICMP names the path MTU; one echo at that size confirms it.
  if (full.mtu !== null && full.mtu < need && (await pingDf(host, family, full.mtu)).ok) return { ...facts, fullSizeOk: false, pathMtu: full.mtu };
  const floor = family === 4 ? 576 : 1280;
  if (!(await pingDf(host, family, floor)).ok) return facts; // silent to ICMP: nothing to learn
  // No MTU in any ICMP (a black hole): binary search, about 10 one-second pings.
  let lo = floor;
  let hi = need;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if ((await pingDf(host, family, mid)).ok) lo = mid;
    else hi = mid;
  }
  return { ...facts, fullSizeOk: false, pathMtu: lo };
}

export async function gatherPaths(statuses: DeviceStatus[]): Promise<PeerPathFacts[]> {
  const jobs: Promise<PeerPathFacts>[] = [];
  for (const s of statuses) {
    const mtu = readNumber(`/sys/class/net/${s.interfaceName}/mtu`) ?? 1420;
    for (const p of s.peers) if (p.endpoint !== null && jobs.length < MAX_PEERS_PROBED) jobs.push(probePeer(s.interfaceName, mtu, p.endpoint));
  }
  return Promise.all(jobs);
}

export async function gatherGateway(): Promise<GatewayFacts> {
  const forwarding = readNumber("/proc/sys/net/ipv4/ip_forward") === 1 || readNumber("/proc/sys/net/ipv6/conf/all/forwarding") === 1;
  const r = await runTool(["ip", "-j", "route", "show", "default"]);
  const dev = r !== null && r.code === 0 ? (JSON.parse(r.stdout) as { dev?: string }[])[0]?.dev : undefined;
  if (dev === undefined) return { forwarding, egress: null };
  const e = await runTool(["ethtool", "-k", dev]);
  return { forwarding, egress: { dev, udpGroForwarding: e === null || e.code !== 0 ? null : parseEthtoolFeature(e.stdout, "rx-udp-gro-forwarding") } };
}

export async function gatherSockets(dirs = RUN_DIRS): Promise<{ path: string; state: SocketState }[]> {
  const files = dirs.flatMap((d) => socketFiles(d));
  return Promise.all(files.map(async (path) => ({ path, state: await probeSocket(path) })));
}
