// The protocol over the real crypto backends, and across backends: a device
// on the test-only noble backend must handshake and exchange data with one on
// libcrypto / the TypeScript fallback, which pins the bytes both produce.
import { describe, expect, test } from "bun:test";
import type { CryptoBackend } from "../../src/crypto/types.ts";
import { DeviceState } from "../../src/wireguard/device-state.ts";
import type { Tunn } from "../../src/wireguard/peer.ts";
import { datagram, deliver, drainAll, IP_A, IP_B, ipv4Packet, SRC_A, SRC_B } from "./helpers.ts";
import { nobleBackend } from "./noble-backend.ts";

async function realBackends(): Promise<CryptoBackend[]> {
  try {
    const { selectBackend } = await import("../../src/crypto/select.ts");
    const out: CryptoBackend[] = [selectBackend({ TUNNEL_CRYPTO: "typescript" }).backend];
    const auto = selectBackend({}).backend;
    if (auto.name !== "typescript") out.push(auto);
    return out;
  } catch {
    return [];
  }
}

const backends = await realBackends();

describe.skipIf(backends.length === 0)("real backends", () => {
  test.each(backends.map((b) => [b.name, b] as const))("noble ↔ %s: handshake and data both ways", (_n, real) => {
    const a = new DeviceState(nobleBackend(5), new Uint8Array(32).fill(1));
    const b = new DeviceState(real, new Uint8Array(32).fill(2));
    const psk = new Uint8Array(32).fill(9);
    const peerB = a.addPeer(b.publicKey, { presharedKey: psk }) as Tunn;
    const peerA = b.addPeer(a.publicKey, { presharedKey: psk }) as Tunn;
    a.allowedIps.insert(IP_B, 32, peerB);
    b.allowedIps.insert(IP_A, 32, peerA);
    const t = 5000;
    const pkt = ipv4Packet(IP_A, IP_B, 77);
    const init = datagram(peerB.encapsulate(t, pkt.buf, 0, pkt.len));
    const resp = datagram(deliver(b, t, SRC_A, init));
    expect(deliver(a, t, SRC_B, resp).kind).toBe("done");
    const [data] = drainAll(peerB, t);
    expect(deliver(b, t, SRC_A, data!)).toMatchObject({ kind: "tunnel", len: pkt.len });
    const back = ipv4Packet(IP_B, IP_A, 300);
    const d = datagram(peerA.encapsulate(t, back.buf, 0, back.len));
    expect(deliver(a, t, SRC_B, d)).toMatchObject({ kind: "tunnel", len: back.len });
  });
});
