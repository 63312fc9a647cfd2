// `tunnel doctor [NAME] [--json] [--port N]`: why this host will be slow or
// broken, each finding with the command that fixes it. It measures rather
// than guesses: a scratch TUN and scratch sockets negotiated the way the
// data plane does, the kernel's real buffer grants, the running interfaces'
// own state, the firewall's verdict on their ports and the path to each
// peer. Exit code: 0 nothing to fix, 1 warnings only, 2 something is broken
// (the Nagios plugin convention, so monitoring can run it as a check).
import { defineCommand } from "citty";
import type { DeviceStatus } from "../device/device-status.ts";
import { DEFAULT_STATUS_RUN_DIR, DEFAULT_UAPI_RUN_DIR } from "../device/socket-paths.ts";
import { queryStatus } from "../device/status-query.ts";
import { bufferFindings } from "./doctor/buffers.ts";
import { clockFindings } from "./doctor/clock.ts";
import { cryptoFindings } from "./doctor/crypto.ts";
import { exitCodeFor, renderFindings, type Finding } from "./doctor/finding.ts";
import { firewallFindings } from "./doctor/firewall.ts";
import { gatherBuffers, gatherClock, gatherCrypto, gatherTun, gatherUdp, kernelRelease } from "./doctor/gather-host.ts";
import { gatherFirewall, gatherGateway, gatherPaths, gatherSockets } from "./doctor/gather-net.ts";
import { liveFindings } from "./doctor/live.ts";
import { tunFindings, udpFindings } from "./doctor/offload.ts";
import { gatewayFindings, pathFindings } from "./doctor/path.ts";
import { staleSocketFindings, socketFiles } from "./doctor/stale-sockets.ts";
import { CliError, EXIT } from "./errors.ts";
import { writeData } from "./output.ts";

async function runningStatuses(name: string | undefined): Promise<DeviceStatus[]> {
  const names = name ? [name] : socketFiles(DEFAULT_UAPI_RUN_DIR).map((p) => p.replace(/^.*\//, "").replace(/\.sock$/, ""));
  const out: DeviceStatus[] = [];
  for (const n of names) {
    try {
      out.push((await queryStatus(n, DEFAULT_STATUS_RUN_DIR)) as DeviceStatus);
    } catch (e) {
      if (name) throw new CliError(`${name}: not a running tunnel interface (${(e as Error).message})`, EXIT.UNAVAILABLE);
    }
  }
  return out;
}

/** diagnose runs every check and returns the findings in report order. */
export async function diagnose(opts: { name?: string; ports: number[]; env: Record<string, string | undefined> }): Promise<Finding[]> {
  const statuses = await runningStatuses(opts.name);
  const ports = [...new Set([...opts.ports, ...statuses.map((s) => s.listenPort)])];
  const [clock, firewall, paths, gateway, sockets] = await Promise.all([
    gatherClock(),
    gatherFirewall(ports),
    gatherPaths(statuses),
    gatherGateway(),
    gatherSockets(),
  ]);
  return [
    ...tunFindings(gatherTun(opts.env), kernelRelease()),
    ...udpFindings(gatherUdp(opts.env)),
    ...bufferFindings(gatherBuffers()),
    ...cryptoFindings(gatherCrypto(opts.env)),
    ...clockFindings(clock),
    ...liveFindings(statuses),
    ...pathFindings(paths),
    ...gatewayFindings(gateway),
    ...firewallFindings(ports, firewall.verdicts, firewall.unreadable),
    ...staleSocketFindings(sockets),
  ];
}

export default defineCommand({
  meta: { name: "doctor", description: "Explain why this host will be slow or broken, with the command that fixes each finding" },
  args: {
    name: { type: "positional", description: "Interface to check (default: every running one)", required: false },
    json: { type: "boolean", description: "Print {findings, exitCode} as JSON on stdout" },
    port: { type: "string", description: "Also check the firewall for this UDP port (e.g. before the first tunnel up)" },
  },
  async run({ args }) {
    const ports: number[] = [];
    if (args.port !== undefined && args.port !== "") {
      const p = Number(args.port);
      if (!Number.isInteger(p) || p < 1 || p > 65535) throw new CliError(`--port: '${args.port}' is not a port number (1-65535)`, EXIT.USAGE);
      ports.push(p);
    }
    const findings = await diagnose({ name: args.name ? String(args.name) : undefined, ports, env: process.env });
    const code = exitCodeFor(findings);
    writeData(args.json ? JSON.stringify({ exitCode: code, findings }, null, 2) : renderFindings(findings));
    if (code === 2) throw new CliError("doctor: something is broken (see the ERROR lines)", code);
    if (code === 1) throw new CliError("doctor: warnings only; the tunnel works, slower than it could", code);
  },
});
