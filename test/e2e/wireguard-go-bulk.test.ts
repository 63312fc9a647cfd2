// Bulk TCP against Debian's wireguard-go, both directions, ~15 s each: a few
// GB must pass at a sane rate with no stall (no 1-s iperf3 interval without
// bytes) and no TCP checksum errors on either side. wireguard-go is set up
// with `wg set` (as in test/device); our side with `tunnel up`, as users do.
//
//   ns t: ours          e3t<tag> 198.18.30.1/24  veth 198.19.30.1
//   ns g: wireguard-go  e3g<tag> 198.18.30.2/24  veth 198.19.30.2
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { tunnelBinary } from "../support/binary.ts";
import { Netns, removeStale } from "../support/netns.ts";
import { describePrivileged } from "../support/privileges.ts";
import { down, iperfTcp, keyPair, pingUntil, status, TAG, tomlConfig, until, up, wg, writeConfig, type IperfReport } from "./harness.ts";

const PREFIX = "te3";
const T = `e3t${TAG}`;
const G = `e3g${TAG}`;
const PORT = { t: 51920, g: 51921 };
const SECONDS = 15;
/**
 * The floor: far below what this link does on 2 cores (Gb/s), far above what
 * a broken data plane (per-packet stalls, retransmission storms) manages.
 */
const MIN_BITS_PER_SECOND = 300e6;

describePrivileged("e2e: bulk TCP against Debian's wireguard-go", { root: true, commands: ["ip", "wg", "wireguard-go", "ping", "iperf3", "nstat"] }, () => {
  let bin = "";
  let dir = "";
  let nsT: Netns;
  let nsG: Netns;
  let wgGo: ReturnType<Netns["spawn"]> | null = null;
  const kt = keyPair();
  const kg = keyPair();

  beforeAll(async () => {
    bin = tunnelBinary();
    removeStale(PREFIX);
    dir = mkdtempSync(join(tmpdir(), "tunnel-e2e-wggo-"));
    nsT = Netns.create(PREFIX, "t");
    nsG = Netns.create(PREFIX, "g");
    nsT.vethTo(nsG, "veth-t", "198.19.30.1/24", "veth-g", "198.19.30.2/24");

    rmSync(`/var/run/wireguard/${G}.sock`, { force: true });
    wgGo = nsG.spawn(["wireguard-go", "-f", G], { stdout: "ignore" });
    await until("wireguard-go's UAPI socket", () => existsSync(`/var/run/wireguard/${G}.sock`));
    const keyFile = join(dir, "g.key");
    writeFileSync(keyFile, `${kg.priv}\n`, { mode: 0o600 });
    wg("set", G, "listen-port", String(PORT.g), "private-key", keyFile, "peer", kt.pub, "allowed-ips", "198.18.30.1/32", "endpoint", `198.19.30.1:${PORT.t}`);
    nsG.ip("addr", "add", "198.18.30.2/24", "dev", G);
    nsG.ip("link", "set", G, "mtu", "1420", "up");

    up(
      bin,
      nsT,
      writeConfig(
        dir,
        T,
        tomlConfig(T, kt.priv, PORT.t, ["198.18.30.1/24"], [{ pub: kg.pub, allowed: ["198.18.30.2/32"], endpoint: `198.19.30.2:${PORT.g}` }]),
      ),
    );
    await pingUntil(nsT, "198.18.30.2");
  }, 30_000);

  afterAll(async () => {
    down(bin, nsT, T);
    if (wgGo) {
      wgGo.kill("SIGTERM");
      await Promise.race([wgGo.exited, Bun.sleep(3000)]);
      wgGo.kill("SIGKILL");
    }
    rmSync(`/var/run/wireguard/${G}.sock`, { force: true });
    nsT?.delete();
    nsG?.delete();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Counters before a run: TCP checksum errors (must stay), UDP buffer overflows (explain retransmits). */
  const baseline = () => {
    const nstatT = nsT.nstat();
    const nstatG = nsG.nstat();
    return { t: nstatT.TcpInCsumErrors ?? 0, g: nstatG.TcpInCsumErrors ?? 0, nstatT, nstatG };
  };

  function check(label: string, r: IperfReport, base: ReturnType<typeof baseline>): void {
    const rates = r.intervals.map((i) => i.bitsPerSecond);
    console.log(
      `${label}: ${(r.receivedBytes / 1e9).toFixed(2)} GB in ${r.seconds.toFixed(1)} s = ${(r.receivedBitsPerSecond / 1e9).toFixed(2)} Gb/s; ` +
        `per-second min ${(Math.min(...rates) / 1e9).toFixed(2)} max ${(Math.max(...rates) / 1e9).toFixed(2)} Gb/s; ${r.retransmits} retransmits`,
    );
    // Where the losses behind the retransmits happen: our drop counters, UDP socket buffer overflows on each side.
    const udp = (ns: Netns, before: Record<string, number>) => {
      const now = ns.nstat();
      return `UdpRcvbufErrors +${(now.UdpRcvbufErrors ?? 0) - (before.UdpRcvbufErrors ?? 0)}, UdpSndbufErrors +${(now.UdpSndbufErrors ?? 0) - (before.UdpSndbufErrors ?? 0)}`;
    };
    console.log(`${label}: our drops ${JSON.stringify(status(bin, T).drops)}; ours ${udp(nsT, base.nstatT)}; wireguard-go's ${udp(nsG, base.nstatG)}`);
    expect(r.intervals.length).toBeGreaterThanOrEqual(SECONDS - 1);
    expect(r.receivedBytes).toBeGreaterThanOrEqual((MIN_BITS_PER_SECOND / 8) * r.seconds);
    // A stall is a whole interval with nothing delivered.
    for (const i of r.intervals) expect(i.bytes).toBeGreaterThan(0);
    expect((nsT.nstat().TcpInCsumErrors ?? 0) - base.t).toBe(0);
    expect((nsG.nstat().TcpInCsumErrors ?? 0) - base.g).toBe(0);
  }

  test(
    `tunnel → wireguard-go: iperf3 TCP ${SECONDS} s, no stalled interval, no checksum errors`,
    async () => {
      const before = baseline();
      check("tunnel→wireguard-go", await iperfTcp(nsT, nsG, "198.18.30.2", { seconds: SECONDS }), before);
    },
    (SECONDS + 30) * 1000,
  );

  test(
    `wireguard-go → tunnel (-R): iperf3 TCP ${SECONDS} s, no stalled interval, no checksum errors`,
    async () => {
      const before = baseline();
      check("wireguard-go→tunnel", await iperfTcp(nsT, nsG, "198.18.30.2", { seconds: SECONDS, reverse: true }), before);
    },
    (SECONDS + 30) * 1000,
  );
});
