// The interface's DNS while it is up, as wg-quick sets it, through one of
// two back ends:
//   systemd-resolved running: per-link servers and domains with resolvectl,
//     `~.` plus default-route so every query goes to the tunnel's servers
//     (what resolvconf's -x, "exclusive", means), undone with `revert`;
//   otherwise resolvconf (Debian's or openresolv), exactly wg-quick's
//     `resolvconf -a [prefix.]IF -m 0 -x` fed "nameserver"/"search" lines,
//     undone with `resolvconf -d [prefix.]IF -f`.
// What was set is recorded (AppliedDns) so `down`, or the next `up` after a
// crash, undoes it with the same back end and the same record name.
import { existsSync, readFileSync } from "node:fs";
import { CliError, EXIT } from "./errors.ts";

export interface DesiredDns {
  servers: string[];
  search: string[];
}

export interface AppliedDns extends DesiredDns {
  via: "resolvectl" | "resolvconf";
  /** The name given to the back end: the link for resolvectl, the record (maybe "tun.wg0") for resolvconf. */
  record: string;
}

export interface DnsRunner {
  resolvectl: readonly string[];
  resolvconf: readonly string[];
  /** Whether systemd-resolved is running (its Varlink socket exists). */
  resolvedRunning: () => boolean;
  /** Debian resolvconf's interface-order file, for wg-quick's record prefix; null: none. */
  interfaceOrder: () => string | null;
  exec: (argv: string[], input?: string) => Promise<{ code: number; stderr: string }>;
}

async function spawnWithInput(argv: string[], input?: string): Promise<{ code: number; stderr: string }> {
  const spawn = () => Bun.spawn(argv, { stdin: input === undefined ? "ignore" : new TextEncoder().encode(input), stdout: "ignore", stderr: "pipe" });
  let proc: ReturnType<typeof spawn>;
  try {
    proc = spawn();
  } catch (e) {
    return { code: 127, stderr: (e as Error).message };
  }
  const [stderr, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
  return { code, stderr };
}

export const RESOLVED_SOCKET = "/run/systemd/resolve/io.systemd.Resolve";

export const defaultDnsRunner: DnsRunner = {
  resolvectl: ["resolvectl"],
  resolvconf: ["resolvconf"],
  resolvedRunning: () => existsSync(RESOLVED_SOCKET),
  interfaceOrder: () => {
    try {
      return readFileSync("/etc/resolvconf/interface-order", "utf8");
    } catch {
      return null;
    }
  },
  exec: spawnWithInput,
};

/**
 * resolvconfRecord is wg-quick's resolvconf_iface_prefix: with Debian's
 * resolvconf, the first `NAME*` pattern of interface-order (usually "tun*")
 * becomes a "NAME." prefix, so the record sorts where VPNs belong.
 */
export function resolvconfRecord(ifname: string, interfaceOrder: string | null): string {
  if (interfaceOrder === null) return ifname;
  for (const line of interfaceOrder.split("\n")) {
    const match = /^([A-Za-z0-9-]+)\*$/.exec(line.trim());
    if (match) return `${match[1]}.${ifname}`;
  }
  return ifname;
}

/** resolvconfInput is what wg-quick pipes into resolvconf -a. */
export function resolvconfInput(dns: DesiredDns): string {
  const lines = dns.servers.map((s) => `nameserver ${s}`);
  if (dns.search.length > 0) lines.push(`search ${dns.search.join(" ")}`);
  return `${lines.join("\n")}\n`;
}

function fail(ifname: string, argv: readonly string[], result: { code: number; stderr: string }): never {
  const why = result.code === 127 ? "not installed (apt-get install openresolv, or run systemd-resolved)" : result.stderr.trim() || `exit ${result.code}`;
  throw new CliError(`${ifname}: setting DNS failed: ${argv.join(" ")}: ${why}`, EXIT.FAILURE);
}

/** sameDns reports whether a recorded DNS setup already is the desired one (server order matters to resolvers). */
export function sameDns(applied: AppliedDns | null, desired: DesiredDns | null): boolean {
  if (applied === null || desired === null) return applied === desired;
  const same = (a: string[], b: string[]) => a.length === b.length && a.every((x, i) => x === b[i]);
  return same(applied.servers, desired.servers) && same(applied.search, desired.search);
}

/** applyDns registers the servers and search domains for ifname and returns what to record. */
export async function applyDns(ifname: string, dns: DesiredDns, runner: DnsRunner = defaultDnsRunner): Promise<AppliedDns> {
  if (runner.resolvedRunning()) {
    const steps = [
      [...runner.resolvectl, "dns", ifname, ...dns.servers],
      // "~." routes every query to this link; the search domains are also used for lookups of single labels.
      [...runner.resolvectl, "domain", ifname, "~.", ...dns.search],
      [...runner.resolvectl, "default-route", ifname, "yes"],
    ];
    for (const argv of steps) {
      const result = await runner.exec(argv);
      if (result.code !== 0) fail(ifname, argv, result);
    }
    return { via: "resolvectl", record: ifname, ...dns };
  }
  const record = resolvconfRecord(ifname, runner.interfaceOrder());
  const argv = [...runner.resolvconf, "-a", record, "-m", "0", "-x"];
  const result = await runner.exec(argv, resolvconfInput(dns));
  if (result.code !== 0) fail(ifname, argv, result);
  return { via: "resolvconf", record, ...dns };
}

/**
 * revertDns undoes a recorded setup. The link may be gone already (resolved
 * then forgot it by itself), so a failing revert is not an error: the
 * returned string says what happened, for the change list.
 */
export async function revertDns(applied: AppliedDns, runner: DnsRunner = defaultDnsRunner): Promise<string> {
  const argv = applied.via === "resolvectl" ? [...runner.resolvectl, "revert", applied.record] : [...runner.resolvconf, "-d", applied.record, "-f"];
  const result = await runner.exec(argv);
  const servers = applied.servers.join(", ");
  if (result.code === 0) return `dns ${servers} removed (${applied.via})`;
  return `dns ${servers} removed (${applied.via}: ${result.stderr.trim() || `exit ${result.code}`}; the link is gone)`;
}
