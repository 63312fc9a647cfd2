// `npm run demo`: the main job, end to end. Builds dist/tunnel, creates two
// namespaces joined by a veth pair, writes two TOML configs with fresh keys,
// runs `tunnel up` in each, pings across (a UDP echo: a fresh machine may
// have no ping binary), pushes pattern-checked TCP for a few seconds, prints
// the throughput and the offload counters from `tunnel status`, and tears
// everything down, also on failure or Ctrl-C. Needs root, npm ci, iproute2.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Netns, removeStale } from "../support/netns.ts";
import { udpEchoRtts } from "../support/udp-echo.ts";

const BINARY = new URL("../../dist/tunnel", import.meta.url).pathname;
const PUSH = new URL("../support/tcp-push.ts", import.meta.url).pathname;
const SECONDS = 3;
const UNDERLAY = { a: "198.19.1.1", b: "198.19.1.2" };
const INNER = { a: "198.18.1.1", b: "198.18.1.2", a6: "fd00:1::1", b6: "fd00:1::2" };

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

function tunnel(ns: Netns, ...args: string[]): string {
  return ns.exec([BINARY, ...args]);
}

function config(name: string, privateKey: string, port: number, addresses: string[], peerKey: string, endpoint: string, allowed: string[]): string {
  return [
    "[interface]",
    `name = "${name}"`,
    `private_key = "${privateKey}"`,
    `listen_port = ${port}`,
    `address = [${addresses.map((a) => `"${a}"`).join(", ")}]`,
    "mtu = 1420",
    "",
    "[[peer]]",
    `public_key = "${peerKey}"`,
    `endpoint = "${endpoint}"`,
    `allowed_ips = [${allowed.map((a) => `"${a}"`).join(", ")}]`,
    "",
  ].join("\n");
}

if (process.getuid?.() !== 0) {
  process.stderr.write("demo: run as root (it creates network namespaces and TUN devices)\n");
  process.exit(77);
}
removeStale("tdemo");
const dir = mkdtempSync(join(tmpdir(), "tunnel-demo-"));
let nsA: Netns | undefined;
let nsB: Netns | undefined;
try {
  nsA = Netns.create("tdemo", "a");
  nsB = Netns.create("tdemo", "b");
  nsA.vethTo(nsB, "veth-a", `${UNDERLAY.a}/24`, "veth-b", `${UNDERLAY.b}/24`);
  say(`demo: namespaces ${nsA.name} and ${nsB.name}, veth ${UNDERLAY.a} <-> ${UNDERLAY.b}`);

  const keyA = tunnel(nsA, "genkey").trim();
  const keyB = tunnel(nsB, "genkey").trim();
  const pubA = nsA.exec([BINARY, "pubkey"], { input: keyA }).trim();
  const pubB = nsB.exec([BINARY, "pubkey"], { input: keyB }).trim();
  const fileA = join(dir, "demo-a.toml");
  const fileB = join(dir, "demo-b.toml");
  writeFileSync(fileA, config("demo-a", keyA, 51820, [`${INNER.a}/24`, `${INNER.a6}/64`], pubB, `${UNDERLAY.b}:51821`, [`${INNER.b}/32`, `${INNER.b6}/128`]), {
    mode: 0o600,
  });
  writeFileSync(fileB, config("demo-b", keyB, 51821, [`${INNER.b}/24`, `${INNER.b6}/64`], pubA, `${UNDERLAY.a}:51820`, [`${INNER.a}/32`, `${INNER.a6}/128`]), {
    mode: 0o600,
  });
  say(`demo: tunnel up ${fileA}`);
  process.stdout.write(tunnel(nsA, "up", fileA, "--json"));
  say(`demo: tunnel up ${fileB}`);
  process.stdout.write(tunnel(nsB, "up", fileB, "--json"));

  const rtts = await udpEchoRtts(nsA, nsB, INNER.b, 5);
  say(`ping ${INNER.b} through the tunnel (UDP echo): ${rtts.map((r) => r.toFixed(2)).join(", ")} ms`);
  const rtts6 = await udpEchoRtts(nsB, nsA, INNER.a6, 3);
  say(`ping ${INNER.a6} through the tunnel (UDP echo): ${rtts6.map((r) => r.toFixed(2)).join(", ")} ms`);

  const server = nsB.spawn([process.execPath, PUSH, "serve", INNER.b, "5301"]);
  await server.stderr.getReader().read();
  nsA.exec([process.execPath, PUSH, "send", INNER.b, "5301", String(SECONDS)]);
  const result = JSON.parse(await new Response(server.stdout).text()) as { received: number; corrupt: number; seconds: number };
  if (result.corrupt > 0) throw new Error(`${result.corrupt} corrupted bytes arrived`);
  say(
    `TCP through the tunnel: ${((result.received * 8) / result.seconds / 1e9).toFixed(2)} Gb/s for ${SECONDS} s (${(result.received / 1e6).toFixed(0)} MB, every byte checked)`,
  );
  say("");
  say("tunnel status demo-a (sender side):");
  process.stdout.write(`${tunnel(nsA, "status", "demo-a")}\n`);
  say("");
  say("tunnel status demo-b (receiver side):");
  process.stdout.write(`${tunnel(nsB, "status", "demo-b")}\n`);
} catch (e) {
  process.stderr.write(`demo failed: ${(e as Error).message}\n`);
  process.exitCode = 1;
} finally {
  for (const [ns, name] of [
    [nsA, "demo-a"],
    [nsB, "demo-b"],
  ] as const) {
    if (ns) ns.exec([BINARY, "down", name], { allowFail: true });
  }
  nsA?.delete();
  nsB?.delete();
  rmSync(dir, { recursive: true, force: true });
  process.stderr.write("demo: interfaces down, namespaces removed\n");
}
