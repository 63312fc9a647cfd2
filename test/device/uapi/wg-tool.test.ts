// Real wg(8) against our UAPI server. Debian's wg has the socket directory
// compiled in (/var/run/wireguard, see `strings $(which wg)`), with no
// environment override, so these tests bind /var/run/wireguard/tuapi<pid>.sock
// and remove it afterwards. wg picks the userspace path whenever that socket
// exists and accepts a connection (ipc.c ipc_get_device/ipc_set_device); no
// network device is needed. wg runs as a child process: it must be spawned
// asynchronously, since the server answers on this process's event loop.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULT_UAPI_RUN_DIR } from "../../../src/device/socket-paths.ts";
import { type UapiServer, startUapiServer } from "../../../src/device/uapi/server.ts";
import { formatKeyHex } from "../../../src/device/uapi/values.ts";
import { describePrivileged } from "../../support/privileges.ts";
import { MemoryDevice } from "./memory-device.ts";

const IFNAME = `tuapi${process.pid}`;

async function wg(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = Bun.spawn(["wg", ...args], { stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  return { code, stdout, stderr };
}

async function wgOk(...args: string[]): Promise<string> {
  const result = await wg(...args);
  if (result.code !== 0) throw new Error(`wg ${args.join(" ")} exited ${result.code}: ${result.stderr}`);
  return result.stdout;
}

function base64ToHex(key: string): string {
  return Buffer.from(key.trim(), "base64").toString("hex");
}

describePrivileged("real wg(8) against the UAPI server", { root: true, commands: ["wg"] }, () => {
  let device: MemoryDevice;
  let server: UapiServer;
  let scratch: string;
  const keys: Record<string, { private: string; public: string }> = {};

  async function keyPair(): Promise<{ private: string; public: string }> {
    const privateKey = (await wgOk("genkey")).trim();
    const file = join(scratch, "in.key");
    writeFileSync(file, privateKey);
    const child = Bun.spawn(["wg", "pubkey"], { stdin: Bun.file(file), stdout: "pipe" });
    return { private: privateKey, public: (await new Response(child.stdout).text()).trim() };
  }

  function file(name: string, text: string): string {
    const path = join(scratch, name);
    writeFileSync(path, text, { mode: 0o600 });
    return path;
  }

  const peer = (name: string) => device.peers.get(base64ToHex(keys[name]!.public));

  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), "uapi-wg-"));
    for (const name of ["self", "a", "b", "c"]) keys[name] = await keyPair();
    device = new MemoryDevice();
    server = await startUapiServer({ interfaceName: IFNAME, device });
  });

  afterAll(async () => {
    await server?.close();
    rmSync(join(DEFAULT_UAPI_RUN_DIR, `${IFNAME}.sock`), { force: true });
    rmSync(scratch, { recursive: true, force: true });
  });

  test("wg show interfaces lists it", async () => {
    expect((await wgOk("show", "interfaces")).trim().split(/\s+/)).toContain(IFNAME);
  });

  test("wg set: device and peer fields", async () => {
    await wgOk(
      "set",
      IFNAME,
      "private-key",
      file("self.key", keys.self!.private),
      "listen-port",
      "51820",
      "fwmark",
      "0x1234",
      "peer",
      keys.a!.public,
      "preshared-key",
      file("psk", keys.c!.private), // any 32 bytes
      "endpoint",
      "192.0.2.1:51820",
      "persistent-keepalive",
      "25",
      "allowed-ips",
      "10.0.0.0/24,fd00::/64",
    );
    expect(formatKeyHex(device.privateKey!)).toBe(base64ToHex(keys.self!.private));
    expect(device.listenPort).toBe(51820);
    expect(device.fwmark).toBe(0x1234);
    expect(formatKeyHex(peer("a")!.presharedKey!)).toBe(base64ToHex(keys.c!.private));
    expect(peer("a")!.persistentKeepaliveInterval).toBe(25);
    expect(peer("a")!.immediateKeepalives).toBe(1);
  });

  test("wg show dump reads it back, public key derived by wg", async () => {
    const lines = (await wgOk("show", IFNAME, "dump")).trimEnd().split("\n");
    expect(lines).toEqual([
      [keys.self!.private, keys.self!.public, "51820", "0x1234"].join("\t"),
      [keys.a!.public, keys.c!.private, "192.0.2.1:51820", "10.0.0.0/24,fd00::/64", "0", "0", "0", "25"].join("\t"),
    ]);
  });

  test("wg set replaces a peer's allowed IPs and takes an IPv6 endpoint", async () => {
    await wgOk("set", IFNAME, "peer", keys.a!.public, "endpoint", "[2001:db8::1]:443", "allowed-ips", "10.9.0.0/16");
    expect(await wgOk("show", IFNAME, "endpoints")).toBe(`${keys.a!.public}\t[2001:db8::1]:443\n`);
    expect(await wgOk("show", IFNAME, "allowed-ips")).toBe(`${keys.a!.public}\t10.9.0.0/16\n`);
  });

  test("wg set peer remove", async () => {
    await wgOk("set", IFNAME, "peer", keys.b!.public, "allowed-ips", "10.2.0.0/16");
    expect(device.peers.size).toBe(2);
    await wgOk("set", IFNAME, "peer", keys.a!.public, "remove");
    expect(await wgOk("show", IFNAME, "peers")).toBe(`${keys.b!.public}\n`);
  });

  test("wg setconf replaces the whole configuration", async () => {
    const conf = file(
      "set.conf",
      [
        "[Interface]",
        `PrivateKey = ${keys.self!.private}`,
        "ListenPort = 40000",
        "",
        "[Peer]",
        `PublicKey = ${keys.a!.public}`,
        "AllowedIPs = 10.1.0.0/16, 10.3.0.1/32",
        "Endpoint = 198.51.100.7:9999",
        "",
        "[Peer]",
        `PublicKey = ${keys.c!.public}`,
        "AllowedIPs = fd01::/48",
        "PersistentKeepalive = 15",
        "",
      ].join("\n"),
    );
    await wgOk("setconf", IFNAME, conf);
    expect(device.listenPort).toBe(40000);
    expect(device.fwmark).toBe(0); // setconf sends fwmark=0 when the file has none
    expect(peer("b")).toBeUndefined();
    const dump = (await wgOk("show", IFNAME, "dump")).trimEnd().split("\n");
    expect(dump.slice(1)).toEqual([
      [keys.a!.public, "(none)", "198.51.100.7:9999", "10.1.0.0/16,10.3.0.1/32", "0", "0", "0", "off"].join("\t"),
      [keys.c!.public, "(none)", "(none)", "fd01::/48", "0", "0", "0", "15"].join("\t"),
    ]);
  });

  test("wg syncconf changes only what differs", async () => {
    const conf = file(
      "sync.conf",
      [
        "[Interface]",
        `PrivateKey = ${keys.self!.private}`,
        "ListenPort = 40000",
        "",
        "[Peer]",
        `PublicKey = ${keys.a!.public}`,
        "AllowedIPs = 10.1.0.0/16",
        "",
        "[Peer]",
        `PublicKey = ${keys.b!.public}`,
        "AllowedIPs = 10.2.0.0/16",
        "",
      ].join("\n"),
    );
    const endpointBefore = peer("a")!.endpoint;
    await wgOk("syncconf", IFNAME, conf);
    expect(peer("c")).toBeUndefined();
    expect(peer("a")!.endpoint).toBe(endpointBefore); // not in the file: kept, not reset
    expect(await wgOk("show", IFNAME, "allowed-ips")).toBe(`${keys.a!.public}\t10.1.0.0/16\n${keys.b!.public}\t10.2.0.0/16\n`);
  });

  test("wg showconf and the pretty printer read the device", async () => {
    const conf = await wgOk("showconf", IFNAME);
    expect(conf).toContain(`PrivateKey = ${keys.self!.private}`);
    expect(conf).toContain("ListenPort = 40000");
    expect(conf).toContain(`PublicKey = ${keys.b!.public}`);
    const pretty = await wgOk("show", IFNAME);
    expect(pretty).toContain(`interface: ${IFNAME}`);
    expect(pretty).toContain(`public key: ${keys.self!.public}`);
  });

  test("a device failure reaches wg as its errno", async () => {
    device.portsInUse.add(40001);
    const result = await wg("set", IFNAME, "listen-port", "40001");
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("Address already in use");
    expect(device.listenPort).toBe(40000);
  });

  test("once the socket is gone, wg no longer sees the interface", async () => {
    await server.close();
    expect(existsSync(join(DEFAULT_UAPI_RUN_DIR, `${IFNAME}.sock`))).toBe(false);
    expect((await wgOk("show", "interfaces")).split(/\s+/)).not.toContain(IFNAME);
    expect((await wg("show", IFNAME)).code).not.toBe(0);
  });
});
