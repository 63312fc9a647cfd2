// Where the VM lab keeps what is expensive to make (the image, the booted
// snapshots, the accelerator probe), and a lock so two test processes on one
// machine build each artefact once. Everything is keyed by a hash of its
// inputs, so a changed input builds anew and an old entry is simply unused.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

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

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
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
