// Config-file mutations for the config fuzz: the edits a hurried operator, a
// broken template or a truncated copy make (deleted spans, stray brackets and
// quotes, duplicated or swapped lines, a value replaced by a wrong one, a cut
// file), applied one to three at a time to a valid seed. Deterministic from
// the Prng seed, so a failure names a reproducible case.
import { INTERFACE_KEYS, PEER_KEYS } from "../../src/config/parse-toml.ts";
import type { Prng } from "../offload/prng.ts";

const KEY = Buffer.alloc(32, 0x22).toString("base64");

/** TOKENS are inserted anywhere: syntax pieces, key names, and values of every wrong kind. */
const TOKENS = [
  '"',
  "'",
  "[",
  "]",
  "[[peer]]",
  "[interface]",
  "[Peer]",
  "[Interface]",
  "=",
  " = ",
  "\n",
  "#",
  "\\",
  "'''",
  '"""',
  ",",
  "{",
  "}",
  ".",
  ":",
  // Every key the parser knows, so a key added there is fuzzed here too.
  ...new Set([...INTERFACE_KEYS, ...PEER_KEYS]),
  "PrivateKey",
  "ListenPort",
  "Address",
  "AllowedIPs",
  "Endpoint",
  "PersistentKeepalive",
  "MTU",
  "FwMark",
  "\u0000",
  "\uFEFF",
  "\u00e9",
  "\u{1F600}",
  "\r",
  "\t",
];

/** VALUES replace a line's value: out of range, wrong type, malformed, huge. */
const VALUES = [
  "-1",
  "0",
  "65536",
  "99999999999999999999",
  "1e400",
  "0x",
  "0x1ffffffff",
  "nan",
  "inf",
  "true",
  "[]",
  "{}",
  '""',
  '"x"',
  "''",
  '"198.18.0.300/24"',
  '"fd00::/129"',
  '"198.18.0.1/-1"',
  '["198.18.0.0/16", 5]',
  '"[fd00::1]:0"',
  '"[fd00::1"',
  '"host..name:1"',
  '"198.19.0.1:99999"',
  `"${KEY.slice(0, 43)}"`,
  `"${KEY}${KEY}"`,
  `"${"A".repeat(5000)}"`,
  '"/nonexistent/key"',
  '"../../etc/shadow"',
  "198.18.0.1/24, fd00::1/64,",
  "= =",
  `${KEY.slice(0, 40)}!!!=`,
  "1420 1420",
  "25s",
];

/** mutate returns seed with 1–3 random edits. */
export function mutate(seed: string, prng: Prng): string {
  let text = seed;
  const edits = prng.int(1, 3);
  for (let i = 0; i < edits; i++) text = editOnce(text, prng);
  return text;
}

function pick<T>(prng: Prng, xs: readonly T[]): T {
  return xs[prng.int(0, xs.length - 1)]!;
}

function editOnce(text: string, prng: Prng): string {
  const lines = text.split("\n");
  const at = prng.int(0, Math.max(0, text.length - 1));
  switch (prng.int(0, 5)) {
    case 0: // delete a span
      return text.slice(0, at) + text.slice(at + prng.int(1, 20));
    case 1: // insert a token
      return text.slice(0, at) + pick(prng, TOKENS) + text.slice(at);
    case 2: {
      // duplicate a line
      const l = prng.int(0, lines.length - 1);
      lines.splice(l, 0, lines[l]!);
      return lines.join("\n");
    }
    case 3: {
      // swap two lines
      const a = prng.int(0, lines.length - 1);
      const b = prng.int(0, lines.length - 1);
      [lines[a], lines[b]] = [lines[b]!, lines[a]!];
      return lines.join("\n");
    }
    case 4: {
      // replace a value
      const withValue = lines.map((l, i) => (l.includes("=") ? i : -1)).filter((i) => i >= 0);
      if (withValue.length === 0) return text;
      const l = pick(prng, withValue);
      lines[l] = `${lines[l]!.slice(0, lines[l]!.indexOf("=") + 1)} ${pick(prng, VALUES)}`;
      return lines.join("\n");
    }
    default: // truncate
      return text.slice(0, at);
  }
}
