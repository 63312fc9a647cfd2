// The crypto backend (libcrypto or the ~20x slower TypeScript fallback) and
// the CPU against the build: Bun's x64 runtime needs AVX2 (Haswell and
// later); older CPUs need a binary built for bun-linux-x64-baseline, and a
// non-baseline binary there dies with SIGILL before any check could run.
import type { Finding } from "./finding.ts";

export interface CryptoFacts {
  /** Backend name selectBackend chose, or null when selection threw. */
  backend: string | null;
  /** The fallback warning, or the selection error. */
  problem?: string;
  arch: string;
  /** CPU flags of the first processor in /proc/cpuinfo (empty when unreadable). */
  cpuFlags: Set<string>;
}

export function cryptoFindings(f: CryptoFacts): Finding[] {
  const out: Finding[] = [];
  if (f.backend === null)
    out.push({ check: "crypto", level: "error", summary: `no crypto backend: ${f.problem}`, fix: "unset TUNNEL_CRYPTO or install libssl3" });
  else if (f.problem)
    out.push({
      check: "crypto",
      level: "warn",
      summary: "libcrypto not found: the pure-TypeScript fallback is about 20x slower (~0.5 Gbit/s per core)",
      detail: f.problem,
      fix: "apt-get install libssl3   # or your distribution's OpenSSL 3 / 1.1 libcrypto",
    });
  else out.push({ check: "crypto", level: "ok", summary: `crypto backend ${f.backend}` });
  if (f.arch === "x64") {
    if (f.cpuFlags.size === 0)
      out.push({ check: "cpu", level: "info", summary: "CPU flags unreadable (/proc/cpuinfo); cannot tell whether this x64 CPU has AVX2" });
    else if (f.cpuFlags.has("avx2")) out.push({ check: "cpu", level: "ok", summary: "CPU has AVX2: the standard x64 build (bun-linux-x64) is the right one" });
    else
      out.push({
        check: "cpu",
        level: "warn",
        summary: "CPU lacks AVX2: only a baseline build runs here",
        detail: "the standard x64 runtime uses AVX2 and stops with SIGILL (illegal instruction) on this CPU",
        fix: "bun build --compile --target=bun-linux-x64-baseline src/main.ts ...   # see build.ts",
      });
  }
  return out;
}

/** parseCpuFlags reads the "flags" line of the first processor in /proc/cpuinfo. */
export function parseCpuFlags(cpuinfo: string): Set<string> {
  const line = cpuinfo.split("\n").find((l) => /^flags\s*:/.test(l));
  return new Set(
    line === undefined
      ? []
      : line
          .replace(/^flags\s*:\s*/, "")
          .split(/\s+/)
          .filter(Boolean),
  );
}
