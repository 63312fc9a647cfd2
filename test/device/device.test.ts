// The product Device on the real kernel: two of our devices (A, B) and
// Debian's wireguard-go (C), each in its own namespace, configured with the
// real `wg set` over our UAPI server (test/device/run-device.ts).
//
//   ns A: ours  tda<pid>  198.18.1.1 fd00:18::1   outer 198.19.1.1 (to B), fd00:19:2::1 (to C)
//   ns B: ours  tdb<pid>  198.18.1.2 fd00:18::2   outer 198.19.1.2
//   ns C: wireguard-go tdc<pid> 198.18.1.3 fd00:18::3  outer fd00:19:2::3 (IPv6 outer socket on A)
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DeviceStatus } from "../../src/device/device-status.ts";
import { iperf3, Netns, ping, pingUntil, removeStale, run } from "../support/netns.ts";
import { describePrivileged } from "../support/privileges.ts";
import { collect, until } from "../support/streams.ts";
import { type DeviceProc, startDevice } from "../support/device-proc.ts";

const PREFIX = "tdev";
const IF = { a: `tda${process.pid}`, b: `tdb${process.pid}`, c: `tdc${process.pid}` };
const PORT = { a: 51820, b: 51821, c: 51822 };
const SOCK_DIR = "/var/run/wireguard";

describePrivileged("device: our data plane on the real kernel", { root: true, commands: ["ip", "wg", "wireguard-go", "ping", "iperf3", "nstat"] }, () => {
  let nsA: Netns;
  let nsB: Netns;
  let nsC: Netns;
  let dir: string;
  let devA: DeviceProc;
  let devB: DeviceProc;
  let wgGo: { proc: ReturnType<Netns["spawn"]>; log: () => string } | null = null;
  const keys: Record<"a" | "b" | "c", { priv: string; pub: string; file: string }> = {} as never;

  function address(ns: Netns, ifname: string, n: number): void {
    ns.ip("addr", "add", `198.18.1.${n}/24`, "dev", ifname);
    ns.ip("-6", "addr", "add", `fd00:18::${n}/64`, "dev", ifname, "nodad");
    ns.ip("link", "set", ifname, "mtu", "1420", "up");
  }

  async function startWireguardGo(endpointOfA: boolean): Promise<void> {
    if (wgGo !== null) {
      wgGo.proc.kill("SIGTERM");
      await wgGo.proc.exited;
      await until("wireguard-go's TUN to go", () => !nsC.ip("-br", "link").includes(IF.c));
    }
    rmSync(join(SOCK_DIR, `${IF.c}.sock`), { force: true });
    const proc = nsC.spawn(["wireguard-go", "-f", IF.c], { env: { WG_PROCESS_FOREGROUND: "1", LOG_LEVEL: "verbose" } });
    const out = collect(proc.stdout as ReadableStream<Uint8Array>);
    const err = collect(proc.stderr);
    wgGo = { proc, log: () => out.text() + err.text() };
    await until(`wireguard-go socket`, () => existsSync(join(SOCK_DIR, `${IF.c}.sock`)));
    const args = [
      "wg",
      "set",
      IF.c,
      "listen-port",
      String(PORT.c),
      "private-key",
      keys.c.file,
      "peer",
      keys.a.pub,
      "allowed-ips",
      "198.18.1.1/32,fd00:18::1/128",
    ];
    if (endpointOfA) args.push("endpoint", `[fd00:19:2::1]:${PORT.a}`);
    run(args);
    address(nsC, IF.c, 3);
  }

  beforeAll(async () => {
    removeStale(PREFIX);
    nsA = Netns.create(PREFIX, "a");
    nsB = Netns.create(PREFIX, "b");
    nsC = Netns.create(PREFIX, "c");
    nsA.ip("link", "add", "vab", "type", "veth", "peer", "name", "vba", "netns", nsB.name);
    nsA.ip("link", "add", "vac", "type", "veth", "peer", "name", "vca", "netns", nsC.name);
    nsA.ip("addr", "add", "198.19.1.1/24", "dev", "vab");
    nsB.ip("addr", "add", "198.19.1.2/24", "dev", "vba");
    nsA.ip("-6", "addr", "add", "fd00:19:2::1/64", "dev", "vac", "nodad");
    nsC.ip("-6", "addr", "add", "fd00:19:2::3/64", "dev", "vca", "nodad");
    for (const [ns, dev] of [
      [nsA, "vab"],
      [nsA, "vac"],
      [nsB, "vba"],
      [nsC, "vca"],
    ] as const)
      ns.ip("link", "set", dev, "up");
    dir = mkdtempSync(join(tmpdir(), "tdev-"));
    for (const k of ["a", "b", "c"] as const) {
      const priv = run(["wg", "genkey"]).trim();
      const file = join(dir, `${k}.key`);
      writeFileSync(file, `${priv}\n`, { mode: 0o600 });
      keys[k] = { priv, pub: run(["wg", "pubkey"], { input: `${priv}\n` }).trim(), file };
    }
    devA = startDevice(nsA, IF.a);
    devB = startDevice(nsB, IF.b);
    const [readyA, readyB] = await Promise.all([devA.next(), devB.next()]);
    expect(readyA.ready).toBe(true);
    expect(readyB.ready).toBe(true);
    // Offloads, UDP, crypto backend, threads.
    expect((readyA.report as string[]).length).toBe(4);
    expect((readyA.report as string[])[3]).toMatch(/: workers \d+ \((auto for \d+ cores?|set)\): the data plane/);
    run([
      "wg",
      "set",
      IF.a,
      "listen-port",
      String(PORT.a),
      "private-key",
      keys.a.file,
      "peer",
      keys.b.pub,
      "allowed-ips",
      "198.18.1.2/32,fd00:18::2/128",
      "endpoint",
      `198.19.1.2:${PORT.b}`,
      "peer",
      keys.c.pub,
      "allowed-ips",
      "198.18.1.3/32,fd00:18::3/128",
      "endpoint",
      `[fd00:19:2::3]:${PORT.c}`,
    ]);
    // B knows no endpoint: it learns A's from A's first authenticated packet (roaming).
    run(["wg", "set", IF.b, "listen-port", String(PORT.b), "private-key", keys.b.file, "peer", keys.a.pub, "allowed-ips", "198.18.1.1/32,fd00:18::1/128"]);
    address(nsA, IF.a, 1);
    address(nsB, IF.b, 2);
  }, 30_000);

  afterAll(async () => {
    await devA?.stop();
    await devB?.stop();
    if (wgGo !== null) {
      wgGo.proc.kill("SIGTERM");
      await wgGo.proc.exited;
    }
    for (const ns of [nsA, nsB, nsC]) ns?.delete();
    for (const i of Object.values(IF)) rmSync(join(SOCK_DIR, `${i}.sock`), { force: true });
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("the start-up report has one line each for offloads, UDP GSO/GRO and crypto", async () => {
    const st = await devA.status();
    expect(st.listenPort).toBe(PORT.a);
    expect(st.crypto).toMatch(/libcrypto|typescript/);
    expect(st.udp.v4).not.toBeNull();
  });

  test("two of our devices ping each other, IPv4 and IPv6, both directions; B learned A's endpoint", async () => {
    await pingUntil(nsA, "198.18.1.2");
    ping(nsB, "198.18.1.1");
    ping(nsA, "fd00:18::2");
    ping(nsB, "fd00:18::1");
    const show = run(["wg", "show", IF.b, "endpoints"]);
    expect(show).toContain(`198.19.1.1:${PORT.a}`);
    const latest = run(["wg", "show", IF.a, "latest-handshakes"]);
    expect(latest).toMatch(new RegExp(`${keys.b.pub.replace(/[+/]/g, ".")}\\s+[1-9]\\d+`));
  }, 20_000);

  test("iperf3 TCP both directions and UDP through the tunnel; offload counters move; no TCP checksum errors", async () => {
    const before = { a: nsA.nstat().TcpInCsumErrors ?? 0, b: nsB.nstat().TcpInCsumErrors ?? 0 };
    const up = await iperf3(nsA, nsB, "198.18.1.2", { seconds: 3 });
    const down = await iperf3(nsB, nsA, "198.18.1.1", { seconds: 3 });
    const udp = await iperf3(nsA, nsB, "198.18.1.2", { seconds: 2, udp: "300M" });
    console.log(
      `ours↔ours: TCP A→B ${(up.bitsPerSecond / 1e9).toFixed(2)} Gb/s, B→A ${(down.bitsPerSecond / 1e9).toFixed(2)} Gb/s, UDP ${(udp.bitsPerSecond / 1e6).toFixed(0)} Mb/s`,
    );
    expect(up.bitsPerSecond).toBeGreaterThan(100e6);
    expect(down.bitsPerSecond).toBeGreaterThan(100e6);
    expect(udp.bytes).toBeGreaterThan(0);
    expect((nsA.nstat().TcpInCsumErrors ?? 0) - before.a).toBe(0);
    expect((nsB.nstat().TcpInCsumErrors ?? 0) - before.b).toBe(0);
    const st = await devA.status();
    console.log(`A derived: ${JSON.stringify(st.derived)}`);
    expect(st.counters.superPackets).toBeGreaterThan(0);
    expect(st.counters.gsoBatches).toBeGreaterThan(0);
    expect(st.counters.groMessages).toBeGreaterThan(0);
    expect(st.counters.coalesceOut).toBeLessThan(st.counters.coalesceIn);
    expect(st.counters.dropBadMac + st.counters.dropReplay + st.counters.dropSourceCheck).toBe(0);
    const peerB = st.peers.find((p) => p.publicKey === keys.b.pub)!;
    expect(peerB.txBytes).toBeGreaterThan(up.bytes);
  }, 40_000);

  test("status() and snapshot() answer within 100 ms while iperf3 saturates the tunnel", async () => {
    const load = iperf3(nsA, nsB, "198.18.1.2", { seconds: 3, port: 5202 });
    await Bun.sleep(500);
    const times: number[] = [];
    for (let i = 0; i < 10; i++) {
      const t = performance.now();
      await devA.status();
      await devA.command("snapshot");
      times.push(performance.now() - t);
      await Bun.sleep(150);
    }
    const r = await load;
    console.log(`status+snapshot round trips under load (ms): max ${Math.max(...times).toFixed(1)}, load ${(r.bitsPerSecond / 1e9).toFixed(2)} Gb/s`);
    expect(Math.max(...times)).toBeLessThan(100);
  }, 20_000);

  test("a flood of garbage UDP to the port is counted and dropped; traffic keeps flowing", async () => {
    const before = await devA.status();
    // Random bytes, plus well-formed-looking transport and handshake headers with junk after them.
    const script = `
      const dgram = require("node:dgram");
      const s = dgram.createSocket("udp4");
      let sent = 0;
      const sizes = [1, 3, 16, 31, 32, 148, 92, 64, 1452, 600];
      function burst() {
        for (let i = 0; i < 500; i++) {
          const b = Buffer.alloc(sizes[sent % sizes.length]);
          for (let k = 0; k < b.length; k++) b[k] = (Math.random() * 256) | 0;
          if (sent % 3 === 0 && b.length >= 4) { b[0] = 4; b[1] = 0; b[2] = 0; b[3] = 0; }
          if (sent % 5 === 0 && b.length >= 4) { b[0] = 1 + (sent % 3); b[1] = 0; b[2] = 0; b[3] = 0; }
          s.send(b, ${PORT.a}, "198.19.1.1");
          sent++;
        }
        if (sent < 20000) setImmediate(burst); else setTimeout(() => s.close(), 200);
      }
      burst();`;
    const flood = nsB.spawn([process.execPath, "-e", script], { stdout: "ignore" });
    ping(nsA, "198.18.1.2", 5);
    await flood.exited;
    ping(nsB, "198.18.1.1", 3);
    const after = await devA.status();
    const dropped = (k: keyof DeviceStatus["counters"]) => after.counters[k] - before.counters[k];
    const total = dropped("dropMalformed") + dropped("dropUnknownIndex") + dropped("dropBadMac") + dropped("dropHandshake") + dropped("dropTruncated");
    console.log(`garbage: ${dropped("recvDatagrams")} datagrams in, drops ${JSON.stringify(after.drops)}`);
    expect(dropped("recvDatagrams")).toBeGreaterThan(5000);
    expect(total).toBeGreaterThan(5000);
    expect(after.counters.dropOther).toBe(before.counters.dropOther);
  }, 30_000);

  test("interop: our device initiates to wireguard-go over an IPv6 outer socket, IPv4 and IPv6 inside", async () => {
    await startWireguardGo(false);
    await pingUntil(nsA, "198.18.1.3");
    ping(nsC, "198.18.1.1");
    ping(nsA, "fd00:18::3");
    ping(nsC, "fd00:18::1");
    await until("wireguard-go to log the initiation", () => wgGo!.log().includes("Received handshake initiation"));
    const tcp = await iperf3(nsA, nsC, "198.18.1.3", { seconds: 2 });
    console.log(`ours→wireguard-go TCP ${(tcp.bitsPerSecond / 1e9).toFixed(2)} Gb/s`);
    expect(tcp.bitsPerSecond).toBeGreaterThan(50e6);
  }, 30_000);

  test("interop: wireguard-go initiates, our device responds, IPv4 and IPv6 inside", async () => {
    await startWireguardGo(true);
    await pingUntil(nsC, "fd00:18::1");
    ping(nsC, "198.18.1.1");
    ping(nsA, "198.18.1.3");
    await until("wireguard-go to log its initiation", () => wgGo!.log().includes("Sending handshake initiation"));
    await until("wireguard-go to log our response", () => wgGo!.log().includes("Received handshake response"));
    const tcp = await iperf3(nsC, nsA, "198.18.1.1", { seconds: 2 });
    console.log(`wireguard-go→ours TCP ${(tcp.bitsPerSecond / 1e9).toFixed(2)} Gb/s`);
    expect(tcp.bitsPerSecond).toBeGreaterThan(50e6);
  }, 30_000);

  test("deleting the TUN makes the device report closed (the daemon's exit signal)", async () => {
    nsB.ip("link", "delete", IF.b);
    const msg = await devB.next(5000);
    expect(String(msg.closed ?? "")).not.toBe("");
    await devB.proc.exited;
  }, 15_000);
});
