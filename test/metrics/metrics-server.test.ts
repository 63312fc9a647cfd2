// The daemon's metrics endpoint, served from a fixed snapshot: GET /metrics on
// the Unix socket, 404 elsewhere, and the TCP listener opened, moved and
// closed through PUT /listen (what `tunnel up` does for metrics_listen).
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DeviceStatus } from "../../src/device/device-status.ts";
import { currentMetricsListen, requestMetricsListen, startMetricsServer } from "../../src/device/metrics-server.ts";
import { parseMetricsListen } from "../../src/config/metrics-listen.ts";
import { COUNTERS, type Counters } from "../../src/device/shared-stats.ts";
import { parseExposition, sampleValue } from "../support/prometheus-parse.ts";

const dir = mkdtempSync(join(tmpdir(), "tunnel-metrics-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let rx = 0;
const nextRx = () => {
  rx += 100;
  return rx;
};
const snapshot = (): DeviceStatus => ({
  interfaceName: "mtest0",
  listenPort: 1,
  crypto: "typescript",
  offloads: { vnetHeader: false, offloadFlags: 0, tso: false, uso: false, tcpGro: false, udpGro: false, reasons: [], description: [] },
  udp: { v4: null, v6: null, notes: [] },
  counters: Object.fromEntries(COUNTERS.map((c) => [c, 0])) as Counters,
  derived: { segmentsPerSuperPacket: 0, datagramsPerGsoBatch: 0, datagramsPerGroMessage: 0, coalesceRatio: 0 },
  drops: {},
  workers: { setting: "auto", count: 1, cores: 2, helpersUp: 0 },
  peers: [
    {
      publicKey: "k",
      endpoint: null,
      latestHandshakeMs: 0,
      txBytes: 0,
      rxBytes: nextRx(),
      txPackets: 0,
      rxPackets: 0,
      endpointRoams: 0,
      persistentKeepaliveInterval: 0,
      allowedIps: [],
      localSource: null,
    },
  ],
});

const parseListen = (t: string) => {
  if (t === "") return { ok: true as const, tcp: null };
  const p = parseMetricsListen(t);
  return p.ok ? { ok: true as const, tcp: p.listen } : p;
};

test("GET /metrics on the Unix socket answers a fresh exposition each time; the socket is root-only", async () => {
  const server = startMetricsServer("mtest0", snapshot, { runDir: dir, parseListen });
  try {
    expect(statSync(server.socketPath).mode & 0o777).toBe(0o600);
    const get = () => fetch("http://localhost/metrics", { unix: server.socketPath });
    const r1 = await get();
    expect(r1.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
    const v1 = sampleValue(parseExposition(await r1.text()), "tunnel_peer_receive_bytes_total", { public_key: "k" });
    const v2 = sampleValue(parseExposition(await (await get()).text()), "tunnel_peer_receive_bytes_total", { public_key: "k" });
    expect(v2).toBe(v1 + 100);
    expect((await fetch("http://localhost/other", { unix: server.socketPath })).status).toBe(404);
    expect(server.tcp).toBeNull();
  } finally {
    await server.close();
  }
});

test("PUT /listen opens, moves and closes the TCP listener; a bad address is a 400 and changes nothing", async () => {
  const server = startMetricsServer("mtest0", snapshot, { runDir: dir, parseListen });
  try {
    // Port 0 is not accepted from users, so pick a free one the way a user would: try it.
    const port = 20000 + (process.pid % 20000);
    expect(await requestMetricsListen("mtest0", `127.0.0.1:${port}`, dir)).toBe(`127.0.0.1:${port}`);
    const scraped = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(parseExposition(scraped).has("tunnel_peer_receive_bytes_total")).toBe(true);
    // The TCP side never serves the control path.
    expect((await fetch(`http://127.0.0.1:${port}/listen`, { method: "PUT", body: "" })).status).toBe(404);
    await expect(requestMetricsListen("mtest0", "metrics.example:9586", dir)).rejects.toThrow("names a host");
    expect(await currentMetricsListen("mtest0", dir)).toBe(`127.0.0.1:${port}`);
    expect(await requestMetricsListen("mtest0", `127.0.0.1:${port + 1}`, dir)).toBe(`127.0.0.1:${port + 1}`);
    await expect(fetch(`http://127.0.0.1:${port}/metrics`)).rejects.toThrow();
    expect(await requestMetricsListen("mtest0", "", dir)).toBe("");
    await expect(fetch(`http://127.0.0.1:${port + 1}/metrics`)).rejects.toThrow();
  } finally {
    await server.close();
  }
});

test("metrics_listen takes IP literals only and warns off loopback", () => {
  expect(parseMetricsListen("127.0.0.1:9586")).toEqual({ ok: true, listen: { host: "127.0.0.1", port: 9586 } });
  expect(parseMetricsListen("[::1]:9586")).toEqual({ ok: true, listen: { host: "::1", port: 9586 } });
  const wide = parseMetricsListen("198.18.0.1:9586");
  expect(wide.ok && wide.warning).toContain("reachable beyond this host");
  expect(parseMetricsListen("localhost:9586").ok).toBe(false);
  expect(parseMetricsListen("127.0.0.1").ok).toBe(false);
  expect(parseMetricsListen("127.0.0.1:0").ok).toBe(false);
});
