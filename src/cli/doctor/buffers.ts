// Socket buffers: the data plane asks 7 MiB per socket; without
// CAP_NET_ADMIN (SO_RCVBUFFORCE) the kernel caps it at net.core.rmem_max /
// wmem_max, and a small receive buffer drops bursts of GRO batches.
import type { BufferProbe } from "../../device/host-probe.ts";
import type { Finding } from "./finding.ts";

export interface BufferFacts {
  probe: BufferProbe;
  /** net.core.rmem_max / wmem_max, null when unreadable. */
  rmemMax: number | null;
  wmemMax: number | null;
}

const mib = (n: number) => `${(n / (1 << 20)).toFixed(n % (1 << 20) === 0 ? 0 : 2)} MiB`;

export function bufferFindings(f: BufferFacts): Finding[] {
  const want = f.probe.wantBytes;
  const low = [
    f.rmemMax !== null && f.rmemMax < want ? `net.core.rmem_max=${f.rmemMax}` : null,
    f.wmemMax !== null && f.wmemMax < want ? `net.core.wmem_max=${f.wmemMax}` : null,
  ].filter((x) => x !== null);
  const granted = Math.min(f.probe.grantedRcvBytes, f.probe.grantedSndBytes);
  const fix = `sysctl -w net.core.rmem_max=${want} net.core.wmem_max=${want}\nprintf 'net.core.rmem_max = ${want}\\nnet.core.wmem_max = ${want}\\n' > /etc/sysctl.d/60-tunnel.conf`;
  const out: Finding[] = [];
  if (granted >= want) {
    const via = low.length > 0 ? ` (above ${low.join(", ")}, through SO_RCVBUFFORCE/SO_SNDBUFFORCE)` : "";
    out.push({ check: "socket-buffers", level: "ok", summary: `outer sockets get the ${mib(want)} buffers they ask for${via}` });
  } else {
    out.push({
      check: "socket-buffers",
      level: "warn",
      summary: `outer sockets get ${mib(granted)} of the ${mib(want)} buffers they ask for: bursts beyond that are dropped by the kernel`,
      detail: `${low.join(", ") || "the kernel's limits"} caps SO_RCVBUF/SO_SNDBUF, and SO_RCVBUFFORCE is ${f.probe.forceAllowed === false ? "not allowed (no CAP_NET_ADMIN in the initial user namespace)" : "unavailable"}`,
      fix: `${f.probe.forceAllowed === false ? "run the daemon as root (it then forces the size), or " : ""}raise the limits:\n${fix}`,
    });
  }
  if (f.probe.forceAllowed === false && granted < want) {
    out.push({
      check: "socket-buffers-force",
      level: "info",
      summary: "SO_RCVBUFFORCE is not allowed to this process; a root daemon (systemd unit) may still force its buffers",
    });
  }
  return out;
}
