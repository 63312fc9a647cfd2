// TEST-ONLY WireGuard peer: the sans-I/O protocol core (src/wireguard/) with
// the real crypto backend, wired to a plain TUN and a node:dgram socket in the
// simplest correct way, so interop tests can put it opposite wireguard-go
// before the product data plane exists. No offloads, no batching, one peer.
//
//   bun test/interop/mini-peer.ts '<json MiniPeerConfig>'
//
// Prints one line `ready <our public key, base64>` on stdout once the TUN is
// up and the socket is bound (the test then adds addresses), and logs
// protocol errors to stderr. Exits on SIGTERM/SIGINT.
import dgram from "node:dgram";
import { isIP } from "node:net";
import { selectBackend } from "../../src/crypto/select.ts";
import { TunDevice } from "../../src/device/tun-device.ts";
import { DeviceState } from "../../src/wireguard/device-state.ts";
import type { Tunn } from "../../src/wireguard/peer.ts";
import type { TunnResult } from "../../src/wireguard/results.ts";
import type { TunReaderInit } from "./tun-reader.worker.ts";

export interface MiniPeerConfig {
  ifname: string;
  privateKey: string; // base64, as `wg genkey` prints it
  peerPublicKey: string; // base64
  presharedKey?: string; // base64
  listenPort: number;
  endpoint?: { host: string; port: number }; // absent: learn it from the peer's first authenticated message
  allowedIps: string[]; // CIDRs routed to (and accepted from) the peer
  mtu?: number;
  persistentKeepaliveSec?: number;
}

function key32(b64: string, what: string): Uint8Array {
  const k = new Uint8Array(Buffer.from(b64, "base64"));
  if (k.length !== 32) throw new Error(`${what}: expected 32 bytes of base64, got ${k.length}`);
  return k;
}

/** ipBytes turns a textual IPv4/IPv6 address into its 4 or 16 network-order bytes. */
export function ipBytes(addr: string): Uint8Array {
  const v = isIP(addr);
  if (v === 4) return new Uint8Array(addr.split(".").map(Number));
  if (v !== 6) throw new Error(`not an IP address: ${addr}`);
  // A v4-mapped source (::ffff:a.b.c.d) cannot occur here: the sockets are single-family.
  const [head = "", tail = ""] = addr.includes("::") ? addr.split("::") : [addr, ""];
  const h = head === "" ? [] : head.split(":");
  const t = tail === "" ? [] : tail.split(":");
  const groups = [...h, ...Array<string>(8 - h.length - t.length).fill("0"), ...t];
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    const n = parseInt(g, 16);
    out[2 * i] = n >> 8;
    out[2 * i + 1] = n & 0xff;
  });
  return out;
}

function main(cfg: MiniPeerConfig): void {
  const { backend, warning } = selectBackend();
  if (warning) process.stderr.write(`mini-peer: ${warning}\n`);
  // The protocol never reads a clock: we pass a monotonic now and tell it how to reach unix time (TAI64N).
  const now = () => performance.now();
  const device = new DeviceState(backend, key32(cfg.privateKey, "privateKey"), { wallClockOffsetMs: Date.now() - performance.now() });
  const added = device.addPeer(key32(cfg.peerPublicKey, "peerPublicKey"), {
    presharedKey: cfg.presharedKey ? key32(cfg.presharedKey, "presharedKey") : null,
    persistentKeepaliveMs: (cfg.persistentKeepaliveSec ?? 0) * 1000,
    mtu: cfg.mtu ?? 1420,
  });
  if (typeof added === "string") throw new Error(`addPeer: ${added}`);
  const peer: Tunn = added;
  for (const cidr of cfg.allowedIps) {
    const [addr = "", bits = ""] = cidr.split("/");
    device.allowedIps.insert(ipBytes(addr), Number(bits), peer);
  }

  let endpoint = cfg.endpoint ? { host: cfg.endpoint.host, port: cfg.endpoint.port } : null;
  const family = cfg.endpoint && isIP(cfg.endpoint.host) === 6 ? "udp6" : "udp4";
  const sock = dgram.createSocket({ type: family });
  const tun = TunDevice.open(cfg.ifname, { env: { TUNNEL_DISABLE_VNET_HDR: "1" }, mtu: cfg.mtu ?? 1420 });
  tun.up();

  let errorsLogged = 0;
  const logError = (where: string, r: TunnResult) => {
    if (r.kind !== "error" || errorsLogged >= 50) return;
    errorsLogged++;
    process.stderr.write(`mini-peer: ${where}: ${r.code}\n`);
  };

  // dgram.send is asynchronous and results are overwritten by the next call on their owner, so copy.
  const sendTo = (r: TunnResult, host: string, port: number) => {
    if (r.kind !== "network") return;
    sock.send(Buffer.from(r.buf.subarray(r.off, r.off + r.len)), port, host);
  };
  const sendToEndpoint = (r: TunnResult) => {
    if (r.kind !== "network") return;
    if (endpoint === null) return; // nowhere to send until the peer has reached us once
    sendTo(r, endpoint.host, endpoint.port);
  };
  const drain = () => {
    for (let r = peer.drain(now()); r.kind !== "done"; r = peer.drain(now())) {
      if (r.kind === "error") logError("drain", r);
      else sendToEndpoint(r);
    }
  };

  sock.on("message", (msg: Buffer, rinfo: dgram.RemoteInfo) => {
    const r = device.decapsulate(now(), { ip: ipBytes(rinfo.address), port: rinfo.port }, msg, 0, msg.length);
    if (r.kind === "error") {
      logError("decapsulate", r);
    } else {
      // Roaming: any authenticated message names the peer's current address.
      if (r.peer !== null) endpoint = { host: rinfo.address, port: rinfo.port };
      if (r.kind === "network") sendTo(r, rinfo.address, rinfo.port);
      else if (r.kind === "tunnel") tun.write(r.buf, r.off, r.len);
    }
    drain();
  });

  const worker = new Worker(new URL("./tun-reader.worker.ts", import.meta.url).href);
  worker.onmessage = (event: MessageEvent<{ buf: ArrayBuffer; len: number }>) => {
    const buf = new Uint8Array(event.data.buf);
    const len = event.data.len;
    // Route by inner destination (IPv4 dst at 16, IPv6 dst at 24); packets for no peer are dropped.
    const v = buf[16]! >>> 4;
    const dst = v === 4 ? 16 + 16 : 16 + 24;
    if ((v !== 4 && v !== 6) || device.allowedIps.lookup(buf, dst, v === 4 ? 4 : 16) !== peer) return;
    const r = peer.encapsulate(now(), buf, 0, len);
    if (r.kind === "error") logError("encapsulate", r);
    else sendToEndpoint(r);
    drain();
  };
  worker.onerror = (e) => {
    process.stderr.write(`mini-peer: tun reader died: ${e.message}\n`);
    process.exit(1);
  };

  let lastDeviceTick = 0;
  const timer = setInterval(() => {
    const t = now();
    for (const r of peer.tick(t)) {
      if (r.kind === "error") logError("tick", r);
      else sendToEndpoint(r);
    }
    drain();
    if (t - lastDeviceTick >= 1000) {
      device.tick(t);
      lastDeviceTick = t;
    }
  }, 100);

  const stop = () => {
    clearInterval(timer);
    sock.close();
    worker.terminate();
    tun.close();
    process.exit(0);
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);

  sock.bind(cfg.listenPort, () => {
    const init: TunReaderInit = { fd: tun.fd };
    worker.postMessage(init);
    process.stdout.write(`ready ${Buffer.from(device.publicKey).toString("base64")}\n`);
  });
}

if (import.meta.main) {
  const arg = process.argv[2];
  if (arg === undefined) {
    process.stderr.write("usage: mini-peer.ts '<json MiniPeerConfig>'\n");
    process.exit(64);
  }
  main(JSON.parse(arg) as MiniPeerConfig);
}
