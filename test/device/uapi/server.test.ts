// The UAPI server on a temp directory, talking to MemoryDevice over a real
// AF_UNIX socket: framing, errno replies, limits, socket file handling.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, lstatSync, mkdtempSync, rmSync, statSync, unlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { UapiErrno } from "../../../src/device/uapi/errors.ts";
import { type UapiServer, startUapiServer } from "../../../src/device/uapi/server.ts";
import { formatKeyHex } from "../../../src/device/uapi/values.ts";
import { exchange } from "./client.ts";
import { MemoryDevice } from "./memory-device.ts";

const PEER = "0b".repeat(32);
const PRIVATE = `${"a8".repeat(31)}68`; // already clamped, so it reads back unchanged

let runDir: string;
let device: MemoryDevice;
let server: UapiServer | null;
let logs: string[];

beforeEach(async () => {
  runDir = join(mkdtempSync(join(tmpdir(), "uapi-")), "run", "wireguard");
  device = new MemoryDevice();
  logs = [];
  server = await startUapiServer({ interfaceName: "utest0", device, runDir, log: (m) => logs.push(m) });
});

afterEach(async () => {
  await server?.close();
  server = null;
  rmSync(join(runDir, "..", ".."), { recursive: true, force: true });
});

const path = () => server!.socketPath;

describe("socket file", () => {
  test("lives at runDir/IFNAME.sock, only root can connect, directory is 0755", () => {
    expect(path()).toBe(join(runDir, "utest0.sock"));
    const stat = lstatSync(path());
    expect(stat.isSocket()).toBe(true);
    expect(stat.mode & 0o077).toBe(0); // wireguard-go's umask 077 gives 0700 on a socket
    expect(statSync(runDir).mode & 0o777).toBe(0o755);
  });

  test("a second server on a live socket fails with 'unix socket in use'", async () => {
    await expect(startUapiServer({ interfaceName: "utest0", device, runDir })).rejects.toThrow("unix socket in use");
    expect((await exchange(path(), "get=1\n\n", 1)).text).toBe("errno=0\n\n"); // the first one still serves
  });

  test("a stale socket left by a killed process is replaced", async () => {
    const stale = join(runDir, "stale0.sock");
    // A child binds, then dies by SIGKILL, so nothing unlinks its socket.
    const child = Bun.spawnSync([
      process.execPath,
      "-e",
      `require("node:net").createServer().listen(${JSON.stringify(stale)}, () => process.kill(process.pid, "SIGKILL"))`,
    ]);
    expect(child.signalCode).toBe("SIGKILL");
    expect(lstatSync(stale).isSocket()).toBe(true);
    const second = await startUapiServer({ interfaceName: "stale0", device, runDir });
    try {
      expect((await exchange(stale, "get=1\n\n", 1)).text).toBe("errno=0\n\n");
    } finally {
      await second.close();
    }
  });

  test("close removes the socket file", async () => {
    await server!.close();
    expect(existsSync(path())).toBe(false);
  });

  test("deleting the socket file fires onSocketRemoved once", async () => {
    let calls = 0;
    const removed = Promise.withResolvers<void>();
    const watched = await startUapiServer({
      interfaceName: "watch0",
      device,
      runDir,
      onSocketRemoved: () => {
        calls++;
        removed.resolve();
      },
    });
    try {
      unlinkSync(watched.socketPath);
      await removed.promise;
      await Bun.sleep(50);
      expect(calls).toBe(1);
    } finally {
      await watched.close();
    }
  });

  test("removing the whole directory is noticed by the poll", async () => {
    const removed = Promise.withResolvers<void>();
    const dir = join(runDir, "..", "other");
    const watched = await startUapiServer({ interfaceName: "watch1", device, runDir: dir, socketPollMs: 20, onSocketRemoved: () => removed.resolve() });
    try {
      rmSync(dir, { recursive: true });
      await removed.promise;
    } finally {
      await watched.close();
    }
  });

  test("interface names wg(8) cannot address are refused", async () => {
    for (const name of ["", "a/b", "..", "sixteen-chars-xx"]) {
      await expect(startUapiServer({ interfaceName: name, device, runDir })).rejects.toThrow("invalid interface name");
    }
  });
});

describe("operations", () => {
  test("get on a fresh device is just errno=0", async () => {
    expect(await exchange(path(), "get=1\n\n", 1)).toEqual({ text: "errno=0\n\n", closed: false });
  });

  test("set then get on one connection", async () => {
    const request = `set=1\nprivate_key=${PRIVATE}\nlisten_port=51820\npublic_key=${PEER}\nendpoint=[2001:db8::1]:51820\nallowed_ip=10.0.0.1/24\n\nget=1\n\n`;
    const { text } = await exchange(path(), request, 2);
    expect(text).toBe(
      [
        "errno=0",
        "",
        `private_key=${PRIVATE}`,
        "listen_port=51820",
        `public_key=${PEER}`,
        `preshared_key=${"0".repeat(64)}`,
        "protocol_version=1",
        "endpoint=[2001:db8::1]:51820",
        "last_handshake_time_sec=0",
        "last_handshake_time_nsec=0",
        "tx_bytes=0",
        "rx_bytes=0",
        "persistent_keepalive_interval=0",
        "allowed_ip=10.0.0.0/24",
        "errno=0",
        "",
        "",
      ].join("\n"),
    );
  });

  test("the private key reads back clamped, as from wireguard-go", async () => {
    const { text } = await exchange(path(), `set=1\nprivate_key=${"ff".repeat(32)}\n\nget=1\n\n`, 2);
    expect(text).toBe(`errno=0\n\nprivate_key=f8${"ff".repeat(30)}7f\nerrno=0\n\n`);
  });

  test("an operation pipelined right after a set is answered (wireguard-go 0.0.20220316 drops it)", async () => {
    expect((await exchange(path(), `set=1\nfwmark=1\n\nget=1\n\n`, 2)).text).toBe("errno=0\n\nfwmark=1\nerrno=0\n\n");
  });

  test("a refused line answers its errno and applies nothing of the body", async () => {
    const { text, closed } = await exchange(path(), `set=1\nlisten_port=1\npublic_key=${PEER}\nallowed_ip=10.0.0.0/99\n\nget=1\n\n`, 2);
    expect(text).toBe("errno=-22\n\nerrno=0\n\n");
    expect(closed).toBe(false); // the connection stays usable
    expect(device.listenPort).toBe(0);
    expect(device.peers.size).toBe(0);
    expect(logs.some((l) => l.includes("line 3: invalid allowed_ip"))).toBe(true);
  });

  test("a line without '=' is EPROTO", async () => {
    expect((await exchange(path(), "set=1\nnonsense\n\n", 1)).text).toBe(`errno=${UapiErrno.protocol}\n\n`);
  });

  test("a device failure (port in use) is EADDRINUSE and leaves the device as it was", async () => {
    device.portsInUse.add(4000);
    const { text } = await exchange(path(), `set=1\nfwmark=7\nlisten_port=4000\npublic_key=${PEER}\n\n`, 1);
    expect(text).toBe("errno=-98\n\n");
    expect(device.fwmark).toBe(0);
    expect(device.peers.size).toBe(0);
  });

  test("a set body cut by end of input is applied and answered, like wireguard-go", async () => {
    const result = await exchange(path(), `set=1\npublic_key=${PEER}\npersistent_keepalive_interval=25`, 1, { halfClose: true });
    expect(result).toEqual({ text: "errno=0\n\n", closed: true });
    expect(device.peers.get(PEER)?.persistentKeepaliveInterval).toBe(25);
    expect(device.peers.get(PEER)?.immediateKeepalives).toBe(1);
  });

  test("an unknown operation closes the connection without a reply", async () => {
    expect(await exchange(path(), "get=2\n\n", 0)).toEqual({ text: "", closed: true });
    expect(await exchange(path(), "GET=1\n\n", 0)).toEqual({ text: "", closed: true });
    expect(await exchange(path(), "\n", 0)).toEqual({ text: "", closed: true });
  });

  test("operations before an unknown one are still answered", async () => {
    expect(await exchange(path(), "get=1\n\nbogus=1\nget=1\n\n", 1)).toEqual({ text: "errno=0\n\n", closed: true });
  });

  test("anything but '\\n' after get=1 is EINVAL, then close", async () => {
    expect(await exchange(path(), "get=1\nx\n", 1)).toEqual({ text: "errno=-22\n\n", closed: true });
  });

  test("requests split into single bytes are framed the same", async () => {
    const socketPath = path();
    const request = `set=1\npublic_key=${PEER}\nallowed_ip=fd00::/8\n\nget=1\n\n`;
    const net = await import("node:net");
    const text = await new Promise<string>((resolve) => {
      let received = "";
      const socket = net.createConnection(socketPath, async () => {
        for (const ch of request) {
          socket.write(ch);
          await Bun.sleep(0);
        }
      });
      socket.on("data", (d) => {
        received += d.toString();
        if (received.split("errno=0\n\n").length === 3) {
          socket.destroy();
          resolve(received);
        }
      });
    });
    expect(text).toContain("allowed_ip=fd00::/8\nerrno=0\n\n");
  });

  test("many pipelined gets are all answered in order", async () => {
    await exchange(
      path(),
      `set=1\nprivate_key=${PRIVATE}\n${Array.from({ length: 50 }, (_, i) => `public_key=${formatKeyHex(new Uint8Array(32).fill(i + 1))}\nallowed_ip=10.${i}.0.0/16`).join("\n")}\n\n`,
      1,
    );
    const { text } = await exchange(path(), "get=1\n\n".repeat(300), 300);
    const replies = text.split("errno=0\n\n");
    expect(replies.length).toBe(301);
    expect(replies[299]).toBe(replies[0]!);
    expect(replies[0]!.split("public_key=").length).toBe(51);
  });

  test("liveness probes (connect and close at once) do not disturb the server", async () => {
    const net = await import("node:net");
    for (let i = 0; i < 20; i++) {
      await new Promise<void>((resolve) =>
        net.createConnection(path(), function (this: import("node:net").Socket) {
          this.destroy();
          resolve();
        }),
      );
    }
    expect((await exchange(path(), "get=1\n\n", 1)).text).toBe("errno=0\n\n");
  });
});

describe("limits", () => {
  test("an overlong set line is EPROTO, then close", async () => {
    const { text, closed } = await exchange(path(), `set=1\nendpoint=${"1".repeat(10_000)}`, 1);
    expect(text).toBe("errno=-71\n\n");
    expect(closed).toBe(true);
  });

  test("an overlong operation line closes at once, without waiting for its end", async () => {
    expect(await exchange(path(), "x".repeat(100_000), 0)).toEqual({ text: "", closed: true });
  });

  test("an oversized set body is EPROTO, then close", async () => {
    await server!.close();
    server = await startUapiServer({ interfaceName: "utest0", device, runDir, limits: { maxSetBodyBytes: 1000 } });
    const body = `public_key=${PEER}\n${"allowed_ip=10.0.0.0/8\n".repeat(100)}`;
    const { text, closed } = await exchange(path(), `set=1\n${body}\n`, 1);
    expect(text).toBe("errno=-71\n\n");
    expect(closed).toBe(true);
    expect(device.peers.size).toBe(0);
  });

  test("a set body with more lines than maxSetLines is EPROTO, then close, and nothing is applied", async () => {
    await server!.close();
    server = await startUapiServer({ interfaceName: "utest0", device, runDir, limits: { maxSetLines: 50 } });
    const body = `public_key=${PEER}\n${"allowed_ip=198.18.0.1/32\n".repeat(50)}`;
    const { text, closed } = await exchange(path(), `set=1\n${body}\n`, 1);
    expect(text).toBe("errno=-71\n\n");
    expect(closed).toBe(true);
    expect(device.peers.size).toBe(0);
  });
});
