// The guest half of the interop tests: the Linux kernel's own WireGuard
// (`ip link add wg0 type wireguard`, configured with wg(8)) inside a lab VM,
// and pattern-checked TCP between the VM (guest/pattern_tcp.py) and the host
// namespace (test/support/tcp-push.ts).
import type { Lab, LabVm } from "./lab.ts";

export interface KernelPeer {
  privateKey: string;
  listenPort: number;
  addresses: string[];
  peer: { publicKey: string; presharedKey?: string; allowedIps: string[]; endpoint?: string; keepalive?: number };
}

/** kernelWgUp replaces the VM's wg0 with a fresh kernel interface configured as given. */
export async function kernelWgUp(vm: LabVm, cfg: KernelPeer): Promise<void> {
  const p = cfg.peer;
  const script = [
    "set -e",
    "ip link del wg0 2>/dev/null || true",
    "umask 077",
    `printf '%s\\n' '${cfg.privateKey}' > /run/wg0.key`,
    `printf '%s\\n' '${p.presharedKey ?? ""}' > /run/wg0.psk`,
    "ip link add wg0 type wireguard",
    [
      `wg set wg0 private-key /run/wg0.key listen-port ${cfg.listenPort} peer '${p.publicKey}'`,
      p.presharedKey ? "preshared-key /run/wg0.psk" : "",
      `allowed-ips ${p.allowedIps.join(",")}`,
      p.endpoint ? `endpoint ${p.endpoint}` : "",
      p.keepalive ? `persistent-keepalive ${p.keepalive}` : "",
    ]
      .filter(Boolean)
      .join(" "),
    ...cfg.addresses.map((a) => `ip addr add ${a} dev wg0${a.includes(":") ? " nodad" : ""}`),
    "ip link set wg0 mtu 1420 up",
    "rm -f /run/wg0.key /run/wg0.psk",
  ].join("\n");
  await vm.sshOk(script);
}

/** kernelWgShow reads `wg show wg0 FIELD` in the VM as public key → value. */
export async function kernelWgShow(vm: LabVm, field: string): Promise<Map<string, string>> {
  const out = await vm.sshOk(`wg show wg0 ${field}`);
  return new Map(
    out
      .split("\n")
      .filter(Boolean)
      .map((l) => l.split("\t") as [string, string]),
  );
}

/** vmPingUntil pings from the VM until one answer (the first waits for a handshake), then requires `count` more. */
export async function vmPingUntil(vm: LabVm, address: string, count = 3): Promise<void> {
  await vm.sshOk(`for i in $(seq 20); do ping -c1 -W1 ${address} >/dev/null && exec ping -c${count} -i0.2 -W2 ${address}; done; exit 1`);
}

/** vmNoAnswer requires that pings from the VM get no answer for `seconds`. */
export async function vmNoAnswer(vm: LabVm, address: string, seconds: number): Promise<void> {
  const r = await vm.ssh(`ping -c${seconds * 2} -i0.5 -W1 ${address}`);
  if (r.code === 0 || !r.stdout.includes("100% packet loss")) throw new Error(`${address} answered from ${vm.name}:\n${r.stdout}`);
}

const TCP_PUSH = new URL("../support/tcp-push.ts", import.meta.url).pathname;
const GUEST_SCRIPT = "/root/pattern_tcp.py";

/** installPatternScript copies the guest's pattern sender/checker into the VM. */
export function installPatternScript(vm: LabVm): Promise<void> {
  return vm.copyTo(new URL("./guest/pattern_tcp.py", import.meta.url).pathname, GUEST_SCRIPT);
}

async function waitForGuestListen(vm: LabVm, port: number): Promise<void> {
  await vm.sshOk(`for i in $(seq 100); do ss -Htln "sport = :${port}" | grep -q . && exit 0; sleep 0.1; done; exit 1`);
}

/** hostToVm pushes `seconds` of pattern from the host namespace to the VM, which checks every byte. */
export async function hostToVm(
  lab: Lab,
  vm: LabVm,
  address: string,
  port: number,
  seconds: number,
): Promise<{ sent: number; received: number; corrupt: number }> {
  const receiver = vm.ssh(`timeout 60 python3 ${GUEST_SCRIPT} serve ${address} ${port}`, { timeoutMs: 90_000 });
  await waitForGuestListen(vm, port);
  const sender = await lab.hostRun([process.execPath, TCP_PUSH, "send", address, String(port), String(seconds)], { timeoutMs: 60_000 });
  const got = await receiver;
  if (sender.code !== 0 || got.code !== 0)
    throw new Error(`host → ${vm.name} ${address}: sender ${sender.code} ${sender.stderr}; receiver ${got.code} ${got.stderr}`);
  const { sent } = JSON.parse(sender.stdout) as { sent: number };
  const { received, corrupt } = JSON.parse(got.stdout) as { received: number; corrupt: number };
  return { sent, received, corrupt };
}

/** vmToHost sends `bytes` of pattern from the VM to a tcp-push receiver in the host namespace. */
export async function vmToHost(
  lab: Lab,
  vm: LabVm,
  address: string,
  port: number,
  bytes: number,
): Promise<{ sent: number; received: number; corrupt: number }> {
  const receiver = lab.hostNs.spawn([process.execPath, TCP_PUSH, "serve", address, String(port)]);
  const killer = setTimeout(() => receiver.kill("SIGKILL"), 90_000);
  try {
    const stderr = receiver.stderr.getReader();
    const { value } = await stderr.read(); // "listening"
    if (!value || !new TextDecoder().decode(value).includes("listening")) throw new Error("tcp-push did not listen");
    stderr.releaseLock();
    const sender = await vm.ssh(`timeout 60 python3 ${GUEST_SCRIPT} send ${address} ${port} ${bytes}`, { timeoutMs: 90_000 });
    const out = await new Response(receiver.stdout).text();
    await receiver.exited;
    if (sender.code !== 0) throw new Error(`${vm.name} → host ${address}: sender exited ${sender.code}: ${sender.stderr}`);
    const { sent } = JSON.parse(sender.stdout) as { sent: number };
    const { received, corrupt } = JSON.parse(out) as { received: number; corrupt: number };
    return { sent, received, corrupt };
  } finally {
    clearTimeout(killer);
    receiver.kill("SIGKILL");
  }
}
