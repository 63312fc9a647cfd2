// Builds the lab's Debian bookworm image from Debian's packages only, once per
// set of inputs: mmdebstrap's minbase rootfs, Debian's own kernel (downloaded,
// unpacked, never installed on the host), an initramfs made in the rootfs,
// and an SSH key pair generated here. Output, in the cache:
//   vmlinuz, initrd.img, root.img (raw ext4), id_ed25519{,.pub}, host_key.pub
// A rebuild happens only when an input changes: the package list, the
// kernel package and version, the build steps or the guest's files.
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CACHE_ROOT, cacheDir, inputKey, markUsed, sh, withLock } from "./cache.ts";
import { guestFiles, writeGuestFiles } from "./guest-files.ts";

const SUITE = "bookworm";
const MIRRORS = [
  `deb http://deb.debian.org/debian ${SUITE} main`,
  `deb http://deb.debian.org/debian ${SUITE}-updates main`,
  `deb http://deb.debian.org/debian-security ${SUITE}-security main`,
];

/** GUEST_PACKAGES is what every lab VM has on top of minbase. */
export const GUEST_PACKAGES = [
  "systemd",
  "systemd-sysv",
  "udev",
  "dbus",
  "openssh-server",
  "python3",
  "iproute2",
  "wireguard-tools",
  "iperf3",
  "iputils-ping",
  "kmod",
  "initramfs-tools",
  "zstd",
  "xz-utils",
  "ca-certificates",
  "procps",
  // For the `dns` tests against the real resolver (test/vm/resolved.test.ts); installed but not started at boot.
  "systemd-resolved",
];

/**
 * Units masked in the lab's guests: timers that would only spend the VMs'
 * single emulated CPU, and units a cold boot would start for nothing here
 * (every one is a process, or several, under emulation; three VMs boot at
 * once on two host cores). Logins: no getty is reachable (no display, root
 * locked) and no PAM module registers sessions with logind (minbase has no
 * libpam-systemd). Kernel-module helpers and pseudo file systems nothing in
 * the tests uses. Three VMs cold-booting at once reach SSH in about 54 s
 * with these masked, 62 s without (two runs each, same image otherwise).
 * kmod-static-nodes stays: it makes /dev/net/tun before the tun module loads.
 */
const MASKED_UNITS = [
  "apt-daily.timer",
  "apt-daily-upgrade.timer",
  "e2scrub_all.timer",
  "e2scrub_reap.service",
  "fstrim.timer",
  "systemd-tmpfiles-clean.timer",
  "systemd-logind.service",
  "getty@tty1.service",
  "serial-getty@ttyS0.service",
  "modprobe@configfs.service",
  "modprobe@dm_mod.service",
  "modprobe@drm.service",
  "modprobe@efi_pstore.service",
  "modprobe@fuse.service",
  "modprobe@loop.service",
  "systemd-binfmt.service",
  "proc-sys-fs-binfmt_misc.automount",
  "sys-kernel-debug.mount",
  "sys-kernel-tracing.mount",
  "sys-kernel-config.mount",
  "sys-fs-fuse-connections.mount",
  "dev-hugepages.mount",
  "systemd-network-generator.service",
];

export interface Image {
  dir: string;
  key: string;
  /** Unique per build (its SSH keys are new each time): snapshots made on one build never resume on another. */
  buildId: string;
  kernelVersion: string;
  vmlinuz: string;
  initrd: string;
  rootImg: string;
  sshKey: string;
  hostKeyPub: string;
}

/**
 * kernelPackage is the linux-image-VER-amd64 that linux-image-amd64 points at,
 * with its candidate version. apt-cache takes seconds on a loaded machine, so
 * the answer is kept until apt's package lists change.
 */
async function kernelPackage(): Promise<{ name: string; version: string }> {
  const lists = ["/var/lib/apt/lists", "/var/cache/apt/pkgcache.bin"].map((p) => (existsSync(p) ? statSync(p).mtimeMs : 0));
  const memo = join(CACHE_ROOT, `kernel-${inputKey(lists)}.json`);
  if (existsSync(memo)) return JSON.parse(readFileSync(memo, "utf8")) as { name: string; version: string };
  const found = await askApt();
  mkdirSync(CACHE_ROOT, { recursive: true });
  writeFileSync(memo, JSON.stringify(found));
  return found;
}

async function askApt(): Promise<{ name: string; version: string }> {
  const found = await kernelFromLists();
  if (found) return found;
  // Package lists missing or from before the kernel existed (a fresh container): fetch them once.
  await sh(["apt-get", "-o", "DPkg::Lock::Timeout=600", "update", "-q"]);
  const again = await kernelFromLists();
  if (!again) throw new Error("apt-cache names no candidate for linux-image-amd64's kernel, even after apt-get update");
  return again;
}

async function kernelFromLists(): Promise<{ name: string; version: string } | null> {
  const deps = await sh(["apt-cache", "depends", "linux-image-amd64"]).catch(() => "");
  const name = /Depends:\s*(linux-image-[0-9][^\s]*-amd64)/.exec(deps)?.[1];
  if (!name) return null;
  const version = /Candidate:\s*(\S+)/.exec(await sh(["apt-cache", "policy", name]))?.[1];
  return version && version !== "(none)" ? { name, version } : null;
}

const MKFS = ["mkfs.ext4", "-q", "-F", "-L", "root"];

interface HookPaths {
  kernelDir: string;
  /** Created once kernelDir is unpacked (the kernel is fetched while mmdebstrap runs); `.failed` beside it if that failed. */
  kernelReady: string;
  overlay: string;
  out: string;
  kernelVersion: string;
}

/**
 * customizeHook is the script mmdebstrap runs on the finished rootfs ("$1").
 * bookworm is merged-/usr; the kernel .deb has no modules.dep; root=/dev/vda
 * needs virtio and ext4 from an initramfs (MODULES=list in the overlay).
 */
function customizeHook(p: HookPaths): string {
  const v = p.kernelVersion;
  return `${[
    "set -eu",
    'root="$1"',
    `while [ ! -e ${p.kernelReady} ]; do [ ! -e ${p.kernelReady}.failed ] || exit 1; sleep 0.2; done`,
    // The .deb has them under lib/ or usr/lib/ depending on its age.
    `m=${p.kernelDir}/lib/modules/${v}; [ -d "$m" ] || m=${p.kernelDir}/usr/lib/modules/${v}`,
    `mkdir -p "$root/usr/lib/modules" && cp -a "$m" "$root/usr/lib/modules/"`,
    `cp ${p.kernelDir}/boot/config-${v} ${p.kernelDir}/boot/System.map-${v} "$root/boot/"`,
    `cp -a ${p.overlay}/. "$root/"`,
    `chroot "$root" depmod -a ${v}`,
    `chroot "$root" mkinitramfs -o /boot/initrd.img-${v} ${v}`,
    `chroot "$root" systemctl enable systemd-networkd.service lab-net.service`,
    `chroot "$root" systemctl mask ${MASKED_UNITS.join(" ")}`,
    // systemd-resolved stays off unless a test starts it, so every other VM boots and resolves as before;
    // its package made /etc/resolv.conf a link to the stub's file, which exists only while it runs.
    `chroot "$root" systemctl disable systemd-resolved.service`,
    `rm -f "$root/etc/resolv.conf" && : > "$root/etc/resolv.conf"`,
    `chroot "$root" passwd -l root`,
    `cp "$root/boot/initrd.img-${v}" ${p.out}/initrd.img`,
    `cp "$root/etc/ssh/ssh_host_ed25519_key.pub" ${p.out}/host_key.pub`,
    // Each boot makes its own machine-id (systemd treats an empty file as "first boot, transient").
    `: > "$root/etc/machine-id"`,
  ].join("\n")}\n`;
}

function mmdebstrapArgv(hook: string, root: string): string[] {
  return ["mmdebstrap", "--quiet", "--variant=minbase", `--include=${GUEST_PACKAGES.join(",")}`, `--customize-hook=sh ${hook} "$1"`, SUITE, root, ...MIRRORS];
}

/**
 * recipeKey covers the steps that decide the image's content (the hook, the
 * mmdebstrap and mkfs arguments, the guest's files), so refactoring the
 * orchestration around them rebuilds nothing.
 */
function recipeKey(): string {
  const p: HookPaths = { kernelDir: "K", kernelReady: "R", overlay: "O", out: "W", kernelVersion: "V" };
  return inputKey([customizeHook(p), mmdebstrapArgv("H", "R"), MKFS, guestFiles("KEY")]);
}

function imageAt(dir: string, key: string, kernelVersion: string): Image {
  markUsed(dir);
  return {
    dir,
    key,
    kernelVersion,
    buildId: inputKey(readFileSync(join(dir, "host_key.pub"), "utf8")),
    vmlinuz: join(dir, "vmlinuz"),
    initrd: join(dir, "initrd.img"),
    rootImg: join(dir, "root.img"),
    sshKey: join(dir, "id_ed25519"),
    hostKeyPub: join(dir, "host_key.pub"),
  };
}

/**
 * ensureImage returns the cached image for the current inputs, building it
 * first if needed (about 90 s with downloads). log receives progress lines.
 */
export function ensureImage(log: (line: string) => void = () => {}): Promise<Image> {
  // One answer per process: every Lab.start in a test run shares it.
  ensuring ??= buildOrReuse(log).catch((e) => {
    ensuring = null;
    throw e;
  });
  return ensuring;
}

let ensuring: Promise<Image> | null = null;

async function buildOrReuse(log: (line: string) => void): Promise<Image> {
  const kernel = await kernelPackage();
  const key = inputKey({ kernel, recipe: recipeKey() });
  const dir = cacheDir("image", key);
  return withLock(dir, async () => {
    const doneMark = join(dir, "done");
    if (existsSync(doneMark)) return imageAt(dir, key, readFileSync(doneMark, "utf8").trim());
    const t0 = performance.now();
    log(`vm image ${key}: building (${kernel.name} ${kernel.version}, ${SUITE} minbase)`);
    const kernelVersion = await build(dir, kernel.name, (l) => log(`vm image ${key}: ${l}`));
    writeFileSync(doneMark, `${kernelVersion}\n`);
    log(`vm image ${key}: built in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    return imageAt(dir, key, kernelVersion);
  });
}

/**
 * removeBuildDir deletes a build directory, but never through a mount point:
 * mmdebstrap mounts /proc, /sys and /dev into the rootfs while hooks run, and
 * a build killed then must not take the host's /dev with it.
 */
async function removeBuildDir(work: string): Promise<void> {
  const mounts = readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((l) => l.split(" ")[4] ?? "")
    .filter((m) => m.startsWith(`${work}/`));
  if (mounts.length > 0) throw new Error(`not removing ${work}: still mounted inside it: ${mounts.join(", ")}`);
  await sh(["rm", "-rf", "--one-file-system", work]);
}

async function build(dir: string, kernelPkg: string, log: (line: string) => void): Promise<string> {
  const t0 = performance.now();
  const since = () => `${((performance.now() - t0) / 1000).toFixed(1)} s`;
  const work = join(dir, "build.tmp");
  await removeBuildDir(work);
  mkdirSync(work, { recursive: true });
  try {
    const kernelVersion = kernelPkg.replace(/^linux-image-/, "");
    const kx = join(work, "kernel");
    const kernelReady = join(work, "kernel.ready");
    await sh(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "tunnel-vmlab", "-f", join(work, "id_ed25519")]);
    const overlay = join(work, "overlay");
    writeGuestFiles(overlay, readFileSync(join(work, "id_ed25519.pub"), "utf8"));

    const hook = join(work, "customize.sh");
    writeFileSync(hook, customizeHook({ kernelDir: kx, kernelReady, overlay, out: work, kernelVersion }));
    const root = join(work, "root");
    // The kernel: Debian's package, unpacked beside the rootfs, not installed anywhere. Fetched while
    // mmdebstrap runs (the customize hook waits for it), not before: both are mostly waiting on the network.
    const kernel = (async () => {
      await sh(["apt-get", "download", kernelPkg], { cwd: work });
      const deb = readdirSync(work).find((f) => f.endsWith(".deb"));
      if (!deb) throw new Error(`apt-get download ${kernelPkg} left no .deb`);
      await sh(["dpkg", "-x", join(work, deb), kx]);
      if (![join(kx, "lib/modules", kernelVersion), join(kx, "usr/lib/modules", kernelVersion)].some((m) => existsSync(m))) {
        throw new Error(`${deb} holds no modules for ${kernelVersion}`);
      }
      writeFileSync(kernelReady, "");
      log(`kernel package fetched and unpacked at ${since()}`);
    })().catch((e) => {
      writeFileSync(`${kernelReady}.failed`, String(e));
      throw e;
    });
    const rootfs = sh(mmdebstrapArgv(hook, root));
    // Both settle before either error is thrown, so nothing still writes into work when it is removed.
    const [k, r] = await Promise.allSettled([kernel, rootfs]);
    if (k.status === "rejected") throw k.reason;
    if (r.status === "rejected") throw r.reason;
    log(`root file system made at ${since()}`);
    await sh([...MKFS, "-d", root, join(work, "root.img"), "2G"]);
    log(`root.img written at ${since()}`);
    await sh(["cp", join(kx, "boot", `vmlinuz-${kernelVersion}`), join(work, "vmlinuz")]);
    for (const f of ["vmlinuz", "initrd.img", "root.img", "id_ed25519", "id_ed25519.pub", "host_key.pub"]) renameSync(join(work, f), join(dir, f));
    return kernelVersion;
  } finally {
    await removeBuildDir(work);
  }
}

if (import.meta.main) {
  const img = await ensureImage((l) => console.log(l));
  console.log(JSON.stringify(img, null, 2));
}
