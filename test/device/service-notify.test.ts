// The pure parts of the systemd integration: the STATUS= line, reading
// WATCHDOG_USEC/WATCHDOG_PID, and the rule that a watchdog pet needs the
// data-plane loop to have turned since the last one.
import { describe, expect, test } from "bun:test";
import { LoopProgress, ServiceNotifier, statusLine, watchdogIntervalMs } from "../../src/device/service-notify.ts";
import { NotifyListener } from "../support/notify-listener.ts";

describe("statusLine", () => {
  test("no peers, peers without and with sessions", () => {
    expect(statusLine("wg0", [], 0)).toBe("wg0: 0 peers, no handshake yet");
    expect(statusLine("wg0", [0], 0)).toBe("wg0: 1 peer, no handshake yet");
    expect(statusLine("wg0", [0, 10_000, 40_000], 45_400)).toBe("wg0: 3 peers, 2 with a session, latest handshake 5 s ago");
  });
});

describe("watchdogIntervalMs", () => {
  test("half of WATCHDOG_USEC, as sd_watchdog_enabled recommends", () => {
    expect(watchdogIntervalMs({ WATCHDOG_USEC: "10000000" }, 7)).toBe(5000);
    expect(watchdogIntervalMs({ WATCHDOG_USEC: "10000000", WATCHDOG_PID: "7" }, 7)).toBe(5000);
  });
  test("absent, invalid, or meant for another process: no watchdog", () => {
    expect(watchdogIntervalMs({}, 7)).toBeNull();
    expect(watchdogIntervalMs({ WATCHDOG_USEC: "0" }, 7)).toBeNull();
    expect(watchdogIntervalMs({ WATCHDOG_USEC: "ten" }, 7)).toBeNull();
    expect(watchdogIntervalMs({ WATCHDOG_USEC: "10000000", WATCHDOG_PID: "8" }, 7)).toBeNull();
  });
});

describe("LoopProgress", () => {
  test("a counter that did not move is not progress", () => {
    const p = new LoopProgress(5);
    expect(p.advanced(9)).toBe(true);
    expect(p.advanced(9)).toBe(false);
    expect(p.advanced(10)).toBe(true);
  });
});

describe("ServiceNotifier against a notify socket", () => {
  test("an unusable NOTIFY_SOCKET is a warning, not a failure", () => {
    const warnings: string[] = [];
    const device = { name: "tst0", loopIterations: () => 0, peerHandshakes: () => [] };
    expect(ServiceNotifier.fromEnv({ NOTIFY_SOCKET: "relative/path" }, device, { warn: (m) => warnings.push(m) })).toBeNull();
    expect(warnings).toEqual([expect.stringContaining('ignoring NOTIFY_SOCKET: NOTIFY_SOCKET="relative/path": neither an absolute path nor an abstract name')]);
  });

  test("pets while the loop turns, stops when it stalls, and strips the manager's variables", async () => {
    const listener = new NotifyListener("notifier");
    let loops = 0;
    const device = { name: "tst0", loopIterations: () => loops, peerHandshakes: () => [0] };
    const env: Record<string, string | undefined> = { NOTIFY_SOCKET: listener.value, WATCHDOG_USEC: "100000", WATCHDOG_PID: String(process.pid) };
    const warnings: string[] = [];
    const n = ServiceNotifier.fromEnv(env, device, { warn: (m) => warnings.push(m) })!;
    try {
      expect(env).toEqual({});
      n.ready();
      expect((await listener.waitFor("READY=1", 1000)).text).toBe("READY=1\nSTATUS=tst0: 1 peer, no handshake yet");
      const turning = setInterval(() => loops++, 5);
      await listener.waitFor("WATCHDOG=1", 1000);
      await listener.waitFor("WATCHDOG=1", 1000);
      clearInterval(turning);
      await Bun.sleep(120); // one interval to notice, then silence
      listener.drain();
      await Bun.sleep(300);
      expect(listener.drain().filter((m) => m.text.includes("WATCHDOG=1"))).toEqual([]);
      expect(warnings.join("\n")).toContain("has not turned");
    } finally {
      n.stopping();
      listener.close();
    }
  });
});
