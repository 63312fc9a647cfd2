// Two data-plane daemons (test/device/run-device.ts) in their own namespaces
// over veth, configured with the real `wg set`, tunnel up and pinging: the
// set-up shared by bench/stages.ts --e2e and bench/profile.ts.
//
// Inner addresses are 198.18.SUBNET.1 (A) and .2 (B), underlay
// 198.19.SUBNET.1/.2, listen ports PORT and PORT+1. run-device.ts is spawned
// directly under `ip netns exec` (not Netns.spawn: it needs a stdin pipe, it
// exits on EOF), and `ip netns exec` execs it, so the pids are the daemons'.

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Netns, pingUntil, removeStale, run } from "./netns.ts";

export interface DaemonPairOptions {
  /** namespace prefix, also the interface-name prefix (keep it ≤ 4 characters) */
  prefix: string;
  /** third octet of the inner and underlay /24s */
  subnet: number;
  /** A's UDP listen port; B listens on port + 1 */
  port: number;
  mtu?: number;
  /** extra environment for both daemons (e.g. TUNNEL_CRYPTO, JSC options) */
  env?: Record<string, string>;
}

export interface DaemonPair {
  nsA: Netns;
  nsB: Netns;
  ifA: string;
  ifB: string;
  pidA: number;
  pidB: number;
  innerA: string;
  innerB: string;
  /** stop ends both daemons (SIGTERM, then SIGKILL) and removes namespaces, keys and sockets. */
  stop(): Promise<void>;
}

export async function startDaemonPair(o: DaemonPairOptions): Promise<DaemonPair> {
  removeStale(o.prefix);
  const nsA = Netns.create(o.prefix, "a");
  const nsB = Netns.create(o.prefix, "b");
  const ifA = `${o.prefix}a${process.pid % 10000}`;
  const ifB = `${o.prefix}b${process.pid % 10000}`;
  const keyDir = mkdtempSync(join(tmpdir(), `${o.prefix}-keys-`));
  const procs: ReturnType<typeof Bun.spawn>[] = [];
  const env = { ...process.env, ...o.env };
  const stop = async () => {
    // SIGTERM lets run-device close cleanly (and JSC finish a jitdump).
    for (const p of procs) {
      p.kill("SIGTERM");
      await Promise.race([p.exited, Bun.sleep(3000)]);
      p.kill("SIGKILL");
    }
    nsA.delete();
    nsB.delete();
    rmSync(keyDir, { recursive: true, force: true });
    for (const i of [ifA, ifB]) rmSync(`/var/run/wireguard/${i}.sock`, { force: true });
  };
  try {
    const net = (host: number) => `198.19.${o.subnet}.${host}`;
    const inner = (host: number) => `198.18.${o.subnet}.${host}`;
    nsA.vethTo(nsB, "veth0", `${net(1)}/24`, "veth1", `${net(2)}/24`);
    const keys: { file: string; pub: string }[] = [];
    for (const k of ["a", "b"]) {
      const priv = run(["wg", "genkey"]).trim();
      const file = join(keyDir, `${k}.key`);
      writeFileSync(file, `${priv}\n`, { mode: 0o600 });
      keys.push({ file, pub: run(["wg", "pubkey"], { input: `${priv}\n` }).trim() });
    }
    const runDevice = new URL("../device/run-device.ts", import.meta.url).pathname;
    const start = async (ns: Netns, ifname: string) => {
      const p = Bun.spawn(["ip", "netns", "exec", ns.name, process.execPath, runDevice, ifname], { stdin: "pipe", stdout: "pipe", stderr: "inherit", env });
      procs.push(p);
      const reader = (p.stdout as ReadableStream<Uint8Array>).getReader();
      const { value } = await reader.read();
      const line = new TextDecoder().decode(value);
      if (!line.includes('"ready":true')) throw new Error(`run-device: ${line}`);
      reader.releaseLock();
      return p;
    };
    const [pA, pB] = await Promise.all([start(nsA, ifA), start(nsB, ifB)]);
    const [a, b] = keys as [{ file: string; pub: string }, { file: string; pub: string }];
    run([
      "wg",
      "set",
      ifA,
      "listen-port",
      String(o.port),
      "private-key",
      a.file,
      "peer",
      b.pub,
      "allowed-ips",
      `${inner(2)}/32`,
      "endpoint",
      `${net(2)}:${o.port + 1}`,
    ]);
    run([
      "wg",
      "set",
      ifB,
      "listen-port",
      String(o.port + 1),
      "private-key",
      b.file,
      "peer",
      a.pub,
      "allowed-ips",
      `${inner(1)}/32`,
      "endpoint",
      `${net(1)}:${o.port}`,
    ]);
    for (const [ns, ifn, n] of [
      [nsA, ifA, 1],
      [nsB, ifB, 2],
    ] as const) {
      ns.ip("addr", "add", `${inner(n)}/24`, "dev", ifn);
      ns.ip("link", "set", ifn, "mtu", String(o.mtu ?? 1420), "up");
    }
    await pingUntil(nsA, inner(2), 20);
    return { nsA, nsB, ifA, ifB, pidA: pA.pid, pidB: pB.pid, innerA: inner(1), innerB: inner(2), stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
