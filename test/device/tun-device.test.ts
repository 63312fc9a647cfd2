// The TUN device against the real kernel: offload negotiation, kill switches,
// the GRO write probe. Pure part first: the probe write itself.
import { afterEach, describe, expect, test } from "bun:test";
import { buildProbeWrite } from "../../src/device/gro-probe.ts";
import { KILL_SWITCHES, TunDevice, offloadFlagNames } from "../../src/device/tun-device.ts";
import {
  VIRTIO_NET_HDR_F_NEEDS_CSUM,
  VIRTIO_NET_HDR_GSO_TCPV4,
  VIRTIO_NET_HDR_GSO_UDP_L4,
  createVnetHeader,
  decodeVnetHeader,
} from "../../src/offload/index.ts";
import { describePrivileged } from "../support/privileges.ts";

describe("GRO probe write", () => {
  test.each([
    ["tcp", VIRTIO_NET_HDR_GSO_TCPV4, 6, 20 + 20 + 200],
    ["udp", VIRTIO_NET_HDR_GSO_UDP_L4, 17, 20 + 8 + 200],
  ] as const)("%s probe is one coalesced super-packet", (protocol, gsoType, proto, ipLen) => {
    const bytes = buildProbeWrite(protocol);
    expect(bytes).not.toBeNull();
    const hdr = createVnetHeader();
    decodeVnetHeader(bytes!, 0, hdr);
    expect(hdr.flags).toBe(VIRTIO_NET_HDR_F_NEEDS_CSUM);
    expect(hdr.gsoType).toBe(gsoType);
    expect(hdr.gsoSize).toBe(100);
    expect(hdr.csumStart).toBe(20);
    expect(hdr.csumOffset).toBe(protocol === "tcp" ? 16 : 6);
    expect(bytes!.length).toBe(10 + ipLen);
    expect(bytes![10 + 9]).toBe(proto);
    expect((bytes![10 + 2]! << 8) | bytes![10 + 3]!).toBe(ipLen);
  });
});

describePrivileged("TUN device with offloads", { root: true }, () => {
  let dev: TunDevice | null = null;
  afterEach(() => {
    dev?.close();
    dev = null;
  });
  const name = () => `ttun${process.pid % 100000}`;

  test("negotiates CSUM|TSO4|TSO6|USO4|USO6 and passes the GRO probe", () => {
    dev = TunDevice.open(name(), { mtu: 1420 });
    expect(dev.offloads.vnetHeader).toBe(true);
    expect(offloadFlagNames(dev.offloads.offloadFlags)).toBe("CSUM|TSO4|TSO6|USO4|USO6");
    expect(dev.mtu()).toBe(1420);
    dev.up();
    dev.probeGro();
    expect(dev.offloads).toMatchObject({ tso: true, uso: true, tcpGro: true, udpGro: true });
    expect(dev.offloads.reasons).toEqual([]);
    expect(dev.describe().join("\n")).toContain("coalesce TCP on, UDP on");
  });

  test("the UDP kill switch drops USO and UDP coalescing, with the reason", () => {
    dev = TunDevice.open(name(), { env: { [KILL_SWITCHES.udpGro]: "1" } });
    expect(offloadFlagNames(dev.offloads.offloadFlags)).toBe("CSUM|TSO4|TSO6");
    expect(dev.offloads).toMatchObject({ tso: true, uso: false, tcpGro: true, udpGro: false });
    expect(dev.offloads.reasons.join("\n")).toContain(KILL_SWITCHES.udpGro);
  });

  test("the TCP kill switch keeps TSO but stops coalescing", () => {
    dev = TunDevice.open(name(), { env: { [KILL_SWITCHES.tcpGro]: "true" } });
    expect(dev.offloads).toMatchObject({ tso: true, tcpGro: false, udpGro: true });
  });

  test("the vnet kill switch opens a plain TUN with no offloads", () => {
    dev = TunDevice.open(name(), { env: { [KILL_SWITCHES.vnetHeader]: "1" } });
    expect(dev.offloads).toMatchObject({ vnetHeader: false, offloadFlags: 0, tso: false, tcpGro: false });
    expect(dev.describe()[0]).toContain("vnet header off");
  });
});
