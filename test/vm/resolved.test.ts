// `dns` and `dns_search` against the real systemd-resolved (Debian 12's, in a
// lab VM; the namespace tests only have a recording stand-in for resolvectl):
// `tunnel up` registers the servers and domains for the link, `tunnel down`
// takes them away, and after a kill -9 the next `down` or `up` repairs what
// the dead daemon left. The lab image has systemd-resolved installed but off;
// this test starts it in its own VM.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { tunnelBinary } from "../support/binary.ts";
import { describePrivileged } from "../support/privileges.ts";
import { Lab, type LabVm } from "./lab.ts";
import { VM_COMMANDS } from "./requirements.ts";

const IF = "wgr";
const CONFIG = `/etc/tunnel/${IF}.toml`;
const SERVERS = ["198.18.120.53", "fd00:120::53"];
const SEARCH = "lab.test";

describePrivileged("vm: dns through the real systemd-resolved", { root: true, commands: VM_COMMANDS }, () => {
  let lab: Lab;
  let vm: LabVm;

  beforeAll(async () => {
    const bin = tunnelBinary();
    lab = await Lab.start({ vms: ["a"] });
    vm = lab.vm("a");
    await vm.copyTo(bin, "/usr/local/bin/tunnel");
    const key = (await vm.sshOk("systemctl start systemd-resolved && install -d -m 0700 /etc/tunnel && tunnel genkey")).trim();
    const toml = `[interface]\nname = "${IF}"\nprivate_key = "${key}"\naddress = ["198.18.120.2/24"]\ndns = ${JSON.stringify(SERVERS)}\ndns_search = ["${SEARCH}"]\n`;
    await vm.sshOk(`umask 077 && cat > ${CONFIG}`, { input: toml });
  }, 600_000);

  afterAll(async () => {
    await lab?.stop();
  }, 60_000);

  /** linkDns is what resolved has for the link: servers, domains and default-route, or null when it knows no such link. */
  async function linkDns(): Promise<{ servers: string; domains: string; defaultRoute: string } | null> {
    const r = await vm.ssh(`resolvectl dns ${IF} && resolvectl domain ${IF} && resolvectl default-route ${IF}`);
    if (r.code !== 0) return null;
    const [servers, domains, defaultRoute] = r.stdout
      .trim()
      .split("\n")
      .map((l) => l.replace(/^Link \d+ \([^)]*\):\s*/, ""));
    return { servers: servers ?? "", domains: domains ?? "", defaultRoute: defaultRoute ?? "" };
  }

  /** everyServer is every DNS server resolved knows, on any link. */
  const everyServer = async () => await vm.sshOk("resolvectl dns");

  const killDaemon = () =>
    vm.sshOk(`pid=$(pgrep -x -f '/usr/local/bin/tunnel -f ${IF}') && kill -9 $pid && while [ -e /sys/class/net/${IF} ]; do sleep 0.1; done`);

  test("up registers the servers and search domain for the link (every query routed there); down removes them", async () => {
    const up = await vm.sshOk(`tunnel up ${CONFIG} 2>&1`);
    expect(up).toContain(`dns ${SERVERS.join(", ")}, search ${SEARCH} set (resolvectl)`);
    expect(await linkDns()).toEqual({ servers: SERVERS.join(" "), domains: `~. ${SEARCH}`, defaultRoute: "yes" });
    const down = await vm.sshOk(`tunnel down ${IF} 2>&1`);
    expect(down).toContain(`${IF}: down`);
    expect(await linkDns()).toBeNull();
    expect(await everyServer()).not.toContain(SERVERS[0]);
    // Nothing left on disk for the next up to repair.
    expect(await vm.sshOk(`tunnel up ${CONFIG} 2>&1; tunnel down ${IF}`)).not.toContain("did not go down cleanly");
  }, 120_000);

  test("after kill -9 the next down, or the next up, repairs what the dead daemon registered", async () => {
    await vm.sshOk(`tunnel up ${CONFIG}`);
    await killDaemon();
    const down = await vm.sshOk(`tunnel down ${IF} 2>&1`);
    expect(down).toContain("did not go down cleanly");
    expect(await everyServer()).not.toContain(SERVERS[0]);

    await vm.sshOk(`tunnel up ${CONFIG}`);
    await killDaemon();
    const up = await vm.sshOk(`tunnel up ${CONFIG} 2>&1`);
    expect(up).toContain("left by an earlier run that did not go down cleanly");
    expect(up).toContain(`dns ${SERVERS.join(", ")}, search ${SEARCH} set (resolvectl)`);
    // Registered once, on the new link only.
    expect(await linkDns()).toEqual({ servers: SERVERS.join(" "), domains: `~. ${SEARCH}`, defaultRoute: "yes" });
    expect((await everyServer()).split(SERVERS[0]!).length - 1).toBe(1);
    await vm.sshOk(`tunnel down ${IF}`);
    expect(await linkDns()).toBeNull();
  }, 120_000);
});
