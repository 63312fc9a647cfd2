// Reads an interface's kernel-side state through `ip -j` (iproute2's JSON
// output, stable across versions unlike the text form). The parse functions
// are pure and take the JSON text, so they are tested on captured output.
import { CliError, EXIT } from "./errors.ts";
import { canonicalAddress, canonicalRoute, type Family } from "./netconfig-prefix.ts";
import { run, defaultRunner, readSysctl, type NetRunner } from "./netconfig-runner.ts";
import { absentState, type FamilyPolicy, type LiveNetState, type NewLink, type TableRoute } from "./netconfig-types.ts";

interface IpLink {
  flags?: string[];
  mtu?: number;
}
interface IpAddr {
  addr_info?: { family?: string; local?: string; prefixlen?: number }[];
}
interface IpRoute {
  dst?: string;
  table?: string;
  type?: string;
  protocol?: string;
}
interface IpRule {
  table?: string;
  not?: null;
  fwmark?: string;
  fwmask?: string;
  suppress_prefixlen?: number;
  src?: string;
  srclen?: number;
  dst?: string;
  iif?: string;
  oif?: string;
}

function parseJson<T>(text: string, what: string): T {
  try {
    return JSON.parse(text === "" ? "[]" : text) as T;
  } catch {
    throw new CliError(`cannot parse the JSON output of ${what}`, EXIT.FAILURE);
  }
}

/** parseLink reads `ip -j link show dev IF`. IFF_UP (the "UP" flag) is the admin state we set, not the carrier. */
export function parseLink(json: string): { up: boolean; mtu: number } {
  const link = parseJson<IpLink[]>(json, "ip link")[0] ?? {};
  return { up: (link.flags ?? []).includes("UP"), mtu: link.mtu ?? 0 };
}

/** parseAddresses reads `ip -j addr show dev IF` into canonical "address/length" strings. */
export function parseAddresses(json: string): string[] {
  const out: string[] = [];
  for (const entry of parseJson<IpAddr[]>(json, "ip addr")) {
    for (const info of entry.addr_info ?? []) {
      if ((info.family === "inet" || info.family === "inet6") && info.local && info.prefixlen !== undefined) {
        out.push(canonicalAddress(`${info.local}/${info.prefixlen}`));
      }
    }
  }
  return out;
}

/**
 * parseRoutes reads `ip -j -4|-6 route show table all dev IF`: main-table
 * unicast routes split into managed (no protocol = "boot", what
 * `ip route replace` makes, or "static") and other (the kernel's subnet
 * routes, RA, DHCP); the non-main table holding this link's default route
 * is the policy table. The local table and multicast/broadcast entries are skipped.
 */
export function parseRoutes(json: string, family: Family): { routes: string[]; otherRoutes: string[]; table: number | null; tableRoutes: TableRoute[] } {
  const routes = new Set<string>();
  const otherRoutes = new Set<string>();
  const tableRoutes: TableRoute[] = [];
  let table: number | null = null;
  for (const route of parseJson<IpRoute[]>(json, "ip route")) {
    if (route.dst === undefined || (route.type !== undefined && route.type !== "unicast")) continue;
    const dst = canonicalRoute(route.dst, family);
    if (route.table === undefined || route.table === "main") {
      const managed = route.protocol === undefined || route.protocol === "boot" || route.protocol === "static";
      (managed ? routes : otherRoutes).add(dst);
    } else if (/^\d+$/.test(route.table)) {
      if (dst.endsWith("/0")) table = Number(route.table);
      const managed = route.protocol === undefined || route.protocol === "boot" || route.protocol === "static";
      if (managed) tableRoutes.push({ table: Number(route.table), route: dst });
    }
  }
  return { routes: [...routes], otherRoutes: [...otherRoutes], table, tableRoutes };
}

/** parseRules reads `ip -j -4|-6 rule show` for wg-quick's two kinds of rule. */
export function parseRules(json: string): Omit<FamilyPolicy, "table"> {
  const markRules: number[] = [];
  let suppressRules = 0;
  for (const rule of parseJson<IpRule[]>(json, "ip rule")) {
    const plain = (rule.src ?? "all") === "all" && rule.dst === undefined && rule.iif === undefined && rule.oif === undefined;
    if (!plain) continue;
    const fullMask = rule.fwmask === undefined || Number(rule.fwmask) === 0xffffffff;
    if ("not" in rule && rule.fwmark !== undefined && fullMask && rule.table !== undefined && Number(rule.fwmark) === Number(rule.table)) {
      markRules.push(Number(rule.table));
    } else if (rule.table === "main" && rule.suppress_prefixlen === 0 && rule.fwmark === undefined) {
      suppressRules++;
    }
  }
  return { markRules, suppressRules };
}

const SRC_VALID_MARK = "net.ipv4.conf.all.src_valid_mark";

async function ipJson(runner: NetRunner, args: string[]): Promise<string | null> {
  const result = await run(runner, { tool: "ip", args: ["-j", ...args] });
  return result.code === 0 ? result.stdout : null;
}

async function ipJsonOrThrow(runner: NetRunner, args: string[]): Promise<string> {
  const out = await ipJson(runner, args);
  if (out === null) throw new CliError(`ip ${args.join(" ")} failed`, EXIT.FAILURE);
  return out;
}

/**
 * readLiveNetState reads what the kernel has for `ifname`; a missing link
 * gives `exists: false`. With `newLink` (the daemon created the link just
 * now) only the global state is read: the link's own is known.
 */
export async function readLiveNetState(ifname: string, runner: NetRunner = defaultRunner, newLink: NewLink | null = null): Promise<LiveNetState> {
  const state = absentState(ifname);
  // Every read at once: each is an `ip` process, and on a slow host (a VM
  // under emulation) their start-up, one after another, was most of a second
  // on the path from exec to a running interface; a restarted service waits
  // for them, which is also why a new link's four reads are skipped.
  const routeArgs = (family: 4 | 6) => [`-${family}`, "route", "show", "table", "all", "dev", ifname];
  const linkRead = (args: string[]) => (newLink === null ? ipJson(runner, args) : Promise.resolve(null));
  const [rules4, rules6, validMark, link, addresses, routes4, routes6] = await Promise.all([
    // The rules are global: a tunnel that is already gone may have left them, so read them regardless.
    ipJsonOrThrow(runner, ["-4", "rule", "show"]),
    // A kernel booted with ipv6.disable=1 fails every -6 query: read that as "nothing there".
    ipJson(runner, ["-6", "rule", "show"]),
    readSysctl(runner, SRC_VALID_MARK),
    linkRead(["link", "show", "dev", ifname]),
    linkRead(["addr", "show", "dev", ifname]),
    linkRead(routeArgs(4)),
    linkRead(routeArgs(6)),
  ]);
  state.policy.v4 = { table: null, ...parseRules(rules4) };
  state.policy.v6 = { table: null, ...parseRules(rules6 ?? "[]") };
  state.policy.srcValidMark = validMark === "1";

  if (newLink !== null) return { ...state, exists: true, up: newLink.up, mtu: newLink.mtu };
  if (link === null) return state;
  Object.assign(state, { exists: true, ...parseLink(link) });
  const need = (out: string | null, args: string[]) => {
    if (out === null) throw new CliError(`ip ${args.join(" ")} failed`, EXIT.FAILURE);
    return out;
  };
  state.addresses = parseAddresses(need(addresses, ["addr", "show", "dev", ifname]));
  for (const family of [4, 6] as const) {
    const parsed = parseRoutes(family === 4 ? need(routes4, routeArgs(4)) : (routes6 ?? "[]"), family);
    state.routes.push(...parsed.routes);
    state.otherRoutes.push(...parsed.otherRoutes);
    const policy = family === 4 ? state.policy.v4 : state.policy.v6;
    // A default route in a numbered table is policy routing only when a mark rule points there;
    // otherwise it is a `table = N` route (wg-quick's Table=N puts default routes there plainly).
    const isPolicy = parsed.table !== null && policy.markRules.includes(parsed.table);
    policy.table = isPolicy ? parsed.table : null;
    state.tableRoutes.push(...parsed.tableRoutes.filter((r) => !(isPolicy && r.table === parsed.table && r.route.endsWith("/0"))));
  }
  return state;
}
