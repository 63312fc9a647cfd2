// The role's topology filter and config template, rendered by ansible-playbook
// on the controller for an inventory of three hosts (no SSH: connection
// local, nothing applied): a full mesh on one interface and a hub-and-spoke
// network with preshared keys on another. Every rendered file must pass
// `tunnel check`, hold no key material, and peer the right hosts with the
// right allowed IPs; a missing public key fails with a clear message.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describePrivileged } from "../support/privileges.ts";
import { tunnelBinary } from "../support/binary.ts";

interface RenderedPeer {
  name: string;
  public_key: string;
  endpoint: string;
  allowed_ips: string[];
  persistent_keepalive?: number;
  preshared_key_file?: string;
}
function parseTunnelToml(text: string): { interface: Record<string, unknown>; peers: RenderedPeer[] } {
  const doc = Bun.TOML.parse(text) as { interface: Record<string, unknown>; peer?: RenderedPeer[] };
  return { interface: doc.interface, peers: doc.peer ?? [] };
}

const ROLE = new URL("../../deploy/ansible/roles/tunnel/", import.meta.url).pathname;
const HOSTS = ["alpha", "beta", "gamma"] as const;
let dir = "";
const pub: Record<string, Record<string, string>> = {};
const priv: Record<string, string> = {};

function tunnel(args: string[], input?: string): string {
  const p = Bun.spawnSync([tunnelBinary(), ...args], {
    stdin: input === undefined ? "ignore" : new TextEncoder().encode(input),
    stdout: "pipe",
    stderr: "pipe",
  });
  if (p.exitCode !== 0) throw new Error(`tunnel ${args.join(" ")}: ${p.stderr.toString()}`);
  return p.stdout.toString().trim();
}

function inventory(withKeys: boolean): string {
  const psk = (a: string, b: string) => `"wg1:${[a, b].sort().join(":")}": "${tunnel(["genpsk"])}"`;
  const hosts = HOSTS.map((h, i) => {
    const keys = withKeys || h !== "gamma" ? `, tunnel_public_keys: {wg0: "${pub[h]!.wg0}", wg1: "${pub[h]!.wg1}"}` : "";
    const endpoint = h === "gamma" ? `, tunnel_endpoint: "fd00:1::13"` : "";
    return `    ${h}: {ansible_connection: local, ansible_host: 198.18.1.${11 + i}${endpoint}${keys}, tunnel_addresses: {wg0: ["198.18.100.${i + 1}/24", "fd00:100::${i + 1}/64"], wg1: ["198.18.200.${i + 1}/24"]}${h === "beta" ? `, tunnel_routed_prefixes: {wg0: ["198.18.150.0/24"]}` : ""}}`;
  });
  return [
    "all:",
    "  vars:",
    `    tunnel_config_dir: ${dir}/etc`,
    `    tunnel_out: ${dir}/out`,
    "    tunnel_interfaces:",
    "      - {name: wg0, listen_port: 51820, persistent_keepalive: 25}",
    '      - {name: wg1, listen_port: 51821, topology: hub, hubs: [alpha], networks: ["198.18.200.0/24"], preshared_keys: true}',
    `    tunnel_preshared_keys: {${psk("alpha", "beta")}, ${psk("alpha", "gamma")}}`,
    "  hosts:",
    ...hosts,
    "",
  ].join("\n");
}

const PLAYBOOK = `---
- name: Render the tunnel configs
  hosts: all
  gather_facts: false
  tasks:
    - name: Render
      ansible.builtin.template:
        src: ${ROLE}templates/tunnel.toml.j2
        dest: "{{ tunnel_out }}/{{ inventory_hostname }}-{{ tunnel_iface.name }}.toml"
        mode: "0600"
      loop: "{{ tunnel_interfaces }}"
      loop_control:
        loop_var: tunnel_iface
`;

function play(inv: string) {
  writeFileSync(join(dir, "inventory.yml"), inv);
  const p = Bun.spawnSync(["ansible-playbook", "-i", join(dir, "inventory.yml"), join(dir, "render.yml")], {
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, ANSIBLE_FILTER_PLUGINS: `${ROLE}filter_plugins`, ANSIBLE_NOCOLOR: "1", ANSIBLE_LOCAL_TEMP: join(dir, "tmp"), ANSIBLE_FORKS: "3" },
  });
  return { code: p.exitCode, out: p.stdout.toString() + p.stderr.toString() };
}

const rendered = (host: string, ifname: string) => readFileSync(join(dir, "out", `${host}-${ifname}.toml`), "utf8");

describePrivileged("Ansible role: topology filter and config template", { commands: ["ansible-playbook"] }, () => {
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "tunnel-render-"));
    for (const d of ["etc", "out", "tmp"]) mkdirSync(join(dir, d), { recursive: true });
    writeFileSync(join(dir, "render.yml"), PLAYBOOK);
    for (const h of HOSTS) {
      pub[h] = {};
      for (const ifname of ["wg0", "wg1"]) {
        priv[`${h}-${ifname}`] = tunnel(["genkey"]);
        pub[h]![ifname] = tunnel(["pubkey"], priv[`${h}-${ifname}`]);
      }
    }
    // The files a host would have: its private keys and PSKs (tunnel check reads them).
    writeFileSync(join(dir, "etc", "wg0.key"), `${tunnel(["genkey"])}\n`, { mode: 0o600 });
    writeFileSync(join(dir, "etc", "wg1.key"), `${tunnel(["genkey"])}\n`, { mode: 0o600 });
    for (const h of HOSTS) writeFileSync(join(dir, "etc", `wg1-${h}.psk`), `${tunnel(["genpsk"])}\n`, { mode: 0o600 });
  });
  afterAll(() => dir && rmSync(dir, { recursive: true, force: true }));

  test("every rendered file passes tunnel check and contains no key material", () => {
    const r = play(inventory(true));
    expect(r.out).toContain("failed=0");
    expect(r.code).toBe(0);
    for (const h of HOSTS) {
      for (const ifname of ["wg0", "wg1"]) {
        const path = join(dir, "out", `${h}-${ifname}.toml`);
        const check = Bun.spawnSync([tunnelBinary(), "check", path], { stderr: "pipe" });
        expect(check.stderr.toString()).toBe("");
        expect(check.exitCode).toBe(0);
        const text = rendered(h, ifname);
        for (const secret of Object.values(priv)) expect(text).not.toContain(secret);
        expect(text).not.toMatch(/^(private|preshared)_key\s*=/m);
      }
    }
  }, 120_000);

  test("wg0 is a full mesh: host routes of both others, routed prefixes, IPv6 endpoint in brackets", () => {
    const alpha = parseTunnelToml(rendered("alpha", "wg0"));
    expect(alpha.peers.map((p) => p.name)).toEqual(["beta", "gamma"]);
    expect(alpha.peers[0]).toMatchObject({
      public_key: pub.beta!.wg0,
      endpoint: "198.18.1.12:51820",
      allowed_ips: ["198.18.100.2/32", "fd00:100::2/128", "198.18.150.0/24"],
      persistent_keepalive: 25,
    });
    expect(alpha.peers[1]).toMatchObject({ public_key: pub.gamma!.wg0, endpoint: "[fd00:1::13]:51820", allowed_ips: ["198.18.100.3/32", "fd00:100::3/128"] });
    expect(alpha.interface).toMatchObject({
      name: "wg0",
      listen_port: 51820,
      address: ["198.18.100.1/24", "fd00:100::1/64"],
      private_key_file: `${dir}/etc/wg0.key`,
    });
    expect(parseTunnelToml(rendered("gamma", "wg0")).peers.map((p) => p.name)).toEqual(["alpha", "beta"]);
  });

  test("wg1 is hub-and-spoke: the hub peers every spoke, spokes route the network through the hub, with PSK files", () => {
    const hub = parseTunnelToml(rendered("alpha", "wg1"));
    expect(hub.peers.map((p) => [p.name, p.allowed_ips])).toEqual([
      ["beta", ["198.18.200.2/32"]],
      ["gamma", ["198.18.200.3/32"]],
    ]);
    expect(hub.peers[0]!.preshared_key_file).toBe(`${dir}/etc/wg1-beta.psk`);
    const spoke = parseTunnelToml(rendered("beta", "wg1"));
    expect(spoke.peers.map((p) => [p.name, p.allowed_ips])).toEqual([["alpha", ["198.18.200.1/32", "198.18.200.0/24"]]]);
    expect(spoke.peers[0]!.preshared_key_file).toBe(`${dir}/etc/wg1-alpha.psk`);
  });

  test("a member without a published public key fails, naming the host and the interface", () => {
    const r = play(inventory(false));
    expect(r.code).not.toBe(0);
    expect(r.out).toContain("no public key for gamma on wg0; run the role on every member of the interface in one play");
  }, 120_000);
});
