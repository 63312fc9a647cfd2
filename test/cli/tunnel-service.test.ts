// `tunnel up --foreground` as tunnel@.service runs it, with a notification
// socket standing in for systemd's: READY=1 only once the file is applied,
// STATUS= lines, WATCHDOG=1 while the data plane turns and none once the
// test hook wedges it, STOPPING=1 and a clean exit on SIGTERM. (The real
// systemd, with restarts, runs in the VM tier: test/vm/deploy.test.ts.)
import { afterAll, beforeAll, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describePrivileged } from "../support/privileges.ts";
import { Netns, pingUntil, removeStale, run } from "../support/netns.ts";
import { tunnelBinary } from "../support/binary.ts";
import { NotifyListener } from "../support/notify-listener.ts";

const PREFIX = "tsvc";
const TAG = String(process.pid % 100000);
const A = `tsa${TAG}`;
const B = `tsb${TAG}`;
let dir = "";
let bin = "";
let nsA: Netns;
let nsB: Netns;
let listener: NotifyListener;

function toml(name: string, key: string, port: number, addr: string, peerKey: string, endpoint: string, allowed: string): string {
  return `[interface]\nname = "${name}"\nprivate_key = "${key}"\nlisten_port = ${port}\naddress = ["${addr}"]\n\n[[peer]]\npublic_key = "${peerKey}"\nendpoint = "${endpoint}"\nallowed_ips = ["${allowed}"]\npersistent_keepalive = 1\n`;
}

function writeConfig(name: string, text: string): string {
  const path = join(dir, `${name}.toml`);
  writeFileSync(path, text, { mode: 0o600 });
  chmodSync(path, 0o600);
  return path;
}

describePrivileged(
  "tunnel up --foreground under a service manager (notify socket, watchdog, test wedge)",
  { root: true, commands: ["ip", "wg", "ping"] },
  () => {
    beforeAll(() => {
      bin = tunnelBinary();
      removeStale(PREFIX);
      dir = mkdtempSync(join(tmpdir(), "tunnel-svc-"));
      nsA = Netns.create(PREFIX, "a");
      nsB = Netns.create(PREFIX, "b");
      nsA.vethTo(nsB, "veth-a", "198.19.3.1/24", "veth-b", "198.19.3.2/24");
      listener = new NotifyListener("svc", "path");
    });
    afterAll(() => {
      for (const [ns, name] of [
        [nsA, A],
        [nsB, B],
      ] as const)
        if (ns) Bun.spawnSync(["ip", "netns", "exec", ns.name, bin, "down", name], { stderr: "ignore", stdout: "ignore" });
      nsA?.delete();
      nsB?.delete();
      listener?.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    test("READY after configuration, pets while turning, silence when wedged, STOPPING on SIGTERM", async () => {
      const a = run([bin, "genkey"]).trim();
      const b = run([bin, "genkey"]).trim();
      const pubA = run([bin, "pubkey"], { input: a }).trim();
      const pubB = run([bin, "pubkey"], { input: b }).trim();
      const fileA = writeConfig(A, toml(A, a, 51850, "198.18.3.1/24", pubB, "198.19.3.2:51851", "198.18.3.2/32"));
      const fileB = writeConfig(B, toml(B, b, 51851, "198.18.3.2/24", pubA, "198.19.3.1:51850", "198.18.3.1/32"));
      expect(Bun.spawnSync(["ip", "netns", "exec", nsB.name, bin, "up", fileB]).exitCode).toBe(0);

      const daemon = nsA.spawn([bin, "up", "--foreground", "--json", fileA], {
        env: { NOTIFY_SOCKET: listener.value, WATCHDOG_USEC: "600000", TUNNEL_TEST_WEDGE_ON_SIGUSR2: "1", NO_COLOR: "1" },
      });
      try {
        const ready = await listener.waitFor("READY=1", 20_000);
        // Applied before READY: the address, the peer and the link state are all there at this instant.
        expect(nsA.ip("-4", "addr", "show", "dev", A)).toContain("198.18.3.1/24");
        expect(nsA.exec(["wg", "show", A, "peers"]).trim()).toBe(pubB);
        expect(ready.text).toMatch(/^READY=1\nSTATUS=.*1 peer/);
        expect(listener.messages.filter((m) => m.text.includes("READY=1"))).toHaveLength(1);

        await pingUntil(nsA, "198.18.3.2");
        const sinceReady = await listener.waitFor("WATCHDOG=1", 3000);
        await listener.waitFor("WATCHDOG=1", 3000);
        expect(sinceReady.atMs).toBeGreaterThanOrEqual(ready.atMs);
        await Bun.sleep(5200);
        expect(
          listener
            .drain()
            .map((m) => m.text)
            .join("\n"),
        ).toMatch(/STATUS=.*1 with a session, latest handshake \d+ s ago/);

        process.kill(daemon.pid, "SIGUSR2"); // ip netns exec execs the binary: same pid
        await Bun.sleep(700); // at most one pet already on its way
        listener.drain();
        await Bun.sleep(1500);
        expect(listener.drain().filter((m) => m.text.includes("WATCHDOG=1"))).toEqual([]);
        expect(nsA.exec(["ping", "-c", "1", "-W", "1", "198.18.3.2"], { allowFail: true })).not.toContain(" 0% packet loss");

        daemon.kill("SIGTERM");
        expect(await daemon.exited).toBe(0);
        expect(listener.drain().map((m) => m.text)).toContain("STOPPING=1");
        expect(Bun.spawnSync(["ip", "-n", nsA.name, "link", "show", A], { stderr: "ignore" }).exitCode).not.toBe(0);
        const out = await new Response(daemon.stdout).text();
        expect(JSON.parse(out.trim())).toMatchObject({ interface: A, changed: true });
      } finally {
        daemon.kill("SIGKILL");
      }
    }, 60_000);
  },
);
