// The Debian packages the test suite runs on, each for a reason. One list,
// read by install-deps.ts (which `npm test` runs first) and printed in the
// README's test section.
export const DEBIAN_TEST_PACKAGES = [
  // namespace tier: namespaces, veths, TUN, real peers, traffic
  "iproute2", // ip, ss, nstat
  "iputils-ping",
  "iperf3",
  "wireguard-tools", // wg, wg-quick
  "wireguard-go",
  "procps",
  "kmod",
  "ca-certificates",
  "strace", // the hardening test: no library is opened from the working directory
  // tunnel doctor and metrics: firewall rules, gateway offloads, a TCP scrape
  "nftables",
  "ethtool",
  "curl",
  // wg-quick parity: DNS through resolvconf, as wg-quick does without systemd-resolved
  "openresolv",
  // VM tier (test/vm): images from Debian's packages, qemu under TCG, SSH, Ansible
  "qemu-system-x86",
  "qemu-utils", // qemu-img
  "mmdebstrap",
  "e2fsprogs", // mkfs.ext4 -d
  "openssh-client",
  "ansible-core",
  "ansible-mitogen", // the deployment test's check and changed runs (test/vm/deploy-play.ts)
  "ansible-lint",
  "yamllint",
  // release smoke tests: the arm64 build under user-mode emulation, archives
  "qemu-user-static",
  "libc6-arm64-cross",
  "xz-utils",
  "zstd",
] as const;
