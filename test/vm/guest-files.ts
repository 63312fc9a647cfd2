// The files the lab writes into the guest's root filesystem: how it boots
// (initramfs with the virtio and ext4 modules), how it gets its addresses
// (from the kernel command line, so one image serves every VM), and how the
// harness logs in (its own key, root only).
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

/**
 * LAB_NET reads `lab.v4=ADDR/LEN lab.v6=ADDR/LEN` from /proc/cmdline and hands
 * them to systemd-networkd, which owns eth0 from then on. DAD is off because
 * the lab's addresses are unique by construction and a restored snapshot must
 * be usable at once.
 */
const LAB_NET = `#!/bin/sh
set -eu
v4= v6=
for word in $(cat /proc/cmdline); do
  case "$word" in
    lab.v4=*) v4="\${word#lab.v4=}" ;;
    lab.v6=*) v6="\${word#lab.v6=}" ;;
  esac
done
mkdir -p /run/systemd/network
{
  printf '[Match]\\nName=eth0\\n\\n[Network]\\nIPv6AcceptRA=no\\nLinkLocalAddressing=ipv6\\n'
  [ -n "$v4" ] && printf '\\n[Address]\\nAddress=%s\\n' "$v4"
  [ -n "$v6" ] && printf '\\n[Address]\\nAddress=%s\\nDuplicateAddressDetection=none\\n' "$v6"
  true
} > /run/systemd/network/10-lab.network
`;

const LAB_NET_UNIT = `[Unit]
Description=Lab addresses from the kernel command line
DefaultDependencies=no
Before=systemd-networkd.service

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/lab-net

[Install]
WantedBy=systemd-networkd.service
`;

/** guestFiles maps a path inside the guest to its content and mode. */
export function guestFiles(authorizedKey: string): Record<string, { text: string; mode: number }> {
  const f = (text: string, mode = 0o644) => ({ text, mode });
  return {
    "etc/initramfs-tools/modules": f("virtio_pci\nvirtio_blk\next4\ncrc32c_generic\n"),
    "etc/initramfs-tools/conf.d/lab.conf": f("MODULES=list\nCOMPRESS=zstd\n"),
    "etc/hostname": f("lab\n"),
    "etc/hosts": f("127.0.0.1 localhost\n::1 localhost\n"),
    "etc/fstab": f("/dev/vda / ext4 rw,relatime 0 1\n"),
    "root/.ssh/authorized_keys": f(`${authorizedKey.trim()}\n`, 0o600),
    "etc/ssh/sshd_config.d/lab.conf": f("PasswordAuthentication no\nKbdInteractiveAuthentication no\nUseDNS no\n"),
    "usr/local/sbin/lab-net": f(LAB_NET, 0o755),
    "etc/systemd/system/lab-net.service": f(LAB_NET_UNIT),
    // A volatile journal: the VMs are thrown away, and disk writes cost under TCG.
    "etc/systemd/journald.conf.d/lab.conf": f("[Journal]\nStorage=volatile\n"),
  };
}

/** writeGuestFiles lays guestFiles out under dir, ready to be copied over the rootfs. */
export function writeGuestFiles(dir: string, authorizedKey: string): void {
  for (const [path, { text, mode }] of Object.entries(guestFiles(authorizedKey))) {
    const full = join(dir, path);
    mkdirSync(dirname(full), { recursive: true });
    writeFileSync(full, text, { mode });
    chmodSync(full, mode);
  }
  chmodSync(join(dir, "root/.ssh"), 0o700);
  chmodSync(join(dir, "root"), 0o700);
}
