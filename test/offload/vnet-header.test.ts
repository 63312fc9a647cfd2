import { describe, expect, test } from "bun:test";
import {
  VIRTIO_NET_HDR_F_NEEDS_CSUM,
  VIRTIO_NET_HDR_GSO_TCPV4,
  VNET_HDR_LEN,
  createVnetHeader,
  decodeVnetHeader,
  encodeVnetHeader,
  writeZeroVnetHeader,
} from "../../src/offload/vnet-header.ts";

describe("vnet-header", () => {
  test("decodes the little-endian fields of a real TSO read (dossier appendix A)", () => {
    // flags=1 gso_type=1 hdr_len=52 gso_size=1448 csum_start=20 csum_offset=16
    const raw = new Uint8Array([0xaa, 1, 1, 52, 0, 0xa8, 0x05, 20, 0, 16, 0]);
    const h = createVnetHeader();
    expect(decodeVnetHeader(raw, 1, h)).toBe(h);
    expect(h).toEqual({ flags: 1, gsoType: 1, hdrLen: 52, gsoSize: 1448, csumStart: 20, csumOffset: 16 });
  });

  test("encode then decode round-trips and writes exactly 10 bytes", () => {
    const buf = new Uint8Array(14).fill(0xee);
    const h = { flags: VIRTIO_NET_HDR_F_NEEDS_CSUM, gsoType: VIRTIO_NET_HDR_GSO_TCPV4, hdrLen: 0x1234, gsoSize: 0xfedc, csumStart: 40, csumOffset: 6 };
    expect(encodeVnetHeader(buf, 2, h)).toBe(VNET_HDR_LEN);
    expect(buf[0]).toBe(0xee);
    expect(buf[1]).toBe(0xee);
    expect(buf[12]).toBe(0xee);
    expect(Array.from(buf.subarray(2, 12))).toEqual([1, 1, 0x34, 0x12, 0xdc, 0xfe, 40, 0, 6, 0]);
    expect(decodeVnetHeader(buf, 2, createVnetHeader())).toEqual(h);
  });

  test("short buffers decode as truncated", () => {
    expect(decodeVnetHeader(new Uint8Array(9), 0, createVnetHeader())).toBe("truncated");
    expect(decodeVnetHeader(new Uint8Array(12), 3, createVnetHeader())).toBe("truncated");
  });

  test("writeZeroVnetHeader zeroes exactly 10 bytes", () => {
    const buf = new Uint8Array(12).fill(7);
    writeZeroVnetHeader(buf, 1);
    expect(Array.from(buf)).toEqual([7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7]);
  });
});
