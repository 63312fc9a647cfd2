// What bench/profile.ts reads after a run: JavaScriptCore's jitdump files
// (the Linux perf tools' format, tools/perf/util/jitdump.h), which name the
// JIT code at each address, and the samples of `perf script`.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

// ------------------------------------------------------------------ jitdump

export interface JitCode {
  start: number;
  end: number;
  /** CLOCK_MONOTONIC ns of the load record */
  time: number;
  fn: string;
  tier: string;
}

/** JitMap resolves a pid's code addresses to JIT function names. */
export class JitMap {
  /** sorted by start; ranges may overlap when JSC frees code and reuses the memory */
  private readonly codes: JitCode[];
  private readonly maxSize: number;

  constructor(codes: JitCode[]) {
    this.codes = codes.sort((a, b) => a.start - b.start);
    this.maxSize = codes.reduce((m, c) => Math.max(m, c.end - c.start), 0);
  }

  get size(): number {
    return this.codes.length;
  }

  /**
   * lookup finds the code containing ip: binary search for the last range
   * starting at or below ip, then a short walk back over earlier ranges that
   * may still contain it; of several candidates the newest one loaded before
   * the sample wins.
   */
  lookup(ip: number, timeNs: number): JitCode | undefined {
    const c = this.codes;
    let lo = 0;
    let hi = c.length - 1;
    let at = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (c[mid]!.start <= ip) {
        at = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    let best: JitCode | undefined;
    for (let i = at; i >= 0 && c[i]!.start > ip - this.maxSize; i--) {
      const x = c[i]!;
      if (ip >= x.end) continue;
      const usable = x.time <= timeNs;
      const bestUsable = best !== undefined && best.time <= timeNs;
      if (best === undefined || (usable && (!bestUsable || x.time > best.time)) || (!usable && !bestUsable && x.time < best.time)) best = x;
    }
    return best;
  }
}

const JIT_CODE_LOAD = 0;

/**
 * parseJitdump reads one jitdump file (the format of the Linux perf tools,
 * tools/perf/util/jitdump.h): a header (u32 magic, u32 version, u32 header
 * size, u32 elf_mach, u32 pad, u32 pid, u64 timestamp, u64 flags), then
 * records (u32 id, u32 total size, u64 timestamp, body). A code-load body is
 * u32 pid, u32 tid, u64 vma, u64 code_addr, u64 code_size, u64 code_index,
 * a NUL-terminated name, then the code bytes. Names look like
 * "JSC-FTL: checksumNoFold#<hash>:[…]"; the tier and the function are kept.
 */
export function parseJitdump(path: string): { pid: number; codes: JitCode[] } {
  const buf = readFileSync(path);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (buf.length < 40) return { pid: 0, codes: [] };
  const magic = dv.getUint32(0, true);
  if (magic !== 0x4a695444) throw new Error(`${path}: not a little-endian jitdump (magic ${magic.toString(16)})`);
  const pid = dv.getUint32(20, true);
  const codes: JitCode[] = [];
  let off = dv.getUint32(8, true);
  while (off + 16 <= buf.length) {
    const id = dv.getUint32(off, true);
    const size = dv.getUint32(off + 4, true);
    if (size < 16 || off + size > buf.length) break; // a torn last record
    if (id === JIT_CODE_LOAD) {
      const time = Number(dv.getBigUint64(off + 8, true));
      const vma = Number(dv.getBigUint64(off + 24, true));
      const codeSize = Number(dv.getBigUint64(off + 40, true));
      const nameEnd = buf.indexOf(0, off + 56);
      const raw = buf.toString("utf8", off + 56, nameEnd < 0 ? off + size : nameEnd);
      const m = /^JSC-([^:]+): (.*)$/.exec(raw);
      const tier = m ? m[1]! : "?";
      let fn = m ? m[2]! : raw;
      const hash = fn.indexOf("#");
      if (hash >= 0) fn = fn.slice(0, hash);
      codes.push({ start: vma, end: vma + codeSize, time, fn: fn || "(anonymous)", tier });
    }
    off += size;
  }
  return { pid, codes };
}

export function loadJitMaps(dir: string): Map<number, JitMap> {
  const byPid = new Map<number, JitCode[]>();
  for (const f of readdirSync(dir)) {
    if (!/^jit-.*\.dump$/.test(f)) continue;
    const { pid, codes } = parseJitdump(join(dir, f));
    const list = byPid.get(pid) ?? [];
    for (const c of codes) list.push(c);
    byPid.set(pid, list);
  }
  return new Map([...byPid].map(([pid, codes]) => [pid, new JitMap(codes)]));
}

// ------------------------------------------------------------------ samples

export interface Sample {
  comm: string;
  pid: number;
  tid: number;
  timeNs: number;
  ip: number;
  sym: string;
  dso: string;
}

// "  bun 123/125 4567.890123:  7f00deadbeef sym (dso)"; sym may contain spaces
// and parentheses (C++ names), the dso is the last parenthesised group.
const LINE = /^\s*(.*?)\s+(\d+)\/(\d+)\s+(\d+)\.(\d+):\s+([0-9a-f]+)\s+(.*?)\s*\(([^()]*)\)\s*$/;

export function readSamples(perfData: string): Sample[] {
  const out = Bun.spawnSync(["perf", "script", "-i", perfData, "-F", "comm,pid,tid,time,ip,sym,dso", "--ns"], {
    stdout: "pipe",
    stderr: "pipe",
  });
  if (out.exitCode !== 0) throw new Error(`perf script exited ${out.exitCode}: ${out.stderr.toString().trim()}`);
  const samples: Sample[] = [];
  for (const line of out.stdout.toString().split("\n")) {
    const m = LINE.exec(line);
    if (!m) continue;
    samples.push({
      comm: m[1]!,
      pid: Number(m[2]),
      tid: Number(m[3]),
      timeNs: Number(m[4]) * 1e9 + Number(m[5]!.padEnd(9, "0").slice(0, 9)),
      ip: parseInt(m[6]!, 16),
      sym: m[7]!,
      dso: m[8]!,
    });
  }
  return samples;
}
