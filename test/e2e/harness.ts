// Shared helpers for the end-to-end tests: the compiled binary driven as users
// drive it (`tunnel up FILE.toml`, `tunnel status`, `wg`), keys made
// in-process (100 peers via `tunnel genkey` would cost 200 process starts),
// TOML configs, iperf3 with per-interval results (stall detection), and
// timing of spawned CLI processes.
import { generateKeyPairSync } from "node:crypto";
import { chmodSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { DeviceStatus } from "../../src/device/device-status.ts";
import { run, type Netns } from "../support/netns.ts";
import { until } from "../support/streams.ts";

// Shared with the other real-kernel tests; re-exported so e2e tests import one harness.
export { ping, pingUntil } from "../support/netns.ts";
export { until };

/** TAG keeps interface names unique per run: UAPI and status sockets in /var/run are shared by all namespaces. */
export const TAG = String(process.pid % 100000);

export interface KeyPair {
  priv: string;
  pub: string;
}

/** keyPair makes a fresh X25519 key pair in wg's base64 form. */
export function keyPair(): KeyPair {
  const { privateKey, publicKey } = generateKeyPairSync("x25519");
  const d = privateKey.export({ format: "jwk" }).d;
  const x = publicKey.export({ format: "jwk" }).x;
  if (d === undefined || x === undefined) throw new Error("X25519 JWK export lacks d/x");
  return { priv: Buffer.from(d, "base64url").toString("base64"), pub: Buffer.from(x, "base64url").toString("base64") };
}

export interface PeerSpec {
  pub: string;
  allowed: string[];
  endpoint?: string;
  keepalive?: number;
  presharedKey?: string;
}

/** tomlConfig renders one `tunnel up` file (docs/config.md). */
export function tomlConfig(name: string, priv: string, port: number, addresses: string[], peers: PeerSpec[]): string {
  const q = (s: string) => JSON.stringify(s);
  const lines = ["[interface]", `name = ${q(name)}`, `private_key = ${q(priv)}`, `listen_port = ${port}`, `address = [${addresses.map(q).join(", ")}]`];
  for (const p of peers) {
    lines.push("", "[[peer]]", `public_key = ${q(p.pub)}`, `allowed_ips = [${p.allowed.map(q).join(", ")}]`);
    if (p.endpoint !== undefined) lines.push(`endpoint = ${q(p.endpoint)}`);
    if (p.keepalive !== undefined) lines.push(`persistent_keepalive = ${p.keepalive}`);
    if (p.presharedKey !== undefined) lines.push(`preshared_key = ${q(p.presharedKey)}`);
  }
  return `${lines.join("\n")}\n`;
}

/** writeConfig stores a config 0600 (tunnel warns about world-readable keys). */
export function writeConfig(dir: string, name: string, text: string): string {
  const path = join(dir, `${name}.toml`);
  writeFileSync(path, text, { mode: 0o600 });
  chmodSync(path, 0o600);
  return path;
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** tunnelIn runs the compiled binary inside ns (routes and links are per namespace). */
export function tunnelIn(bin: string, ns: Netns, args: string[]): CliResult {
  const p = Bun.spawnSync(["ip", "netns", "exec", ns.name, "env", "NO_COLOR=1", bin, ...args], { stdout: "pipe", stderr: "pipe" });
  return { code: p.exitCode, stdout: p.stdout.toString(), stderr: p.stderr.toString() };
}

/** up runs `tunnel up FILE` in ns and fails loudly with its stderr. */
export function up(bin: string, ns: Netns, file: string): void {
  const r = tunnelIn(bin, ns, ["up", file]);
  if (r.code !== 0) throw new Error(`tunnel up ${file} in ${ns.name} exited ${r.code}: ${r.stderr}`);
}

/** down removes an interface; used in afterAll, so it never throws. */
export function down(bin: string, ns: Netns | undefined, name: string): void {
  if (!ns) return;
  tunnelIn(bin, ns, ["down", name]);
  Bun.spawnSync(["ip", "-n", ns.name, "link", "delete", name], { stdout: "ignore", stderr: "ignore" });
}

/** tearDownPair brings both interfaces down, deletes both namespaces and the config directory; for afterAll, never throws. */
export function tearDownPair(bin: string, dir: string, ...sides: [Netns | undefined, string][]): void {
  for (const [ns, name] of sides) down(bin, ns, name);
  for (const [ns] of sides) ns?.delete();
  if (dir) rmSync(dir, { recursive: true, force: true });
}

/** status reads `tunnel status NAME --json`; the status socket in /var/run/tunnel is reachable from any namespace. */
export function status(bin: string, name: string): DeviceStatus {
  const p = Bun.spawnSync([bin, "status", name, "--json"], { stdout: "pipe", stderr: "pipe", env: { ...process.env, NO_COLOR: "1" } });
  if (p.exitCode !== 0) throw new Error(`tunnel status ${name} exited ${p.exitCode}: ${p.stderr.toString()}`);
  return JSON.parse(p.stdout.toString()) as DeviceStatus;
}

/** wg runs wg(8) against an interface's UAPI socket (shared /var/run/wireguard, so no netns exec needed). */
export function wg(...args: string[]): string {
  return run(["wg", ...args]);
}

/** wgColumn parses `wg show IF <field>` into public key → value. */
export function wgColumn(ifname: string, field: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of wg("show", ifname, field).split("\n")) {
    const [k, v] = line.split("\t");
    if (k && v !== undefined) out.set(k, v);
  }
  return out;
}

export interface IperfReport {
  /** Bytes per iperf3 reporting interval (1 s), measured by the receiver in -R mode, by the sender otherwise. */
  intervals: { seconds: number; bytes: number; bitsPerSecond: number }[];
  receivedBytes: number;
  receivedBitsPerSecond: number;
  seconds: number;
  retransmits: number;
}

interface IperfJson {
  error?: string;
  intervals?: { sum: { seconds: number; bytes: number; bits_per_second: number } }[];
  end?: { sum_received?: { bytes: number; bits_per_second: number; seconds: number }; sum_sent?: { retransmits?: number } };
}

/**
 * iperfTcp runs iperf3 TCP from client to a one-shot server in `server` and
 * returns its intervals too, so a stall (an interval with zero bytes) is
 * visible. A hard timeout kills the client: a stalled tunnel must fail the
 * test, not hang it.
 */
export async function iperfTcp(
  client: Netns,
  server: Netns,
  address: string,
  opts: { seconds: number; reverse?: boolean; port?: number },
): Promise<IperfReport> {
  const port = String(opts.port ?? 5201);
  const srv = server.spawn(["iperf3", "-s", "-1", "-p", port, "-B", address], { stdout: "ignore" });
  try {
    await until(`iperf3 server on ${port}`, () => server.exec(["ss", "-Htln", `sport = :${port}`], { allowFail: true }).trim().length > 0);
    const args = ["iperf3", "-c", address, "-p", port, "-t", String(opts.seconds), "-i", "1", "-J", ...(opts.reverse ? ["-R"] : [])];
    const proc = client.spawn(args);
    const killer = setTimeout(() => proc.kill("SIGKILL"), (opts.seconds + 20) * 1000);
    const [out, code] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
    clearTimeout(killer);
    const j = JSON.parse(out || "{}") as IperfJson;
    if (code !== 0 || j.error) throw new Error(`iperf3 ${args.join(" ")} failed (exit ${code}): ${j.error ?? out.slice(0, 300)}`);
    const recv = j.end?.sum_received;
    if (!recv || !j.intervals) throw new Error("iperf3 reported no totals or intervals");
    return {
      intervals: j.intervals.map((i) => ({ seconds: i.sum.seconds, bytes: i.sum.bytes, bitsPerSecond: i.sum.bits_per_second })),
      receivedBytes: recv.bytes,
      receivedBitsPerSecond: recv.bits_per_second,
      seconds: recv.seconds,
      retransmits: j.end?.sum_sent?.retransmits ?? 0,
    };
  } finally {
    srv.kill();
    await srv.exited;
  }
}

/** timedSpawn runs argv to completion and returns its wall time in ms (process start-up included, as users see it). */
export async function timedSpawn(argv: string[]): Promise<{ ms: number; code: number; stdout: string }> {
  const t = performance.now();
  const p = Bun.spawn(argv, { stdout: "pipe", stderr: "ignore", stdin: "ignore", env: { ...process.env, NO_COLOR: "1" } });
  const [stdout, code] = await Promise.all([new Response(p.stdout).text(), p.exited]);
  return { ms: performance.now() - t, code, stdout };
}

export function summary(ms: number[]): string {
  const s = [...ms].sort((a, b) => a - b);
  const pct = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
  return `min ${s[0]!.toFixed(1)} median ${pct(0.5).toFixed(1)} max ${s[s.length - 1]!.toFixed(1)} ms`;
}
