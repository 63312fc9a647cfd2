// Facts about this host's kernel and runtime: offloads on a scratch TUN and
// scratch sockets, socket buffer limits, the crypto backend, CPU flags and
// the clock.
import { readFileSync } from "node:fs";
import { release } from "node:os";
import { selectBackend } from "../../crypto/select.ts";
import { probeBuffers, probeTun, probeUdp, type TunProbe, type UdpProbe } from "../../device/host-probe.ts";
import type { BufferFacts } from "./buffers.ts";
import type { ClockFacts } from "./clock.ts";
import { parseCpuFlags, type CryptoFacts } from "./crypto.ts";
import { runTool } from "./exec.ts";

/** NOT_BEFORE is when this code was written: a clock before it is certainly wrong. */
const NOT_BEFORE_MS = Date.UTC(2026, 10, 1);

function readText(path: string): string | null {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return null;
  }
}

function readNumber(path: string): number | null {
  const t = readText(path);
  return t === null || !/^\d+\s*$/.test(t) ? null : Number(t);
}

export function kernelRelease(): string {
  return release();
}

/** gatherTun probes a scratch TUN named after our pid, so parallel runs never share one. */
export function gatherTun(env: Record<string, string | undefined>): TunProbe {
  return probeTun(`tdoctor${process.pid % 100000}`, env);
}

export function gatherUdp(env: Record<string, string | undefined>): UdpProbe {
  return probeUdp(env);
}

export function gatherBuffers(): BufferFacts {
  return { probe: probeBuffers(), rmemMax: readNumber("/proc/sys/net/core/rmem_max"), wmemMax: readNumber("/proc/sys/net/core/wmem_max") };
}

export function gatherCrypto(env: Record<string, string | undefined>): CryptoFacts {
  const cpuFlags = parseCpuFlags(readText("/proc/cpuinfo") ?? "");
  try {
    const { backend, warning } = selectBackend(env);
    return { backend: backend.name, problem: warning, arch: process.arch, cpuFlags };
  } catch (e) {
    return { backend: null, problem: (e as Error).message, arch: process.arch, cpuFlags };
  }
}

export async function gatherClock(): Promise<ClockFacts> {
  const r = await runTool(["timedatectl", "show", "--property=NTPSynchronized", "--value"], 2000);
  const v = r?.code === 0 ? r.stdout.trim() : "";
  return { nowMs: Date.now(), notBeforeMs: NOT_BEFORE_MS, ntpSynchronized: v === "yes" ? true : v === "no" ? false : null };
}
