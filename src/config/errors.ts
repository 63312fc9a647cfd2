// Config errors and warnings. Every issue names the file, the key (a dotted
// path such as `peer[2].allowed_ips[0]`; peers and list items count from 0)
// and what is wrong, and carries a ready-to-print one-line form:
//   peer.toml: peer[2].allowed_ips[0]: '198.18.0.300/32' is not a valid IPv4 prefix
// wg-quick files also carry the line: `wg0.conf:7: peer[0].Endpoint: ...`.

export interface ConfigIssue {
  file: string;
  /** 1-based line when known (always for wg-quick files, for TOML syntax errors when it can be located). */
  line?: number;
  /** Dotted key path; empty for file-level problems such as a TOML syntax error. */
  key: string;
  message: string;
  /** `file[:line]: [key: ]message`, ready for stderr. */
  formatted: string;
}

export type ConfigError = ConfigIssue;
export type ConfigWarning = ConfigIssue;

/** configIssue builds an issue and its formatted line. */
export function configIssue(file: string, key: string, message: string, line?: number): ConfigIssue {
  const where = line === undefined ? file : `${file}:${line}`;
  // User values are quoted into messages; keep a value with a newline from breaking the one-line form.
  const oneLine = (text: string) => text.replace(/\r?\n/g, "\\n");
  const formatted = oneLine(key === "" ? `${where}: ${message}` : `${where}: ${key}: ${message}`);
  return line === undefined ? { file, key, message, formatted } : { file, line, key, message, formatted };
}

/** IssueList collects errors and warnings for one file so parsers report everything at once. */
export class IssueList {
  readonly errors: ConfigIssue[] = [];
  readonly warnings: ConfigIssue[] = [];

  constructor(readonly file: string) {}

  error(key: string, message: string, line?: number): void {
    this.errors.push(configIssue(this.file, key, message, line));
  }

  warn(key: string, message: string, line?: number): void {
    this.warnings.push(configIssue(this.file, key, message, line));
  }
}

/**
 * didYouMean returns the known key closest to `unknown`, or null if none is
 * close. Case, '_' and '-' are ignored first, so wg-quick spellings such as
 * `AllowedIPs` map straight to `allowed_ips`; then a small edit distance catches typos.
 */
export function didYouMean(unknown: string, known: readonly string[]): string | null {
  const squash = (s: string) => s.toLowerCase().replace(/[_\-\s]/g, "");
  const target = squash(unknown);
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const distance = editDistance(target, squash(candidate));
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  // Longer keys tolerate more edits: "privkey" is 3 edits from "privatekey" and still plainly meant it.
  const limit = target.length <= 3 ? 1 : target.length <= 6 ? 2 : 3;
  return bestDistance <= limit ? best : null;
}

/** editDistance is the Levenshtein distance (insert, delete, substitute all cost 1). */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min(previous[j]! + 1, current[j - 1]! + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length]!;
}
