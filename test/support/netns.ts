// Network namespaces for tests, benchmarks and the demo. Every namespace this
// module creates carries a prefix and the creating pid, so a crashed run's
// leftovers can be found and removed; cleanup runs in finally blocks and on
// SIGINT/SIGTERM. Only addresses from 198.18.0.0/15 and fd00::/8 are used.
import { readFileSync } from "node:fs";

/** run executes a command and returns its output; a non-zero exit throws with stderr. */
export function run(argv: string[], opts: { allowFail?: boolean; input?: string } = {}): string {
  const proc = Bun.spawnSync(argv, {
    stdout: "pipe",
    stderr: "pipe",
    stdin: opts.input === undefined ? "ignore" : new TextEncoder().encode(opts.input),
  });
  if (proc.exitCode !== 0 && !opts.allowFail) {
    throw new Error(`${argv.join(" ")} exited ${proc.exitCode}: ${proc.stderr.toString().trim()}`);
  }
  return proc.stdout.toString();
}

const live = new Set<string>();
let handlersInstalled = false;

function installSignalCleanup(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  const cleanup = () => {
    for (const ns of live) run(["ip", "netns", "delete", ns], { allowFail: true });
    live.clear();
  };
  process.on("exit", cleanup);
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    process.on(sig, () => {
      cleanup();
      process.exit(sig === "SIGINT" ? 130 : 143);
    });
  }
}

/** Netns is one network namespace created by this process. */
export class Netns {
  private constructor(readonly name: string) {}

  /** create makes a fresh namespace named `${prefix}-${pid}-${suffix}` with loopback up. */
  static create(prefix: string, suffix: string): Netns {
    installSignalCleanup();
    const name = `${prefix}-${process.pid}-${suffix}`;
    run(["ip", "netns", "delete", name], { allowFail: true });
    run(["ip", "netns", "add", name]);
    live.add(name);
    const ns = new Netns(name);
    ns.ip("link", "set", "lo", "up");
    return ns;
  }

  /** ip runs `ip -n NAME ...`. */
  ip(...args: string[]): string {
    return run(["ip", "-n", this.name, ...args]);
  }

  /**
   * vethTo joins this namespace to peer with a veth pair: ownDev here with
   * ownCidr, peerDev there with peerCidr, both ends up.
   */
  vethTo(peer: Netns, ownDev: string, ownCidr: string, peerDev: string, peerCidr: string): void {
    this.ip("link", "add", ownDev, "type", "veth", "peer", "name", peerDev, "netns", peer.name);
    this.ip("addr", "add", ownCidr, "dev", ownDev);
    peer.ip("addr", "add", peerCidr, "dev", peerDev);
    this.ip("link", "set", ownDev, "up");
    peer.ip("link", "set", peerDev, "up");
  }

  /** exec runs a command inside the namespace and waits for it. */
  exec(argv: string[], opts: { allowFail?: boolean; input?: string } = {}): string {
    return run(["ip", "netns", "exec", this.name, ...argv], opts);
  }

  /** spawn starts a command inside the namespace without waiting. */
  spawn(argv: string[], opts: { stdout?: "pipe" | "ignore" | "inherit"; env?: Record<string, string> } = {}) {
    return Bun.spawn(["ip", "netns", "exec", this.name, ...argv], {
      stdout: opts.stdout ?? "pipe",
      stderr: "pipe",
      stdin: "ignore",
      env: opts.env ? { ...process.env, ...opts.env } : process.env,
    });
  }

  /** nstat returns the namespace's absolute SNMP counters (nstat -az), by name. */
  nstat(): Record<string, number> {
    const out = this.exec(["nstat", "-asz", "--json"]);
    const parsed = JSON.parse(out) as Record<string, Record<string, number>>;
    return Object.assign({}, ...Object.values(parsed));
  }

  /**
   * delete kills whatever still runs inside the namespace, then removes it.
   * A process left behind (say an iperf3 client whose caller gave up) would
   * otherwise spin at full CPU once its network is gone and skew every later
   * measurement on the machine.
   */
  delete(): void {
    for (const pid of run(["ip", "netns", "pids", this.name], { allowFail: true }).split("\n").filter(Boolean)) {
      try {
        process.kill(Number(pid), "SIGKILL");
      } catch {
        // already gone
      }
    }
    run(["ip", "netns", "delete", this.name], { allowFail: true });
    live.delete(this.name);
  }
}

/** ping sends count pings from ns and requires every one to be answered. */
export function ping(ns: Netns, addr: string, count = 3): void {
  const out = ns.exec(["ping", "-c", String(count), "-i", "0.2", "-W", "2", addr], { allowFail: true });
  if (!out.includes(" 0% packet loss")) throw new Error(`ping ${addr} from ${ns.name} lost packets:\n${out}`);
}

/** pingUntil retries one ping until it answers: the first packet waits for a handshake. */
export async function pingUntil(ns: Netns, addr: string, tries = 10): Promise<void> {
  for (let i = 0; i < tries; i++) {
    const out = ns.exec(["ping", "-c", "1", "-W", "1", addr], { allowFail: true });
    if (out.includes(" 0% packet loss")) return;
    await Bun.sleep(100);
  }
  throw new Error(`no answer from ${addr} in ${ns.name} after ${tries} pings`);
}

/** pidAlive reports whether a process with this pid exists (signal 0 probes without signalling). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** removeStale deletes namespaces left behind by dead processes that used prefix. */
export function removeStale(prefix: string): void {
  const out = run(["ip", "netns", "list"], { allowFail: true });
  for (const line of out.split("\n")) {
    const name = line.split(" ")[0] ?? "";
    const m = new RegExp(`^${prefix}-(\\d+)-`).exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    if (!pidAlive(pid) || pid === process.pid) run(["ip", "netns", "delete", name], { allowFail: true });
  }
}

/** IperfResult is what one iperf3 client run reports. */
export interface IperfResult {
  bitsPerSecond: number;
  bytes: number;
  retransmits: number;
  seconds: number;
}

/**
 * iperf3 runs a one-shot iperf3 server in `server` and a client in `client`
 * towards `address`, returning the receiver-side throughput.
 */
export async function iperf3(
  client: Netns,
  server: Netns,
  address: string,
  opts: { seconds?: number; reverse?: boolean; parallel?: number; udp?: string; port?: number } = {},
): Promise<IperfResult> {
  const port = String(opts.port ?? 5201);
  const srv = server.spawn(["iperf3", "-s", "-1", "-p", port, "-B", address], { stdout: "ignore" });
  try {
    await waitForListen(server, port);
    const args = ["iperf3", "-c", address, "-p", port, "-t", String(opts.seconds ?? 5), "-J"];
    if (opts.reverse) args.push("-R");
    if (opts.parallel) args.push("-P", String(opts.parallel));
    if (opts.udp) args.push("-u", "-b", opts.udp);
    const proc = client.spawn(args);
    const [out, code] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
    const report = JSON.parse(out || "{}") as {
      error?: string;
      end?: {
        sum_received?: { bits_per_second: number; bytes: number; seconds: number };
        sum_sent?: { retransmits?: number };
        sum?: { bits_per_second: number; bytes: number; seconds: number };
      };
    };
    if (code !== 0 || report.error) throw new Error(`iperf3 client failed (exit ${code}): ${report.error ?? out.slice(0, 300)}`);
    const received = report.end?.sum_received ?? report.end?.sum;
    if (!received) throw new Error("iperf3 reported no totals");
    return {
      bitsPerSecond: received.bits_per_second,
      bytes: received.bytes,
      retransmits: report.end?.sum_sent?.retransmits ?? 0,
      seconds: received.seconds,
    };
  } finally {
    srv.kill();
    await srv.exited;
  }
}

/** waitForListen polls until a TCP listener on port exists inside ns. */
async function waitForListen(ns: Netns, port: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const out = ns.exec(["ss", "-Htln", `sport = :${port}`], { allowFail: true });
    if (out.trim().length > 0) return;
    await Bun.sleep(20);
  }
  throw new Error(`nothing listens on port ${port} in ${ns.name}`);
}

/** cpuSeconds reads utime+stime of a process (all its threads) from /proc. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14, 15)
  return ticks / 100; // USER_HZ is 100 on Linux
}
