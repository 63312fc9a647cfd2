// One running lab VM as tests see it: its name and underlay addresses, and
// commands over SSH. The qemu process and the SSH master belong to it and
// are ended by PID in stop().
import { existsSync, readFileSync } from "node:fs";
import type { QemuProcess } from "./qemu.ts";
import type { Ssh, SshResult } from "./ssh.ts";

export class LabVm {
  /** @internal set by the lab once SSH answers. */
  master: ReturnType<typeof Bun.spawn> | null = null;

  constructor(
    readonly name: string,
    /** Underlay IPv4 address on the lab bridge (no prefix length; the subnet is a /24). */
    readonly v4: string,
    /** Underlay IPv6 address on the lab bridge (a /64). */
    readonly v6: string,
    readonly mac: string,
    private readonly sshClient: Ssh,
    /** @internal */
    public qemu: QemuProcess | null = null,
  ) {}

  /** ssh runs a shell command as root in the VM. It never throws for a non-zero exit; 255 means ssh itself failed. */
  ssh(command: string, opts: { timeoutMs?: number; input?: string } = {}): Promise<SshResult> {
    return this.sshClient.exec(this.name, command, opts);
  }

  /** sshOk runs a command and returns its stdout, throwing with exit code and stderr unless it exits 0. */
  async sshOk(command: string, opts: { timeoutMs?: number; input?: string } = {}): Promise<string> {
    const r = await this.ssh(command, opts);
    if (r.code !== 0) throw new Error(`${this.name}: \`${command}\` exited ${r.code}: ${r.stderr.trim() || r.stdout.trim().slice(-1000)}`);
    return r.stdout;
  }

  copyTo(localPath: string, remotePath: string): Promise<void> {
    return this.sshClient.copyTo(this.name, localPath, remotePath);
  }

  copyFrom(remotePath: string, localPath: string): Promise<void> {
    return this.sshClient.copyFrom(this.name, remotePath, localPath);
  }

  /**
   * setClock sets the guest's wall clock to the host's. A resumed VM wakes at
   * the time it was saved, and WireGuard needs increasing handshake timestamps.
   */
  async setClock(): Promise<void> {
    await this.sshOk(`date -u -s @${(Date.now() / 1000).toFixed(3)} >/dev/null`);
  }

  /** console is what the guest printed on its serial port so far (kernel, systemd). */
  console(): string {
    const path = this.qemu?.opts.serialLog;
    return path && existsSync(path) ? readFileSync(path, "utf8") : "";
  }

  /** pid of this VM's qemu process, or null once stopped. */
  get pid(): number | null {
    return this.qemu && !this.qemu.exited ? this.qemu.pid : null;
  }
}
