// The wg-quick features `tunnel up` and `down` add around the device and the
// routes: DNS, the four hooks, and the record of both (wgquick-state.ts).
// Kept out of up.ts and down.ts so the order of steps stays readable there.
import { hookChanges, type TunnelConfig } from "../config/index.ts";
import { applyDns, defaultDnsRunner, revertDns, sameDns, type DesiredDns, type DnsRunner } from "./dns.ts";
import { EMPTY_HOOKS, readWgQuickState, type AppliedHooks, type EndpointName, type WgQuickState } from "./wgquick-state.ts";

/** desiredHooks are the config's hooks, empty lists for the absent ones. */
export function desiredHooks(config: TunnelConfig): AppliedHooks {
  const i = config.interface;
  return { preUp: i.preUp ?? [], postUp: i.postUp ?? [], preDown: i.preDown ?? [], postDown: i.postDown ?? [] };
}

/** desiredDns is null when the config sets no servers (then DNS is left alone, as wg-quick does). */
export function desiredDns(config: TunnelConfig): DesiredDns | null {
  const servers = config.interface.dns ?? [];
  return servers.length === 0 ? null : { servers, search: config.interface.dnsSearch ?? [] };
}

/**
 * repairAfterCrash undoes DNS left by an interface that is gone without a
 * `down` (the daemon crashed or was killed): its record outlives it. Returns
 * what it did; the caller forgets the record afterwards.
 */
export async function repairAfterCrash(name: string, runner: DnsRunner = defaultDnsRunner): Promise<string[]> {
  const stale = readWgQuickState(name);
  if (stale?.dns == null) return [];
  return [`${await revertDns(stale.dns, runner)} (left by an earlier run that did not go down cleanly)`];
}

/**
 * syncDns makes the registered DNS match the config, from the recorded state:
 * nothing when equal, else revert the old setup (if any) and apply the new.
 */
export async function syncDns(
  name: string,
  recorded: WgQuickState["dns"],
  desired: DesiredDns | null,
  runner: DnsRunner = defaultDnsRunner,
): Promise<{ applied: WgQuickState["dns"]; changes: string[] }> {
  if (sameDns(recorded, desired)) return { applied: recorded, changes: [] };
  const changes: string[] = [];
  if (recorded !== null && (desired === null || recorded.via !== (runner.resolvedRunning() ? "resolvectl" : "resolvconf"))) {
    changes.push(await revertDns(recorded, runner));
  }
  if (desired === null) return { applied: null, changes };
  const applied = await applyDns(name, desired, runner);
  const search = desired.search.length > 0 ? `, search ${desired.search.join(" ")}` : "";
  changes.push(`dns ${desired.servers.join(", ")}${search} set (${applied.via})`);
  return { applied, changes };
}

/** hookChangeList reports hooks that differ from the ones recorded by the previous `up`. */
export function hookChangeList(recorded: AppliedHooks | undefined, desired: AppliedHooks): string[] {
  return hookChanges(recorded ?? EMPTY_HOOKS, desired).map((c) => `${c} (takes effect when the interface is next created or removed)`);
}

export type { EndpointName };
