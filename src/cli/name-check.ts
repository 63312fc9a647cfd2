// Before a daemon is started for IFNAME: is the name free here? Two ways it
// is not, both refused before anything is touched, with the reason:
//   - a daemon answers on /var/run/wireguard/IFNAME.sock (shared by every
//     network namespace): already running here, or held from another
//     namespace, whose daemon `up` would otherwise configure;
//   - a link of that name that is not a TUN (a veth, a TAP, a NIC) exists in
//     this namespace: TUNSETIFF would fail with a bare EINVAL.
import { daemonState, otherNetnsError } from "./daemon-state.ts";
import { CliError, EXIT } from "./errors.ts";
import { defaultRunner, run, type NetRunner } from "./netconfig-runner.ts";

interface IpDetailedLink {
  link_type?: string;
  linkinfo?: { info_kind?: string; info_data?: { type?: string } };
}

/**
 * parseLinkKind reads `ip -d -j link show dev IF`: "tun", "tap", the
 * linkinfo kind of other virtual links ("veth", "bridge", "wireguard"), or
 * the link type of a device without one ("ether", "loopback").
 */
export function parseLinkKind(json: string): string {
  let link: IpDetailedLink = {};
  try {
    link = (JSON.parse(json) as IpDetailedLink[])[0] ?? {};
  } catch {
    return "unknown";
  }
  const kind = link.linkinfo?.info_kind;
  if (kind === "tun") return link.linkinfo?.info_data?.type === "tap" ? "tap" : "tun";
  return kind ?? link.link_type ?? "unknown";
}

/** linkKind is the kind of the link named ifname in this namespace, or null when there is none. */
export async function linkKind(ifname: string, runner: NetRunner = defaultRunner): Promise<string | null> {
  const r = await run(runner, { tool: "ip", args: ["-d", "-j", "link", "show", "dev", ifname] });
  return r.code === 0 ? parseLinkKind(r.stdout) : null;
}

/**
 * refuseTakenName throws the reason ifname cannot get a new daemon here;
 * command names the caller in errors. Otherwise it tells whether a TUN of
 * that name is there already (a persistent one the daemon will attach to).
 */
export async function refuseTakenName(ifname: string, command: string): Promise<{ linkExists: boolean }> {
  const state = daemonState(ifname, command);
  if (state.kind === "running") {
    if (state.otherNetns) throw otherNetnsError(ifname, state.pid, "cannot start");
    throw new CliError(`${ifname}: already running${state.pid === null ? "" : ` (daemon pid ${state.pid})`}`, EXIT.UNAVAILABLE);
  }
  const kind = await linkKind(ifname);
  if (kind !== null && kind !== "tun") {
    throw new CliError(
      `${ifname}: a link of that name exists in this network namespace and it is a ${kind}, not a TUN; remove it (ip link delete ${ifname}) or pick another name`,
      EXIT.UNAVAILABLE,
    );
  }
  return { linkExists: kind !== null };
}
