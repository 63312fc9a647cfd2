// A finding is one thing `tunnel doctor` found: a level, one line saying
// what, optionally why it matters and the command that fixes it. Levels:
//   ok     works as it should
//   info   worth knowing, nothing to fix (or nothing we could check)
//   warn   the tunnel works but slower or less robustly than it could
//   error  the tunnel is broken or will be (nothing gets through, or some peers fail)

export type Level = "ok" | "info" | "warn" | "error";

export interface Finding {
  /** Which check produced it (stable, for scripts: "tun-offload", "socket-buffers", ...). */
  check: string;
  level: Level;
  summary: string;
  detail?: string;
  /** A command (or a short list of them) that fixes it. */
  fix?: string;
}

/** DOCTOR_EXIT: 0 nothing to fix, 1 warnings only (slow, not broken), 2 at least one error. */
export const DOCTOR_EXIT = { OK: 0, WARNINGS: 1, BROKEN: 2 } as const;

export function exitCodeFor(findings: readonly Finding[]): number {
  if (findings.some((f) => f.level === "error")) return DOCTOR_EXIT.BROKEN;
  if (findings.some((f) => f.level === "warn")) return DOCTOR_EXIT.WARNINGS;
  return DOCTOR_EXIT.OK;
}

const MARK: Record<Level, string> = { ok: "ok   ", info: "info ", warn: "WARN ", error: "ERROR" };

/** renderFindings is the human report: one line per finding, detail and fix indented under it. */
export function renderFindings(findings: readonly Finding[]): string {
  const lines: string[] = [];
  for (const f of findings) {
    lines.push(`${MARK[f.level]} ${f.check}: ${f.summary}`);
    if (f.detail) lines.push(`        ${f.detail}`);
    if (f.fix) f.fix.split("\n").forEach((l, i) => void lines.push(`        ${i === 0 ? "fix: " : "     "}${l}`));
  }
  const count = (l: Level) => findings.filter((f) => f.level === l).length;
  lines.push("", `${count("error")} error(s), ${count("warn")} warning(s), ${count("ok")} ok, ${count("info")} info`);
  return lines.join("\n");
}
