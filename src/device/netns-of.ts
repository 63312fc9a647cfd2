// Which network namespace a process lives in. /var/run is shared by every
// namespace, so a daemon's socket may belong to an interface elsewhere;
// comparing /proc/PID/ns/net with our own tells.
import { readlinkSync } from "node:fs";

/** netnsOf reads /proc/PID/ns/net ("net:[inode]"), null when unreadable. */
export function netnsOf(pid: number | "self"): string | null {
  try {
    return readlinkSync(`/proc/${pid}/ns/net`);
  } catch {
    return null;
  }
}
