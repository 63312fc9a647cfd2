// Types shared by the netconfig files: what the kernel has (LiveNetState),
// what `tunnel up` wants (DesiredNetState) and the steps between them
// (NetChange). Kept apart so the pure planner and the I/O side import the
// same shapes without importing each other.
import type { RouteTable } from "../config/index.ts";

/** DesiredNetState is the interface setup `tunnel up` asks for. */
export interface DesiredNetState {
  /** Interface addresses with their subnet length ("198.18.0.1/24", "fd00::1/64"). */
  addresses: string[];
  mtu: number;
  /** The allowed-IPs prefixes of every peer; /0 prefixes get wg-quick's policy routing. */
  routes: string[];
  /** The device's fwmark from the config; 0 or absent = none. */
  fwmark?: number;
  /** wg-quick's Table=: absent = "auto". */
  table?: RouteTable;
}

/** TableRoute is a route via this interface in a numbered table other than main. */
export interface TableRoute {
  table: number;
  route: string;
}

/** FamilyPolicy is the policy-routing state of one address family. */
export interface FamilyPolicy {
  /** The routing table (not main) that holds this interface's default route, or null. */
  table: number | null;
  /** T of every `not fwmark T lookup T` rule, whichever interface added it. */
  markRules: number[];
  /** How many `lookup main suppress_prefixlength 0` rules exist (wg-quick may leave duplicates). */
  suppressRules: number;
}

export interface LiveNetState {
  /** The interface name; the plan's commands name it. */
  name: string;
  exists: boolean;
  up: boolean;
  mtu: number;
  /** Canonical "address/length", every scope (link-local included, but never planned away). */
  addresses: string[];
  /** Main-table routes via this interface that tunnel manages (protocol boot/static), canonical prefixes. */
  routes: string[];
  /** Main-table routes via this interface made by others (the kernel's subnet routes, RA, ...): they cover, never removed. */
  otherRoutes: string[];
  /** Routes via this interface in numbered tables (`table = N`), not counting the policy table's default route. */
  tableRoutes: TableRoute[];
  policy: { v4: FamilyPolicy; v6: FamilyPolicy; srcValidMark: boolean };
}

/**
 * NewLink is a link a daemon of ours created moments ago, as it reads it
 * itself: a new link carries no addresses and no routes (nothing has been
 * added, and the kernel adds none to a link that is down), so only these two
 * facts are left to know about it.
 */
export interface NewLink {
  up: boolean;
  mtu: number;
}

/** NetCommand is one command line: `tool` is resolved through the runner's prefixes. */
export interface NetCommand {
  tool: "ip" | "sysctl";
  args: string[];
}

export interface NetChange {
  /** For humans: "address 198.18.0.1/24 added", "mtu 1420 → 1380", "route fd00::/64 removed". */
  description: string;
  command: NetCommand;
}

export interface NetPlan {
  changes: NetChange[];
  /**
   * The fwmark the device must carry: the config's, or, when a peer takes a
   * default route and the config has none, the policy table chosen (as
   * wg-quick does with `wg set IF fwmark T`). null: no mark. The caller sets
   * it through UAPI; without it the tunnel's own UDP packets would loop into the tunnel.
   */
  fwmark: number | null;
}

export const EMPTY_POLICY: FamilyPolicy = { table: null, markRules: [], suppressRules: 0 };

/** absentState is the live state of an interface that does not exist. */
export function absentState(name: string): LiveNetState {
  return {
    name,
    exists: false,
    up: false,
    mtu: 0,
    addresses: [],
    routes: [],
    otherRoutes: [],
    tableRoutes: [],
    policy: { v4: { ...EMPTY_POLICY, markRules: [] }, v6: { ...EMPTY_POLICY, markRules: [] }, srcValidMark: false },
  };
}
