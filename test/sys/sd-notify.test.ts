// sd_notify's wire format, checked against a socket we bind: the sockaddr_un
// encoding of paths and abstract names, and datagrams arriving whole.
import { afterAll, describe, expect, test } from "bun:test";
import { notifySocketAddress, NotifySocket } from "../../src/sys/sd-notify.ts";
import { NotifyListener } from "../support/notify-listener.ts";

describe("notifySocketAddress", () => {
  test("a path is copied after the family and counted with its NUL", () => {
    const { addr, length } = notifySocketAddress("/run/systemd/notify");
    expect(new DataView(addr.buffer).getUint16(0, true)).toBe(1);
    expect(new TextDecoder().decode(addr.subarray(2, 2 + 19))).toBe("/run/systemd/notify");
    expect(addr[2 + 19]).toBe(0);
    expect(length).toBe(2 + 19 + 1);
  });

  test("an abstract name starts with a NUL byte and has an exact length", () => {
    const { addr, length } = notifySocketAddress("@abc");
    expect(addr[2]).toBe(0);
    expect(new TextDecoder().decode(addr.subarray(3, 6))).toBe("abc");
    expect(length).toBe(2 + 1 + 3);
  });

  test("relative, empty and oversized names are refused", () => {
    expect(() => notifySocketAddress("run/notify")).toThrow("neither an absolute path");
    expect(() => notifySocketAddress("@")).toThrow("not a usable socket name");
    expect(() => notifySocketAddress(`/${"x".repeat(107)}`)).toThrow("not a usable socket name");
    expect(() => notifySocketAddress(`/${"x".repeat(106)}`)).not.toThrow();
  });
});

describe("NotifySocket", () => {
  const listener = new NotifyListener("unit");
  afterAll(() => listener.close());

  test("unset or empty NOTIFY_SOCKET means no service manager", () => {
    expect(NotifySocket.open(undefined)).toBeNull();
    expect(NotifySocket.open("")).toBeNull();
  });

  test("messages arrive as one datagram each, in order", async () => {
    const s = NotifySocket.open(listener.value)!;
    s.send("READY=1\nSTATUS=up");
    s.send("WATCHDOG=1");
    s.close();
    await listener.waitFor("WATCHDOG=1", 1000);
    expect(listener.messages.map((m) => m.text)).toEqual(["READY=1\nSTATUS=up", "WATCHDOG=1"]);
  });

  test("an abstract name nobody listens on fails with the errno", () => {
    const s = NotifySocket.open(`@tunnel-test-nobody-${process.pid}`)!;
    expect(() => s.send("READY=1")).toThrow("ECONNREFUSED");
    s.close();
  });
});
