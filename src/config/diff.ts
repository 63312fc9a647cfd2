// What changed between two configs, in words, for `tunnel up` run on an
// interface that is already up: an empty list means "unchanged". Peers are
// matched by public key, so reordering [[peer]] tables is not a change.
// Secret keys are never printed, only reported as changed.

import { formatEndpoint } from "./endpoint.ts";
import { HOOK_FIELDS, HOOK_KEYS, type HookField, type InterfaceConfig, type KeySource, type PeerConfig, type RouteTable, type TunnelConfig } from "./types.ts";

/** diffConfigs lists the differences from before to after, interface first, then peers in after's order. */
export function diffConfigs(before: TunnelConfig, after: TunnelConfig): string[] {
  const changes: string[] = [];
  const a = before.interface;
  const b = after.interface;

  if (a.name !== b.name) changes.push(`interface name: ${a.name} → ${b.name}`);
  if (!sameKeySource(a.privateKey, b.privateKey)) changes.push(`private key: ${describeKeyChange(a.privateKey, b.privateKey)}`);
  // Absent and 0 mean the same to the kernel (random port, no mark, no keepalive), so they compare equal.
  if ((a.listenPort ?? 0) !== (b.listenPort ?? 0)) changes.push(`listen_port: ${showPort(a.listenPort)} → ${showPort(b.listenPort)}`);
  changes.push(...listChanges("address", a.addresses, b.addresses));
  if (a.mtu !== b.mtu) changes.push(`mtu: ${a.mtu} → ${b.mtu}`);
  if ((a.fwmark ?? 0) !== (b.fwmark ?? 0)) changes.push(`fwmark: ${showMark(a.fwmark)} → ${showMark(b.fwmark)}`);
  changes.push(...listChanges("dns", a.dns ?? [], b.dns ?? []));
  changes.push(...listChanges("dns_search", a.dnsSearch ?? [], b.dnsSearch ?? []));
  if (showTable(a.table) !== showTable(b.table)) changes.push(`table: ${showTable(a.table)} → ${showTable(b.table)}`);
  changes.push(...hookChanges(a, b));
  if ((a.endpointRefresh ?? 300) !== (b.endpointRefresh ?? 300)) changes.push(`endpoint_refresh: ${a.endpointRefresh ?? 300}s → ${b.endpointRefresh ?? 300}s`);
  if ((a.workers ?? "auto") !== (b.workers ?? "auto")) changes.push(`workers: ${a.workers ?? "auto"} → ${b.workers ?? "auto"}`);

  const beforeByKey = new Map(before.peers.map((peer) => [peer.publicKey, peer]));
  const afterKeys = new Set(after.peers.map((peer) => peer.publicKey));
  for (const peer of before.peers) {
    if (!afterKeys.has(peer.publicKey)) changes.push(`${peerLabel(peer)} removed`);
  }
  for (const peer of after.peers) {
    const old = beforeByKey.get(peer.publicKey);
    if (old === undefined) {
      changes.push(`${peerLabel(peer)} added`);
      continue;
    }
    const label = peerLabel(peer);
    for (const change of peerChanges(old, peer)) changes.push(`${label}: ${change}`);
  }
  return changes;
}

function peerChanges(a: PeerConfig, b: PeerConfig): string[] {
  const changes: string[] = [];
  if (a.name !== b.name) changes.push(`name: ${showText(a.name)} → ${showText(b.name)}`);
  if (a.description !== b.description) changes.push(`description: ${showText(a.description)} → ${showText(b.description)}`);
  if (!sameOptionalKeySource(a.presharedKey, b.presharedKey)) {
    changes.push(`preshared key: ${describeOptionalKeyChange(a.presharedKey, b.presharedKey)}`);
  }
  const endpointA = a.endpoint === undefined ? undefined : formatEndpoint(a.endpoint);
  const endpointB = b.endpoint === undefined ? undefined : formatEndpoint(b.endpoint);
  if (endpointA !== endpointB) changes.push(`endpoint: ${show(endpointA)} → ${show(endpointB)}`);
  changes.push(...listChanges("allowed_ips", a.allowedIps, b.allowedIps));
  if ((a.persistentKeepalive ?? 0) !== (b.persistentKeepalive ?? 0)) {
    changes.push(`persistent_keepalive: ${showKeepalive(a.persistentKeepalive)} → ${showKeepalive(b.persistentKeepalive)}`);
  }
  return changes;
}

/** hookChanges reports each hook list that differs; unlike addresses, order matters (they run in order). */
export function hookChanges(a: Pick<InterfaceConfig, HookField>, b: Pick<InterfaceConfig, HookField>): string[] {
  const changes: string[] = [];
  for (const field of HOOK_FIELDS) {
    const before = a[field] ?? [];
    const after = b[field] ?? [];
    if (before.length === after.length && before.every((h, i) => h === after[i])) continue;
    const what = before.length === 0 ? "added" : after.length === 0 ? "removed" : "changed";
    changes.push(`${HOOK_KEYS[field]} ${what}${after.length === 0 ? "" : `: ${after.join("; ")}`}`);
  }
  return changes;
}

/** showTable names a route table as the config writes it; absent is "auto". */
export function showTable(table: RouteTable | undefined): string {
  return table === undefined ? "auto" : String(table);
}

/** listChanges reports set differences; order within the list is not a change (the kernel keeps none). */
function listChanges(key: string, a: string[], b: string[]): string[] {
  const added = b.filter((item) => !a.includes(item));
  const removed = a.filter((item) => !b.includes(item));
  const changes: string[] = [];
  if (added.length > 0) changes.push(`${key} added: ${unique(added).join(", ")}`);
  if (removed.length > 0) changes.push(`${key} removed: ${unique(removed).join(", ")}`);
  return changes;
}

/** peerLabel names a peer for humans: its name if it has one, and always the start of its public key. */
export function peerLabel(peer: PeerConfig): string {
  const shortKey = `${peer.publicKey.slice(0, 8)}…`;
  return peer.name === undefined ? `peer ${shortKey}` : `peer '${peer.name}' (${shortKey})`;
}

function sameKeySource(a: KeySource, b: KeySource): boolean {
  if (a.kind === "inline" && b.kind === "inline") return a.key === b.key;
  if (a.kind === "file" && b.kind === "file") return a.resolvedPath === b.resolvedPath;
  return false;
}

function sameOptionalKeySource(a: KeySource | undefined, b: KeySource | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return sameKeySource(a, b);
}

function describeKeyChange(a: KeySource, b: KeySource): string {
  if (a.kind === "file" && b.kind === "file") return `file ${a.resolvedPath} → ${b.resolvedPath}`;
  if (a.kind === "inline" && b.kind === "inline") return "changed";
  return b.kind === "file" ? `inline → file ${b.resolvedPath}` : `file ${a.kind === "file" ? a.resolvedPath : ""} → inline`;
}

function describeOptionalKeyChange(a: KeySource | undefined, b: KeySource | undefined): string {
  if (a === undefined) return "added";
  if (b === undefined) return "removed";
  return describeKeyChange(a, b);
}

function show(value: string | undefined): string {
  return value === undefined ? "(none)" : value;
}

function showPort(value: number | undefined): string {
  return value === undefined || value === 0 ? "random" : String(value);
}

function showText(value: string | undefined): string {
  return value === undefined ? "(none)" : `'${value}'`;
}

function showMark(value: number | undefined): string {
  return value === undefined || value === 0 ? "off" : `0x${value.toString(16)}`;
}

function showKeepalive(value: number | undefined): string {
  return value === undefined || value === 0 ? "off" : `${value}s`;
}

function unique(items: string[]): string[] {
  return [...new Set(items)];
}
