// Builds the lab's Debian bookworm image from Debian's packages only, once per
// set of inputs: mmdebstrap's minbase rootfs, Debian's own kernel (downloaded,
// unpacked, never installed on the host), an initramfs made in the rootfs,
// and an SSH key pair generated here. Output, in the cache:
//   vmlinuz, initrd.img, root.img (raw ext4), id_ed25519{,.pub}, host_key.pub
// A rebuild happens only when an input changes: the package list, the
// kernel package and version, or this file and guest-files.ts.
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cacheDir, inputKey, sh, withLock } from "./cache.ts";
import { writeGuestFiles } from "./guest-files.ts";

const SUITE = "bookworm";
const MIRRORS = [
  `deb http://deb.debian.org/debian ${SUITE} main`,
  `deb http://deb.debian.org/debian ${SUITE}-updates main`,
  `deb http://deb.debian.org/debian-security ${SUITE}-security main`,
];

/** GUEST_PACKAGES is what every lab VM has on top of minbase. */
export const GUEST_PACKAGES = [
  "systemd", "systemd-sysv", "udev", "dbus", "openssh-server", "python3", "iproute2", "wireguard-tools",
  "iperf3", "iputils-ping", "kmod", "initramfs-tools", "zstd", "ca-certificates", "procps",
];

/** Timers that would only spend the VMs' single emulated CPU. */
const MASKED_UNITS = ["apt-daily.timer", "apt-daily-upgrade.timer", "e2scrub_all.timer", "e2scrub_reap.service", "fstrim.timer", "systemd-tmpfiles-clean.timer"];

export interface Image {
  dir: string;
  key: string;
  kernelVersion: string;
  vmlinuz: string;
  initrd: string;
  rootImg: string;
  sshKey: string;
  hostKeyPub: string;
}

/** kernelPackage is the linux-image-VER-amd64 that linux-image-amd64 points at, with its candidate version. */
async function kernelPackage(): Promise<{ name: string; version: string }> {
  const deps = await sh(["apt-cache", "depends", "linux-image-amd64"]);
  const name = /Depends:\s*(linux-image-[0-9][^\s]*-amd64)/.exec(deps)?.[1];
  if (!name) throw new Error("apt-cache depends linux-image-amd64 names no kernel: run apt-get update");
  const version = /Candidate:\s*(\S+)/.exec(await sh(["apt-cache", "policy", name]))?.[1];
  if (!version || version === "(none)") throw new Error(`${name} has no candidate version: run apt-get update`);
  return { name, version };
}

function sourcesHash(): string {
  const here = new URL(".", import.meta.url).pathname;
  return inputKey(["image.ts", "guest-files.ts"].map((f) => readFileSync(join(here, f), "utf8")));
}

function imageAt(dir: string, key: string, kernelVersion: string): Image {
  return {
    dir, key, kernelVersion,
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
export async function ensureImage(log: (line: string) => void = () => {}): Promise<Image> {
  const kernel = await kernelPackage();
  const key = inputKey({ suite: SUITE, mirrors: MIRRORS, packages: GUEST_PACKAGES, masked: MASKED_UNITS, kernel, sources: sourcesHash() });
  const dir = cacheDir("image", key);
  return withLock(dir, async () => {
    const doneMark = join(dir, "done");
    if (existsSync(doneMark)) return imageAt(dir, key, readFileSync(doneMark, "utf8").trim());
    const t0 = performance.now();
    log(`vm image ${key}: building (${kernel.name} ${kernel.version}, ${SUITE} minbase)`);
    const kernelVersion = await build(dir, kernel.name);
    writeFileSync(doneMark, kernelVersion + "\n");
    log(`vm image ${key}: built in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    return imageAt(dir, key, kernelVersion);
  });
}

async function build(dir: string, kernelPkg: string): Promise<string> {
  const work = join(dir, "build.tmp");
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  try {
    // The kernel: Debian's package, unpacked beside the rootfs, not installed anywhere.
    await sh(["apt-get", "download", kernelPkg], { cwd: work });
    const deb = readdirSync(work).find((f) => f.endsWith(".deb"));
    if (!deb) throw new Error(`apt-get download ${kernelPkg} left no .deb`);
    const kx = join(work, "kernel");
    await sh(["dpkg", "-x", join(work, deb), kx]);
    const kernelVersion = kernelPkg.replace(/^linux-image-/, "");
    const modules = [join(kx, "lib/modules", kernelVersion), join(kx, "usr/lib/modules", kernelVersion)].find(existsSync);
    if (!modules) throw new Error(`${deb} holds no modules for ${kernelVersion}`);

    await sh(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "tunnel-vmlab", "-f", join(work, "id_ed25519")]);
    const overlay = join(work, "overlay");
    writeGuestFiles(overlay, readFileSync(join(work, "id_ed25519.pub"), "utf8"));

    // bookworm is merged-/usr; the .deb has no modules.dep; root=/dev/vda needs
    // virtio and ext4 from an initramfs (MODULES=list in the overlay).
    const hook = [
      "set -eu",
      'root="$1"',
      `mkdir -p "$root/usr/lib/modules" && cp -a ${modules} "$root/usr/lib/modules/"`,
      `cp ${kx}/boot/config-${kernelVersion} ${kx}/boot/System.map-${kernelVersion} "$root/boot/"`,
      `cp -a ${overlay}/. "$root/"`,
      `chroot "$root" depmod -a ${kernelVersion}`,
      `chroot "$root" mkinitramfs -o /boot/initrd.img-${kernelVersion} ${kernelVersion}`,
      `chroot "$root" systemctl enable systemd-networkd.service lab-net.service`,
      `chroot "$root" systemctl mask ${MASKED_UNITS.join(" ")}`,
      `chroot "$root" passwd -l root`,
      `cp "$root/boot/initrd.img-${kernelVersion}" ${work}/initrd.img`,
      `cp "$root/etc/ssh/ssh_host_ed25519_key.pub" ${work}/host_key.pub`,
      // Each boot makes its own machine-id (systemd treats an empty file as "first boot, transient").
      `: > "$root/etc/machine-id"`,
    ].join("\n");
    writeFileSync(join(work, "customize.sh"), hook + "\n");
    const root = join(work, "root");
    await sh([
      "mmdebstrap", "--quiet", "--variant=minbase", `--include=${GUEST_PACKAGES.join(",")}`,
      `--customize-hook=sh ${join(work, "customize.sh")} "$1"`,
      SUITE, root, ...MIRRORS,
    ]);
    await sh(["mkfs.ext4", "-q", "-F", "-L", "root", "-d", root, join(work, "root.img"), "2G"]);
    await sh(["cp", join(kx, "boot", `vmlinuz-${kernelVersion}`), join(work, "vmlinuz")]);
    for (const f of ["vmlinuz", "initrd.img", "root.img", "id_ed25519", "id_ed25519.pub", "host_key.pub"]) renameSync(join(work, f), join(dir, f));
    return kernelVersion;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  const img = await ensureImage((l) => console.log(l));
  console.log(JSON.stringify(img, null, 2));
}
