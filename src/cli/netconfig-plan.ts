// The pure half of netconfig: live state + desired state → the `ip` commands
// between them, each with a sentence for humans. It mirrors what wg-quick(8)
// does on `up` (add_addr, set_mtu_up, add_route, add_default) and on `down`
// (del_if), but as a diff, so `tunnel up` can re-apply a changed config to a
// running interface and a second plan after applying is empty.
//
// Left out on purpose, as in the report to the lead: wg-quick's DNS
// (resolvconf) and its nft/iptables rules for a default route (the raw-table
// anti-spoofing drop and the CONNMARK save/restore of the fwmark). tunnel
// configures routing only; firewalling stays with the administrator.
import {
  canonicalAddress,
  canonicalRoute,
  contains,
  familyOf,
  isDefaultRoute,
  isLinkLocal,
  prefixLength,
  subnetRouteOf,
  type Family,
} from "./netconfig-prefix.ts";
import type { DesiredNetState, FamilyPolicy, LiveNetState, NetChange, NetPlan } from "./netconfig-types.ts";

/** DEFAULT_TABLE is wg-quick's first choice of table (and fwmark) for a default route. */
export const DEFAULT_TABLE = 51820;

const uniq = (items: string[]) => [...new Set(items)];
const fam = (family: Family) => (family === 4 ? "-4" : "-6");
const label = (family: Family) => (family === 4 ? "IPv4" : "IPv6");

/** planNetChanges lists the commands that turn `live` into `desired`, in the order they must run. */
export function planNetChanges(live: LiveNetState, desired: DesiredNetState): NetPlan {
  const dev = live.name;
  const changes: NetChange[] = [];

  // Addresses (wg-quick add_addr). Removals first: a new address in the
  // subnet of an old one would otherwise become its secondary and vanish
  // with it. `replace` instead of `add` so a racing re-run does not fail.
  const wantAddrs = uniq(desired.addresses.map(canonicalAddress));
  const removedAddrs = live.addresses.filter((a) => !wantAddrs.includes(a) && !isLinkLocal(a));
  for (const address of removedAddrs) {
    changes.push({ description: `address ${address} removed`, command: { tool: "ip", args: [fam(familyOf(address)), "address", "del", address, "dev", dev] } });
  }
  // Deleting a primary IPv4 address also deletes the secondaries of its
  // subnet (unless promote_secondaries is set), so kept ones are re-added.
  const flushed = live.addresses.filter(
    (a) =>
      wantAddrs.includes(a) &&
      familyOf(a) === 4 &&
      removedAddrs.some((r) => familyOf(r) === 4 && subnetRouteOf(r) !== null && subnetRouteOf(r) === subnetRouteOf(a)),
  );
  for (const address of flushed) {
    changes.push({ description: `address ${address} re-added (the kernel drops it with a removed address of its subnet)`, command: addrReplace(address, dev) });
  }
  for (const address of wantAddrs.filter((a) => !live.addresses.includes(a))) {
    changes.push({ description: `address ${address} added`, command: addrReplace(address, dev) });
  }

  // MTU and link up in one command (wg-quick set_mtu_up). It comes after the
  // addresses but before the routes: the kernel refuses a route through a
  // link that is down ("Nexthop device is not up").
  if (!live.up || live.mtu !== desired.mtu) {
    const parts = live.mtu !== desired.mtu ? [`mtu ${live.mtu} → ${desired.mtu}`] : [];
    if (!live.up) parts.push("link up");
    changes.push({ description: parts.join(", "), command: { tool: "ip", args: ["link", "set", "dev", dev, "mtu", String(desired.mtu), "up"] } });
  }

  const wantRoutes = uniq(desired.routes.map((r) => canonicalRoute(r, familyOf(r))));
  const table = desired.table ?? "auto";
  if (table === "auto") {
    changes.push(...planRoutes(live, wantRoutes, wantAddrs, removedAddrs));
    changes.push(...planTableRoutes(live, null, []));
    const policy = planPolicy(live, wantRoutes, desired.fwmark);
    changes.push(...policy.changes);
    return { changes, fwmark: policy.fwmark };
  }
  // off, main and numbers: no policy routing and no fwmark beyond the config's (wg-quick runs add_default only for auto).
  const mark = desired.fwmark !== undefined && desired.fwmark > 0 ? desired.fwmark : null;
  const policyGone = [...familyTeardown(live, 4), ...familyTeardown(live, 6)];
  if (table === "main") {
    changes.push(...planMainTableRoutes(live, wantRoutes, wantAddrs));
    changes.push(...planTableRoutes(live, null, []));
  } else {
    changes.push(...planRoutes(live, [], wantAddrs, removedAddrs));
    changes.push(...planTableRoutes(live, table === "off" ? null : table, table === "off" ? [] : wantRoutes));
  }
  changes.push(...policyGone);
  return { changes, fwmark: mark };
}

/**
 * planMainTableRoutes is wg-quick's add_route for `Table = main`: every
 * prefix, default routes included, goes into main as it is (`ip route add R
 * dev IF table main`), with no "already covered" check and no policy rules.
 * A route equal to one the kernel made for an address is left to the kernel.
 */
function planMainTableRoutes(live: LiveNetState, wantRoutes: string[], wantAddrs: string[]): NetChange[] {
  const dev = live.name;
  const changes: NetChange[] = [];
  for (const route of live.routes.filter((r) => !wantRoutes.includes(r))) {
    changes.push({ description: `route ${route} removed`, command: { tool: "ip", args: [fam(familyOf(route)), "route", "del", route, "dev", dev] } });
  }
  const kernel = [...wantAddrs.map(subnetRouteOf).filter((s): s is string => s !== null), ...live.otherRoutes];
  for (const route of wantRoutes) {
    if (live.routes.includes(route) || kernel.includes(route)) continue;
    changes.push({
      description: `route ${route} added`,
      command: { tool: "ip", args: [fam(familyOf(route)), "route", "replace", route, "dev", dev, "table", "main"] },
    });
  }
  return changes;
}

/**
 * planTableRoutes is wg-quick's add_route for `Table = N`: every prefix,
 * default routes included, in table N, unconditionally. Routes this
 * interface has in other numbered tables (a previous `table`) are removed.
 */
function planTableRoutes(live: LiveNetState, table: number | null, wantRoutes: string[]): NetChange[] {
  const dev = live.name;
  const changes: NetChange[] = [];
  for (const { table: t, route } of live.tableRoutes) {
    if (t === table && wantRoutes.includes(route)) continue;
    changes.push({
      description: `route ${route} removed from table ${t}`,
      command: { tool: "ip", args: [fam(familyOf(route)), "route", "del", route, "dev", dev, "table", String(t)] },
    });
  }
  if (table === null) return changes;
  for (const route of wantRoutes) {
    if (live.tableRoutes.some((r) => r.table === table && r.route === route)) continue;
    changes.push({
      description: `route ${route} added to table ${table}`,
      command: { tool: "ip", args: [fam(familyOf(route)), "route", "replace", route, "dev", dev, "table", String(table)] },
    });
  }
  return changes;
}

function addrReplace(address: string, dev: string): NetChange["command"] {
  return { tool: "ip", args: [fam(familyOf(address)), "address", "replace", address, "dev", dev] };
}

/**
 * planRoutes follows wg-quick's add_route for every non-default prefix:
 *
 *   [[ -n $(ip $proto route show dev "$INTERFACE" match "$1") ]] || ip $proto route add "$1" dev "$INTERFACE"
 *
 * i.e. a prefix is skipped when a main-table route via this interface already
 * covers it (`match` lists routes whose prefix contains it, the equal one
 * included): typically the subnet route the kernel made for the interface's
 * own address (Address = 198.18.0.1/24 covers AllowedIPs = 198.18.0.7/32).
 * (Debian's wg-quick uses `route show ... match`, not `ip route get`: `get`
 * would also see routes via other interfaces, which must not suppress ours.)
 * wg-quick visits prefixes longest first (`sort -nr -k 2 -t /`), so a route it
 * adds never hides a longer one; only pre-existing routes do. Here the
 * "pre-existing" set is what will exist after this plan: the subnet routes of
 * the desired addresses, other routes on the link that are not about to go,
 * and our managed routes that stay. Managed routes no longer wanted are removed.
 */
function planRoutes(live: LiveNetState, wantRoutes: string[], wantAddrs: string[], removedAddrs: string[]): NetChange[] {
  const dev = live.name;
  const changes: NetChange[] = [];
  const mainWanted = wantRoutes.filter((r) => !isDefaultRoute(r));
  for (const route of live.routes.filter((r) => !mainWanted.includes(r))) {
    changes.push({ description: `route ${route} removed`, command: { tool: "ip", args: [fam(familyOf(route)), "route", "del", route, "dev", dev] } });
  }

  const keptSubnets = wantAddrs.map(subnetRouteOf).filter((s): s is string => s !== null);
  const goneSubnets = removedAddrs.map(subnetRouteOf).filter((s): s is string => s !== null && !keptSubnets.includes(s));
  const present = [...keptSubnets, ...live.otherRoutes.filter((r) => !goneSubnets.includes(r)), ...live.routes.filter((r) => mainWanted.includes(r))];
  const longestFirst = [...mainWanted].sort((a, b) => prefixLength(b) - prefixLength(a));
  for (const route of longestFirst) {
    if (present.some((p) => contains(p, route))) continue;
    changes.push({ description: `route ${route} added`, command: { tool: "ip", args: [fam(familyOf(route)), "route", "replace", route, "dev", dev] } });
    present.push(route);
  }
  return changes;
}

/**
 * planPolicy is wg-quick's add_default for 0.0.0.0/0 and ::/0: the default
 * route goes into its own table T, and two rules send everything there except
 * the tunnel's own packets (marked T by the device):
 *
 *   ip -4 route add 0.0.0.0/0 dev IF table T
 *   ip -4 rule add not fwmark T table T
 *   ip -4 rule add table main suppress_prefixlength 0   # main wins unless its match is a default route
 *   sysctl -q net.ipv4.conf.all.src_valid_mark=1        # rp_filter then sees the mark on replies
 *
 * T is the config's fwmark; without one, wg-quick picks 51820 upwards until a
 * table is free and sets it as the device's fwmark. Here "free" means no
 * `not fwmark T` rule names it (another tunnel's); a table this interface
 * already uses is kept so a re-plan is stable. The suppress rule is shared by
 * every tunnel with a default route, so it is added once, not once per interface.
 */
function planPolicy(live: LiveNetState, wantRoutes: string[], configMark: number | undefined): { changes: NetChange[]; fwmark: number | null } {
  const mark = configMark !== undefined && configMark > 0 ? configMark : null;
  const wants = { 4: wantRoutes.includes("0.0.0.0/0"), 6: wantRoutes.includes("::/0") };
  if (!wants[4] && !wants[6]) {
    return { changes: [...familyTeardown(live, 4), ...familyTeardown(live, 6)], fwmark: mark };
  }
  const table = mark ?? live.policy.v4.table ?? live.policy.v6.table ?? freeTable(live);
  const changes: NetChange[] = [];
  for (const family of [4, 6] as const) {
    const policy = family === 4 ? live.policy.v4 : live.policy.v6;
    if (!wants[family]) {
      changes.push(...familyTeardown(live, family));
      continue;
    }
    if (policy.table !== null && policy.table !== table) changes.push(...familyTeardown(live, family, { keepSuppress: true }));
    const any = family === 4 ? "0.0.0.0/0" : "::/0";
    const T = String(table);
    if (policy.table !== table) {
      changes.push({
        description: `route ${any} added to table ${T}`,
        command: { tool: "ip", args: [fam(family), "route", "replace", any, "dev", live.name, "table", T] },
      });
    }
    if (!policy.markRules.includes(table)) {
      changes.push({
        description: `${label(family)} rule 'not fwmark ${T} lookup ${T}' added`,
        command: { tool: "ip", args: [fam(family), "rule", "add", "not", "fwmark", T, "table", T] },
      });
    }
    if (policy.suppressRules === 0) {
      changes.push({
        description: `${label(family)} rule 'lookup main suppress_prefixlength 0' added`,
        command: { tool: "ip", args: [fam(family), "rule", "add", "table", "main", "suppress_prefixlength", "0"] },
      });
    }
    if (family === 4 && !live.policy.srcValidMark) {
      changes.push({
        description: "sysctl net.ipv4.conf.all.src_valid_mark=1",
        command: { tool: "sysctl", args: ["-q", "net.ipv4.conf.all.src_valid_mark=1"] },
      });
    }
  }
  return { changes, fwmark: table };
}

function freeTable(live: LiveNetState): number {
  const taken = new Set([...live.policy.v4.markRules, ...live.policy.v6.markRules]);
  let table = DEFAULT_TABLE;
  while (taken.has(table)) table++;
  return table;
}

/**
 * familyTeardown undoes add_default for one family, like wg-quick's del_if:
 * the table's default route, every `not fwmark T lookup T` rule, and the
 * suppress rule(s) — but those only when no other table's mark rule is left,
 * since another tunnel's default route relies on the same shared rule
 * (wg-quick deletes them regardless, breaking the other tunnel).
 */
function familyTeardown(live: LiveNetState, family: Family, opts: { keepSuppress?: boolean } = {}): NetChange[] {
  const policy: FamilyPolicy = family === 4 ? live.policy.v4 : live.policy.v6;
  if (policy.table === null) return [];
  const T = String(policy.table);
  const any = family === 4 ? "0.0.0.0/0" : "::/0";
  const changes: NetChange[] = [];
  if (live.exists) {
    changes.push({
      description: `route ${any} removed from table ${T}`,
      command: { tool: "ip", args: [fam(family), "route", "del", any, "dev", live.name, "table", T] },
    });
  }
  for (const t of policy.markRules.filter((t) => t === policy.table)) {
    changes.push({
      description: `${label(family)} rule 'not fwmark ${t} lookup ${t}' removed`,
      command: { tool: "ip", args: [fam(family), "rule", "del", "not", "fwmark", T, "table", T] },
    });
  }
  const othersNeedSuppress = policy.markRules.some((t) => t !== policy.table);
  if (!opts.keepSuppress && !othersNeedSuppress) {
    for (let i = 0; i < policy.suppressRules; i++) {
      changes.push({
        description: `${label(family)} rule 'lookup main suppress_prefixlength 0' removed`,
        command: { tool: "ip", args: [fam(family), "rule", "del", "table", "main", "suppress_prefixlength", "0"] },
      });
    }
  }
  return changes;
}

/** planTeardown lists what `tunnel down` must undo before deleting the link: the default-route policy rules. */
export function planTeardown(live: LiveNetState): NetChange[] {
  return [...familyTeardown(live, 4), ...familyTeardown(live, 6)];
}
