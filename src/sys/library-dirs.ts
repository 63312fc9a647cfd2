// Where src/sys/ loads shared libraries from: absolute paths in the system's
// library directories, never a bare soname. Given a bare name that the
// dynamic linker cannot find, Bun's dlopen retries it relative to the working
// directory (strace: openat("$PWD/libcrypto.so.3")), so a root daemon started
// from a directory holding a crafted libcrypto.so.3 would run its code. With a
// path containing "/", neither Bun nor glibc searches anywhere else for it (no
// LD_LIBRARY_PATH, no RPATH, no cwd; its own dependencies resolve as for any
// program). Deliberately no dependencies on the rest
// of src/sys/: libcrypto.ts must stay loadable on its own.
import { existsSync, realpathSync } from "node:fs";

/** Debian/Ubuntu multiarch triplets for the architectures we ship. */
const MULTIARCH: Readonly<Record<string, string>> = { x64: "x86_64-linux-gnu", arm64: "aarch64-linux-gnu" };

/**
 * systemLibraryDirs lists the directories searched, most specific first:
 * the multiarch pair (Debian, Ubuntu), lib64 (Fedora, RHEL, SUSE), then the
 * plain /usr/lib and /lib (Arch, Alpine/musl, and Debian's cross prefix under
 * qemu -L). /usr/local/lib is left out: it is not part of a distribution.
 */
export function systemLibraryDirs(arch: string = process.arch): string[] {
  const triplet = MULTIARCH[arch];
  const dirs = triplet ? [`/usr/lib/${triplet}`, `/lib/${triplet}`] : [];
  dirs.push("/usr/lib64", "/lib64", "/usr/lib", "/lib");
  return dirs;
}

/**
 * systemLibraryCandidates returns the absolute paths that exist for these
 * sonames, in soname order (a preferred soname in any directory beats a later
 * one), each real file once (merged-/usr systems see /lib and /usr/lib alike).
 */
export function systemLibraryCandidates(sonames: readonly string[], dirs: readonly string[] = systemLibraryDirs()): string[] {
  const seen = new Set<string>();
  const found: string[] = [];
  for (const name of sonames) {
    for (const dir of dirs) {
      const path = `${dir}/${name}`;
      if (!existsSync(path)) continue;
      let real = path;
      try {
        real = realpathSync(path);
      } catch {
        continue;
      }
      if (seen.has(real)) continue;
      seen.add(real);
      found.push(path);
    }
  }
  return found;
}
