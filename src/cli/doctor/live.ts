// What the running interfaces themselves report: offloads the daemon had to
// turn off (its own GRO probe included) and drops worth a look.
import type { DeviceStatus } from "../../device/device-status.ts";
import type { Finding } from "./finding.ts";

export function liveFindings(statuses: DeviceStatus[]): Finding[] {
  const out: Finding[] = [];
  for (const s of statuses) {
    const o = s.offloads;
    for (const r of o.reasons) out.push({ check: "interface-offload", level: r.includes("is set") ? "info" : "warn", summary: `${s.interfaceName}: ${r}` });
    if (s.crypto === "typescript")
      out.push({
        check: "interface-crypto",
        level: "warn",
        summary: `${s.interfaceName} runs the slow TypeScript crypto fallback`,
        fix: "install libcrypto (libssl3), then restart the interface",
      });
    if (s.counters.gsoDisabledEio > 0)
      out.push({
        check: "interface-gso",
        level: "warn",
        summary: `${s.interfaceName}: the kernel refused UDP GSO sends ${s.counters.gsoDisabledEio} time(s) (EIO: the egress device cannot checksum-offload); sends fell back to one datagram each`,
        fix: "ethtool -K EGRESS_DEV tx-checksumming on   # or accept the fallback",
      });
    if (o.reasons.length === 0 && s.crypto !== "typescript")
      out.push({ check: "interface", level: "ok", summary: `${s.interfaceName}: every offload on, crypto ${s.crypto}` });
  }
  return out;
}
