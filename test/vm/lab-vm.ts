// One running lab VM as tests see it: its name and underlay addresses, and
// commands over SSH. The qemu process and the SSH master belong to it and
// are ended by PID in stop().
import { copyFileSync, existsSync, linkSync, readFileSync, rmSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import { GUEST_SHARE, type QemuProcess } from "./qemu.ts";
import type { Ssh, SshResult } from "./ssh.ts";

let copies = 0;

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
    private readonly shareDir: string,
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

  /**
   * copyTo copies a local file to remotePath (a file, or a directory to copy
   * into), keeping its mode, through the lab's 9p share: SSH moves only a few
   * MB/s into an emulated CPU.
   */
  async copyTo(localPath: string, remotePath: string): Promise<void> {
    if (!statSync(localPath).isFile()) return this.sshClient.copyTo(this.name, localPath, remotePath);
    const staged = `copy-${process.pid}-${++copies}-${basename(localPath)}`;
    const hostCopy = join(this.shareDir, staged);
    try {
      linkSync(localPath, hostCopy);
    } catch {
      copyFileSync(localPath, hostCopy); // another filesystem
    }
    try {
      const q = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
      const dest = q(remotePath);
      await this.sshOk(`d=${dest}; [ -d "$d" ] && d="$d"/${q(basename(localPath))}; cp --preserve=mode ${GUEST_SHARE}/${staged} "$d"`);
    } finally {
      rmSync(hostCopy, { force: true });
    }
  }

  copyFrom(remotePath: string, localPath: string): Promise<void> {
    return this.sshClient.copyFrom(this.name, remotePath, localPath);
  }

  /**
   * setClock sets the guest's wall clock to the host's. A resumed VM wakes at
   * the time it was saved, and WireGuard needs increasing handshake timestamps.
   */
  async setClock(): Promise<void> {
    await this.sshOk(this.setClockCommand());
  }

  /** @internal the shell command setClock runs, for callers that batch it with others. */
  setClockCommand(): string {
    return `date -u -s @${(Date.now() / 1000).toFixed(3)} >/dev/null`;
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
