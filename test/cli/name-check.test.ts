// parseLinkKind on `ip -d -j link show` output captured from iproute2 6.x.
import { describe, expect, test } from "bun:test";
import { parseLinkKind } from "../../src/cli/name-check.ts";

describe("parseLinkKind", () => {
  test.each([
    ['[{"ifname":"fv0","link_type":"ether","linkinfo":{"info_kind":"veth"}}]', "veth"],
    [
      '[{"ifname":"ft0","link_type":"none","linkinfo":{"info_kind":"tun","info_data":{"type":"tun","pi":false,"vnet_hdr":true,"multi_queue":false,"persist":false}}}]',
      "tun",
    ],
    [
      '[{"ifname":"fp0","link_type":"ether","linkinfo":{"info_kind":"tun","info_data":{"type":"tap","pi":false,"vnet_hdr":false,"multi_queue":false,"persist":true}}}]',
      "tap",
    ],
    ['[{"ifname":"lo","link_type":"loopback"}]', "loopback"],
    ['[{"ifname":"wg0","link_type":"none","linkinfo":{"info_kind":"wireguard"}}]', "wireguard"],
    ["not json", "unknown"],
    ["[]", "unknown"],
  ])("%s → %s", (json, kind) => {
    expect(parseLinkKind(json)).toBe(kind);
  });
});
