// The typed tunnel configuration every parser produces and every consumer
// (`tunnel up`, `convert`, diff) reads. TOML keys are snake_case; the fields
// here are their camelCase twins. Addresses and prefixes are stored in their
// canonical text form so configs compare with plain string equality.

import type { ConfigIssue } from "./errors.ts";

/** DEFAULT_MTU is the wg-quick result for a 1500-byte path (1500 - 80). */
export const DEFAULT_MTU = 1420;
/** MIN_MTU_IPV4 is the smallest MTU every IPv4 host must accept (RFC 791). */
export const MIN_MTU_IPV4 = 576;
/** MIN_MTU_IPV6 is the IPv6 minimum link MTU (RFC 8200 §5); Linux drops IPv6 below it. */
export const MIN_MTU_IPV6 = 1280;
export const MAX_MTU = 65535;
/** MAX_IFNAME_LEN is IFNAMSIZ - 1: the kernel needs room for the NUL. */
export const MAX_IFNAME_LEN = 15;

/**
 * KeySource says where a secret key comes from. `path` is the file name as
 * written in the config (kept so the config round-trips through toToml);
 * `resolvedPath` is that name resolved against the config file's directory.
 */
export type KeySource = { kind: "inline"; key: string } | { kind: "file"; path: string; resolvedPath: string };

/** Endpoint is a peer address as written; `family: "name"` still needs DNS resolution. */
export interface Endpoint {
  family: "ipv4" | "ipv6" | "name";
  /** Canonical address text (no brackets) or the host name as written. */
  host: string;
  port: number;
}

export interface InterfaceConfig {
  name: string;
  privateKey: KeySource;
  /** Absent means "let the kernel pick", as with wg(8). */
  listenPort?: number;
  /** Interface addresses with their subnet length, e.g. "198.18.0.1/24"; host bits are meaningful here. */
  addresses: string[];
  mtu: number;
  /** 0 and absent both mean "no mark"; kept distinct so the config round-trips. */
  fwmark?: number;
  /** TCP address for the Prometheus metrics ("127.0.0.1:9586", "[::1]:9586"); absent = Unix socket only. */
  metricsListen?: string;
  /** Name servers (canonical IP text) set for the interface while it is up; absent = leave DNS alone. */
  dns?: string[];
  /** Search domains set with `dns` (wg-quick's non-address DNS= items). */
  dnsSearch?: string[];
  /** Where routes for allowed IPs go (wg-quick Table=); absent means "auto". */
  table?: RouteTable;
  /** Shell commands (bash -c, %i = interface name) run around up and down, as wg-quick's hooks. */
  preUp?: string[];
  postUp?: string[];
  preDown?: string[];
  postDown?: string[];
  /** Seconds between re-resolutions of peer endpoints given as host names while they work; absent = 300. */
  endpointRefresh?: number;
  /** Data-plane threads (the data plane and its crypto helpers); absent = "auto". */
  workers?: WorkersSetting;
}

/** WorkersSetting: "auto" (chosen for the machine's cores) or a count from 1 to MAX_WORKERS. */
export type WorkersSetting = "auto" | number;
export const MAX_WORKERS = 64;

/**
 * RouteTable is wg-quick's Table=: "off" adds no routes, "auto" adds them to
 * main (a default route gets policy routing), "main" or a number puts every
 * route, default ones included, into that table with no policy rules.
 */
export type RouteTable = "off" | "auto" | "main" | number;

/** The hook keys, in the order they run. */
export const HOOK_FIELDS = ["preUp", "postUp", "preDown", "postDown"] as const;
export type HookField = (typeof HOOK_FIELDS)[number];
/** HOOK_KEYS are the TOML names of the hook fields. */
export const HOOK_KEYS: Record<HookField, string> = { preUp: "pre_up", postUp: "post_up", preDown: "pre_down", postDown: "post_down" };

export interface PeerConfig {
  publicKey: string;
  presharedKey?: KeySource;
  endpoint?: Endpoint;
  /** Canonical prefixes with host bits cleared, e.g. "198.18.1.0/24". */
  allowedIps: string[];
  /** Seconds; 0 means off. */
  persistentKeepalive?: number;
  name?: string;
  description?: string;
}

export interface TunnelConfig {
  interface: InterfaceConfig;
  peers: PeerConfig[];
}

/** ConfigSource is what the CLI hands a parser: the path (for messages and relative paths) and the text. */
export interface ConfigSource {
  path: string;
  text: string;
}

export type ConfigResult = { ok: true; config: TunnelConfig; warnings: ConfigIssue[] } | { ok: false; errors: ConfigIssue[] };
