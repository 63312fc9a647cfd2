// Flood generator for the reliability suite and for manual attack runs:
//   bun test/reliability/flood/flood.ts --target HOST:PORT --kind KIND
//       [--pubkey B64] [--rate N|max] [--seconds S] [--sources N]
//       [--source-ip A[,B...]] [--pool N] [--json]
// KIND is mac1-init (valid mac1: needs --pubkey), bad-mac1-init, garbage or
// transport. Prints one progress line a second on stderr and the totals on
// stdout (one JSON object with --json), including the replies it got back
// by WireGuard type: a responder under load answers mac1-init with cookie
// replies (type 3). Run it inside the attacker's namespace.
import { parseArgs } from "node:util";
import { parseEndpoint } from "../../../src/config/endpoint.ts";
import { parseIpv4, parseIpv6 } from "../../../src/config/prefix.ts";
import type { SockAddr } from "../../../src/sys/layout.ts";
import { buildPool, FLOOD_KINDS, isFloodKind } from "./craft.ts";
import { runFlood, type FloodResult } from "./sender.ts";

const USAGE =
  "usage: flood.ts --target HOST:PORT --kind " +
  FLOOD_KINDS.join("|") +
  " [--pubkey B64] [--rate N|max] [--seconds S] [--sources N] [--source-ip A[,B...]] [--pool N] [--json]";

class UsageError extends Error {}

function parseTarget(text: string): SockAddr {
  const p = parseEndpoint(text);
  if (!p.ok) throw new UsageError(`--target: ${p.message}`);
  if (p.endpoint.family === "name") throw new UsageError("--target must be an IP literal");
  const bytes = p.endpoint.family === "ipv4" ? parseIpv4(p.endpoint.host) : parseIpv6(p.endpoint.host);
  if (bytes === null) throw new UsageError(`--target: bad address ${p.endpoint.host}`);
  return p.endpoint.family === "ipv4" ? { family: 4, addr: bytes, port: p.endpoint.port } : { family: 6, addr: bytes, port: p.endpoint.port };
}

function parsePositive(name: string, text: string, integer: boolean): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n)))
    throw new UsageError(`--${name} must be a positive ${integer ? "integer" : "number"}, not '${text}'`);
  return n;
}

function parsePubkey(text: string | undefined): Uint8Array | null {
  if (text === undefined) return null;
  const b = Buffer.from(text, "base64");
  if (b.length !== 32) throw new UsageError(`--pubkey must be a base64 32-byte key, got ${b.length} bytes`);
  return new Uint8Array(b);
}

function line(r: FloodResult): string {
  const replies =
    Object.entries(r.received)
      .map(([t, n]) => `type${t}=${n}`)
      .join(" ") || "none";
  const errors = Object.entries(r.sendErrors)
    .map(([c, n]) => `${c}=${n}`)
    .join(" ");
  return `${r.kind}: sent ${r.sent} in ${r.elapsedSeconds.toFixed(2)} s (${Math.round(r.sentPerSecond)} pps), replies ${replies}, cookie replies ${r.cookieReplies}${r.blocked ? `, blocked batches ${r.blocked}` : ""}${errors ? `, send errors ${errors}` : ""}`;
}

function main(argv: string[]): number {
  const { values } = parseArgs({
    args: argv,
    options: {
      target: { type: "string" },
      pubkey: { type: "string" },
      kind: { type: "string" },
      rate: { type: "string", default: "max" },
      seconds: { type: "string", default: "5" },
      sources: { type: "string", default: "1" },
      "source-ip": { type: "string" },
      pool: { type: "string", default: "16384" },
      json: { type: "boolean", default: false },
      quiet: { type: "boolean", default: false },
    },
    strict: true,
  });
  if (values.target === undefined || values.kind === undefined) throw new UsageError("--target and --kind are required");
  if (!isFloodKind(values.kind)) throw new UsageError(`--kind must be one of ${FLOOD_KINDS.join(", ")}`);
  const target = parseTarget(values.target);
  const pubkey = parsePubkey(values.pubkey);
  if (values.kind === "mac1-init" && pubkey === null) throw new UsageError("--kind mac1-init needs --pubkey (the responder's public key)");
  const rate = values.rate === "max" ? null : parsePositive("rate", values.rate, false);
  const sourceAddresses = (values["source-ip"] ?? "")
    .split(",")
    .filter(Boolean)
    .map((a) => {
      const b = target.family === 4 ? parseIpv4(a) : parseIpv6(a);
      if (b === null) throw new UsageError(`--source-ip: '${a}' is not an IPv${target.family} address`);
      return b;
    });
  const pool = buildPool(values.kind, parsePositive("pool", values.pool, true), pubkey);
  const result = runFlood({
    target,
    pool,
    rate,
    seconds: parsePositive("seconds", values.seconds, false),
    sources: parsePositive("sources", values.sources, true),
    sourceAddresses,
    onSecond: values.quiet ? undefined : (r) => process.stderr.write(`${line(r)}\n`),
  });
  process.stdout.write(`${values.json ? JSON.stringify(result) : line(result)}\n`);
  return 0;
}

if (import.meta.main) {
  try {
    process.exitCode = main(process.argv.slice(2));
  } catch (e) {
    const usage = e instanceof UsageError || (e instanceof TypeError && "code" in e && String(e.code).startsWith("ERR_PARSE_ARGS"));
    process.stderr.write(`flood: ${(e as Error).message}\n${usage ? `${USAGE}\n` : ""}`);
    process.exitCode = usage ? 64 : 1;
  }
}
