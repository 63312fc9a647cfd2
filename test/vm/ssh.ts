// SSH from the lab's host namespace to its VMs: one generated ssh_config
// (the harness's key, the image's host key pinned in a known_hosts, no
// agent, no password), one master connection per VM so each command costs no
// key exchange under TCG, and commands with a hard timeout.
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface SshHost {
  name: string;
  v4: string;
  v6: string;
}

export interface SshResult {
  stdout: string;
  stderr: string;
  code: number;
}

/** writeSshConfig writes ssh_config and known_hosts into dir and returns the config's path. */
export function writeSshConfig(dir: string, keyPath: string, hostKeyPub: string, hosts: SshHost[]): string {
  const knownHosts = join(dir, "known_hosts");
  const key = hostKeyPub.trim().split(/\s+/).slice(0, 2).join(" ");
  writeFileSync(knownHosts, hosts.map((h) => `${h.v4},${h.v6},${h.name} ${key}\n`).join(""));
  const lines = hosts.flatMap((h) => [`Host ${h.name}`, `  HostName ${h.v4}`, ""]);
  lines.push(
    "Host *",
    "  User root",
    `  IdentityFile ${keyPath}`,
    "  IdentitiesOnly yes",
    "  IdentityAgent none",
    "  BatchMode yes",
    `  UserKnownHostsFile ${knownHosts}`,
    "  GlobalKnownHostsFile /dev/null",
    "  StrictHostKeyChecking yes",
    "  CheckHostIP no",
    // Clients use the master when it is there but never become one: a
    // lingering master would hold the caller's stdout pipe open.
    "  ControlMaster no",
    `  ControlPath ${join(dir, "cm-%C")}`,
    "  ConnectTimeout 5",
    "  ServerAliveInterval 5",
    "  ServerAliveCountMax 6",
    "  LogLevel ERROR",
    "",
  );
  const path = join(dir, "ssh_config");
  writeFileSync(path, lines.join("\n"));
  return path;
}

/** Ssh runs ssh/scp inside a namespace against one config. */
export class Ssh {
  constructor(
    readonly netns: string,
    readonly configPath: string,
  ) {}

  private async run(argv: string[], timeoutMs: number, input?: string): Promise<SshResult> {
    const p = Bun.spawn(["ip", "netns", "exec", this.netns, ...argv], {
      stdin: input === undefined ? "ignore" : new TextEncoder().encode(input),
      stdout: "pipe",
      stderr: "pipe",
    });
    const timer = setTimeout(() => p.kill("SIGKILL"), timeoutMs);
    const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
    clearTimeout(timer);
    if (p.signalCode === "SIGKILL") return { stdout, stderr: `${stderr}\n(killed after ${timeoutMs} ms)`, code: 124 };
    return { stdout, stderr, code };
  }

  /** exec runs a shell command on host; 255 is ssh's own failure. */
  exec(host: string, command: string, opts: { timeoutMs?: number; input?: string } = {}): Promise<SshResult> {
    return this.run(["ssh", "-F", this.configPath, host, "--", command], opts.timeoutMs ?? 120_000, opts.input);
  }

  /** copyTo copies a local file to host:remote (scp over SFTP, through the master). */
  async copyTo(host: string, localPath: string, remotePath: string, timeoutMs = 300_000): Promise<void> {
    const r = await this.run(["scp", "-q", "-F", this.configPath, localPath, `${host}:${remotePath}`], timeoutMs);
    if (r.code !== 0) throw new Error(`scp ${localPath} ${host}:${remotePath} exited ${r.code}: ${r.stderr.trim()}`);
  }

  /** copyFrom copies host:remote to a local path. */
  async copyFrom(host: string, remotePath: string, localPath: string, timeoutMs = 300_000): Promise<void> {
    const r = await this.run(["scp", "-q", "-F", this.configPath, `${host}:${remotePath}`, localPath], timeoutMs);
    if (r.code !== 0) throw new Error(`scp ${host}:${remotePath} ${localPath} exited ${r.code}: ${r.stderr.trim()}`);
  }

  /**
   * startMaster opens host's master connection in the foreground of a
   * process we own (killed by PID in stop), once sshd answers.
   */
  async startMaster(host: string, timeoutMs: number): Promise<ReturnType<typeof Bun.spawn>> {
    const deadline = performance.now() + timeoutMs;
    // A master killed earlier may have left its socket, which would make the new one refuse to listen.
    const resolved = await this.run(["ssh", "-F", this.configPath, "-G", host], 5000);
    const controlPath = /^controlpath (.+)$/m.exec(resolved.stdout)?.[1];
    if (controlPath) rmSync(controlPath, { force: true });
    for (;;) {
      const master = Bun.spawn(
        [
          "ip",
          "netns",
          "exec",
          this.netns,
          "ssh",
          "-F",
          this.configPath,
          "-N",
          "-o",
          "ControlMaster=yes",
          "-o",
          "ControlPersist=no",
          "-o",
          "ConnectTimeout=3",
          host,
        ],
        { stdin: "ignore", stdout: "ignore", stderr: "pipe" },
      );
      for (let i = 0; i < 100 && master.exitCode === null; i++) {
        const check = await this.run(["ssh", "-F", this.configPath, "-O", "check", host], 5000);
        if (check.code === 0) return master;
        await Bun.sleep(100);
      }
      master.kill("SIGKILL");
      await master.exited;
      const why = await new Response(master.stderr as ReadableStream<Uint8Array>).text();
      if (performance.now() > deadline) throw new Error(`ssh to ${host} not up after ${timeoutMs} ms: ${why.trim()}`);
      await Bun.sleep(500);
    }
  }
}
