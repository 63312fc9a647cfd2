// Sticky source addresses on a multi-homed host (dossier 4.8; wireguard-go
// conn/sticky_linux.go): our device A has a primary and a secondary address
// on its veth; Debian's wireguard-go (B, the reference peer) dials A at the
// secondary and initiates. A must answer, handshake and data alike, from the
// secondary, so B keeps A's endpoint there. Without sticky sources routing
// answers from the primary and B roams to it: the control case runs A with
// TUNNEL_DISABLE_STICKY_SOURCE=1 and expects exactly that, so every run proves
// the set-up can tell the two apart. Then the secondary address is removed:
// A's next send with it is refused (ENETUNREACH for IPv4, EINVAL for IPv6 on
// Linux 6.x), A forgets the source and resends from the primary, B roams.
//
//   ns A: ours          tsa<pid>  198.18.61.1   outer 198.19.61.1 + .3 / fd00:61::1 + fd00:61:1::3 (veth vsa<pid>)
//   ns B: wireguard-go  tsb<pid>  198.18.61.2   outer 198.19.61.2      / fd00:61::2              (veth vsb<pid>)
//
// IPv6 picks among same-prefix addresses by recency (RFC 6724 rule 8 is
// capped at the /64), so the IPv6 secondary sits in its own /64 (B routes it
// on-link): then routing deterministically prefers fd00:61::1 towards B.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { renderStatus } from "../../src/cli/status.ts";
import { Netns, removeStale, run } from "../support/netns.ts";
import { describePrivileged } from "../support/privileges.ts";
import { collect, until } from "../support/streams.ts";
import { type DeviceProc, startDevice } from "../support/device-proc.ts";

const PREFIX = "tsty";
const IF_A = `tsa${process.pid}`;
const IF_B = `tsb${process.pid}`;
const VETH_A = `vsa${process.pid}`;
const VETH_B = `vsb${process.pid}`;
const PORT_A = 51870;
const PORT_B = 51871;
const SOCK_DIR = "/var/run/wireguard";
const INNER_A = "198.18.61.1";
const INNER_B = "198.18.61.2";

interface Outer {
  family: 4 | 6;
  /** A's primary and secondary addresses (with prefix length), B's address. */
  primary: string;
  secondary: string;
  b: string;
  /** extra set-up in B (the IPv6 secondary's /64 is on-link) */
  routeB?: string[];
}

const OUTER: Record<4 | 6, Outer> = {
  4: { family: 4, primary: "198.19.61.1/24", secondary: "198.19.61.3/24", b: "198.19.61.2/24" },
  6: { family: 6, primary: "fd00:61::1/64", secondary: "fd00:61:1::3/64", b: "fd00:61::2/64", routeB: ["-6", "route", "add", "fd00:61:1::/64", "dev", VETH_B] },
};

const host = (cidr: string) => cidr.split("/")[0]!;
const endpoint = (o: Outer, cidr: string, port: number) => (o.family === 4 ? `${host(cidr)}:${port}` : `[${host(cidr)}]:${port}`);

/** ping answers within a few tries (the first one may wait for a handshake); asynchronous so logs keep flowing. */
async function ping(ns: Netns, addr: string): Promise<void> {
  let out = "";
  for (let i = 0; i < 10; i++) {
    const p = ns.spawn(["ping", "-c", "1", "-W", "1", addr]);
    [out] = await Promise.all([new Response(p.stdout as ReadableStream<Uint8Array>).text(), p.exited]);
    if (out.includes(" 0% packet loss")) return;
    await Bun.sleep(100);
  }
  throw new Error(`no answer from ${addr} in ${ns.name}: ${out}`);
}

/** endpointOfA is A's endpoint as wireguard-go (B) has it: `wg show IF endpoints` is "<key>\t<endpoint>". */
function endpointOfA(): string {
  return run(["wg", "show", IF_B, "endpoints"]).trim().split(/\s+/)[1] ?? "";
}

describePrivileged("device: sticky source addresses against wireguard-go", { root: true, commands: ["ip", "wg", "wireguard-go", "ping"] }, () => {
  let dir = "";
  const keys: Record<"a" | "b", { pub: string; file: string }> = {} as never;

  beforeAll(() => {
    removeStale(PREFIX);
    dir = mkdtempSync(join(tmpdir(), "tsty-"));
    for (const k of ["a", "b"] as const) {
      const priv = run(["wg", "genkey"]).trim();
      const file = join(dir, `${k}.key`);
      writeFileSync(file, `${priv}\n`, { mode: 0o600 });
      keys[k] = { pub: run(["wg", "pubkey"], { input: `${priv}\n` }).trim(), file };
    }
  });

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /**
   * withPair sets up both namespaces and both peers, has B initiate (B pings
   * A, then A pings B so A's data goes out too) and runs body; everything is
   * torn down afterwards, whatever happened.
   */
  async function withPair(o: Outer, env: Record<string, string>, body: (x: { nsA: Netns; nsB: Netns; devA: DeviceProc }) => Promise<void>): Promise<void> {
    const nsA = Netns.create(PREFIX, `a${o.family}`);
    const nsB = Netns.create(PREFIX, `b${o.family}`);
    let devA: DeviceProc | null = null;
    let wgGo: { proc: ReturnType<Netns["spawn"]>; log: () => string } | null = null;
    try {
      nsA.ip("link", "add", VETH_A, "type", "veth", "peer", "name", VETH_B, "netns", nsB.name);
      const nodad = o.family === 6 ? ["nodad"] : [];
      // The primary first: for IPv4 the first address of a subnet is the one routing picks.
      nsA.ip("addr", "add", o.primary, "dev", VETH_A, ...nodad);
      nsA.ip("addr", "add", o.secondary, "dev", VETH_A, ...nodad);
      nsB.ip("addr", "add", o.b, "dev", VETH_B, ...nodad);
      nsA.ip("link", "set", VETH_A, "up");
      nsB.ip("link", "set", VETH_B, "up");
      if (o.routeB) nsB.ip(...o.routeB);
      // Without sticky sources this is where A's replies to B come from.
      expect(nsA.ip(`-${o.family}`, "route", "get", host(o.b))).toContain(`src ${host(o.primary)}`);

      devA = startDevice(nsA, IF_A, env);
      expect((await devA.next()).ready).toBe(true);
      rmSync(join(SOCK_DIR, `${IF_B}.sock`), { force: true });
      const wg = nsB.spawn(["wireguard-go", "-f", IF_B], { env: { WG_PROCESS_FOREGROUND: "1", LOG_LEVEL: "verbose" } });
      const out = collect(wg.stdout as ReadableStream<Uint8Array>);
      const err = collect(wg.stderr);
      wgGo = { proc: wg, log: () => out.text() + err.text() };
      await until("wireguard-go's UAPI socket", () => existsSync(join(SOCK_DIR, `${IF_B}.sock`)));

      // A knows no endpoint for B (it learns it from B's initiation); B dials A's secondary.
      run(["wg", "set", IF_A, "listen-port", String(PORT_A), "private-key", keys.a.file, "peer", keys.b.pub, "allowed-ips", `${INNER_B}/32`]);
      run([
        "wg",
        "set",
        IF_B,
        "listen-port",
        String(PORT_B),
        "private-key",
        keys.b.file,
        "peer",
        keys.a.pub,
        "allowed-ips",
        `${INNER_A}/32`,
        "endpoint",
        endpoint(o, o.secondary, PORT_A),
      ]);
      for (const [ns, ifn, addr] of [
        [nsA, IF_A, INNER_A],
        [nsB, IF_B, INNER_B],
      ] as const) {
        ns.ip("addr", "add", `${addr}/24`, "dev", ifn);
        ns.ip("link", "set", ifn, "mtu", "1420", "up");
      }
      await ping(nsB, INNER_A);
      await ping(nsA, INNER_B);
      await until("wireguard-go to log its initiation", () => wgGo!.log().includes("Sending handshake initiation"));
      await body({ nsA, nsB, devA });
    } catch (e) {
      const detail = `\n--- wireguard-go log ---\n${wgGo?.log() ?? ""}\n--- run-device stderr ---\n${devA?.stderr ?? ""}`;
      throw e instanceof Error ? Object.assign(e, { message: e.message + detail }) : e;
    } finally {
      await devA?.stop();
      if (wgGo !== null) {
        wgGo.proc.kill("SIGTERM");
        await Promise.race([wgGo.proc.exited, Bun.sleep(3000)]);
      }
      nsA.delete();
      nsB.delete();
      for (const i of [IF_A, IF_B]) rmSync(join(SOCK_DIR, `${i}.sock`), { force: true });
    }
  }

  for (const family of [4, 6] as const) {
    const o = OUTER[family];

    test(`IPv${family}: wireguard-go dials our secondary address and keeps it; after the address is removed we fall back to the primary`, async () => {
      await withPair(o, {}, async ({ nsA, nsB, devA }) => {
        // The handshake response and A's data came from the secondary: B did not roam.
        expect(endpointOfA()).toBe(endpoint(o, o.secondary, PORT_A));
        const ifindex = Number(/^(\d+):/.exec(nsA.ip("-o", "link", "show", VETH_A))![1]);
        let st = await devA.status();
        expect(st.peers[0]!.localSource).toEqual({ address: host(o.secondary), ifindex });
        expect(st.counters.stickySourceResets).toBe(0);
        expect(renderStatus(st, Date.now())).toContain(`  local address: ${host(o.secondary)} (ifindex ${ifindex})`);

        // The secondary goes away: A's next send from it is refused, A
        // forgets it and resends from the primary, and B roams there.
        nsA.ip("addr", "del", o.secondary, "dev", VETH_A);
        await ping(nsA, INNER_B);
        await ping(nsB, INNER_A);
        expect(endpointOfA()).toBe(endpoint(o, o.primary, PORT_A));
        st = await devA.status();
        expect(st.counters.stickySourceResets).toBeGreaterThanOrEqual(1);
        expect(st.counters.sendErrors).toBe(0);
        expect(st.peers[0]!.localSource).toEqual({ address: host(o.primary), ifindex });
      });
    }, 30_000);

    test(`IPv${family} control: with TUNNEL_DISABLE_STICKY_SOURCE=1 routing answers from the primary and wireguard-go roams to it`, async () => {
      await withPair(o, { TUNNEL_DISABLE_STICKY_SOURCE: "1" }, async ({ devA }) => {
        expect(endpointOfA()).toBe(endpoint(o, o.primary, PORT_A));
        const st = await devA.status();
        expect(st.peers[0]!.localSource).toBeNull();
        expect(st.udp.notes.join("; ")).toContain("sticky source addresses off");
      });
    }, 30_000);
  }
});
