// Where the VM lab keeps what is expensive to make (the image, the booted
// snapshots, the accelerator probe), and a lock so two test processes on one
// machine build each artefact once. Everything is keyed by a hash of its
// inputs, so a changed input builds anew and an old entry is simply unused.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pidAlive } from "../support/netns.ts";

/** CACHE_ROOT is /var/cache/tunnel-vmlab (root only), or TUNNEL_VMLAB_CACHE to move it. */
export const CACHE_ROOT = process.env.TUNNEL_VMLAB_CACHE ?? "/var/cache/tunnel-vmlab";

/** inputKey hashes a description of an artefact's inputs into a short, stable directory name. */
export function inputKey(parts: unknown): string {
  return createHash("sha256").update(JSON.stringify(parts)).digest("hex").slice(0, 16);
}

/** cacheDir is CACHE_ROOT/kind-key, created on demand. */
export function cacheDir(kind: string, key: string): string {
  const dir = join(CACHE_ROOT, `${kind}-${key}`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}

/**
 * withLock runs fn while holding dir/.lock: a file holding the owner's pid,
 * created exclusively. A lock whose owner died is taken over, so a crashed
 * build never blocks later runs.
 */
export async function withLock<T>(dir: string, fn: () => Promise<T>, timeoutMs = 15 * 60_000): Promise<T> {
  const lock = join(dir, ".lock");
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    try {
      writeFileSync(lock, String(process.pid), { flag: "wx" });
      break;
    } catch {
      const owner = Number(existsSync(lock) ? readFileSync(lock, "utf8") : "0");
      if (!owner || !pidAlive(owner) || owner === process.pid) {
        rmSync(lock, { force: true });
        continue;
      }
      if (performance.now() > deadline) throw new Error(`${lock} is held by pid ${owner} for too long`);
      await Bun.sleep(500);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { force: true });
  }
}

/** sh runs argv, throwing with its stderr on failure; the lab's one way to run host tools. */
export async function sh(argv: string[], opts: { cwd?: string; env?: Record<string, string>; input?: string } = {}): Promise<string> {
  const p = Bun.spawn(argv, {
    cwd: opts.cwd,
    env: opts.env ? { ...process.env, ...opts.env } : process.env,
    stdin: opts.input === undefined ? "ignore" : new TextEncoder().encode(opts.input),
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  if (code !== 0) throw new Error(`${argv.join(" ")} exited ${code}: ${err.trim().slice(-2000)}`);
  return out;
}

const UNUSED_FOR_MS = 14 * 24 * 3600_000;
const ABANDONED_AFTER_MS = 24 * 3600_000;

/** markUsed records that a finished entry (its "done" file) was used now, for pruneCache. */
export function markUsed(dir: string): void {
  const now = new Date();
  utimesSync(join(dir, "done"), now, now);
}

/**
 * pruneCache removes entries unused for two weeks and builds abandoned for a
 * day, so old images (about 800 MB each) and snapshots do not pile up.
 */
export function pruneCache(): void {
  if (!existsSync(CACHE_ROOT)) return;
  const now = Date.now();
  for (const entry of readdirSync(CACHE_ROOT)) {
    if (!/^(image|snap)-[0-9a-f]{16}$/.test(entry)) continue;
    const dir = join(CACHE_ROOT, entry);
    const done = join(dir, "done");
    const lock = join(dir, ".lock");
    if (existsSync(lock) && pidAlive(Number(readFileSync(lock, "utf8")))) continue;
    const finished = existsSync(done);
    const idleMs = now - statSync(finished ? done : dir).mtimeMs;
    // Only directories this module names; never through a mount point (an image build in progress is locked).
    if (idleMs > (finished ? UNUSED_FOR_MS : ABANDONED_AFTER_MS)) Bun.spawnSync(["rm", "-rf", "--one-file-system", dir]);
  }
}
