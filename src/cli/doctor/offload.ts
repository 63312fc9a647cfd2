// TUN offloads, USO, the GRO write probe and UDP GSO/GRO, judged from the
// facts host-probe.ts measured on a scratch TUN and scratch sockets.
import type { TunProbe, UdpProbe } from "../../device/host-probe.ts";
import type { Finding } from "./finding.ts";

const UPGRADE = "upgrade the kernel (TSO needs TUN_F_TSO*, USO needs Linux 6.2+, UDP_GRO on sockets 5.12+)";

export function tunFindings(p: TunProbe, kernel: string): Finding[] {
  if (!p.ok) {
    const perm = /EPERM|EACCES/.test(p.error);
    return [
      {
        check: "tun-offload",
        level: perm ? "info" : "error",
        summary: `cannot open a scratch TUN device: ${p.error}`,
        detail: perm ? "run tunnel doctor as root to check TUN offloads" : "without /dev/net/tun no interface can come up",
        fix: perm ? "sudo tunnel doctor" : "modprobe tun   # and make sure /dev/net/tun exists (mknod /dev/net/tun c 10 200)",
      },
    ];
  }
  const o = p.offloads;
  const out: Finding[] = [];
  if (!o.vnetHeader) {
    out.push({
      check: "tun-offload",
      level: "warn",
      summary: "TUN without virtio-net header: one packet per read and write, no TSO/USO, no coalescing",
      detail: o.reasons.join("; "),
      fix: `unset TUNNEL_DISABLE_VNET_HDR, or ${UPGRADE}`,
    });
    return out;
  }
  if (!o.tso)
    out.push({
      check: "tun-offload",
      level: "warn",
      summary: `TUN TSO refused by kernel ${kernel}: TCP through the tunnel is split into MTU packets by the kernel before we see it`,
      detail: o.reasons.join("; "),
      fix: UPGRADE,
    });
  else out.push({ check: "tun-offload", level: "ok", summary: `TUN vnet header and TSO on (kernel ${kernel})` });
  if (!o.uso) {
    const killed = o.reasons.some((r) => r.includes("TUNNEL_DISABLE_UDP_GRO"));
    out.push({
      check: "tun-uso",
      level: killed ? "info" : "warn",
      summary: killed
        ? "TUN USO off: TUNNEL_DISABLE_UDP_GRO is set"
        : `TUN USO (UDP segmentation offload) not available on kernel ${kernel}: UDP through the tunnel (QUIC, iperf3 -u) goes packet by packet`,
      fix: killed ? "unset TUNNEL_DISABLE_UDP_GRO" : "upgrade to Linux 6.2 or later",
    });
  } else out.push({ check: "tun-uso", level: "ok", summary: "TUN USO on: UDP super-packets are split by us" });
  const groOff = o.reasons.find((r) => r.startsWith("GRO off"));
  if (groOff)
    out.push({
      check: "gro-probe",
      level: "warn",
      summary: "the kernel rejected a valid coalesced TUN write: receive-side coalescing is off",
      detail: groOff,
      fix: "upgrade the kernel (6.6.44/6.6.45 and 6.10.3 have this bug), or keep running with coalescing off (automatic)",
    });
  else if (!p.groProbeRan) out.push({ check: "gro-probe", level: "info", summary: "GRO write probe not run: the scratch TUN could not be brought up" });
  else if (o.tcpGro || o.udpGro)
    out.push({ check: "gro-probe", level: "ok", summary: `coalesced TUN writes accepted (TCP ${o.tcpGro ? "on" : "off"}, UDP ${o.udpGro ? "on" : "off"})` });
  return out;
}

export function udpFindings(p: UdpProbe): Finding[] {
  if (!p.ok) return [{ check: "udp-offload", level: "error", summary: `cannot open an outer UDP socket: ${p.error}` }];
  const out: Finding[] = [];
  for (const f of p.families) {
    const missing = [f.gso ? null : "GSO (UDP_SEGMENT, send)", f.gro ? null : "GRO (UDP_GRO, receive)"].filter((x) => x !== null);
    if (missing.length === 0) out.push({ check: "udp-offload", level: "ok", summary: `IPv${f.family} outer socket: UDP GSO and GRO on` });
    else {
      const notes = p.notes.filter((n) => n.startsWith(`IPv${f.family} UDP`));
      const killed = notes.some((n) => n.includes("is set"));
      out.push({
        check: "udp-offload",
        level: killed ? "info" : "warn",
        summary: `IPv${f.family} outer socket: no UDP ${missing.join(" and no ")}: one syscall per datagram`,
        detail: notes.join("; "),
        fix: killed ? "unset TUNNEL_DISABLE_UDP_GSO / TUNNEL_DISABLE_UDP_GRO_SOCKET" : UPGRADE,
      });
    }
  }
  const noV6 = p.notes.find((n) => n.startsWith("IPv6 outer socket off"));
  if (noV6) out.push({ check: "udp-offload", level: "info", summary: noV6 });
  return out;
}
