// Firewall rules that drop the listen port: nftables (`nft -j list ruleset`)
// and legacy iptables (`iptables-save`), read only. The analysis follows
// input-hook filter chains top to bottom and stops at the first rule whose
// only condition is the UDP destination port (or none at all): accept means
// the port is open; drop or reject means peers cannot reach us. Jumps to
// other chains and rules with more conditions (source address, interface)
// are not followed; they are left to the operator, and said so.
import type { Finding } from "./finding.ts";

export interface PortVerdict {
  port: number;
  /** "drop" (an explicit rule), "policy" (the chain's policy drops it), "open" or "unknown". */
  verdict: "drop" | "policy" | "open";
  /** Where: "nft inet filter input handle 4" or "iptables filter INPUT rule 3". */
  where: string;
  rule?: string;
}

type Json = Record<string, unknown>;

function portIn(right: unknown, port: number): boolean {
  if (typeof right === "number") return right === port;
  if (Array.isArray(right)) return right.some((r) => portIn(r, port));
  if (right !== null && typeof right === "object") {
    const o = right as Json;
    if ("set" in o) return portIn(o.set, port);
    if ("range" in o && Array.isArray(o.range)) return port >= Number(o.range[0]) && port <= Number(o.range[1]);
  }
  return false;
}

/** nftRuleEffect says what a rule does to a UDP datagram to port: null when it does not decide (other conditions, no verdict). */
function nftRuleEffect(expr: Json[], port: number): "accept" | "drop" | null {
  let verdict: "accept" | "drop" | null = null;
  for (const e of expr) {
    if ("accept" in e) verdict = "accept";
    else if ("drop" in e || "reject" in e) verdict = "drop";
    else if ("counter" in e || "log" in e || "limit" in e) continue;
    else if ("match" in e) {
      const m = e.match as { op: string; left: Json; right: unknown };
      const payload = m.left.payload as { protocol?: string; field?: string } | undefined;
      const meta = m.left.meta as { key?: string } | undefined;
      if (payload?.protocol === "udp" && payload.field === "dport" && (m.op === "==" || m.op === "in")) {
        if (!portIn(m.right, port)) return null;
      } else if (meta?.key === "l4proto" && (m.right === "udp" || m.right === 17)) continue;
      else return null; // another condition: not analysed
    } else return null; // jump, goto, queue, nat, ...: not followed
  }
  return verdict;
}

/** analyseNft finds, per port, what the input chains of an `nft -j list ruleset` document do to it. */
export function analyseNft(doc: string, ports: number[]): PortVerdict[] {
  const items = (JSON.parse(doc) as { nftables: Json[] }).nftables;
  const chains = items
    .filter((i) => "chain" in i)
    .map((i) => i.chain as Json)
    .filter((c) => c.hook === "input" && (c.type ?? "filter") === "filter");
  const out: PortVerdict[] = [];
  for (const port of ports) {
    for (const c of chains) {
      const rules = items
        .filter((i) => "rule" in i)
        .map((i) => i.rule as Json)
        .filter((r) => r.family === c.family && r.table === c.table && r.chain === c.name);
      const chainName = `nft ${c.family} ${c.table} ${c.name}`;
      let decided = false;
      for (const r of rules) {
        const effect = nftRuleEffect(r.expr as Json[], port);
        if (effect === null) continue;
        decided = true;
        out.push({ port, verdict: effect === "accept" ? "open" : "drop", where: `${chainName} handle ${r.handle}`, rule: JSON.stringify(r.expr) });
        break;
      }
      if (!decided && c.policy === "drop") out.push({ port, verdict: "policy", where: `${chainName} (policy drop)` });
    }
  }
  return out;
}

/** analyseIptablesSave does the same for the filter table's INPUT chain of `iptables-save` / `ip6tables-save` output. */
export function analyseIptablesSave(text: string, ports: number[], tool = "iptables"): PortVerdict[] {
  const lines = text.split("\n");
  let table = "";
  let policy = "ACCEPT";
  const rules: string[] = [];
  for (const l of lines) {
    if (l.startsWith("*")) table = l.slice(1).trim();
    else if (table === "filter" && l.startsWith(":INPUT ")) policy = l.split(" ")[1] ?? "ACCEPT";
    else if (table === "filter" && l.startsWith("-A INPUT ")) rules.push(l);
  }
  const out: PortVerdict[] = [];
  for (const port of ports) {
    let decided = false;
    for (const [i, r] of rules.entries()) {
      const words = r.split(/\s+/).slice(2);
      const target = words[words.indexOf("-j") + 1];
      if (words.indexOf("-j") < 0 || !["ACCEPT", "DROP", "REJECT"].includes(target ?? "")) continue;
      const conds = words.slice(0, words.indexOf("-j"));
      let matches = true;
      for (let k = 0; k < conds.length; k++) {
        const w = conds[k]!;
        const v = conds[k + 1];
        if (w === "-p" || w === "-m") {
          if (v !== "udp" && !(w === "-m" && (v === "multiport" || v === "comment" || v === "conntrack" || v === "state"))) matches = false;
          k++;
        } else if (w === "--dport" || w === "--dports") {
          const hit = (v ?? "")
            .split(",")
            .some((p) => (p.includes(":") ? port >= Number(p.split(":")[0]) && port <= Number(p.split(":")[1]) : Number(p) === port));
          if (!hit) matches = false;
          k++;
        } else if (w === "--comment") k++;
        else matches = false; // another condition (state, source, interface): not analysed
      }
      if (!matches) continue;
      decided = true;
      out.push({ port, verdict: target === "ACCEPT" ? "open" : "drop", where: `${tool} filter INPUT rule ${i + 1}`, rule: r });
      break;
    }
    if (!decided && policy === "DROP") out.push({ port, verdict: "policy", where: `${tool} filter INPUT (policy DROP)` });
  }
  return out;
}

export function firewallFindings(ports: number[], verdicts: PortVerdict[], unreadable: string[]): Finding[] {
  const out: Finding[] = [];
  for (const v of verdicts) {
    if (v.verdict === "drop") {
      out.push({
        check: "firewall",
        level: "error",
        summary: `UDP port ${v.port} is dropped by ${v.where}: peers cannot reach this interface`,
        detail: v.rule,
        fix: v.where.startsWith("nft")
          ? `nft insert rule ${v.where.split(" ").slice(1, 4).join(" ")} udp dport ${v.port} accept`
          : `iptables -I INPUT -p udp --dport ${v.port} -j ACCEPT`,
      });
    } else if (v.verdict === "policy") {
      out.push({
        check: "firewall",
        level: "warn",
        summary: `UDP port ${v.port}: ${v.where} and no rule accepts it: only peers we contact first get through (conntrack), peers that initiate are dropped`,
        fix: v.where.startsWith("nft")
          ? `nft add rule ${v.where.split(" ").slice(1, 4).join(" ")} udp dport ${v.port} accept`
          : `iptables -I INPUT -p udp --dport ${v.port} -j ACCEPT`,
      });
    }
  }
  const bad = new Set(verdicts.filter((v) => v.verdict !== "open").map((v) => v.port));
  const good = ports.filter((p) => !bad.has(p));
  if (good.length > 0 && unreadable.length === 0)
    out.push({ check: "firewall", level: "ok", summary: `UDP port ${good.join(", ")} accepted by the input chains` });
  for (const u of unreadable) out.push({ check: "firewall", level: "info", summary: u });
  return out;
}
