// A daemon whose TUN is deleted exits promptly and removes its metrics socket.
// Regression: closing the metrics server before the device gave the data-plane
// worker time to post "stopped" (it stops by itself when the TUN goes) before
// Device.close() listened for it, so every `tunnel down` waited out the 2 s
// stop timeout and kept the UDP port bound meanwhile (wg-quick's next up on
// the same port then failed with EADDRINUSE).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { metricsSocketPath } from "../../src/device/metrics-server.ts";
import { Netns, removeStale } from "../support/netns.ts";
import { describePrivileged } from "../support/privileges.ts";
import { TAG } from "../e2e/harness.ts";

const PREFIX = "tms";
const IF = `tms${TAG}`;

describePrivileged("daemon shutdown with metrics", { root: true, commands: ["ip"] }, () => {
  let ns: Netns;
  beforeAll(() => {
    removeStale(PREFIX);
    ns = Netns.create(PREFIX, "a");
  });
  afterAll(() => ns?.delete());

  test("deleting the TUN ends the daemon within 1 s, without the worker stop timeout", async () => {
    const main = new URL("../../src/main.ts", import.meta.url).pathname;
    const p = Bun.spawn(["ip", "netns", "exec", ns.name, process.execPath, main, "-f", IF], {
      stdout: "pipe",
      stderr: "pipe",
      env: { ...process.env, TUNNEL_DAEMON_NOTIFY: "1", NO_COLOR: "1" },
    });
    const stderr = new Response(p.stderr).text();
    const reader = (p.stdout as ReadableStream<Uint8Array>).getReader();
    const { value } = await reader.read();
    expect(new TextDecoder().decode(value)).toContain("tunnel-daemon-ready");
    reader.releaseLock();
    const scrape = await fetch("http://localhost/metrics", { unix: metricsSocketPath(IF) });
    expect(scrape.status).toBe(200);
    await scrape.text();
    const t = performance.now();
    ns.ip("link", "delete", IF);
    const code = await Promise.race([p.exited, Bun.sleep(5000).then(() => "still running")]);
    const ms = performance.now() - t;
    if (code === "still running") p.kill("SIGKILL");
    const log = await stderr;
    console.log(`daemon exited ${Math.round(ms)} ms after the TUN was deleted`);
    expect(code).toBe(0);
    expect(log).not.toContain("did not stop in time");
    expect(ms).toBeLessThan(1000);
    expect(existsSync(metricsSocketPath(IF))).toBe(false);
  }, 20_000);
});
