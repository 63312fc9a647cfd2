// The wireguard-go-compatible daemon as wg(8) sees it: `wg setconf` and
// `wg syncconf` against a live `tunnel -f`, the daemon exiting when its
// UAPI socket file is removed, and the MTU a fresh interface starts with.
// (The UDP GSO EIO fallback is covered in test/device/udp-sender-eio.test.ts.)
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describePrivileged } from "../support/privileges.ts";
import { Netns, removeStale } from "../support/netns.ts";
import { tunnelBinary } from "../support/binary.ts";
import { socketOwner } from "../../src/device/uapi/socket-owner.ts";
import { TAG, down, keyPair, until, wg, wgColumn, type KeyPair } from "./harness.ts";

const PREFIX = "tlife";
const SOCKETS = "/var/run/wireguard";

describePrivileged("daemon lifecycle against wg(8) and the kernel", { root: true, commands: ["ip", "wg"] }, () => {
  let bin = "";
  let dir = "";
  let nsA: Netns;
  let ka: KeyPair;
  const D = `tld${TAG}`;

  beforeAll(() => {
    bin = tunnelBinary();
    removeStale(PREFIX);
    dir = mkdtempSync(join(tmpdir(), "tunnel-life-"));
    nsA = Netns.create(PREFIX, "a");
    ka = keyPair();
  });

  afterAll(() => {
    down(bin, nsA, D);
    nsA?.delete();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("wg setconf and wg syncconf configure a live tunnel daemon", async () => {
    const daemon = nsA.spawn([bin, "-f", D], { stdout: "ignore" });
    try {
      // Its own listener, not just a file: a stale socket of the same name (a
      // SIGKILLed daemon of an earlier run; pids wrap at 32768) would make wg
      // unlink it and fall back to the kernel ("Protocol not supported").
      await until(
        "the daemon to listen",
        () => {
          const owner = socketOwner(join(SOCKETS, `${D}.sock`));
          return owner.state === "listening" && owner.pid === daemon.pid;
        },
        10_000,
      );
      const peer1 = keyPair();
      const peer2 = keyPair();
      const conf = join(dir, "setconf.conf");
      writeFileSync(
        conf,
        `[Interface]\nPrivateKey = ${ka.priv}\nListenPort = 51940\n\n[Peer]\nPublicKey = ${peer1.pub}\nAllowedIPs = 198.18.40.0/24\nEndpoint = 198.19.30.2:51941\n`,
        { mode: 0o600 },
      );
      wg("setconf", D, conf);
      expect(wg("show", D, "listen-port").trim()).toBe("51940");
      expect(wg("show", D, "public-key").trim()).toBe(ka.pub);
      expect(wgColumn(D, "allowed-ips").get(peer1.pub)).toBe("198.18.40.0/24");
      // syncconf: peer1 changes its allowed IPs, peer2 appears; nothing else is touched.
      writeFileSync(
        conf,
        `[Interface]\nPrivateKey = ${ka.priv}\nListenPort = 51940\n\n[Peer]\nPublicKey = ${peer1.pub}\nAllowedIPs = 198.18.41.0/24\n\n[Peer]\nPublicKey = ${peer2.pub}\nAllowedIPs = fd00:41::/64\n`,
        { mode: 0o600 },
      );
      wg("syncconf", D, conf);
      const allowed = wgColumn(D, "allowed-ips");
      expect(allowed.get(peer1.pub)).toBe("198.18.41.0/24");
      expect(allowed.get(peer2.pub)).toBe("fd00:41::/64");
      expect(wgColumn(D, "endpoints").get(peer1.pub)).toBe("198.19.30.2:51941");
      // Removing the socket file is wg-quick's and wireguard-go's "please exit".
      rmSync(join(SOCKETS, `${D}.sock`));
      const exited = await Promise.race([daemon.exited.then(() => true), Bun.sleep(5000).then(() => false)]);
      expect(exited).toBe(true);
      expect(nsA.exec(["ip", "link", "show", D], { allowFail: true })).toBe("");
    } finally {
      daemon.kill();
    }
  });

  test("a fresh `tunnel IFNAME` (wg-quick's command line) has MTU 1420, as wireguard-go and the kernel", async () => {
    const M = `tlm${TAG}`;
    try {
      // Background start returns once the socket listens, like wireguard-go.
      nsA.exec([bin, M]);
      const link = JSON.parse(nsA.ip("-j", "link", "show", "dev", M)) as { mtu: number }[];
      expect(link[0]!.mtu).toBe(1420);
    } finally {
      down(bin, nsA, M);
    }
  });
});
