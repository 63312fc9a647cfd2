// Proof against the real kernel: TCP bulk transfers through the TUN bridge in
// split+coalesce mode, IPv4 and IPv6, must complete with zero checksum errors,
// zero truncated packets and the offloads visibly at work.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { describePrivileged } from "../support/privileges.ts";
import { iperf3, type Netns } from "../support/netns.ts";
import { startBridge, type RunningBridge } from "./harness.ts";
import { BRIDGE_ADDRESSES } from "./bridge.ts";

const CHECKSUM_AND_TRUNCATION_COUNTERS = ["TcpInCsumErrors", "IpInTruncatedPkts", "Ip6InTruncatedPkts", "UdpInCsumErrors", "Udp6InCsumErrors"];

function badCounters(ns: Netns): Record<string, number> {
  const all = ns.nstat();
  return Object.fromEntries(CHECKSUM_AND_TRUNCATION_COUNTERS.map((k) => [k, all[k] ?? 0]));
}

const zeros = Object.fromEntries(CHECKSUM_AND_TRUNCATION_COUNTERS.map((k) => [k, 0]));

describePrivileged("TUN bridge (split + coalesce) against the real kernel", { root: true, commands: ["ip", "iperf3", "nstat"] }, () => {
  let bridge: RunningBridge;
  beforeAll(async () => {
    bridge = await startBridge("split");
  });
  afterAll(async () => {
    await bridge?.stop();
  });

  test("both TUNs run with every offload and pass the GRO probe", () => {
    expect(bridge.offloads.join("\n")).toContain("TUNSETOFFLOAD CSUM|TSO4|TSO6|USO4|USO6");
    expect(bridge.offloads.join("\n")).not.toContain("GRO off");
  });

  test.each([
    ["IPv4", BRIDGE_ADDRESSES.b.v4],
    ["IPv6", BRIDGE_ADDRESSES.b.v6],
  ])("%s TCP transfer completes intact", async (_family, address) => {
    const before = await bridge.stats();
    const result = await iperf3(bridge.nsA, bridge.nsB, address, { seconds: 3 });
    const after = await bridge.stats();
    expect(result.bytes).toBeGreaterThan(10_000_000);
    expect(badCounters(bridge.nsA)).toEqual(zeros);
    expect(badCounters(bridge.nsB)).toEqual(zeros);
    for (const dir of ["aToB", "bToA"] as const) {
      expect(after[dir].truncatedReads).toBe(0);
      expect(after[dir].splitErrors).toBe(0);
      expect(after[dir].writeErrors).toBe(0);
    }
    // The offloads really ran: the sender's TUN produced super-packets that were
    // split into several segments, and coalescing wrote fewer packets than it split.
    const superPackets = after.aToB.superPackets - before.aToB.superPackets;
    const segments = after.aToB.segments - before.aToB.segments;
    const writes = after.aToB.writes - before.aToB.writes;
    expect(superPackets).toBeGreaterThan(100);
    expect(segments / Math.max(1, after.aToB.reads - before.aToB.reads)).toBeGreaterThan(2);
    expect(writes).toBeLessThan(segments / 2);
  });

  test("UDP datagrams cross intact", async () => {
    const before = await bridge.stats();
    const result = await iperf3(bridge.nsA, bridge.nsB, BRIDGE_ADDRESSES.b.v4, { seconds: 2, udp: "300M", port: 5202 });
    const after = await bridge.stats();
    expect(result.bytes).toBeGreaterThan(1_000_000);
    expect(badCounters(bridge.nsB)).toEqual(zeros);
    expect(after.aToB.splitErrors - before.aToB.splitErrors).toBe(0);
  });

  test.each([
    ["IPv4", BRIDGE_ADDRESSES.b.v4],
    ["IPv6", BRIDGE_ADDRESSES.b.v6],
  ])("%s UDP GSO super-packets are split by the bridge and arrive intact", async (_family, address) => {
    const here = new URL("../support/", import.meta.url).pathname;
    const receiver = bridge.nsB.spawn([process.execPath, `${here}udp-count-recv.ts`, address, "5203", "3"]);
    await receiver.stderr.getReader().read(); // "listening"
    const before = await bridge.stats();
    const sent = JSON.parse(bridge.nsA.exec([process.execPath, `${here}udp-gso-send.ts`, address, "5203", "100"])) as { datagrams: number };
    const got = JSON.parse(await new Response(receiver.stdout).text()) as { datagrams: number; bytes: number; corrupt: number };
    const after = await bridge.stats();
    expect(after.aToB.superPackets - before.aToB.superPackets).toBeGreaterThanOrEqual(50);
    expect(got.corrupt).toBe(0);
    expect(got.bytes).toBe(got.datagrams * 1200);
    expect(got.datagrams).toBeGreaterThan(sent.datagrams * 0.9); // UDP may drop a few under load; bytes must be right
    expect(badCounters(bridge.nsB)).toEqual(zeros);
  });
});
