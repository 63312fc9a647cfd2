// One measured setup: two fresh namespaces joined by veth, and (unless we
// measure the underlay) a WireGuard tunnel between them served by the
// implementation under test, configured identically for every
// implementation with wg(8) over its UAPI socket:
//
//   ns A: IF_A 198.18.0.1/24 mtu 1420, veth va 198.19.0.1/24 mtu 1500, udp 51820
//   ns B: IF_B 198.18.0.2/24 mtu 1420, veth vb 198.19.0.2/24 mtu 1500, udp 51821
//
// Fresh namespaces per measurement mean no neighbour, route or socket state
// (nor a warmed-up daemon) carries over from the previous run.
import { existsSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Netns, run } from "../../test/support/netns.ts";
import { forget, removeOnExit, spawnIn, stop, type Started } from "./procs.ts";

export const PREFIX = "bsbs";

/** Impl is one row of the table: an implementation (or the bare underlay). */
export interface Impl {
  /** id names the row in the table and the JSON. */
  id: string;
  /** bin is the wireguard-go-compatible daemon; absent for the underlay. */
  bin?: string;
  /** env is extra environment for the daemon (the offload kill switches). */
  env?: Record<string, string>;
  /** ours: the daemon is dist/tunnel, so `tunnel status --json` works. */
  ours?: boolean;
}

export interface Keys {
  a: { file: string; pub: string };
  b: { file: string; pub: string };
}

/** Daemon is one running tunnel process. */
export interface Daemon {
  ifname: string;
  started: Started;
  pid: number;
}

export interface Setup {
  a: Netns;
  b: Netns;
  /** target is B's address: the inner one through a tunnel, else the veth one. */
  target: string;
  /** daemons are A's and B's tunnel processes (empty for the underlay). */
  daemons: Daemon[];
  close(): Promise<void>;
}

const UAPI_DIR = "/var/run/wireguard";
const SIDE = {
  a: { outer: "198.19.0.1", inner: "198.18.0.1", port: 51820, veth: "va" },
  b: { outer: "198.19.0.2", inner: "198.18.0.2", port: 51821, veth: "vb" },
} as const;

/** Interface names end up in the one global UAPI directory, so the pid keeps parallel runs apart. */
function ifnames(): { a: string; b: string } {
  return { a: `bs${process.pid}a`, b: `bs${process.pid}b` };
}

/** setUp builds the namespaces and, for a daemon, the tunnel; it cleans up after itself if it fails. */
export async function setUp(impl: Impl, seq: number, keys: Keys): Promise<Setup> {
  const a = Netns.create(PREFIX, `${seq}a`);
  const b = Netns.create(PREFIX, `${seq}b`);
  const daemons: Daemon[] = [];
  const close = async () => {
    for (const d of daemons) await stopDaemon(d);
    a.delete();
    b.delete();
  };
  try {
    a.ip("link", "add", SIDE.a.veth, "mtu", "1500", "type", "veth", "peer", "name", SIDE.b.veth, "mtu", "1500", "netns", b.name);
    a.ip("addr", "add", `${SIDE.a.outer}/24`, "dev", SIDE.a.veth);
    b.ip("addr", "add", `${SIDE.b.outer}/24`, "dev", SIDE.b.veth);
    a.ip("link", "set", SIDE.a.veth, "up");
    b.ip("link", "set", SIDE.b.veth, "up");
    if (!impl.bin) return { a, b, target: SIDE.b.outer, daemons, close };

    const names = ifnames();
    // Both start before either is configured: the start-up (a Bun binary
    // loading, a Go runtime) overlaps instead of adding up.
    const startA = startDaemon(impl, a, names.a);
    const startB = startDaemon(impl, b, names.b);
    const results = await Promise.allSettled([startA, startB]);
    for (const r of results) if (r.status === "fulfilled") daemons.push(r.value);
    for (const r of results) if (r.status === "rejected") throw r.reason;
    configure(a, names.a, keys.a.file, SIDE.a, keys.b.pub, SIDE.b);
    configure(b, names.b, keys.b.file, SIDE.b, keys.a.pub, SIDE.a);
    return { a, b, target: SIDE.b.inner, daemons, close };
  } catch (e) {
    await close();
    throw e;
  }
}

export async function startDaemon(impl: Impl, ns: Netns, ifname: string): Promise<Daemon> {
  const sock = join(UAPI_DIR, `${ifname}.sock`);
  // A socket left by a killed daemon would make us configure nothing.
  rmSync(sock, { force: true });
  removeOnExit(sock);
  // -f and WG_PROCESS_FOREGROUND: the daemon must stay our child, so its
  // pid is the one whose /proc we read and whom we stop.
  const started = spawnIn(ns, [impl.bin!, "-f", ifname], { WG_PROCESS_FOREGROUND: "1", ...impl.env });
  const daemon = { ifname, started, pid: started.proc.pid };
  const deadline = performance.now() + 15_000;
  while (!existsSync(sock)) {
    if (started.proc.exitCode !== null)
      throw new Error(`${impl.id} exited (${started.proc.exitCode}) before serving ${ifname}: ${started.output().slice(-500)}`);
    if (performance.now() > deadline) {
      await stopDaemon(daemon);
      throw new Error(`${impl.id} did not create ${sock} within 15 s: ${started.output().slice(-500)}`);
    }
    await Bun.sleep(10);
  }
  return daemon;
}

function configure(
  ns: Netns,
  ifname: string,
  keyFile: string,
  self: (typeof SIDE)[keyof typeof SIDE],
  peerPub: string,
  peer: (typeof SIDE)[keyof typeof SIDE],
): void {
  // wg talks to the socket by path, which is outside any namespace; running
  // it inside the namespace anyway keeps it honest should that ever change.
  ns.exec([
    "wg",
    "set",
    ifname,
    "listen-port",
    String(self.port),
    "private-key",
    keyFile,
    "peer",
    peerPub,
    "allowed-ips",
    `${peer.inner}/32`,
    "endpoint",
    `${peer.outer}:${peer.port}`,
  ]);
  ns.ip("addr", "add", `${self.inner}/24`, "dev", ifname);
  ns.ip("link", "set", ifname, "mtu", "1420", "up");
}

export async function stopDaemon(d: Daemon): Promise<void> {
  await stop(d.started.proc);
  const sock = join(UAPI_DIR, `${d.ifname}.sock`);
  rmSync(sock, { force: true });
  forget(sock);
}

/** makeKeys writes two private keys (wg set reads keys from files only, never argv). */
export function makeKeys(dir: string): Keys {
  const one = (name: string) => {
    const priv = run(["wg", "genkey"]).trim();
    const file = join(dir, `${name}.key`);
    writeFileSync(file, `${priv}\n`, { mode: 0o600 });
    return { file, pub: run(["wg", "pubkey"], { input: `${priv}\n` }).trim() };
  };
  return { a: one("a"), b: one("b") };
}
