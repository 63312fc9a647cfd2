// The lab's network: one namespace owned by this process, holding a bridge
// with the host side's addresses and one tap per VM. Addresses come from
// 198.19.77.0/24 and fd00:77::/64 only (inside the lab's own namespace, so
// they cannot meet anything else): the host is .1 / ::1, VM number i (from 0,
// in Lab.start order) is .(11+i) / ::(11+i) with MAC 52:54:00:77:00:(11+i).
import { readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Netns, pidAlive, run } from "../support/netns.ts";

export const NETNS_PREFIX = "tvm";
export const BRIDGE = "br0";
export const HOST_V4 = "198.19.77.1";
export const HOST_V6 = "fd00:77::1";
const BRIDGE_MAC = "52:54:00:77:00:01";

export interface VmAddresses {
  v4: string;
  v6: string;
  mac: string;
  tap: string;
}

export function vmAddresses(index: number, name: string): VmAddresses {
  const host = 11 + index;
  if (host > 250) throw new Error("the lab has room for 240 VMs");
  return { v4: `198.19.77.${host}`, v6: `fd00:77::${host}`, mac: `52:54:00:77:00:${host.toString(16).padStart(2, "0")}`, tap: `tap-${name}`.slice(0, 15) };
}

let labCounter = 0;

/** createLabNetwork makes the namespace, the bridge with the host's addresses, and the taps. */
export function createLabNetwork(vms: { tap: string }[]): Netns {
  const ns = Netns.create(NETNS_PREFIX, `lab${labCounter++}`);
  try {
    // No STP and no forwarding delay: a tap must carry frames the moment qemu opens it.
    ns.ip("link", "add", BRIDGE, "type", "bridge", "stp_state", "0", "forward_delay", "0");
    // A fixed MAC: a guest resumed from a snapshot still has it in its neighbour table.
    ns.ip("link", "set", BRIDGE, "address", BRIDGE_MAC);
    ns.ip("addr", "add", `${HOST_V4}/24`, "dev", BRIDGE);
    ns.ip("addr", "add", `${HOST_V6}/64`, "dev", BRIDGE, "nodad");
    ns.ip("link", "set", BRIDGE, "up");
    for (const vm of vms) {
      ns.ip("tuntap", "add", vm.tap, "mode", "tap");
      ns.ip("link", "set", vm.tap, "master", BRIDGE);
      ns.ip("link", "set", vm.tap, "up");
    }
  } catch (e) {
    ns.delete();
    throw e;
  }
  return ns;
}

/**
 * removeStaleLabs cleans up after lab processes that died without stopping:
 * their namespaces (and the qemu and ssh they left inside, which only a lab
 * starts there) and their run directories.
 */
export function removeStaleLabs(): void {
  const names = run(["ip", "netns", "list"], { allowFail: true })
    .split("\n")
    .map((l) => l.split(" ")[0] ?? "");
  for (const name of names) {
    const m = new RegExp(`^${NETNS_PREFIX}-(\\d+)-lab\\d+$`).exec(name);
    if (!m || pidAlive(Number(m[1]))) continue;
    for (const pid of run(["ip", "netns", "pids", name], { allowFail: true }).split("\n").filter(Boolean)) {
      try {
        process.kill(Number(pid), "SIGKILL");
      } catch {
        // already gone
      }
    }
    run(["ip", "netns", "delete", name], { allowFail: true });
  }
  for (const entry of readdirSync(tmpdir())) {
    const m = /^tvm-(\d+)-/.exec(entry);
    if (m && !pidAlive(Number(m[1]))) rmSync(join(tmpdir(), entry), { recursive: true, force: true });
  }
}
