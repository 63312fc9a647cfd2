// What stands behind a daemon's socket file: nothing (absent), a file no one
// listens on (stale: its daemon died, e.g. kill -9), a listener we may not
// reach (denied: the sockets are root-only), or a live daemon, with its pid
// and whether it runs in our network namespace. /var/run is shared by every
// namespace, so a socket may well belong to a daemon whose interface lives
// elsewhere; comparing /proc/PID/ns/net with our own tells.
import { netnsOf } from "../netns-of.ts";
import { EACCES, EAGAIN, ECONNREFUSED, ENOENT, EPERM, errnoName } from "../../sys/errno.ts";
import { unixPeer } from "../../sys/unix-peer.ts";

export type SocketOwner =
  | { state: "absent" }
  | { state: "stale" }
  | { state: "denied" }
  /** pid null: the listener's backlog is full, so we could not ask. sameNetns null: unknown. */
  | { state: "listening"; pid: number | null; sameNetns: boolean | null }
  | { state: "error"; reason: string };

/** socketOwner probes the socket file at path without sending anything. */
export function socketOwner(path: string): SocketOwner {
  const peer = unixPeer(path);
  if (!peer.ok) {
    switch (peer.errno) {
      case ENOENT:
        return { state: "absent" };
      case ECONNREFUSED:
        return { state: "stale" };
      case EACCES:
      case EPERM:
        return { state: "denied" };
      case EAGAIN:
        return { state: "listening", pid: null, sameNetns: null };
      default:
        return { state: "error", reason: errnoName(peer.errno) };
    }
  }
  const theirs = netnsOf(peer.pid);
  const ours = netnsOf("self");
  return { state: "listening", pid: peer.pid, sameNetns: theirs === null || ours === null ? null : theirs === ours };
}
