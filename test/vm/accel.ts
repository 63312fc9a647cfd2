// Picks the accelerator: KVM when it can really run Debian's kernel, TCG
// otherwise. /dev/kvm opening is no proof (a nested paravirtual KVM accepts
// KVM_CREATE_VM and then cannot run a stock kernel), so the probe boots the
// lab kernel with no root disk under KVM and requires its panic message,
// which proves the whole early boot ran, within a few seconds. The verdict is
// cached per host kernel, qemu version and guest kernel.
// TUNNEL_VMLAB_ACCEL=kvm|tcg skips the probe.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CACHE_ROOT, inputKey, sh } from "./cache.ts";
import type { Image } from "./image.ts";

export type Accel = "kvm" | "tcg";

/**
 * accelArgs are the -accel and -cpu arguments. TCG's translation cache is
 * bounded so three VMs fit in memory, yet large enough that an Ansible play
 * (about 20 MB of new code per module run with ASLR, see qemu.ts) does not
 * flush it.
 */
export function accelArgs(accel: Accel): string[] {
  return accel === "kvm" ? ["-accel", "kvm", "-cpu", "host"] : ["-accel", "tcg,tb-size=512", "-cpu", "max"];
}

async function kvmBootsKernel(image: Image): Promise<boolean> {
  if (!existsSync("/dev/kvm")) return false;
  const p = Bun.spawn(
    [
      "qemu-system-x86_64",
      "-nodefaults",
      "-no-user-config",
      "-display",
      "none",
      "-no-reboot",
      "-m",
      "256",
      ...accelArgs("kvm"),
      "-kernel",
      image.vmlinuz,
      "-append",
      "console=ttyS0 panic=-1 root=/dev/lab-none",
      "-serial",
      "stdio",
    ],
    { stdout: "pipe", stderr: "pipe", stdin: "ignore" },
  );
  const timer = setTimeout(() => p.kill("SIGKILL"), 15_000);
  const [out, code] = await Promise.all([new Response(p.stdout).text(), p.exited]);
  clearTimeout(timer);
  return code === 0 && out.includes("Kernel panic");
}

/** chooseAccel returns the accelerator for this machine, probing once per inputs. */
export async function chooseAccel(image: Image): Promise<Accel> {
  const forced = process.env.TUNNEL_VMLAB_ACCEL;
  if (forced === "kvm" || forced === "tcg") return forced;
  const qemuVersion = (await sh(["qemu-system-x86_64", "--version"])).split("\n")[0];
  const key = inputKey({ host: readFileSync("/proc/sys/kernel/osrelease", "utf8").trim(), qemuVersion, guest: image.key });
  const file = join(CACHE_ROOT, `accel-${key}`);
  if (existsSync(file)) {
    const cached = readFileSync(file, "utf8").trim();
    if (cached === "kvm" || cached === "tcg") return cached;
  }
  const accel: Accel = (await kvmBootsKernel(image)) ? "kvm" : "tcg";
  writeFileSync(file, `${accel}\n`);
  return accel;
}
