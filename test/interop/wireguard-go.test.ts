// Interop: our sans-I/O WireGuard core (via mini-peer.ts) against the real
// wireguard-go, across two namespaces joined by a veth pair. Keys come from
// `wg genkey`/`wg pubkey`/`wg genpsk`, so the base64 key encoding and the
// Curve25519 public-key derivation are checked too. wireguard-go runs with
// LOG_LEVEL=verbose so each test can prove which side initiated.
//
//   ns A: wireguard-go wgi<pid>  198.18.9.1/24 fd00:9::1/64   outer 198.19.0.1 (veth va)
//   ns B: mini-peer    wgm<pid>  198.18.9.2/24 fd00:9::2/64   outer 198.19.0.2 (veth vb)
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Netns, removeStale, run } from "../support/netns.ts";
import { describePrivileged } from "../support/privileges.ts";
import { collect, until } from "../support/streams.ts";
import type { MiniPeerConfig } from "./mini-peer.ts";

const MINI_PEER = new URL("./mini-peer.ts", import.meta.url).pathname;
const TCP_PUSH = new URL("../support/tcp-push.ts", import.meta.url).pathname;
const PREFIX = "wgio";
// The UAPI socket directory is global, not per namespace: the pid keeps parallel runs apart.
const WG_IF = `wgi${process.pid}`;
const MINI_IF = `wgm${process.pid}`;
const WG_SOCK = `/var/run/wireguard/${WG_IF}.sock`;
const WG_PORT = 51820;
const MINI_PORT = 51821;
const TEST_TIMEOUT_MS = 20_000;

type Proc = ReturnType<Netns["spawn"]>;

/** Everything a test started, so afterAll can stop it even when a test threw midway. */
const live = new Set<Proc>();

async function stop(p: Proc | undefined): Promise<void> {
  if (p === undefined) return;
  p.kill("SIGTERM");
  const exited = await Promise.race([p.exited.then(() => true), Bun.sleep(2000).then(() => false)]);
  if (!exited) {
    p.kill("SIGKILL");
    await p.exited;
  }
  live.delete(p);
}

describePrivileged("interop: protocol core vs wireguard-go", { root: true, commands: ["wireguard-go", "wg", "ip", "ping"] }, () => {
  let nsA: Netns;
  let nsB: Netns;
  let dir: string;
  const keys = { wgPriv: "", wgPub: "", ourPriv: "", ourPub: "", psk: "" };

  beforeAll(() => {
    removeStale(PREFIX);
    nsA = Netns.create(PREFIX, "a");
    nsB = Netns.create(PREFIX, "b");
    nsA.vethTo(nsB, "va", "198.19.0.1/24", "vb", "198.19.0.2/24");
    dir = mkdtempSync(join(tmpdir(), "wgio-"));
    keys.wgPriv = run(["wg", "genkey"]).trim();
    keys.wgPub = run(["wg", "pubkey"], { input: `${keys.wgPriv}\n` }).trim();
    keys.ourPriv = run(["wg", "genkey"]).trim();
    keys.ourPub = run(["wg", "pubkey"], { input: `${keys.ourPriv}\n` }).trim();
    keys.psk = run(["wg", "genpsk"]).trim();
    // wg set reads keys from files only (so they never appear in argv).
    writeFileSync(join(dir, "wg.key"), `${keys.wgPriv}\n`, { mode: 0o600 });
    writeFileSync(join(dir, "psk.key"), `${keys.psk}\n`, { mode: 0o600 });
  });

  afterAll(async () => {
    for (const p of [...live]) await stop(p);
    nsA?.delete();
    nsB?.delete();
    rmSync(WG_SOCK, { force: true });
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  interface Opts {
    /** Which side knows the other's endpoint: that side can initiate; the other must learn it by roaming. */
    initiator: "ours" | "wireguard-go";
    psk?: boolean;
    /** ourPskOnly gives only our side the preshared key (a deliberate mismatch). */
    ourPskOnly?: boolean;
    /** allowErrors: the test expects the core to reject something. */
    allowErrors?: boolean;
    /** ourKeepaliveSec sets a persistent keepalive on our side only. */
    ourKeepaliveSec?: number;
  }

  async function startWireguardGo(o: Opts): Promise<{ proc: Proc; log: () => string }> {
    rmSync(WG_SOCK, { force: true });
    const proc = nsA.spawn(["wireguard-go", "-f", WG_IF], { env: { WG_PROCESS_FOREGROUND: "1", LOG_LEVEL: "verbose" } });
    live.add(proc);
    const out = collect(proc.stdout as ReadableStream<Uint8Array>);
    const err = collect(proc.stderr);
    const log = () => out.text() + err.text();
    await until(`${WG_SOCK} (wireguard-go log: ${log()})`, () => existsSync(WG_SOCK));
    const args = ["wg", "set", WG_IF, "listen-port", String(WG_PORT), "private-key", join(dir, "wg.key"), "peer", keys.ourPub];
    args.push("allowed-ips", "198.18.9.2/32,fd00:9::2/128");
    if (o.initiator === "wireguard-go") args.push("endpoint", `198.19.0.2:${MINI_PORT}`);
    if (o.psk) args.push("preshared-key", join(dir, "psk.key"));
    run(args);
    nsA.ip("addr", "add", "198.18.9.1/24", "dev", WG_IF);
    nsA.ip("addr", "add", "fd00:9::1/64", "dev", WG_IF, "nodad");
    nsA.ip("link", "set", WG_IF, "up");
    return { proc, log };
  }

  async function startMiniPeer(o: Opts): Promise<{ proc: Proc; stderr: () => string }> {
    const cfg: MiniPeerConfig = {
      ifname: MINI_IF,
      privateKey: keys.ourPriv,
      peerPublicKey: keys.wgPub,
      listenPort: MINI_PORT,
      allowedIps: ["198.18.9.1/32", "fd00:9::1/128"],
      mtu: 1420,
    };
    if (o.initiator === "ours") cfg.endpoint = { host: "198.19.0.1", port: WG_PORT };
    if (o.psk || o.ourPskOnly) cfg.presharedKey = keys.psk;
    if (o.ourKeepaliveSec) cfg.persistentKeepaliveSec = o.ourKeepaliveSec;
    const proc = nsB.spawn([process.execPath, MINI_PEER, JSON.stringify(cfg)]);
    live.add(proc);
    const out = collect(proc.stdout as ReadableStream<Uint8Array>);
    const err = collect(proc.stderr);
    await until(`mini-peer ready (stderr: ${err.text()})`, () => out.text().includes("\n"), 10_000);
    // Our X25519 derivation from a `wg genkey` key must give what `wg pubkey` gave.
    expect(out.text().trim()).toBe(`ready ${keys.ourPub}`);
    nsB.ip("addr", "add", "198.18.9.2/24", "dev", MINI_IF);
    nsB.ip("addr", "add", "fd00:9::2/64", "dev", MINI_IF, "nodad");
    return { proc, stderr: err.text };
  }

  /** withPair runs body with both peers up and always stops both (a restart per test). */
  async function withPair(o: Opts, body: (wg: { log: () => string }, ours: { stderr: () => string }) => Promise<void>): Promise<void> {
    let wg: Awaited<ReturnType<typeof startWireguardGo>> | undefined;
    let ours: Awaited<ReturnType<typeof startMiniPeer>> | undefined;
    try {
      wg = await startWireguardGo(o);
      ours = await startMiniPeer(o);
      await body(wg, ours);
      // Nothing either side sent should have been rejected by the core.
      if (!o.allowErrors)
        expect(
          ours
            .stderr()
            .split("\n")
            .filter((l) => l.startsWith("mini-peer:") && !l.includes("crypto:")),
        ).toEqual([]);
    } catch (e) {
      const detail = `\n--- wireguard-go log ---\n${wg?.log() ?? ""}\n--- mini-peer stderr ---\n${ours?.stderr() ?? ""}`;
      throw e instanceof Error ? Object.assign(e, { message: e.message + detail }) : e;
    } finally {
      await stop(ours?.proc);
      await stop(wg?.proc);
      rmSync(WG_SOCK, { force: true });
    }
  }

  /**
   * ping runs asynchronously: a synchronous spawn would stall this process's
   * event loop, and with it the reading of both peers' logs.
   */
  async function ping(ns: Netns, addr: string, count = 3, deadlineSec = 10): Promise<string> {
    const p = ns.spawn(["ping", "-c", String(count), "-i", "0.2", "-W", "2", "-w", String(deadlineSec), addr]);
    const [out] = await Promise.all([new Response(p.stdout as ReadableStream<Uint8Array>).text(), p.exited]);
    if (deadlineSec === 10) expect(out).toContain(`${count} packets transmitted, ${count} received`);
    return out;
  }

  /** logs arrive through pipes after the fact, so wait for a line instead of reading once. */
  async function expectLog(log: () => string, line: string, timeoutMs = 3000): Promise<void> {
    await until(`wireguard-go to log "${line}"`, () => log().includes(line), timeoutMs);
  }

  test(
    "IPv4 ping B→A: our core initiates, wireguard-go responds",
    async () => {
      await withPair({ initiator: "ours" }, async (wg) => {
        await ping(nsB, "198.18.9.1");
        await expectLog(wg.log, "Received handshake initiation");
        await expectLog(wg.log, "Sending handshake response");
        // wireguard-go learned our endpoint from the handshake (it was configured without one).
        expect(run(["wg", "show", WG_IF, "endpoints"])).toContain(`198.19.0.2:${MINI_PORT}`);
      });
    },
    TEST_TIMEOUT_MS,
  );

  test(
    "IPv4 ping A→B after restart: wireguard-go initiates, our core responds",
    async () => {
      await withPair({ initiator: "wireguard-go" }, async (wg) => {
        await ping(nsA, "198.18.9.2");
        await expectLog(wg.log, "Sending handshake initiation");
        await expectLog(wg.log, "Received handshake response");
        expect(wg.log()).not.toContain("Received handshake initiation");
      });
    },
    TEST_TIMEOUT_MS,
  );

  test(
    "IPv6 inner ping both ways",
    async () => {
      await withPair({ initiator: "ours" }, async () => {
        await ping(nsB, "fd00:9::1");
        await ping(nsA, "fd00:9::2");
      });
    },
    TEST_TIMEOUT_MS,
  );

  test(
    "preshared key on both sides, each side initiating",
    async () => {
      await withPair({ initiator: "ours", psk: true }, async (wg) => {
        await ping(nsB, "198.18.9.1");
        await expectLog(wg.log, "Received handshake initiation");
      });
      await withPair({ initiator: "wireguard-go", psk: true }, async (wg) => {
        await ping(nsA, "198.18.9.2");
        await expectLog(wg.log, "Received handshake response");
      });
      // Control: the key must really be mixed in. With it on our side only,
      // wireguard-go's response fails our authentication and nothing passes.
      await withPair({ initiator: "ours", ourPskOnly: true, allowErrors: true }, async (wg, ours) => {
        const out = await ping(nsB, "198.18.9.1", 1, 2);
        expect(out).toContain(" 0 received");
        await expectLog(wg.log, "Sending handshake response");
        await until("mini-peer to reject the response", () => ours.stderr().includes("mini-peer: decapsulate:"));
      });
    },
    TEST_TIMEOUT_MS,
  );

  test(
    "≥5 MB TCP B→A intact, then our persistent keepalives are accepted and the session stays usable",
    async () => {
      await withPair({ initiator: "ours", ourKeepaliveSec: 1 }, async (wg) => {
        const server = nsA.spawn([process.execPath, TCP_PUSH, "serve", "198.18.9.1", "5301"]);
        live.add(server);
        try {
          const srvOut = collect(server.stdout as ReadableStream<Uint8Array>);
          const srvErr = collect(server.stderr);
          await until("tcp-push listening", () => srvErr.text().includes("listening"));
          const sent = JSON.parse(nsB.exec([process.execPath, TCP_PUSH, "send", "198.18.9.1", "5301", "3"])) as { sent: number };
          await until("tcp-push totals", () => srvOut.text().includes("\n"), 10_000);
          const got = JSON.parse(srvOut.text()) as { received: number; corrupt: number };
          expect(got.corrupt).toBe(0);
          expect(got.received).toBe(sent.sent);
          expect(got.received).toBeGreaterThanOrEqual(5 << 20);
          process.stderr.write(`interop: ${(got.received / 1e6).toFixed(1)} MB over TCP through wireguard-go and the core\n`);
        } finally {
          await stop(server);
        }
        // Idle for a few keepalive intervals: both sides must send and accept keepalives.
        // Only our side has a persistent keepalive: every authenticated packet
        // received re-arms the timer, so with both set only one side would ever send.
        await expectLog(wg.log, "Receiving keepalive packet", 2500);
        await ping(nsB, "198.18.9.1");
        await ping(nsA, "198.18.9.2");
      });
    },
    TEST_TIMEOUT_MS,
  );
});
