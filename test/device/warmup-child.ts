// Run by warmup.test.ts in a fresh network namespace (lo down): one whole
// JIT warm-up, then what it ran on and carried, as JSON on stdout.
import { readdirSync } from "node:fs";
import { recordedWarmup, runToEnd } from "../support/recorded-warmup.ts";

const fdsBefore = readdirSync("/proc/self/fd").length;
const { warmup: w, planes, logs } = recordedWarmup();
runToEnd(w);
// The pair that finished is the last one built; any before it were dropped.
const rxPackets = planes.slice(-2).map((p) => p.ctx.stats.readCounters().rxPackets);
const fdsAfter = readdirSync("/proc/self/fd").length;
console.log(JSON.stringify({ via: w.via, planesBuilt: planes.length, rxPackets, written: w.written, fdsBefore, fdsAfter, logs }));
