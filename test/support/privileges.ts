// Gates for tests that need root, network namespaces or extra binaries.
// Outside CI such tests are skipped with a reason; under CI=true a missing
// prerequisite is a failing test instead, so CI can never pass by skipping.
import { describe, test } from "bun:test";
import { existsSync } from "node:fs";

export const isCI = process.env.CI === "true" || process.env.CI === "1";
export const isRoot = process.getuid?.() === 0;

export function hasCommand(name: string): boolean {
  return Bun.which(name) !== null || Bun.which(name, { PATH: "/usr/sbin:/sbin:/usr/bin:/bin" }) !== null;
}

/** Returns why the prerequisites are missing, or null when all are present. */
export function missingPrerequisites(opts: { root?: boolean; commands?: string[]; files?: string[] }): string | null {
  if (opts.root && !isRoot) return "needs root (CAP_NET_ADMIN)";
  for (const c of opts.commands ?? []) if (!hasCommand(c)) return `needs the '${c}' command`;
  for (const f of opts.files ?? []) if (!existsSync(f)) return `needs ${f}`;
  if (opts.root && !existsSync("/dev/net/tun")) return "needs /dev/net/tun";
  return null;
}

/**
 * describePrivileged is describe() for tests with prerequisites. When they are
 * missing: outside CI the block is skipped; in CI one failing test says why.
 */
export function describePrivileged(name: string, opts: { root?: boolean; commands?: string[]; files?: string[] }, body: () => void): void {
  const missing = missingPrerequisites(opts);
  if (missing === null) {
    describe(name, body);
  } else if (isCI) {
    describe(name, () => {
      test(`prerequisites (${missing})`, () => {
        throw new Error(`${name}: ${missing}; CI must run this suite, not skip it`);
      });
    });
  } else {
    describe.skip(`${name} [skipped: ${missing}]`, body);
  }
}
