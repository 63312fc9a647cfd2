import { describe, expect, test } from "bun:test";
import { formatIp, formatPrefix, hasHostBits, maskPrefix, parseIp, parsePrefix } from "../../src/config/prefix.ts";

describe("config/prefix", () => {
  test.each([
    ["198.18.0.1", "198.18.0.1"],
    ["fd00::1", "fd00::1"],
    ["FD00:0:0:0:0:0:0:1", "fd00::1"],
    ["fd00:0:0:1:0:0:0:1", "fd00:0:0:1::1"],
    ["fd00:0:0:1:1:0:0:1", "fd00::1:1:0:0:1"],
    ["fd00:0:0:1:1:0:0:0", "fd00:0:0:1:1::"],
    ["fd00:1:0:1:1:1:1:1", "fd00:1:0:1:1:1:1:1"],
    ["::", "::"],
    ["::ffff:198.18.0.1", "::ffff:198.18.0.1"],
    ["fd00::198.18.0.1", "fd00::c612:1"],
  ])("formats %s as %s (RFC 5952)", (input, canonical) => {
    const address = parseIp(input);
    expect(address).not.toBeNull();
    expect(formatIp(address!)).toBe(canonical);
  });

  test.each(["198.18.0.256", "198.18.0", "198.18.00.1", "198.18.0.1.1", "fd00:::1", "fd00::1::2", "1:2:3:4:5:6:7:8:9", "fd00::g", "fd00::1%eth0", ""])(
    "rejects %p",
    (input) => {
      expect(parseIp(input)).toBeNull();
    },
  );

  test("a bare address is a host prefix", () => {
    const v4 = parsePrefix("198.18.0.1");
    const v6 = parsePrefix("fd00::1");
    expect(v4.ok && v4.prefix.bits).toBe(32);
    expect(v6.ok && v6.prefix.bits).toBe(128);
  });

  test("rejects lengths past the family's width", () => {
    expect(parsePrefix("198.18.0.0/33")).toEqual({ ok: false, family: 4, reason: "the prefix length must be a number from 0 to 32" });
    expect(parsePrefix("fd00::/129")).toEqual({ ok: false, family: 6, reason: "the prefix length must be a number from 0 to 128" });
    expect(parsePrefix("198.18.0.0/")).toMatchObject({ ok: false });
    expect(parsePrefix("198.18.0.0/024")).toMatchObject({ ok: false });
  });

  test("masks host bits", () => {
    const parsed = parsePrefix("198.19.255.255/15");
    if (!parsed.ok) throw new Error("parse failed");
    expect(hasHostBits(parsed.prefix)).toBe(true);
    expect(formatPrefix(maskPrefix(parsed.prefix))).toBe("198.18.0.0/15");
    const v6 = parsePrefix("fd00:abcd::1/20");
    if (!v6.ok) throw new Error("parse failed");
    expect(formatPrefix(maskPrefix(v6.prefix))).toBe("fd00:a000::/20");
    const zero = parsePrefix("fd00::1/0");
    if (!zero.ok) throw new Error("parse failed");
    expect(formatPrefix(maskPrefix(zero.prefix))).toBe("::/0");
  });
});
