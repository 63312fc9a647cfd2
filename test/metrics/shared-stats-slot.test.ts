// The per-peer slot grew packet counts and roams: neighbours must not overlap,
// and resetSlot must clear the new fields as well as the old.
import { expect, test } from "bun:test";
import { SharedStats } from "../../src/device/shared-stats.ts";

test("per-peer traffic fields round-trip without touching neighbouring slots or the endpoint", () => {
  const s = SharedStats.allocate(4);
  s.writeEndpoint(1, 4, new Uint8Array([198, 19, 0, 1]), 51820);
  s.writePeer(1, 11, 22, 33, 44, 55, 66);
  s.writePeer(2, 1, 2, 3, 4, 5, 6);
  expect(s.readPeer(1)).toEqual({ txBytes: 11, rxBytes: 22, lastHandshakeWallMs: 33, txPackets: 44, rxPackets: 55, endpointRoams: 66 });
  expect(s.readPeer(2)).toEqual({ txBytes: 1, rxBytes: 2, lastHandshakeWallMs: 3, txPackets: 4, rxPackets: 5, endpointRoams: 6 });
  expect(s.readPeer(0)).toEqual({ txBytes: 0, rxBytes: 0, lastHandshakeWallMs: 0, txPackets: 0, rxPackets: 0, endpointRoams: 0 });
  const ep = s.readEndpoint(1).endpoint!;
  expect([...ep.addr]).toEqual([198, 19, 0, 1]);
  expect(ep.port).toBe(51820);
  s.writeSource(2, 6, new Uint8Array(16).fill(0xfd), 7);
  expect(s.readPeer(2).endpointRoams).toBe(6);
  s.resetSlot(1);
  expect(s.readPeer(1)).toEqual({ txBytes: 0, rxBytes: 0, lastHandshakeWallMs: 0, txPackets: 0, rxPackets: 0, endpointRoams: 0 });
  expect(s.readPeer(2).txPackets).toBe(4);
});
