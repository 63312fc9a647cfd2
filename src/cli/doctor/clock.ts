// Clock sanity: WireGuard initiations carry a TAI64N timestamp that must
// grow from one handshake to the next (a peer ignores an older or equal
// one), so a clock that jumps back, or starts at 1970 on a board without an
// RTC, breaks handshakes after a reboot until it catches up.
import type { Finding } from "./finding.ts";

export interface ClockFacts {
  nowMs: number;
  /** Build time of this binary (or the newest time we know existed), ms. */
  notBeforeMs: number;
  /** timedatectl's NTPSynchronized, null when unknown. */
  ntpSynchronized: boolean | null;
}

const YEAR_MS = 365.25 * 24 * 3600 * 1000;

export function clockFindings(f: ClockFacts): Finding[] {
  const now = new Date(f.nowMs).toISOString();
  const fix = "timedatectl set-ntp true   # or: chronyc makestep / ntpdate";
  if (new Date(f.nowMs).getUTCFullYear() < 2024 || f.nowMs < f.notBeforeMs - 24 * 3600 * 1000) {
    return [
      {
        check: "clock",
        level: "error",
        summary: `the clock says ${now}, before this build of tunnel existed`,
        detail: "peers reject handshakes whose timestamp is older than one they have seen; the handshake fails until the clock is right",
        fix,
      },
    ];
  }
  if (f.nowMs > f.notBeforeMs + 20 * YEAR_MS) {
    return [
      {
        check: "clock",
        level: "error",
        summary: `the clock says ${now}, decades ahead`,
        detail: "a handshake stamped that far ahead makes the peer refuse every later one once the clock is corrected",
        fix,
      },
    ];
  }
  if (f.ntpSynchronized === false)
    return [{ check: "clock", level: "warn", summary: `clock ${now} is plausible but not synchronized (timedatectl: NTPSynchronized=no)`, fix }];
  return [{ check: "clock", level: "ok", summary: `clock ${now}${f.ntpSynchronized ? ", NTP synchronized" : ""}` }];
}
