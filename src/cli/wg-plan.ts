// What `tunnel up` must tell a running device: the desired WireGuard state
// (from the TOML config, keys read, endpoints resolved) compared with what
// the device reports over UAPI, as the minimal set=1 lines plus one human
// sentence per change. Peers that did not change get no lines at all, so
// their sessions survive a re-run; a changed peer is updated in place
// (update_only), never removed and re-added.
import type { LiveWgState } from "../device/uapi/client.ts";

export interface DesiredPeer {
  publicKeyHex: string;
  /** Shown in change sentences: the config's name, or the key's first characters. */
  label: string;
  /** 64 zeros when there is none (what get reports). */
  presharedKeyHex: string;
  /** "1.2.3.4:51820" / "[v6]:51820", already resolved; null when the config has none. */
  endpoint: string | null;
  persistentKeepalive: number;
  /** Canonical prefixes. */
  allowedIps: string[];
}

export interface DesiredWg {
  /** Clamped, as get reports it. */
  privateKeyHex: string;
  /** undefined: leave the port the device picked. */
  listenPort?: number;
  fwmark: number;
  peers: DesiredPeer[];
}

export interface WgPlan {
  lines: string[];
  changes: string[];
}

const ZERO_KEY_HEX = "0".repeat(64);

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const s = new Set(a);
  return b.every((x) => s.has(x));
}

function peerLines(p: DesiredPeer): string[] {
  const lines = [`public_key=${p.publicKeyHex}`, `preshared_key=${p.presharedKeyHex}`];
  if (p.endpoint !== null) lines.push(`endpoint=${p.endpoint}`);
  lines.push(`persistent_keepalive_interval=${p.persistentKeepalive}`, "replace_allowed_ips=true");
  for (const ip of p.allowedIps) lines.push(`allowed_ip=${ip}`);
  return lines;
}

/**
 * planWg compares desired with live (null: a device that was just created)
 * and returns the set=1 lines that reach desired and what they change.
 * appliedEndpoints holds the endpoints the last `up` configured, by public
 * key: a live endpoint that differs only because the peer roamed is not a
 * change the user asked for, so it is left alone.
 */
export function planWg(live: LiveWgState | null, desired: DesiredWg, appliedEndpoints: ReadonlyMap<string, string> = new Map()): WgPlan {
  const lines: string[] = [];
  const changes: string[] = [];
  const device = live ?? { privateKeyHex: null, listenPort: 0, fwmark: 0, peers: [] };
  if (device.privateKeyHex !== desired.privateKeyHex) {
    lines.push(`private_key=${desired.privateKeyHex}`);
    changes.push(live === null || device.privateKeyHex === null ? "private key set" : "private key changed");
  }
  if (desired.listenPort !== undefined && desired.listenPort !== device.listenPort) {
    lines.push(`listen_port=${desired.listenPort}`);
    changes.push(`listen port ${device.listenPort || "unset"} → ${desired.listenPort}`);
  }
  if (desired.fwmark !== device.fwmark) {
    lines.push(`fwmark=${desired.fwmark}`);
    changes.push(`fwmark ${device.fwmark} → ${desired.fwmark}`);
  }
  const wanted = new Map(desired.peers.map((p) => [p.publicKeyHex, p]));
  for (const p of device.peers) {
    if (wanted.has(p.publicKeyHex)) continue;
    lines.push(`public_key=${p.publicKeyHex}`, "remove=true");
    changes.push(`peer ${p.publicKeyHex.slice(0, 8)}… removed`);
  }
  const present = new Map(device.peers.map((p) => [p.publicKeyHex, p]));
  for (const want of desired.peers) {
    const have = present.get(want.publicKeyHex);
    if (have === undefined) {
      lines.push(...peerLines(want));
      changes.push(`peer ${want.label} added`);
      continue;
    }
    const update: string[] = [];
    const what: string[] = [];
    if (have.presharedKeyHex !== want.presharedKeyHex) {
      update.push(`preshared_key=${want.presharedKeyHex}`);
      what.push(want.presharedKeyHex === ZERO_KEY_HEX ? "preshared key removed" : "preshared key changed");
    }
    const roamed = appliedEndpoints.get(want.publicKeyHex) === want.endpoint;
    if (want.endpoint !== null && have.endpoint !== want.endpoint && !roamed) {
      update.push(`endpoint=${want.endpoint}`);
      what.push(`endpoint ${have.endpoint ?? "none"} → ${want.endpoint}`);
    }
    if (have.persistentKeepalive !== want.persistentKeepalive) {
      update.push(`persistent_keepalive_interval=${want.persistentKeepalive}`);
      what.push(`keepalive ${have.persistentKeepalive} → ${want.persistentKeepalive} s`);
    }
    if (!sameSet(have.allowedIps, want.allowedIps)) {
      update.push("replace_allowed_ips=true", ...want.allowedIps.map((ip) => `allowed_ip=${ip}`));
      what.push(`allowed IPs ${have.allowedIps.join(",") || "none"} → ${want.allowedIps.join(",") || "none"}`);
    }
    if (update.length === 0) continue;
    lines.push(`public_key=${want.publicKeyHex}`, "update_only=true", ...update);
    changes.push(`peer ${want.label}: ${what.join("; ")}`);
  }
  return { lines, changes };
}
