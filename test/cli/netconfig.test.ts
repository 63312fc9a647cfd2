// netconfig: the pure planner against hand-written live states, the ip -j
// parsers against captured output, and the whole read → plan → apply loop
// against a real kernel inside a throwaway namespace. Only 198.18.0.0/15 and
// fd00::/8 are used; the default-route test routes 0.0.0.0/0 and ::/0 inside
// the namespace only.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import {
  applyNetChanges,
  netnsRunner,
  parseAddresses,
  parseRoutes,
  parseRules,
  planNetChanges,
  planTeardown,
  readLiveNetState,
  teardownNet,
  type DesiredNetState,
  type LiveNetState,
  type NetRunner,
} from "../../src/cli/netconfig.ts";
import { CliError } from "../../src/cli/errors.ts";
import { defaultRunner, readSysctl } from "../../src/cli/netconfig-runner.ts";
import { Netns, removeStale, run } from "../support/netns.ts";
import { describePrivileged } from "../support/privileges.ts";

function live(over: Partial<LiveNetState> = {}): LiveNetState {
  return {
    name: "tn0",
    exists: true,
    up: true,
    mtu: 1420,
    addresses: [],
    routes: [],
    otherRoutes: [],
    tableRoutes: [],
    policy: { v4: { table: null, markRules: [], suppressRules: 0 }, v6: { table: null, markRules: [], suppressRules: 0 }, srcValidMark: false },
    ...over,
  };
}

const want = (over: Partial<DesiredNetState> = {}): DesiredNetState => ({ addresses: [], mtu: 1420, routes: [], ...over });
const descriptions = (l: LiveNetState, d: DesiredNetState) => planNetChanges(l, d).changes.map((c) => c.description);

describe("planNetChanges (pure)", () => {
  test.each<[string, LiveNetState, DesiredNetState, string[]]>([
    ["nothing to do", live(), want(), []],
    [
      "fresh link: addresses, then mtu and up, then routes longest first",
      live({ up: false, mtu: 1500 }),
      want({ addresses: ["198.18.0.1/24", "fd00::1/64"], routes: ["198.18.4.0/22", "fd00:5::/64"] }),
      ["address 198.18.0.1/24 added", "address fd00::1/64 added", "mtu 1500 → 1420, link up", "route fd00:5::/64 added", "route 198.18.4.0/22 added"],
    ],
    ["mtu only", live({ mtu: 1420 }), want({ mtu: 1380 }), ["mtu 1420 → 1380"]],
    ["link down only", live({ up: false }), want(), ["link up"]],
    [
      "an address without a length is a host; input text is canonicalised",
      live({ addresses: ["198.18.0.1/32", "fd00::1/128"] }),
      want({ addresses: ["198.18.0.1", "FD00:0::1"] }),
      [],
    ],
    [
      "changed address: removal first",
      live({ addresses: ["198.18.0.1/24", "fe80::1/64"], otherRoutes: ["198.18.0.0/24", "fe80::/64"] }),
      want({ addresses: ["198.18.0.2/24"] }),
      ["address 198.18.0.1/24 removed", "address 198.18.0.2/24 added"],
    ],
    [
      "a kept secondary of a removed IPv4 address is re-added",
      live({ addresses: ["198.18.0.1/24", "198.18.0.2/24"] }),
      want({ addresses: ["198.18.0.2/24"] }),
      ["address 198.18.0.1/24 removed", "address 198.18.0.2/24 re-added (the kernel drops it with a removed address of its subnet)"],
    ],
    [
      "prefixes covered by the address's subnet route get no route (wg-quick's `route show dev match`)",
      live(),
      want({ addresses: ["198.18.0.1/24", "fd00::1/64"], routes: ["198.18.0.7/32", "198.18.0.0/24", "fd00::/64", "198.18.0.0/16"] }),
      ["address 198.18.0.1/24 added", "address fd00::1/64 added", "route 198.18.0.0/16 added"],
    ],
    [
      "a route removed in the same plan does not cover",
      live({ routes: ["198.18.0.0/16"] }),
      want({ routes: ["198.18.1.0/24"] }),
      ["route 198.18.0.0/16 removed", "route 198.18.1.0/24 added"],
    ],
    [
      "the subnet of a removed address does not cover",
      live({ addresses: ["198.18.0.1/24"], otherRoutes: ["198.18.0.0/24"] }),
      want({ addresses: ["198.18.2.1/24"], routes: ["198.18.0.0/25"] }),
      ["address 198.18.0.1/24 removed", "address 198.18.2.1/24 added", "route 198.18.0.0/25 added"],
    ],
    [
      "a managed route that is still wanted stays, even when now covered",
      live({ routes: ["198.18.0.0/24", "fd00:9::/64"], addresses: [] }),
      want({ addresses: ["198.18.0.1/24"], routes: ["198.18.0.0/24"] }),
      ["address 198.18.0.1/24 added", "route fd00:9::/64 removed"],
    ],
    [
      "default routes: table 51820, rules for both families, src_valid_mark once",
      live(),
      want({ routes: ["0.0.0.0/0", "::/0"] }),
      [
        "route 0.0.0.0/0 added to table 51820",
        "IPv4 rule 'not fwmark 51820 lookup 51820' added",
        "IPv4 rule 'lookup main suppress_prefixlength 0' added",
        "sysctl net.ipv4.conf.all.src_valid_mark=1",
        "route ::/0 added to table 51820",
        "IPv6 rule 'not fwmark 51820 lookup 51820' added",
        "IPv6 rule 'lookup main suppress_prefixlength 0' added",
      ],
    ],
    [
      "default route with the config's fwmark and an existing shared suppress rule",
      live({ policy: { v4: { table: null, markRules: [51820], suppressRules: 1 }, v6: { table: null, markRules: [], suppressRules: 0 }, srcValidMark: true } }),
      want({ routes: ["0.0.0.0/0"], fwmark: 0xca6d }),
      ["route 0.0.0.0/0 added to table 51821", "IPv4 rule 'not fwmark 51821 lookup 51821' added"],
    ],
    [
      "without a fwmark the next free table is taken (another tunnel holds 51820)",
      live({ policy: { v4: { table: null, markRules: [51820], suppressRules: 1 }, v6: { table: null, markRules: [], suppressRules: 0 }, srcValidMark: true } }),
      want({ routes: ["0.0.0.0/0"] }),
      ["route 0.0.0.0/0 added to table 51821", "IPv4 rule 'not fwmark 51821 lookup 51821' added"],
    ],
    [
      "dropping the default route removes its table route and rules, keeping the suppress rule another tunnel needs",
      live({
        policy: { v4: { table: 51821, markRules: [51820, 51821], suppressRules: 1 }, v6: { table: null, markRules: [], suppressRules: 0 }, srcValidMark: true },
      }),
      want(),
      ["route 0.0.0.0/0 removed from table 51821", "IPv4 rule 'not fwmark 51821 lookup 51821' removed"],
    ],
  ])("%s", (_name, l, d, expected) => {
    expect(descriptions(l, d)).toEqual(expected);
  });

  test("the plan exposes the fwmark the device must carry", () => {
    expect(planNetChanges(live(), want()).fwmark).toBeNull();
    expect(planNetChanges(live(), want({ fwmark: 7 })).fwmark).toBe(7);
    expect(planNetChanges(live(), want({ routes: ["::/0"] })).fwmark).toBe(51820);
    const reused = live({
      policy: { v4: { table: 51822, markRules: [51822], suppressRules: 1 }, v6: { table: null, markRules: [], suppressRules: 0 }, srcValidMark: true },
    });
    expect(planNetChanges(reused, want({ routes: ["0.0.0.0/0"] }))).toEqual({ changes: [], fwmark: 51822 });
  });

  test("commands are the ones wg-quick runs", () => {
    const plan = planNetChanges(live({ up: false }), want({ addresses: ["fd00::1/64"], routes: ["198.18.4.0/22", "0.0.0.0/0"], mtu: 1380 }));
    expect(plan.changes.map((c) => [c.command.tool, ...c.command.args].join(" "))).toEqual([
      "ip -6 address replace fd00::1/64 dev tn0",
      "ip link set dev tn0 mtu 1380 up",
      "ip -4 route replace 198.18.4.0/22 dev tn0",
      "ip -4 route replace 0.0.0.0/0 dev tn0 table 51820",
      "ip -4 rule add not fwmark 51820 table 51820",
      "ip -4 rule add table main suppress_prefixlength 0",
      "sysctl -q net.ipv4.conf.all.src_valid_mark=1",
    ]);
  });

  test("teardown removes duplicate suppress rules only when no other tunnel's mark rule is left", () => {
    const alone = live({
      policy: { v4: { table: 51820, markRules: [51820], suppressRules: 2 }, v6: { table: null, markRules: [], suppressRules: 0 }, srcValidMark: true },
    });
    expect(planTeardown(alone).map((c) => c.description)).toEqual([
      "route 0.0.0.0/0 removed from table 51820",
      "IPv4 rule 'not fwmark 51820 lookup 51820' removed",
      "IPv4 rule 'lookup main suppress_prefixlength 0' removed",
      "IPv4 rule 'lookup main suppress_prefixlength 0' removed",
    ]);
    expect(planTeardown(live())).toEqual([]);
  });
});

describe("ip -j parsers", () => {
  test("addresses of every family and scope, canonical", () => {
    const json = JSON.stringify([
      {
        ifname: "tn0",
        addr_info: [
          { family: "inet", local: "198.18.0.1", prefixlen: 24, scope: "global" },
          { family: "inet6", local: "fd00:0:0::1", prefixlen: 64, scope: "global", tentative: true },
          { family: "inet6", local: "fe80::1", prefixlen: 64, scope: "link" },
        ],
      },
    ]);
    expect(parseAddresses(json)).toEqual(["198.18.0.1/24", "fd00::1/64", "fe80::1/64"]);
  });

  test("routes: managed vs kernel, host routes without a length, the policy table, local table skipped", () => {
    const json = JSON.stringify([
      { dst: "default", table: "51820", scope: "link", flags: [] },
      { dst: "198.18.0.0/24", protocol: "kernel", scope: "link", prefsrc: "198.18.0.1", flags: [] },
      { dst: "198.18.5.1", scope: "link", flags: ["linkdown"] },
      { type: "local", dst: "198.18.0.1", table: "local", protocol: "kernel", scope: "host" },
      { type: "broadcast", dst: "198.18.0.255", table: "local", protocol: "kernel", scope: "link" },
    ]);
    expect(parseRoutes(json, 4)).toEqual({
      routes: ["198.18.5.1/32"],
      otherRoutes: ["198.18.0.0/24"],
      table: 51820,
      tableRoutes: [{ table: 51820, route: "0.0.0.0/0" }],
    });
  });

  test("rules: wg-quick's mark rule (fwmark printed in hex) and suppress rules; others ignored", () => {
    const json = JSON.stringify([
      { priority: 0, src: "all", table: "local" },
      { priority: 32764, src: "all", table: "main", suppress_prefixlen: 0 },
      { priority: 32765, not: null, src: "all", fwmark: "0xca6c", table: "51820" },
      { priority: 32765, src: "all", fwmark: "0xca6c", table: "51820" },
      { priority: 32765, not: null, src: "198.18.0.0", srclen: 24, fwmark: "0x1", table: "1" },
      { priority: 32766, src: "all", table: "main" },
    ]);
    expect(parseRules(json)).toEqual({ markRules: [51820], suppressRules: 1 });
  });
});

describe("applyNetChanges with a fake runner", () => {
  test("stops at the first failure and names the change and ip's message", async () => {
    const seen: string[] = [];
    const runner: NetRunner = {
      ip: ["ip", "-n", "x"],
      sysctl: ["sysctl"],
      exec: async (argv) => {
        seen.push(argv.join(" "));
        return argv.includes("mtu") ? { code: 2, stdout: "", stderr: "RTNETLINK answers: Operation not permitted\n" } : { code: 0, stdout: "", stderr: "" };
      },
    };
    const plan = planNetChanges(live({ up: false }), want({ addresses: ["198.18.0.1/24"], routes: ["198.18.4.0/22"] }));
    const error = await applyNetChanges("tn0", plan.changes, runner).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CliError);
    expect((error as CliError).message).toBe("tn0: link up failed: ip -n x link set dev tn0 mtu 1420 up: RTNETLINK answers: Operation not permitted");
    expect((error as CliError).exitCode).toBe(77);
    expect(seen).toEqual(["ip -n x -4 address replace 198.18.0.1/24 dev tn0", "ip -n x link set dev tn0 mtu 1420 up"]);
  });
});

describe("readLiveNetState of a link the daemon just created", () => {
  const rules = JSON.stringify([
    { priority: 0, src: "all", table: "local" },
    { priority: 32766, src: "all", table: "main" },
  ]);
  const recording = (seen: string[]): NetRunner => ({
    ip: ["ip"],
    sysctl: ["sysctl"],
    exec: async (argv) => {
      seen.push(argv.join(" "));
      if (argv[0] === "sysctl") return { code: 0, stdout: "1\n", stderr: "" };
      return { code: 0, stdout: argv.includes("rule") ? rules : "[]", stderr: "" };
    },
  });

  test("reads only the global state (rules, src_valid_mark); the link's own comes from the daemon", async () => {
    const seen: string[] = [];
    const state = await readLiveNetState("tn0", recording(seen), { up: false, mtu: 1500 });
    expect(seen.sort()).toEqual(["ip -j -4 rule show", "ip -j -6 rule show", "sysctl -n net.ipv4.conf.all.src_valid_mark"]);
    expect(state).toEqual(live({ up: false, mtu: 1500, policy: { ...live().policy, srcValidMark: true } }));
  });

  test("a link read in full costs four more ip runs", async () => {
    const seen: string[] = [];
    await readLiveNetState("tn0", recording(seen));
    expect(seen.length).toBe(7);
  });
});

describePrivileged("netconfig against the kernel (namespace)", { root: true, commands: ["ip", "sysctl"] }, () => {
  let ns: Netns;
  let runner: NetRunner;
  const plan = async (desired: DesiredNetState) => planNetChanges(await readLiveNetState("tn0", runner), desired);
  const rules = (family: "-4" | "-6") => ns.ip(family, "rule", "show");

  beforeAll(() => {
    removeStale("tnnc");
    ns = Netns.create("tnnc", "net");
    runner = netnsRunner(ns.name);
    // A dummy link needs no TUN; where the kernel lacks the dummy module, a
    // veth whose peer is up stands in (same addresses/routes behaviour).
    run(["ip", "-n", ns.name, "link", "add", "tn0", "type", "dummy"], { allowFail: true });
    if (run(["ip", "-n", ns.name, "link", "show", "dev", "tn0"], { allowFail: true }) === "") {
      ns.ip("link", "add", "tn0", "type", "veth", "peer", "name", "tn0p");
      ns.ip("link", "set", "tn0p", "up");
    }
  });

  afterAll(() => ns?.delete());

  test("a run of ip commands is one ip -batch; a failing line is named as if it ran alone, and what came before it stays", async () => {
    const cmd = (description: string, ...args: string[]) => ({ description, command: { tool: "ip" as const, args } });
    const changes = [
      cmd("address 198.18.9.1/24 added", "-4", "address", "replace", "198.18.9.1/24", "dev", "tn0"),
      cmd("route 198.18.10.0/24 added", "-4", "route", "replace", "198.18.10.0/24", "via", "198.19.255.1", "dev", "tn0"),
      cmd("route 198.18.11.0/24 added", "-4", "route", "replace", "198.18.11.0/24", "dev", "tn0"),
    ];
    const calls: string[][] = [];
    const counting: NetRunner = {
      ...runner,
      execInput: (argv, input) => {
        calls.push(argv);
        return runner.execInput!(argv, input);
      },
    };
    ns.ip("link", "set", "tn0", "up");
    const error = await applyNetChanges("tn0", changes, counting).catch((e: unknown) => e);
    expect(calls).toEqual([["ip", "-n", ns.name, "-4", "-batch", "-"]]);
    expect(error).toBeInstanceOf(CliError);
    // The gateway is not on any connected network: line 2 fails, line 3 never runs.
    expect((error as CliError).message).toStartWith(
      `tn0: route 198.18.10.0/24 added failed: ip -n ${ns.name} -4 route replace 198.18.10.0/24 via 198.19.255.1 dev tn0: `,
    );
    expect((error as CliError).message).not.toContain("Command failed");
    expect(ns.ip("-4", "address", "show", "dev", "tn0")).toContain("198.18.9.1/24");
    expect(ns.ip("-4", "route", "show", "dev", "tn0")).not.toContain("198.18.11.0/24");
    ns.ip("-4", "address", "flush", "dev", "tn0");
    ns.ip("link", "set", "tn0", "down"); // the tests below start from a link that is down
  });

  test("a TUN created just now reads the same in full as the daemon's shortcut for a new link says", async () => {
    ns.ip("tuntap", "add", "mode", "tun", "name", "tnnew");
    try {
      const full = await readLiveNetState("tnnew", runner);
      expect(full.exists).toBe(true);
      expect(await readLiveNetState("tnnew", runner, { up: full.up, mtu: full.mtu })).toEqual(full);
      expect(full.up).toBe(false);
    } finally {
      ns.ip("link", "delete", "tnnew");
    }
  });

  test("src_valid_mark read from /proc/sys equals what sysctl prints", async () => {
    const viaProcess = await readSysctl({ ...defaultRunner, procSys: false }, "net.ipv4.conf.all.src_valid_mark");
    expect(viaProcess).toMatch(/^[01]$/);
    expect(await readSysctl(defaultRunner, "net.ipv4.conf.all.src_valid_mark")).toBe(viaProcess);
    expect(await readSysctl(defaultRunner, "net.ipv4.conf.all.no_such_key")).toBeNull();
  });

  test("a missing link reads as absent", async () => {
    const state = await readLiveNetState("nosuch0", runner);
    expect(state.exists).toBe(false);
  });

  const first: DesiredNetState = {
    addresses: ["198.18.0.1/24", "fd00::1/64"],
    mtu: 1380,
    routes: ["198.18.0.7/32", "198.18.4.0/22", "fd00:5::/64", "fd00:6::1/128"],
  };

  test("apply v4+v6 addresses, MTU and routes; read back; the second plan is empty", async () => {
    const p = await plan(first);
    expect(p.changes.map((c) => c.description)).toEqual([
      "address 198.18.0.1/24 added",
      "address fd00::1/64 added",
      "mtu 1500 → 1380, link up",
      "route fd00:6::1/128 added",
      "route fd00:5::/64 added",
      "route 198.18.4.0/22 added",
    ]);
    await applyNetChanges("tn0", p.changes, runner);

    const state = await readLiveNetState("tn0", runner);
    expect(state.up).toBe(true);
    expect(state.mtu).toBe(1380);
    expect(state.addresses).toEqual(expect.arrayContaining(["198.18.0.1/24", "fd00::1/64"]));
    expect(state.routes.sort()).toEqual(["198.18.4.0/22", "fd00:5::/64", "fd00:6::1/128"]);
    expect(state.otherRoutes).toEqual(expect.arrayContaining(["198.18.0.0/24", "fd00::/64"]));
    expect(planNetChanges(state, first).changes).toEqual([]);
  });

  test("a changed desired set plans and applies only the difference", async () => {
    const second: DesiredNetState = { addresses: ["198.18.0.1/24", "fd00::2/64"], mtu: 1420, routes: ["198.18.4.0/22", "fd00:7::/64"] };
    const p = await plan(second);
    expect(p.changes.map((c) => c.description)).toEqual([
      "address fd00::1/64 removed",
      "address fd00::2/64 added",
      "mtu 1380 → 1420",
      "route fd00:5::/64 removed",
      "route fd00:6::1/128 removed",
      "route fd00:7::/64 added",
    ]);
    await applyNetChanges("tn0", p.changes, runner);
    expect((await plan(second)).changes).toEqual([]);
    expect(ns.ip("-6", "route", "show", "dev", "tn0")).not.toContain("fd00:5::");
  });

  test("default routes: wg-quick's policy routing is applied, stable, and torn down", async () => {
    const withDefault: DesiredNetState = { addresses: ["198.18.0.1/24", "fd00::2/64"], mtu: 1420, routes: ["0.0.0.0/0", "::/0", "198.18.4.0/22"] };
    const p = await plan(withDefault);
    expect(p.fwmark).toBe(51820);
    await applyNetChanges("tn0", p.changes, runner);

    expect(rules("-4")).toContain("not from all fwmark 0xca6c lookup 51820");
    expect(rules("-4")).toContain("from all lookup main suppress_prefixlength 0");
    expect(rules("-6")).toContain("not from all fwmark 0xca6c lookup 51820");
    expect(rules("-6")).toContain("from all lookup main suppress_prefixlength 0");
    expect(ns.ip("-4", "route", "show", "table", "51820")).toContain("default dev tn0");
    expect(ns.ip("-6", "route", "show", "table", "51820")).toContain("default dev tn0");
    expect(ns.exec(["sysctl", "-n", "net.ipv4.conf.all.src_valid_mark"]).trim()).toBe("1");
    // The main table keeps no default route: that is the point of the policy table.
    expect(ns.ip("-4", "route", "show", "table", "main")).not.toContain("default");

    const again = await plan(withDefault);
    expect(again).toEqual({ changes: [], fwmark: 51820 });

    const done = await teardownNet("tn0", undefined, runner);
    expect(done.length).toBe(6);
    for (const family of ["-4", "-6"] as const) {
      expect(rules(family)).not.toContain("51820");
      expect(rules(family)).not.toContain("suppress_prefixlength");
    }
    expect((await teardownNet("tn0", undefined, runner)).length).toBe(0);
  });

  test("table = N puts every route, default included, in table N with no policy rules; off removes them; auto moves them back", async () => {
    const base = { addresses: ["198.18.0.1/24", "fd00::2/64"], mtu: 1420, routes: ["0.0.0.0/0", "198.18.4.0/22", "fd00:7::/64"] };
    const numbered: DesiredNetState = { ...base, table: 7001 };
    const p = await plan(numbered);
    expect(p.fwmark).toBeNull();
    expect(p.changes.map((c) => c.description)).toEqual([
      "route 198.18.4.0/22 removed",
      "route 0.0.0.0/0 added to table 7001",
      "route 198.18.4.0/22 added to table 7001",
      "route fd00:7::/64 added to table 7001",
    ]);
    await applyNetChanges("tn0", p.changes, runner);
    expect(ns.ip("-4", "route", "show", "table", "7001")).toContain("default dev tn0");
    expect(ns.ip("-4", "route", "show", "table", "7001")).toContain("198.18.4.0/22 dev tn0");
    expect(ns.ip("-6", "route", "show", "table", "7001")).toContain("fd00:7::/64 dev tn0");
    expect(ns.ip("-4", "route", "show", "table", "main", "dev", "tn0")).not.toContain("198.18.4.0/22");
    expect(rules("-4")).not.toContain("7001");
    expect(await plan(numbered)).toEqual({ changes: [], fwmark: null });

    const main: DesiredNetState = { ...base, table: "main" };
    await applyNetChanges("tn0", (await plan(main)).changes, runner);
    expect(ns.ip("-4", "route", "show", "table", "main")).toContain("default dev tn0");
    expect(ns.ip("-4", "route", "show", "table", "7001")).toBe("");
    expect((await plan(main)).changes).toEqual([]);

    const off: DesiredNetState = { ...base, table: "off" };
    await applyNetChanges("tn0", (await plan(off)).changes, runner);
    expect(
      ns
        .ip("-4", "route", "show", "table", "all", "dev", "tn0")
        .trim()
        .split("\n")
        .map((l) => l.trim())
        .filter((l) => !l.includes("table local")),
    ).toEqual(["198.18.0.0/24 proto kernel scope link src 198.18.0.1"]);
    expect((await plan(off)).changes).toEqual([]);

    await applyNetChanges("tn0", (await plan({ ...base, table: 7001 })).changes, runner);
    const auto = await plan(base);
    expect(auto.fwmark).toBe(51820);
    await applyNetChanges("tn0", auto.changes, runner);
    expect(ns.ip("-4", "route", "show", "table", "7001")).toBe("");
    expect(ns.ip("-4", "route", "show", "table", "51820")).toContain("default dev tn0");
    expect((await plan(base)).changes).toEqual([]);
    await teardownNet("tn0", undefined, runner);
  });
});
