// What the numbers were measured on and with, so results from different
// machines or commits are never compared blindly.
import { readFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { run } from "../../test/support/netns.ts";

export interface Machine {
  date: string;
  kernel: string;
  arch: string;
  cpuModel: string;
  cores: number;
  gitCommit: string;
  /** gitDirty: the working tree differed from the commit (the numbers may not be the commit's). */
  gitDirty: boolean;
  bun: string;
  iperf3: string;
  wireguardGo: string;
  /** 1/5/15-minute load averages at the start and the end: anything else running skews the numbers. */
  loadAverageStart: number[];
  loadAverageEnd?: number[];
}

function firstLine(argv: string[]): string {
  try {
    return (
      run(argv, { allowFail: true })
        .split("\n")
        .find((l) => l.trim() !== "")
        ?.trim() ?? "unknown"
    );
  } catch {
    return "unknown";
  }
}

export function describeMachine(root: string): Machine {
  const cpuinfo = readFileSync("/proc/cpuinfo", "utf8");
  // x86 says "model name"; some arm kernels only give "Hardware" or "CPU part".
  const model = /^(?:model name|Hardware|Processor)\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? "unknown";
  return {
    date: new Date().toISOString(),
    kernel: firstLine(["uname", "-r"]),
    arch: process.arch,
    cpuModel: model,
    cores: cpus().length,
    gitCommit: firstLine(["git", "-C", root, "rev-parse", "--short=12", "HEAD"]),
    gitDirty: run(["git", "-C", root, "status", "--porcelain", "--untracked-files=no"], { allowFail: true }).trim() !== "",
    bun: Bun.version,
    iperf3: firstLine(["iperf3", "--version"]),
    wireguardGo: firstLine(["wireguard-go", "--version"]),
    loadAverageStart: loadavg().map((x) => Math.round(x * 100) / 100),
  };
}
