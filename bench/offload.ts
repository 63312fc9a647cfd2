// Offload micro-benchmarks (not a test): ns per packet for the checksum of
// a 1420-byte packet (JS and wasm paths), GSO split of a 64 KiB TCPv4
// super-packet (per segment), and GRO coalescing of 45 TCPv4 segments (per
// segment).
// Run: bun bench/offload.ts

import { createPacketBatch } from "../src/offload/batch.ts";
import { checksumNoFold, foldChecksum, hasWasmChecksum } from "../src/offload/checksum.ts";
import { Coalescer } from "../src/offload/coalesce.ts";
import { splitSuperPacket } from "../src/offload/split.ts";
import { builders, superPacket } from "../test/offload/packets.ts";

const MSS = 1448;
const SEGMENTS = 45;

function measure(name: string, unitsPerIter: number, unit: string, fn: () => void): { name: string; ns: number; unit: string } {
  // Warm up for the JIT, then time enough iterations for ~0.5 s.
  const warmEnd = performance.now() + 200;
  while (performance.now() < warmEnd) fn();
  let iters = 0;
  const start = performance.now();
  let now = start;
  while (now - start < 500) {
    for (let i = 0; i < 64; i++) fn();
    iters += 64;
    now = performance.now();
  }
  return { name, ns: ((now - start) * 1e6) / (iters * unitsPerIter), unit };
}

const rows: { name: string; ns: number; unit: string }[] = [];

// Checksum over 1420 bytes: the JS word loop on a plain buffer, and the wasm
// SIMD kernel on a batch buffer (WebAssembly memory), which split and
// coalesce get in the data plane.
{
  const plain = new Uint8Array(2048);
  const batchBuf = createPacketBatch(1, 2048 - 16).buf;
  if (!hasWasmChecksum(batchBuf)) console.log("note: no WebAssembly here, batch buffers use the JS checksum");
  for (let i = 0; i < 2048; i++) plain[i] = batchBuf[i] = (i * 131) & 0xff;
  let sink = 0;
  for (const [path, buf] of [
    ["JS", plain],
    ["wasm", batchBuf],
  ] as const) {
    rows.push(
      measure(`checksum 1420 B, ${path} (aligned)`, 1, "packet", () => {
        sink ^= foldChecksum(checksumNoFold(buf, 16, 1420, 0));
      }),
    );
    rows.push(
      measure(`checksum 1420 B, ${path} (odd offset)`, 1, "packet", () => {
        sink ^= foldChecksum(checksumNoFold(buf, 17, 1420, 0));
      }),
    );
  }
  if (sink === 0x10000) console.log(sink);
}

// Split a 64 KiB TCPv4 super-packet (45 x 1448 + tail) into MTU slots.
{
  const raw = superPacket("tcp4", { payload: 65535 - 40, seq: 1 }, MSS);
  const out = createPacketBatch(128, 2048);
  const n = splitSuperPacket(raw, 0, raw.length, out);
  if (typeof n !== "number") throw new Error(n);
  rows.push(
    measure(`split 64 KiB TCPv4 (${n} segments)`, n, "segment", () => {
      splitSuperPacket(raw, 0, raw.length, out);
    }),
  );
  // Same, with the TUN read buffer inside the batch's own buffer (copyWithin path).
  const shared = createPacketBatch(129, 65535 + 16);
  const readOff = shared.offs[128]!;
  shared.buf.set(raw, readOff);
  const view = { ...shared, capacity: 128 };
  rows.push(
    measure(`split 64 KiB TCPv4, source in batch buffer`, n, "segment", () => {
      splitSuperPacket(shared.buf, readOff, raw.length, view);
    }),
  );
}

// Coalesce 45 in-order TCPv4 segments of one flow into one super-packet.
{
  const segs = Array.from({ length: SEGMENTS }, (_, i) => builders.tcp4({ seq: 1 + i * MSS, payload: MSS }));
  const batch = createPacketBatch(128, 65535);
  const coalescer = new Coalescer();
  const load = () => {
    for (let i = 0; i < SEGMENTS; i++) {
      batch.buf.set(segs[i]!, batch.offs[i]!);
      batch.lens[i] = segs[i]!.length;
    }
    batch.count = SEGMENTS;
  };
  load();
  if (coalescer.coalesce(batch) !== 1) throw new Error("expected one super-packet");
  const loadOnly = measure("  (reload 45 segments, subtracted)", SEGMENTS, "segment", load);
  const total = measure(`coalesce ${SEGMENTS} TCPv4 segments`, SEGMENTS, "segment", () => {
    load();
    coalescer.coalesce(batch);
  });
  rows.push({ name: total.name, ns: total.ns - loadOnly.ns, unit: "segment" });
}

const width = Math.max(...rows.map((r) => r.name.length));
console.log(`${"benchmark".padEnd(width)}  ns/unit  unit      Gbit/s of payload`);
for (const r of rows) {
  const bytes = r.name.startsWith("checksum") ? 1420 : MSS;
  const gbps = (bytes * 8) / r.ns;
  console.log(`${r.name.padEnd(width)}  ${r.ns.toFixed(0).padStart(7)}  ${r.unit.padEnd(8)}  ${gbps.toFixed(1).padStart(6)}`);
}
