// Metrics from two `tunnel up` daemons (the compiled binary) in namespaces,
// scraped while iperf3 pushes TCP through the tunnel: the counters must add
// up to the traffic iperf3 reports, never go backwards between scrapes, and
// the roam counter must count a real endpoint move. Scraped three ways: the
// Unix socket, the TCP listeners (one from the file's metrics_listen, one
// from TUNNEL_METRICS_LISTEN) inside the namespaces, and `tunnel status
// --prometheus[-file]`.
//
//   ns a: mla<tag> 198.18.50.1/24  veth 198.19.50.1 (roams to .101), metrics_listen = "127.0.0.1:9586" in its file
//   ns b: mlb<tag> 198.18.50.2/24  veth 198.19.50.2, TUNNEL_METRICS_LISTEN=127.0.0.1:9586 in `tunnel up`'s environment
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { metricsSocketPath } from "../../src/device/metrics-server.ts";
import { tunnelBinary } from "../support/binary.ts";
import { Netns, removeStale } from "../support/netns.ts";
import { describePrivileged } from "../support/privileges.ts";
import { parseExposition, sampleValue, type ParsedFamily } from "../support/prometheus-parse.ts";
import { iperfTcp, keyPair, pingUntil, TAG, tomlConfig, up, writeConfig, tearDownPair } from "../e2e/harness.ts";

const PREFIX = "tml";
const A = `mla${TAG}`;
const B = `mlb${TAG}`;
const MTU = 1420;

function withMetricsListen(toml: string, address: string): string {
  return toml.replace("[interface]\n", `[interface]\nmetrics_listen = "${address}"\n`);
}

async function scrapeUnix(ifname: string): Promise<Map<string, ParsedFamily>> {
  const res = await fetch("http://localhost/metrics", { unix: metricsSocketPath(ifname) });
  expect(res.status).toBe(200);
  return parseExposition(await res.text());
}

describePrivileged("metrics: scraped under load through two tunnel daemons", { root: true, commands: ["ip", "iperf3", "curl"] }, () => {
  let bin = "";
  let dir = "";
  let nsA: Netns;
  let nsB: Netns;
  const ka = keyPair();
  const kb = keyPair();
  const peerOfA = { interface: B, public_key: ka.pub };
  const peerOfB = { interface: A, public_key: kb.pub };

  beforeAll(() => {
    bin = tunnelBinary();
    removeStale(PREFIX);
    dir = mkdtempSync(join(tmpdir(), "tunnel-metrics-"));
    nsA = Netns.create(PREFIX, "a");
    nsB = Netns.create(PREFIX, "b");
    nsA.vethTo(nsB, "veth-a", "198.19.50.1/24", "veth-b", "198.19.50.2/24");
    const fileB = writeConfig(
      dir,
      B,
      tomlConfig(B, kb.priv, 51951, ["198.18.50.2/24"], [{ pub: ka.pub, allowed: ["198.18.50.1/32"], endpoint: "198.19.50.1:51950" }]),
    );
    const r = Bun.spawnSync(["ip", "netns", "exec", nsB.name, "env", "NO_COLOR=1", "TUNNEL_METRICS_LISTEN=127.0.0.1:9586", bin, "up", fileB, "--json"], {
      stdout: "pipe",
      stderr: "pipe",
    });
    if (r.exitCode !== 0) throw new Error(`tunnel up ${B}: ${r.stderr.toString()}`);
    // The new daemon inherited the variable and listens from the start: nothing left to change.
    expect((JSON.parse(r.stdout.toString()).changes as string[]).filter((c) => c.startsWith("metrics_listen"))).toEqual([]);
    up(
      bin,
      nsA,
      writeConfig(
        dir,
        A,
        withMetricsListen(
          tomlConfig(A, ka.priv, 51950, ["198.18.50.1/24"], [{ pub: kb.pub, allowed: ["198.18.50.2/32"], endpoint: "198.19.50.2:51951" }]),
          "127.0.0.1:9586",
        ),
      ),
    );
  }, 60_000);

  afterAll(() => tearDownPair(bin, dir, [nsA, A], [nsB, B]));

  test("rx/tx bytes and packets cover what iperf3 moved and never decrease between scrapes", async () => {
    await pingUntil(nsA, "198.18.50.2", 30);
    const series: { rxBytes: number; rxPackets: number; devRx: number }[] = [];
    const sample = async () => {
      const m = await scrapeUnix(B);
      series.push({
        rxBytes: sampleValue(m, "tunnel_peer_receive_bytes_total", peerOfA),
        rxPackets: sampleValue(m, "tunnel_peer_receive_packets_total", peerOfA),
        devRx: sampleValue(m, "tunnel_receive_bytes_total", { interface: B }),
      });
    };
    await sample();
    let loading = true;
    const load = iperfTcp(nsA, nsB, "198.18.50.2", { seconds: 3 }).finally(() => (loading = false));
    let duringLoad = 0;
    while (loading) {
      await sample();
      if (loading) duringLoad++;
      await Bun.sleep(300);
    }
    const r = await load;
    await Bun.sleep(300); // the data plane publishes per-peer counts on its timer turn
    await sample();
    const last = series[series.length - 1]!;
    console.log(
      `iperf3 ${(r.receivedBitsPerSecond / 1e9).toFixed(2)} Gb/s, ${r.receivedBytes} bytes; B peer rx ${last.rxBytes} bytes in ${last.rxPackets} messages; ${series.length} scrapes (${duringLoad} under load)`,
    );
    expect(duringLoad).toBeGreaterThanOrEqual(3);
    for (let i = 1; i < series.length; i++) {
      expect(series[i]!.rxBytes).toBeGreaterThanOrEqual(series[i - 1]!.rxBytes);
      expect(series[i]!.rxPackets).toBeGreaterThanOrEqual(series[i - 1]!.rxPackets);
      expect(series[i]!.devRx).toBeGreaterThanOrEqual(series[i - 1]!.devRx);
    }
    // Counters under load moved while the load ran, not only at the end.
    expect(series[Math.floor(series.length / 2)]!.rxBytes).toBeGreaterThan(series[0]!.rxBytes);
    // Wire bytes include WireGuard's 32 bytes per message and the inner headers: at least the payload iperf3 counted.
    const moved = last.rxBytes - series[0]!.rxBytes;
    expect(moved).toBeGreaterThanOrEqual(r.receivedBytes);
    expect(last.devRx - series[0]!.devRx).toBeGreaterThanOrEqual(r.receivedBytes);
    // A transport message carries at most one MTU of inner packet.
    expect(last.rxPackets - series[0]!.rxPackets).toBeGreaterThanOrEqual(Math.floor(r.receivedBytes / (MTU + 32)));

    // A's side over its TCP listener, inside its namespace: what it sent covers what B received.
    const text = nsA.exec(["curl", "-sf", "http://127.0.0.1:9586/metrics"]);
    const ma = parseExposition(text);
    expect(sampleValue(ma, "tunnel_peer_transmit_bytes_total", peerOfB)).toBeGreaterThanOrEqual(r.receivedBytes);
    expect(sampleValue(ma, "tunnel_peer_transmit_packets_total", peerOfB)).toBeGreaterThanOrEqual(last.rxPackets - series[0]!.rxPackets);
    expect(sampleValue(ma, "tunnel_peer_last_handshake_seconds", peerOfB)).toBeGreaterThan(Date.now() / 1000 - 60);
    // TSO at work on the sender: segments per super-packet above 1.
    const segs = sampleValue(ma, "tunnel_tun_segments_total", { interface: A });
    const reads = sampleValue(ma, "tunnel_tun_reads_total", { interface: A });
    console.log(`A: ${segs} segments in ${reads} TUN reads (${(segs / reads).toFixed(2)} per read)`);
    expect(segs).toBeGreaterThan(reads);
    // Not reachable from outside A's namespace (the listener is A's loopback).
    expect(
      nsB.exec(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "1", "http://198.19.50.1:9586/metrics"], { allowFail: true }),
    ).not.toBe("200");
    // B's listener came from TUNNEL_METRICS_LISTEN: what B received, seen over TCP in B's namespace.
    const mb = parseExposition(nsB.exec(["curl", "-sf", "http://127.0.0.1:9586/metrics"]));
    expect(sampleValue(mb, "tunnel_peer_receive_bytes_total", peerOfA)).toBeGreaterThanOrEqual(last.rxBytes);
  }, 60_000);

  test("tunnel up applies a changed metrics_listen to the running daemon and reports it; unchanged is unchanged", () => {
    const file = writeConfig(
      dir,
      A,
      withMetricsListen(
        tomlConfig(A, ka.priv, 51950, ["198.18.50.1/24"], [{ pub: kb.pub, allowed: ["198.18.50.2/32"], endpoint: "198.19.50.2:51951" }]),
        "127.0.0.1:9587",
      ),
    );
    const upJson = () => {
      const r = Bun.spawnSync(["ip", "netns", "exec", nsA.name, bin, "up", file, "--json"], { stdout: "pipe", stderr: "pipe" });
      if (r.exitCode !== 0) throw new Error(r.stderr.toString());
      return JSON.parse(r.stdout.toString()) as { changed: boolean; changes: string[] };
    };
    expect(upJson().changes).toEqual(["metrics_listen: 127.0.0.1:9586 → 127.0.0.1:9587"]);
    expect(upJson()).toEqual({ interface: A, changed: false, changes: [] } as never);
    expect(nsA.exec(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:9587/metrics"])).toBe("200");
    expect(nsA.exec(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "1", "http://127.0.0.1:9586/metrics"], { allowFail: true })).not.toBe(
      "200",
    );
  }, 20_000);

  test("tunnel status --prometheus prints the exposition; --prometheus-file replaces the file atomically", () => {
    const out = Bun.spawnSync([bin, "status", B, "--prometheus"], { stdout: "pipe", stderr: "pipe" });
    expect(out.exitCode).toBe(0);
    const m = parseExposition(out.stdout.toString());
    expect(sampleValue(m, "tunnel_peer_receive_bytes_total", peerOfA)).toBeGreaterThan(0);
    const file = join(dir, "tunnel.prom");
    for (let i = 0; i < 2; i++) {
      const w = Bun.spawnSync([bin, "status", B, "--prometheus-file", file], { stdout: "pipe", stderr: "pipe" });
      expect(w.exitCode).toBe(0);
      expect(w.stdout.toString()).toBe("");
    }
    expect(sampleValue(parseExposition(readFileSync(file, "utf8")), "tunnel_listen_port", { interface: B })).toBe(51951);
    expect(readdirSync(dir).filter((f) => f.endsWith(".tmp"))).toEqual([]);
    const bad = Bun.spawnSync([bin, "status", B, "--prometheus-file", join(dir, "no-such-dir", "x.prom")], { stdout: "pipe", stderr: "pipe" });
    expect(bad.exitCode).not.toBe(0);
    expect(bad.stderr.toString()).toContain("cannot write the metrics file");
  }, 20_000);

  test("with no interface running, --prometheus-file empties the file (the collector stops exporting what is gone)", () => {
    const file = join(dir, "gone.prom");
    writeFileSync(file, 'tunnel_listen_port{interface="old"} 1\n');
    expect(readFileSync(file, "utf8")).not.toBe("");
    // status lists both run directories: hide every other daemon's sockets from this one command.
    const script = `mkdir -p /run/wireguard /run/tunnel && mount -t tmpfs none /run/wireguard && mount -t tmpfs none /run/tunnel && exec "$@"`;
    const p = Bun.spawnSync(["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", bin, "status", "--prometheus-file", file], {
      stdout: "pipe",
      stderr: "pipe",
    });
    expect(p.stderr.toString()).toBe("");
    expect(p.exitCode).toBe(0);
    expect(readFileSync(file, "utf8")).toBe("");
  }, 20_000);

  test("an endpoint move counts once in tunnel_peer_endpoint_changes_total", async () => {
    const before = sampleValue(await scrapeUnix(B), "tunnel_peer_endpoint_changes_total", peerOfA);
    nsA.ip("addr", "del", "198.19.50.1/24", "dev", "veth-a");
    nsA.ip("addr", "add", "198.19.50.101/24", "dev", "veth-a");
    await pingUntil(nsA, "198.18.50.2", 30);
    const deadline = performance.now() + 5000;
    while (sampleValue(await scrapeUnix(B), "tunnel_peer_endpoint_changes_total", peerOfA) === before) {
      if (performance.now() > deadline) throw new Error("B's roam counter did not move within 5 s of A's address change");
      await Bun.sleep(100);
    }
    await pingUntil(nsA, "198.18.50.2");
    expect(sampleValue(await scrapeUnix(B), "tunnel_peer_endpoint_changes_total", peerOfA)).toBe(before + 1);
    expect(existsSync(metricsSocketPath(A))).toBe(true);
  }, 30_000);
});
