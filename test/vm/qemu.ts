// One qemu process per lab VM, started inside the lab's namespace on its tap.
// A VM either cold-boots from a disk or resumes from a saved state
// (`-incoming exec:cat STATE`, the migration stream written by saveState),
// which under TCG is the difference between ~35 s and ~2 s. The "hardware"
// (memory, CPU, devices, kernel command line) is one function, so a saved
// state is always resumed on the machine it was saved from.
import { existsSync, readFileSync } from "node:fs";
import { accelArgs, type Accel } from "./accel.ts";
import type { Image } from "./image.ts";
import { Qmp } from "./qmp.ts";

/** The 9p mount tag of the host share; the guest mounts it at GUEST_SHARE. */
export const SHARE_TAG = "hostshare";
export const GUEST_SHARE = "/mnt/host";

export interface VmSpec {
  name: string;
  /** The guest NIC's MAC; fixed per VM so a resumed guest's neighbours stay right. */
  mac: string;
  v4Cidr: string;
  v6Cidr: string;
  memoryMiB: number;
  smp: number;
}

/** hardwareArgs is everything a saved state depends on: change it and the snapshot key changes with it. */
export function hardwareArgs(spec: VmSpec, image: Image, accel: Accel): string[] {
  // norandmaps: TCG finds a translated block by its virtual address, so with ASLR every new
  // process (each Ansible module's python3, each tunnel start) translated its code anew;
  // with fixed mappings a module run went from about 2.3 s to 1.5 s in an idle VM.
  const append = [
    "console=ttyS0",
    "root=/dev/vda",
    "rw",
    "net.ifnames=0",
    "quiet",
    "mitigations=off",
    "panic=-1",
    "norandmaps",
    `systemd.hostname=${spec.name}`,
    `lab.v4=${spec.v4Cidr}`,
    `lab.v6=${spec.v6Cidr}`,
  ].join(" ");
  return [
    "-nodefaults",
    "-no-user-config",
    "-display",
    "none",
    "-no-reboot",
    ...accelArgs(accel),
    "-m",
    String(spec.memoryMiB),
    "-smp",
    String(spec.smp),
    "-kernel",
    image.vmlinuz,
    "-initrd",
    image.initrd,
    "-append",
    append,
    "-object",
    "rng-random,id=rng0,filename=/dev/urandom",
    "-device",
    "virtio-rng-pci,rng=rng0",
    "-device",
    `virtio-net-pci,netdev=n0,mac=${spec.mac}`,
    // The host share (a read-only 9p export of Lab.shareDir): files reach the guest at disk speed, not at the
    // few MB/s that SSH's ciphers manage on an emulated CPU. Its host path is a start option, not hardware.
    "-device",
    `virtio-9p-pci,fsdev=share,mount_tag=${SHARE_TAG}`,
  ];
}

export interface StartOptions {
  spec: VmSpec;
  image: Image;
  accel: Accel;
  /** The namespace qemu runs in, where tap lives. */
  netns: string;
  tap: string;
  disk: string;
  /** The host directory exported read-only to the guest. */
  shareDir: string;
  qmpSocket: string;
  serialLog: string;
  /** A saved state to resume instead of booting. */
  incoming?: string;
}

/** QemuProcess owns one qemu by PID: started here, killed only here. */
export class QemuProcess {
  private constructor(
    readonly proc: ReturnType<typeof Bun.spawn>,
    readonly opts: StartOptions,
    private readonly stderr: { text: string },
  ) {}

  get pid(): number {
    return this.proc.pid;
  }

  static start(opts: StartOptions): QemuProcess {
    const argv = [
      "ip",
      "netns",
      "exec",
      opts.netns,
      "qemu-system-x86_64",
      "-name",
      opts.spec.name,
      ...hardwareArgs(opts.spec, opts.image, opts.accel),
      "-drive",
      `file=${opts.disk},if=virtio,format=qcow2,discard=unmap`,
      "-netdev",
      `tap,id=n0,ifname=${opts.tap},script=no,downscript=no`,
      "-fsdev",
      `local,id=share,path=${opts.shareDir},security_model=none,readonly=on`,
      "-qmp",
      `unix:${opts.qmpSocket},server=on,wait=off`,
      "-serial",
      `file:${opts.serialLog}`,
      ...(opts.incoming ? ["-incoming", `exec:cat ${opts.incoming}`] : []),
    ];
    // `ip netns exec` execs qemu, so the PID is qemu's own.
    const proc = Bun.spawn(argv, { stdin: "ignore", stdout: "ignore", stderr: "pipe" });
    const stderr = { text: "" };
    void (async () => {
      const dec = new TextDecoder();
      for await (const chunk of proc.stderr as ReadableStream<Uint8Array>) stderr.text += dec.decode(chunk, { stream: true });
    })();
    return new QemuProcess(proc, opts, stderr);
  }

  get exited(): boolean {
    return this.proc.exitCode !== null || this.proc.signalCode !== null;
  }

  /** diagnostics is qemu's stderr and the end of the guest console, for error messages. */
  diagnostics(): string {
    const serial = existsSync(this.opts.serialLog) ? readFileSync(this.opts.serialLog, "utf8").slice(-3000) : "";
    return `qemu ${this.opts.spec.name} (pid ${this.pid}, exit ${this.proc.exitCode ?? "-"}) stderr: ${this.stderr.text.trim() || "(none)"}\n--- console tail ---\n${serial}`;
  }

  /**
   * saveState pauses the guest, streams its RAM and device state to path and
   * quits. The disk stays exactly as the state expects it: nothing writes to
   * it after the pause.
   */
  async saveState(path: string): Promise<void> {
    const qmp = await Qmp.connect(this.opts.qmpSocket);
    try {
      await qmp.execute("stop");
      await qmp.execute("migrate-set-parameters", { "max-bandwidth": 8 * 1024 * 1024 * 1024 });
      await qmp.execute("migrate", { uri: `exec:cat > ${path}` });
      for (;;) {
        const info = (await qmp.execute("query-migrate")) as { status?: string; "error-desc"?: string };
        if (info.status === "completed") break;
        if (info.status === "failed" || info.status === "cancelled") throw new Error(`saving ${this.opts.spec.name}: ${info["error-desc"] ?? info.status}`);
        await Bun.sleep(100);
      }
      await qmp.execute("quit").catch(() => undefined);
    } finally {
      qmp.close();
    }
    await this.proc.exited;
  }

  /**
   * resumeIncoming waits until the saved state has been read, then lets the
   * guest run: the state was saved paused, so qemu keeps it paused.
   */
  async resumeIncoming(timeoutMs = 60_000): Promise<void> {
    const qmp = await Qmp.connect(this.opts.qmpSocket);
    try {
      const deadline = performance.now() + timeoutMs;
      for (;;) {
        const { status } = (await qmp.execute("query-status")) as { status: string };
        if (status === "paused" || status === "postmigrate" || status === "prelaunch") break;
        if (status === "running") return;
        if (status !== "inmigrate" || this.exited) throw new Error(`resuming ${this.opts.spec.name}: qemu is ${status}`);
        if (performance.now() > deadline) throw new Error(`resuming ${this.opts.spec.name}: state not loaded after ${timeoutMs} ms`);
        await Bun.sleep(50);
      }
      await qmp.execute("cont");
    } finally {
      qmp.close();
    }
  }

  /** kill ends this qemu (SIGTERM, then SIGKILL after 3 s) and waits for it. */
  async kill(): Promise<void> {
    if (this.exited) return;
    this.proc.kill("SIGTERM");
    const timer = setTimeout(() => this.proc.kill("SIGKILL"), 3000);
    await this.proc.exited;
    clearTimeout(timer);
  }
}
