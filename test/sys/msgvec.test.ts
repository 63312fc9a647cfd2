import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { O_RDWR } from "../../src/sys/constants.ts";
import { close, open, readv, writev } from "../../src/sys/libc.ts";
import { LAYOUT, readU64 } from "../../src/sys/layout.ts";
import { addressOf, IovecArray, MmsgBatch } from "../../src/sys/msgvec.ts";

describe.if(process.platform === "linux")("sys/msgvec", () => {
  test("IovecArray gathers and scatters with writev/readv", () => {
    const dir = mkdtempSync(join(tmpdir(), "tsys-iov-"));
    const path = join(dir, "f");
    try {
      writeFileSync(path, "");
      const head = new TextEncoder().encode("hello, ");
      const body = new TextEncoder().encode("xxworld!xx");
      const iov = new IovecArray(2);
      iov.set(0, head);
      iov.set(1, body, 2, 6);
      expect(iov.length(1)).toBe(6);
      let fd = open(path, O_RDWR);
      expect(writev(fd, iov.bytes, 2)).toBe(13);
      close(fd);
      expect(readFileSync(path, "utf8")).toBe("hello, world!");

      const a = new Uint8Array(5);
      const b = new Uint8Array(16);
      iov.set(0, a);
      iov.setRaw(1, addressOf(b, 4), 8);
      fd = open(path, O_RDWR);
      expect(readv(fd, iov.bytes, 2)).toBe(13);
      close(fd);
      expect(new TextDecoder().decode(a)).toBe("hello");
      expect(new TextDecoder().decode(b.subarray(4, 12))).toBe(", world!");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("MmsgBatch points every header at its own iovec, name and control slot", () => {
    const m = new MmsgBatch({ count: 3, bufSize: 100, controlSize: 20 });
    expect(m.controlSize).toBe(24);
    expect(m.headers.length).toBe(3 * LAYOUT.mmsghdr.size);
    const h = m.headerView;
    for (let i = 0; i < 3; i++) {
      const o = i * LAYOUT.mmsghdr.size;
      expect(readU64(h, o + LAYOUT.msghdr.name)).toBe(addressOf(m.names, m.nameOffset(i)));
      expect(readU64(h, o + LAYOUT.msghdr.iov)).toBe(addressOf(m.iovecs, i * 16));
      expect(readU64(h, o + LAYOUT.msghdr.iovlen)).toBe(1);
      expect(readU64(h, o + LAYOUT.msghdr.control)).toBe(addressOf(m.controls, m.controlOffset(i)));
      expect(m.nameLen(i)).toBe(128);
      expect(m.controlLen(i)).toBe(24);
      expect(m.msghdrAddress(i)).toBe(addressOf(m.headers, o));
    }
    const iov = new DataView(m.iovecs.buffer);
    expect(readU64(iov, 16)).toBe(addressOf(m.data, 100));
    expect(readU64(iov, 24)).toBe(100);

    m.setSend(1, 42, 16, 0);
    expect(m.nameLen(1)).toBe(16);
    expect(m.controlLen(1)).toBe(0);
    expect(readU64(iov, 24)).toBe(42);
    m.prepareRecv(3);
    expect(m.nameLen(1)).toBe(128);
    expect(m.controlLen(1)).toBe(24);
    expect(readU64(iov, 24)).toBe(100);

    const other = new Uint8Array(10);
    m.setPayloadRaw(2, addressOf(other), 10);
    expect(readU64(iov, 32)).toBe(addressOf(other));
    m.resetPayload(2);
    expect(readU64(iov, 32)).toBe(addressOf(m.data, 200));
  });

  test("controlSize 0 leaves msg_control NULL", () => {
    const m = new MmsgBatch({ count: 1, bufSize: 8, controlSize: 0 });
    expect(readU64(m.headerView, LAYOUT.msghdr.control)).toBe(0);
    expect(m.controlLen(0)).toBe(0);
  });
});
