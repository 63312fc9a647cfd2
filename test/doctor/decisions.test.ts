// Each doctor check's decision on crafted facts: what is ok, a warning or an
// error, and that every warning and error carries a fix.
import { describe, expect, test } from "bun:test";
import { bufferFindings } from "../../src/cli/doctor/buffers.ts";
import { clockFindings } from "../../src/cli/doctor/clock.ts";
import { cryptoFindings, parseCpuFlags } from "../../src/cli/doctor/crypto.ts";
import { DOCTOR_EXIT, exitCodeFor, renderFindings, type Finding } from "../../src/cli/doctor/finding.ts";
import { tunFindings, udpFindings } from "../../src/cli/doctor/offload.ts";
import { gatewayFindings, parseEthtoolFeature, pathFindings, type PeerPathFacts } from "../../src/cli/doctor/path.ts";
import { staleSocketFindings } from "../../src/cli/doctor/stale-sockets.ts";
import type { OffloadState } from "../../src/device/tun-device.ts";

const levels = (f: Finding[]) => f.map((x) => `${x.check}:${x.level}`);
const expectFixes = (f: Finding[]) => {
  for (const x of f) if (x.level === "warn" || x.level === "error") expect(x.fix ?? "").not.toBe("");
};
const fullOffloads: OffloadState = { vnetHeader: true, offloadFlags: 0x67, tso: true, uso: true, tcpGro: true, udpGro: true, reasons: [] };

describe("exit codes", () => {
  test("0 with only ok/info, 1 with warnings, 2 with any error", () => {
    const f = (level: Finding["level"]): Finding => ({ check: "x", level, summary: "" });
    expect(exitCodeFor([f("ok"), f("info")])).toBe(DOCTOR_EXIT.OK);
    expect(exitCodeFor([f("ok"), f("warn")])).toBe(DOCTOR_EXIT.WARNINGS);
    expect(exitCodeFor([f("warn"), f("error"), f("ok")])).toBe(DOCTOR_EXIT.BROKEN);
    expect(renderFindings([{ check: "c", level: "error", summary: "s", fix: "a\nb" }])).toContain("ERROR c: s\n        fix: a\n             b");
  });
});

describe("TUN offloads", () => {
  test("everything on: ok lines for TSO, USO and the GRO probe", () => {
    expect(levels(tunFindings({ ok: true, offloads: fullOffloads, groProbeRan: true }, "6.18"))).toEqual(["tun-offload:ok", "tun-uso:ok", "gro-probe:ok"]);
  });
  test("a pre-6.2 kernel: USO refused is a warning telling to upgrade", () => {
    const o = {
      ...fullOffloads,
      offloadFlags: 0x07,
      uso: false,
      udpGro: false,
      reasons: ["USO off: TUNSETOFFLOAD(CSUM|TSO4|TSO6|USO4|USO6) failed with EINVAL (needs Linux 6.2+)"],
    };
    const f = tunFindings({ ok: true, offloads: o, groProbeRan: true }, "5.15.0");
    expect(levels(f)).toEqual(["tun-offload:ok", "tun-uso:warn", "gro-probe:ok"]);
    expect(f[1]!.fix).toContain("6.2");
  });
  test("the GRO write probe failing (6.6.44-class kernels) is a warning with the probe's reason", () => {
    const o = {
      ...fullOffloads,
      tcpGro: false,
      udpGro: false,
      reasons: ["GRO off: the kernel rejected a valid coalesced tcp write with EINVAL (known on 6.6.44-class kernels)"],
    };
    const f = tunFindings({ ok: true, offloads: o, groProbeRan: true }, "6.6.44");
    expect(levels(f)).toContain("gro-probe:warn");
    expect(f.find((x) => x.check === "gro-probe")!.detail).toContain("EINVAL");
  });
  test("a kill switch is info, not a warning", () => {
    const o = { ...fullOffloads, uso: false, udpGro: false, reasons: ["UDP segmentation offload and coalescing off: TUNNEL_DISABLE_UDP_GRO is set"] };
    expect(levels(tunFindings({ ok: true, offloads: o, groProbeRan: true }, "6.18"))).toContain("tun-uso:info");
  });
  test("no vnet header at all is a warning; no /dev/net/tun an error; EACCES (not root) only info", () => {
    expect(
      levels(
        tunFindings(
          {
            ok: true,
            offloads: {
              ...fullOffloads,
              vnetHeader: false,
              tso: false,
              uso: false,
              tcpGro: false,
              udpGro: false,
              reasons: ["vnet header off: TUNGETIFF does not report IFF_VNET_HDR"],
            },
            groProbeRan: true,
          },
          "4.9",
        ),
      ),
    ).toEqual(["tun-offload:warn"]);
    expect(levels(tunFindings({ ok: false, error: "open(/dev/net/tun): ENOENT (No such file or directory)" }, "x"))).toEqual(["tun-offload:error"]);
    expect(levels(tunFindings({ ok: false, error: "open(/dev/net/tun): EACCES (Permission denied)" }, "x"))).toEqual(["tun-offload:info"]);
  });
});

describe("UDP GSO/GRO", () => {
  test("missing GRO on a socket is a warning naming it", () => {
    const f = udpFindings({
      ok: true,
      families: [
        { family: 4, gso: true, gro: false },
        { family: 6, gso: true, gro: true },
      ],
      notes: ["IPv4 UDP GRO off: UDP_GRO could not be enabled (needs Linux 5.12+)"],
    });
    expect(levels(f)).toEqual(["udp-offload:warn", "udp-offload:ok"]);
    expect(f[0]!.summary).toContain("GRO (UDP_GRO, receive)");
    expectFixes(f);
  });
});

describe("socket buffers", () => {
  const probe = { wantBytes: 7 << 20, grantedRcvBytes: 7 << 20, grantedSndBytes: 7 << 20, forceAllowed: true };
  test("forced past a low rmem_max: ok, and says how", () => {
    const f = bufferFindings({ probe, rmemMax: 212992, wmemMax: 212992 });
    expect(levels(f)).toEqual(["socket-buffers:ok"]);
    expect(f[0]!.summary).toContain("SO_RCVBUFFORCE");
  });
  test("capped by rmem_max without CAP_NET_ADMIN: a warning with the sysctl that fixes it", () => {
    const f = bufferFindings({ probe: { ...probe, grantedRcvBytes: 212992, grantedSndBytes: 212992, forceAllowed: false }, rmemMax: 212992, wmemMax: 212992 });
    expect(levels(f)).toEqual(["socket-buffers:warn", "socket-buffers-force:info"]);
    expect(f[0]!.fix).toContain("sysctl -w net.core.rmem_max=7340032 net.core.wmem_max=7340032");
    expect(f[0]!.summary).toContain("0.20 MiB of the 7 MiB");
  });
});

describe("crypto and CPU", () => {
  const flags = parseCpuFlags("processor\t: 0\nflags\t\t: fpu sse2 avx avx2 bmi2\n\nprocessor\t: 1\nflags\t\t: fpu\n");
  test("cpuinfo flags of the first processor", () => {
    expect(flags.has("avx2")).toBe(true);
    expect(parseCpuFlags("").size).toBe(0);
  });
  test("libcrypto missing is a warning; no AVX2 on x64 asks for the baseline build; arm64 has no CPU finding", () => {
    expect(levels(cryptoFindings({ backend: "libcrypto", arch: "x64", cpuFlags: flags }))).toEqual(["crypto:ok", "cpu:ok"]);
    const f = cryptoFindings({ backend: "typescript", problem: "crypto: no usable libcrypto", arch: "x64", cpuFlags: new Set(["sse2"]) });
    expect(levels(f)).toEqual(["crypto:warn", "cpu:warn"]);
    expect(f[1]!.fix).toContain("bun-linux-x64-baseline");
    expect(levels(cryptoFindings({ backend: null, problem: "TUNNEL_CRYPTO=libcrypto but ...", arch: "arm64", cpuFlags: new Set() }))).toEqual(["crypto:error"]);
  });
});

describe("clock", () => {
  const notBeforeMs = Date.UTC(2026, 10, 1);
  test("1970 after a reboot without RTC is an error; decades ahead too; unsynchronized a warning", () => {
    expect(levels(clockFindings({ nowMs: 0, notBeforeMs, ntpSynchronized: null }))).toEqual(["clock:error"]);
    expect(levels(clockFindings({ nowMs: Date.UTC(2025, 5, 1), notBeforeMs, ntpSynchronized: true }))).toEqual(["clock:error"]);
    expect(levels(clockFindings({ nowMs: Date.UTC(2090, 0, 1), notBeforeMs, ntpSynchronized: true }))).toEqual(["clock:error"]);
    expect(levels(clockFindings({ nowMs: Date.UTC(2027, 0, 1), notBeforeMs, ntpSynchronized: false }))).toEqual(["clock:warn"]);
    expect(levels(clockFindings({ nowMs: Date.UTC(2027, 0, 1), notBeforeMs, ntpSynchronized: true }))).toEqual(["clock:ok"]);
  });
});

describe("path MTU and gateways", () => {
  const base: PeerPathFacts = {
    interfaceName: "lab0",
    interfaceMtu: 1420,
    endpoint: "198.19.0.2:51820",
    family: 4,
    egress: { dev: "eth0", mtu: 1500 },
    pathMtu: 1480,
    fullSizeOk: true,
  };
  test("1420 + 60 fits a 1500 path; a 1400-byte egress does not (suggests mtu 1340); a measured 1452 path suggests 1392", () => {
    expect(levels(pathFindings([base]))).toEqual(["path-mtu:ok"]);
    const small = pathFindings([{ ...base, egress: { dev: "eth0", mtu: 1400 } }]);
    expect(small[0]!.level).toBe("warn");
    expect(small[0]!.fix).toContain("mtu = 1340");
    const measured = pathFindings([{ ...base, fullSizeOk: false, pathMtu: 1452 }]);
    expect(measured[0]!.level).toBe("warn");
    expect(measured[0]!.fix).toContain("mtu = 1392");
    expect(pathFindings([{ ...base, family: 6, endpoint: "[fd00::2]:51820", egress: { dev: "eth0", mtu: 1480 } }])[0]!.level).toBe("warn");
    expect(levels(pathFindings([{ ...base, fullSizeOk: null, pathMtu: null }]))).toEqual(["path-mtu:info"]);
    expect(levels(pathFindings([{ ...base, egress: null }]))).toEqual(["path-mtu:error"]);
  });
  test("rx-udp-gro-forwarding matters only when forwarding", () => {
    const ethtool = "Features for eth0:\nrx-gro-list: off\nrx-udp-gro-forwarding: off\n";
    expect(parseEthtoolFeature(ethtool, "rx-udp-gro-forwarding")).toBe(false);
    expect(parseEthtoolFeature("rx-udp-gro-forwarding: on [fixed]", "rx-udp-gro-forwarding")).toBe(true);
    expect(levels(gatewayFindings({ forwarding: false, egress: { dev: "eth0", udpGroForwarding: false } }))).toEqual(["udp-gro-forwarding:info"]);
    const gw = gatewayFindings({ forwarding: true, egress: { dev: "eth0", udpGroForwarding: false } });
    expect(levels(gw)).toEqual(["udp-gro-forwarding:warn"]);
    expect(gw[0]!.fix).toBe("ethtool -K eth0 rx-udp-gro-forwarding on rx-gro-list off");
  });
});

describe("stale sockets", () => {
  test("a refused socket is an error with the rm that fixes it", () => {
    const f = staleSocketFindings([
      { path: "/var/run/wireguard/wg0.sock", state: "stale" },
      { path: "/var/run/tunnel/a.sock", state: "live" },
    ]);
    expect(levels(f)).toEqual(["stale-socket:error"]);
    expect(f[0]!.fix).toBe("rm /var/run/wireguard/wg0.sock");
    expect(levels(staleSocketFindings([{ path: "x", state: "live" }]))).toEqual(["stale-socket:ok"]);
  });
});
