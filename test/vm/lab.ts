// The VM lab: real Debian bookworm VMs (Debian's kernel with its WireGuard
// module, systemd as PID 1, sshd, python3) booted by qemu and networked on a
// bridge inside a namespace this process owns.
//
//   const lab = await Lab.start({ vms: ["a", "b", "c"] });
//   try {
//     const a = lab.vm("a");           // LabVm: .name .v4 .v6 .mac .pid
//     await a.sshOk("ip -br addr");     // stdout; throws on non-zero exit
//     await a.ssh("false");             // {stdout, stderr, code}, never throws
//     await a.copyTo("dist/tunnel", "/usr/local/bin/tunnel");
//     lab.hostNs.exec(["ping", "-c1", a.v4]);   // the host side lives in lab.hostNs
//     const inv = lab.ansibleInventory({ tunnel_x: 1 }, { a: { tunnel_y: 2 } });
//     await lab.hostRun(["ansible-playbook", "-i", inv, "site.yml"], { env: lab.ansibleEnv() });
//   } finally {
//     await lab.stop();                 // always: kills qemu and ssh by PID, deletes the namespace
//   }
//
// Addresses (network.ts): host side lab.hostV4 = 198.19.77.1, lab.hostV6 =
// fd00:77::1 on lab.bridge; VM i (Lab.start order) 198.19.77.(11+i) and
// fd00:77::(11+i). Inside the VMs the NIC is eth0 (systemd-networkd).
// lab.sshConfigPath is an ssh_config naming every VM (`ip netns exec
// lab.hostNs.name ssh -F lab.sshConfigPath a`). Host processes that talk to
// VMs (dist/tunnel, ansible-playbook) must run inside lab.hostNs.
//
// Cost: the image is built once per inputs into /var/cache/tunnel-vmlab (about
// 70 s); each VM (by name, position, memory and CPUs) cold-boots once and is
// saved; later starts resume the saved state in a few seconds and set the
// guest clock. Under TCG a VM's WireGuard carries tens of Mb/s: test
// behaviour here, not speed. Options: memoryMiB (768), smp (1), log.
// Environment: TUNNEL_VMLAB_CACHE (cache dir), TUNNEL_VMLAB_ACCEL=kvm|tcg
// (skip the probe), TUNNEL_VMLAB_KEEP=1 (keep lab.dir with the consoles).
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Netns } from "../support/netns.ts";
import { chooseAccel, type Accel } from "./accel.ts";
import { pruneCache } from "./cache.ts";
import { ensureImage, type Image } from "./image.ts";
import { LabVm } from "./lab-vm.ts";
import { BRIDGE, createLabNetwork, HOST_V4, HOST_V6, removeStaleLabs, vmAddresses } from "./network.ts";
import { GUEST_SHARE, QemuProcess, SHARE_TAG, type VmSpec } from "./qemu.ts";
import { ensureSnapshot, overlayOn } from "./snapshot.ts";
import { Ssh, writeSshConfig, type SshResult } from "./ssh.ts";

export type { LabVm } from "./lab-vm.ts";
export type { SshResult } from "./ssh.ts";

export interface LabOptions {
  vms: string[];
  memoryMiB?: number;
  smp?: number;
  /** Progress lines (image build, boots); console.log by default. */
  log?: (line: string) => void;
}

/** Timings of one Lab.start, in ms, for reports. */
export interface LabTimings {
  image: number;
  /** Per VM: resume (or cold boot + save + resume) until SSH answers. */
  boot: Record<string, number>;
  coldBooted: string[];
  total: number;
}

const COLD_BOOT_TIMEOUT_MS = 300_000;
const RESUME_TIMEOUT_MS = 60_000;

const running = new Set<Lab>();
let exitHookInstalled = false;

/** On exit (including the SIGINT/SIGTERM path of Netns), no qemu of ours outlives us. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const lab of running) lab.killNow();
  });
}

export class Lab {
  readonly hostV4 = HOST_V4;
  readonly hostV6 = HOST_V6;
  readonly bridge = BRIDGE;
  /**
   * shareDir is exported read-only to every VM at /mnt/host (9p): put large
   * files here (dist/tunnel is 100+ MB) instead of pushing them through SSH.
   * copyTo uses it on its own.
   */
  readonly shareDir: string;
  private readonly vmsByName = new Map<string, LabVm>();
  private stopped = false;
  timings: LabTimings = { image: 0, boot: {}, coldBooted: [], total: 0 };

  private constructor(
    readonly hostNs: Netns,
    /** A scratch directory of this lab (removed by stop): configs, inventories, logs. */
    readonly dir: string,
    readonly sshConfigPath: string,
    readonly accel: Accel,
    readonly image: Image,
    private readonly ssh: Ssh,
    private readonly log: (line: string) => void,
  ) {
    this.shareDir = join(dir, "share");
    mkdirSync(this.shareDir, { recursive: true });
  }

  static async start(opts: LabOptions): Promise<Lab> {
    const t0 = performance.now();
    const log = opts.log ?? ((l: string) => console.log(`[vmlab] ${l}`));
    if (new Set(opts.vms).size !== opts.vms.length || opts.vms.some((n) => !/^[a-z][a-z0-9-]{0,9}$/.test(n))) {
      throw new Error(`VM names must be unique, lower-case, at most 10 characters: ${opts.vms.join(", ")}`);
    }
    removeStaleLabs();
    pruneCache();
    const image = await ensureImage(log);
    const tImage = performance.now() - t0;
    const accel = await chooseAccel(image);
    const addrs = opts.vms.map((name, i) => ({ name, ...vmAddresses(i, name) }));
    const specs: VmSpec[] = addrs.map((a) => ({
      name: a.name,
      mac: a.mac,
      v4Cidr: `${a.v4}/24`,
      v6Cidr: `${a.v6}/64`,
      memoryMiB: opts.memoryMiB ?? 768,
      smp: opts.smp ?? 1,
    }));
    const dir = mkdtempSync(join(tmpdir(), `tvm-${process.pid}-`));
    const ns = createLabNetwork(addrs);
    const sshConfigPath = writeSshConfig(dir, image.sshKey, await Bun.file(image.hostKeyPub).text(), addrs);
    const ssh = new Ssh(ns.name, sshConfigPath);
    const lab = new Lab(ns, dir, sshConfigPath, accel, image, ssh, log);
    for (const a of addrs) lab.vmsByName.set(a.name, new LabVm(a.name, a.v4, a.v6, a.mac, ssh, lab.shareDir));
    installExitHook();
    running.add(lab);
    lab.timings.image = tImage;
    try {
      await Promise.all(specs.map((s) => lab.bootVm(s, addrs.find((a) => a.name === s.name)!.tap)));
    } catch (e) {
      await lab.stop();
      throw e;
    }
    lab.timings.total = performance.now() - t0;
    log(
      `lab up in ${(lab.timings.total / 1000).toFixed(1)} s (${accel}; image ${(tImage / 1000).toFixed(1)} s; ${Object.entries(lab.timings.boot)
        .map(([n, ms]) => `${n} ${(ms / 1000).toFixed(1)} s`)
        .join(", ")}${lab.timings.coldBooted.length ? `; cold-booted ${lab.timings.coldBooted.join(",")}` : ""})`,
    );
    return lab;
  }

  /** vm returns the named VM, throwing for a name not given to start. */
  vm(name: string): LabVm {
    const vm = this.vmsByName.get(name);
    if (!vm) throw new Error(`no VM ${name} in this lab (has ${[...this.vmsByName.keys()].join(", ")})`);
    return vm;
  }

  get vms(): LabVm[] {
    return [...this.vmsByName.values()];
  }

  private async bootVm(spec: VmSpec, tap: string): Promise<void> {
    const t0 = performance.now();
    const vm = this.vm(spec.name);
    const startQemu = (disk: string, incoming?: string) => {
      const q = QemuProcess.start({
        spec,
        image: this.image,
        accel: this.accel,
        netns: this.hostNs.name,
        tap,
        disk,
        incoming,
        shareDir: this.shareDir,
        qmpSocket: join(this.dir, `${spec.name}.qmp`),
        serialLog: join(this.dir, `${spec.name}.console.log`),
      });
      vm.qemu = q;
      return q;
    };
    const { snapshot, created } = await ensureSnapshot(spec, this.image, this.accel, async (disk, statePath) => {
      this.log(`${spec.name}: cold boot (once; saved for later runs)`);
      const tBoot = performance.now();
      const q = startQemu(disk);
      const master = await this.waitForSsh(vm, COLD_BOOT_TIMEOUT_MS);
      const tUp = performance.now();
      // A settled guest: every unit that boot starts has run, nothing is mid-write.
      const state = await vm.ssh("systemctl is-system-running --wait; sync", { timeoutMs: 120_000 });
      if (!/running|degraded/.test(state.stdout)) throw new Error(`${spec.name}: system state ${state.stdout.trim()} ${state.stderr}`);
      const tSettled = performance.now();
      master.kill("SIGTERM");
      await master.exited;
      vm.master = null;
      await Bun.sleep(300); // sshd sees the connection close before the guest is frozen
      await q.saveState(statePath);
      const s = (a: number, b: number) => ((b - a) / 1000).toFixed(1);
      this.log(`${spec.name}: cold boot: SSH after ${s(tBoot, tUp)} s, settled ${s(tUp, tSettled)} s later, saved in ${s(tSettled, performance.now())} s`);
    });
    if (created) this.timings.coldBooted.push(spec.name);
    const disk = join(this.dir, `${spec.name}.qcow2`);
    await overlayOn(snapshot, disk);
    const tResume = performance.now();
    const q = startQemu(disk, snapshot.state);
    await q.resumeIncoming().catch((e) => {
      throw new Error(`${String(e)}\n${q.diagnostics()}`);
    });
    const tLoaded = performance.now();
    await this.waitForSsh(vm, RESUME_TIMEOUT_MS);
    const tSsh = performance.now();
    // One round trip for both: each SSH command costs about a second of emulated CPU.
    await vm.sshOk(
      `${vm.setClockCommand()} && mkdir -p ${GUEST_SHARE} && mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000 ${SHARE_TAG} ${GUEST_SHARE}`,
    );
    const s = (a: number, b: number) => ((b - a) / 1000).toFixed(1);
    this.log(
      `${spec.name}: resumed (state loaded ${s(tResume, tLoaded)} s, SSH master ${s(tLoaded, tSsh)} s, clock and share ${s(tSsh, performance.now())} s)`,
    );
    this.timings.boot[spec.name] = performance.now() - t0;
  }

  private async waitForSsh(vm: LabVm, timeoutMs: number): Promise<ReturnType<typeof Bun.spawn>> {
    try {
      const master = await Promise.race([
        this.ssh.startMaster(vm.name, timeoutMs),
        (async () => {
          await vm.qemu!.proc.exited;
          throw new Error("qemu exited");
        })(),
      ]);
      vm.master = master;
      return master;
    } catch (e) {
      throw new Error(`${vm.name}: no SSH (${String(e)})\n${vm.qemu?.diagnostics() ?? ""}`);
    }
  }

  /**
   * ansibleInventory writes a YAML inventory of every VM (ansible_host = its
   * v4, root, python3, this lab's ssh_config) with vars for all hosts and
   * hostVars per host, and returns its path.
   */
  ansibleInventory(vars: Record<string, unknown> = {}, hostVars: Record<string, Record<string, unknown>> = {}): string {
    for (const name of Object.keys(hostVars)) this.vm(name);
    const hosts = Object.fromEntries(this.vms.map((v) => [v.name, { ansible_host: v.v4, ...hostVars[v.name] }]));
    const inventory = { all: { hosts, vars: { ansible_user: "root", ansible_python_interpreter: "/usr/bin/python3", ...vars } } };
    const path = join(this.dir, `inventory-${Bun.hash(JSON.stringify(inventory)).toString(16)}.yml`);
    writeFileSync(path, `${JSON.stringify(inventory, null, 2)}\n`); // JSON is YAML
    return path;
  }

  /**
   * ansibleEnv is the environment for ansible(-playbook) against this lab: a
   * generated ansible.cfg (nothing from the working directory or ~), SSH
   * through this lab's config and its master connections, pipelining.
   */
  ansibleEnv(): Record<string, string> {
    const home = join(this.dir, "ansible");
    mkdirSync(join(home, "tmp"), { recursive: true });
    const cfg = join(home, "ansible.cfg");
    writeFileSync(
      cfg,
      [
        "[defaults]",
        "host_key_checking = True",
        "nocolor = True",
        "interpreter_python = /usr/bin/python3",
        "forks = 10",
        `local_tmp = ${join(home, "tmp")}`,
        "retry_files_enabled = False",
        "",
        "[ssh_connection]",
        `ssh_args = -F ${this.sshConfigPath}`,
        "pipelining = True",
        "",
      ].join("\n"),
    );
    return { ANSIBLE_CONFIG: cfg, ANSIBLE_HOME: home, ANSIBLE_NOCOLOR: "1", ANSIBLE_FORCE_COLOR: "0", ANSIBLE_STDOUT_CALLBACK: "default" };
  }

  /** hostRun runs argv inside lab.hostNs and returns its output; never throws for a non-zero exit (124 when killed at timeoutMs). */
  async hostRun(argv: string[], opts: { env?: Record<string, string>; timeoutMs?: number; cwd?: string } = {}): Promise<SshResult> {
    const p = Bun.spawn(["ip", "netns", "exec", this.hostNs.name, ...argv], {
      cwd: opts.cwd,
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
      env: { ...process.env, ...opts.env },
    });
    const timer = setTimeout(() => p.kill("SIGKILL"), opts.timeoutMs ?? 300_000);
    const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
    clearTimeout(timer);
    if (p.signalCode === "SIGKILL") return { stdout, stderr: `${stderr}\n(killed after ${opts.timeoutMs ?? 300_000} ms)`, code: 124 };
    return { stdout, stderr, code };
  }

  /** killNow is stop's synchronous core for the exit hook: SIGKILL our qemu and ssh masters by PID. */
  killNow(): void {
    for (const vm of this.vms) {
      for (const pid of [vm.master?.pid, vm.pid]) {
        if (pid === undefined || pid === null) continue;
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // already gone
        }
      }
    }
  }

  /** stop ends every VM and SSH master by PID, deletes the namespace and the scratch directory. Safe to call twice. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await Promise.all(
      this.vms.map(async (vm) => {
        if (vm.master) {
          vm.master.kill("SIGTERM");
          await vm.master.exited;
          vm.master = null;
        }
        await vm.qemu?.kill();
      }),
    );
    this.hostNs.delete();
    // TUNNEL_VMLAB_KEEP=1 keeps the consoles, configs and inventories for a post-mortem.
    if (process.env.TUNNEL_VMLAB_KEEP === "1") this.log(`kept ${this.dir}`);
    else rmSync(this.dir, { recursive: true, force: true });
    running.delete(this);
  }
}
