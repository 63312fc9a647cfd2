// socketOwner against real AF_UNIX sockets: nothing there, a live listener
// (whose pid and namespace SO_PEERCRED and /proc give), and the file a
// listener killed with -9 leaves (stale). Root-only sockets and other
// namespaces are covered end to end in test/e2e/operator-faults.test.ts.
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { socketOwner } from "../../../src/device/uapi/socket-owner.ts";
import { until } from "../../support/streams.ts";

const dir = mkdtempSync(join(tmpdir(), "tunnel-socket-owner-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("socketOwner", () => {
  test("no file: absent", () => {
    expect(socketOwner(join(dir, "none.sock"))).toEqual({ state: "absent" });
  });

  test("a live listener: its pid, in our namespace", async () => {
    const path = join(dir, "live.sock");
    const server = net.createServer((s) => s.destroy());
    await new Promise<void>((r) => server.listen(path, r));
    try {
      expect(socketOwner(path)).toEqual({ state: "listening", pid: process.pid, sameNetns: true });
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  test("the file of a listener killed with -9: stale", async () => {
    const path = join(dir, "stale.sock");
    const child = Bun.spawn([process.execPath, "-e", `require("node:net").createServer().listen(${JSON.stringify(path)}, () => console.log("up"))`], {
      stdout: "pipe",
    });
    const reader = child.stdout.getReader();
    await reader.read();
    expect(socketOwner(path)).toMatchObject({ state: "listening", pid: child.pid });
    child.kill("SIGKILL");
    await child.exited;
    await until("the listener to be gone", () => socketOwner(path).state !== "listening", 2000);
    expect(existsSync(path)).toBe(true);
    expect(socketOwner(path)).toEqual({ state: "stale" });
  });

  test("a file that is not a socket is not a live daemon", () => {
    const path = join(dir, "plain.sock");
    writeFileSync(path, "");
    expect(["stale", "error"]).toContain(socketOwner(path).state);
  });
});
