// Checks that look at the whole config rather than one field: duplicate peer
// keys, a prefix allowed for two peers, the IPv6 MTU floor. Both parsers run
// these after reading every field, naming keys in their own spelling.

import type { IssueList } from "./errors.ts";
import type { TunnelConfig } from "./types.ts";
import { checkMtu, isIpv6Text } from "./validate.ts";

/** KeyNamer turns a field location into the key path (and line, for wg-quick) the parser reports. */
export interface KeyNamer {
  interfaceField(field: "mtu"): { key: string; line?: number };
  peerField(peer: number, field: "public_key" | "allowed_ips"): { key: string; line?: number };
  allowedIp(peer: number, item: number): { key: string; line?: number };
}

/** runCrossChecks adds whole-config errors and warnings to issues. */
export function runCrossChecks(config: TunnelConfig, issues: IssueList, names: KeyNamer): void {
  const hasIpv6Address = config.interface.addresses.some(isIpv6Text);
  const mtuProblem = checkMtu(config.interface.mtu, hasIpv6Address);
  if (mtuProblem !== null) {
    const at = names.interfaceField("mtu");
    issues.error(at.key, mtuProblem, at.line);
  }

  const firstPeerWithKey = new Map<string, number>();
  const ownerOfPrefix = new Map<string, number>();
  config.peers.forEach((peer, index) => {
    if (peer.publicKey !== "") {
      const first = firstPeerWithKey.get(peer.publicKey);
      if (first === undefined) {
        firstPeerWithKey.set(peer.publicKey, index);
      } else {
        const at = names.peerField(index, "public_key");
        issues.error(at.key, `the same public key as peer[${first}]; each peer needs its own key`, at.line);
      }
    }

    if (peer.allowedIps.length === 0) {
      const at = names.peerField(index, "allowed_ips");
      issues.warn(at.key, "none given, so no traffic will be sent to or accepted from this peer", at.line);
    }
    const seenHere = new Set<string>();
    peer.allowedIps.forEach((prefix, item) => {
      const at = names.allowedIp(index, item);
      if (seenHere.has(prefix)) {
        issues.warn(at.key, `${prefix} is listed twice for this peer`, at.line);
        return;
      }
      seenHere.add(prefix);
      const owner = ownerOfPrefix.get(prefix);
      // WireGuard moves a prefix to the last peer that claims it; the earlier claim silently stops working.
      if (owner !== undefined) {
        issues.warn(at.key, `${prefix} is also allowed for peer[${owner}]; only the last peer listed gets it`, at.line);
      }
      ownerOfPrefix.set(prefix, index);
    });
  });
}
