// The controller side of the deployment test: runs the role with
// ansible-playbook against a lab (the tunnel_json callback gives one JSON
// document per run), and serves a release directory over HTTP as
// `npm run release` lays one out.
import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tunnelBinary } from "../support/binary.ts";
import type { Lab } from "./lab.ts";

const ROLES = new URL("../../deploy/ansible/roles/", import.meta.url).pathname;
const CALLBACKS = new URL("../deploy/callback_plugins/", import.meta.url).pathname;

interface TaskResult {
  changed?: boolean;
  results?: { changed: boolean; stdout: string; tunnel_iface?: { name: string } }[];
}

export interface PlayResult {
  code: number;
  seconds: number;
  stats: Record<string, { changed: number; failed: number; unreachable: number; ok: number }>;
  /** results of the task named `task`, by host. */
  task(name: string): Record<string, TaskResult>;
  /** The names (without the role prefix) of the tasks that reported a change on host, in order. */
  changedTasks(host: string): string[];
  /** The slowest tasks, "seconds name", for the figures: where a run's time goes. */
  slowest(n: number): string[];
  raw: string;
}

/**
 * How ansible-playbook runs the modules: "linear" is Ansible's own default
 * (a new python3 per module run, over SSH); "mitogen" is Debian's
 * ansible-mitogen (mitogen_linear: the same tasks in the same order and the
 * same module code, run by one Python interpreter kept alive on each host).
 */
export type Strategy = "linear" | "mitogen";

const MITOGEN_STRATEGIES = "/usr/lib/python3/dist-packages/ansible_mitogen/plugins/strategy";

/** play runs the role on every host of inv (a site.yml with gather_facts off, as the role needs none). */
export async function play(lab: Lab, inv: string, extra: string[] = [], strategy: Strategy = "linear"): Promise<PlayResult> {
  const playbook = join(lab.dir, "site.yml");
  writeFileSync(playbook, "---\n- name: Deploy tunnel\n  hosts: all\n  gather_facts: false\n  roles:\n    - role: tunnel\n");
  const mitogen: Record<string, string> =
    strategy === "mitogen" ? { ANSIBLE_STRATEGY_PLUGINS: MITOGEN_STRATEGIES, ANSIBLE_STRATEGY: "mitogen_linear" } : { ANSIBLE_STRATEGY: "linear" };
  const t0 = performance.now();
  const r = await lab.hostRun(["ansible-playbook", "-i", inv, playbook, ...extra], {
    env: { ...lab.ansibleEnv(), ANSIBLE_ROLES_PATH: ROLES, ANSIBLE_STDOUT_CALLBACK: "tunnel_json", ANSIBLE_CALLBACK_PLUGINS: CALLBACKS, ...mitogen },
    timeoutMs: 1_200_000,
  });
  const seconds = (performance.now() - t0) / 1000;
  let doc: { stats: PlayResult["stats"]; plays: { tasks: { task: { name: string; seconds?: number }; hosts: Record<string, unknown> }[] }[] };
  try {
    doc = JSON.parse(r.stdout.slice(r.stdout.indexOf("{")));
  } catch {
    throw new Error(`ansible-playbook ${extra.join(" ")} (exit ${r.code}) printed no JSON:\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`);
  }
  const tasks = doc.plays.flatMap((p) => p.tasks);
  return {
    code: r.code,
    seconds,
    stats: doc.stats,
    raw: r.stdout + r.stderr,
    task: (name) => {
      const t = tasks.find((x) => x.task.name === name || x.task.name.endsWith(`: ${name}`));
      if (!t) throw new Error(`no task '${name}' in the play (has ${tasks.map((x) => x.task.name).join(", ")})`);
      return t.hosts as Record<string, TaskResult>;
    },
    changedTasks: (host) =>
      tasks
        .filter((t) => {
          const r = t.hosts[host] as TaskResult | undefined;
          return r?.changed === true || (r?.results ?? []).some((x) => x.changed);
        })
        .map((t) => t.task.name.replace(/^[^:]+ : /, "")),
    slowest: (n) =>
      [...tasks]
        .sort((x, y) => (y.task.seconds ?? 0) - (x.task.seconds ?? 0))
        .slice(0, n)
        .map((t) => `${(t.task.seconds ?? 0).toFixed(1)} ${t.task.name}`),
  };
}

export function expectClean(r: PlayResult, what: string): void {
  const bad = Object.entries(r.stats).filter(([, s]) => s.failed > 0 || s.unreachable > 0);
  if (r.code !== 0 || bad.length > 0) throw new Error(`${what}: exit ${r.code}, ${JSON.stringify(r.stats)}\n${r.raw.slice(-4000)}`);
}

/**
 * serveRelease lays out a release directory as `npm run release` publishes
 * one (an archive per build holding tunnel-VERSION-BUILD/tunnel, and
 * SHA256SUMS) and serves it over HTTP on the lab's host address.
 */
export function serveRelease(lab: Lab, port: number): ReturnType<typeof Bun.spawn> {
  const rel = join(lab.dir, "release");
  for (const build of ["linux-x64", "linux-x64-baseline"]) {
    const top = `tunnel-0.1.0-${build}`;
    mkdirSync(join(rel, "stage", top), { recursive: true });
    copyFileSync(tunnelBinary(), join(rel, "stage", top, "tunnel"));
    const tar = Bun.spawnSync(["tar", "-I", "xz -0 -T1", "-C", join(rel, "stage"), "-cf", join(rel, `${top}.tar.xz`), top], { stderr: "pipe" });
    if (tar.exitCode !== 0) throw new Error(`tar: ${tar.stderr.toString()}`);
  }
  const sums = Bun.spawnSync(["sh", "-c", "sha256sum *.tar.xz > SHA256SUMS"], { cwd: rel, stderr: "pipe" });
  if (sums.exitCode !== 0) throw new Error(`sha256sum: ${sums.stderr.toString()}`);
  return Bun.spawn(["ip", "netns", "exec", lab.hostNs.name, "python3", "-m", "http.server", "--bind", lab.hostV4, "--directory", rel, String(port)], {
    stdout: "ignore",
    stderr: "ignore",
  });
}
