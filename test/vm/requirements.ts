// What the VM tier needs on the host: for describePrivileged, so CI fails
// rather than skips when one is missing (test/support/install-deps.ts
// installs them).
export const VM_COMMANDS = ["qemu-system-x86_64", "qemu-img", "mmdebstrap", "mkfs.ext4", "ssh", "ssh-keygen", "scp", "apt-get", "dpkg"];
