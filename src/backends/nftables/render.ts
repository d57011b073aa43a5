/**
 * The gateway's nftables ruleset for a set of experiment plans. One table, `inet fwc`, replaced atomically by
 * one `nft -f` transaction (`table` + `delete table` + the new table: nothing else on the gateway is touched,
 * never `flush ruleset`). Per-packet cost does not grow with the number of grants: every grant is an element
 * of a concatenated set or map, each commented with its experiment and source position, so one experiment's
 * elements can be changed without rewriting the rest.
 */

import ipaddr from "ipaddr.js";
import type { Plan } from "../../plan/plan.js";
import type { TestbedConfig } from "../../testbed/config.js";

export const TABLE = "fwc";

interface Element {
  key: string;
  comment: string;
}

/** Characters nft accepts inside a quoted comment, without any quoting games. */
function comment(s: string): string {
  return s.replace(/[^A-Za-z0-9 ./:_,=+-]/g, "_").slice(0, 120);
}

/** "proj/exp1 6:97": the experiment and the grant's line and column in its NS file (short: nft parses every byte). */
const where = (exp: string, o: { line: number; column: number }) => comment(`${exp} ${o.line}:${o.column}`);

function set(name: string, type: string, elements: Element[], flags: string[] = []): string {
  const lines = [`\tset ${name} {`, `\t\ttype ${type}`];
  if (flags.length > 0) lines.push(`\t\tflags ${flags.join(",")}`);
  if (elements.length > 0) {
    const unique = [...new Map(elements.map((e) => [e.key, e])).values()];
    // A map element's comment belongs to its key: `key comment "..." : value`.
    const text = (e: Element) => {
      const [k, v] = e.key.split(" : ");
      return v === undefined ? `${k} comment "${e.comment}"` : `${k} comment "${e.comment}" : ${v}`;
    };
    lines.push(`\t\telements = {\n${unique.map((e) => `\t\t\t${text(e)}`).join(",\n")}\n\t\t}`);
  }
  lines.push("\t}");
  return lines.join("\n");
}

function map(name: string, type: string, elements: Element[], flags: string[] = []): string {
  return set(name, type, elements, flags).replace(`\tset ${name} {`, `\tmap ${name} {`);
}

/** One element of an interval set: a network and a port range, plus the fixed parts of its key. */
interface Box {
  group: string;
  cidr: string;
  lo: number;
  hi: number;
  key: (cidr: string, ports: string) => string;
  comment: string;
}

const contains = (outer: string, inner: string): boolean => {
  const [oa, ol] = ipaddr.parseCIDR(outer);
  const [ia, il] = ipaddr.parseCIDR(inner);
  return oa.kind() === ia.kind() && il >= ol && ia.match(oa, ol);
};

/**
 * nft refuses interval elements that overlap. Grants are a union, so each box gives up the ports that a box of
 * the same group whose network contains its network already covers (networks nest or are disjoint), and
 * nothing is lost. Wider networks come first.
 */
function disjoint(boxes: Box[]): Element[] {
  const out: Element[] = [];
  const kept: Box[] = [];
  const order = [...boxes].sort((a, b) => Number(a.cidr.split("/")[1]) - Number(b.cidr.split("/")[1]));
  for (const b of order) {
    let pieces: [number, number][] = [[b.lo, b.hi]];
    for (const k of kept) {
      if (k.group !== b.group || !contains(k.cidr, b.cidr)) continue;
      pieces = pieces.flatMap(([lo, hi]): [number, number][] => {
        if (k.hi < lo || k.lo > hi) return [[lo, hi]];
        const rest: [number, number][] = [];
        if (lo < k.lo) rest.push([lo, k.lo - 1]);
        if (hi > k.hi) rest.push([k.hi + 1, hi]);
        return rest;
      });
    }
    for (const [lo, hi] of pieces) {
      kept.push({ ...b, lo, hi });
      out.push({ key: b.key(b.cidr, lo === hi ? String(lo) : `${lo}-${hi}`), comment: b.comment });
    }
  }
  return out;
}

export interface RenderInput {
  testbed: TestbedConfig;
  plans: Plan[];
}

export interface SetDef {
  kind: "set" | "map";
  name: string;
  /** nft's type, `a . b` for concatenations and `key : value` for maps. */
  type: string;
  elements: Element[];
  interval?: boolean;
}

interface Rule {
  /** A comment line written before the rule in the nft file. */
  note?: string;
  text: string;
}

interface Chain {
  name: string;
  type: "nat" | "filter";
  hook: "prerouting" | "postrouting" | "forward";
  priority: "dstnat" | "srcnat" | "filter";
  rules: Rule[];
}

export interface Ruleset {
  header: string;
  defs: SetDef[];
  chains: Chain[];
}

/** What the ruleset holds, independent of how it is written (nft text or nft JSON). */
export function buildRuleset({ testbed, plans }: RenderInput): Ruleset {
  const out = testbed.gateway.outside;
  const gw4 = testbed.gateway.ipv4;
  const nodes4: Element[] = [];
  const nodes6: Element[] = [];
  const rdr4: Element[] = [];
  const rdr4src: Box[] = [];
  // Public addresses the gateway translates: its own and the dedicated ones.
  const pub4: Element[] = [{ key: gw4, comment: "gateway" }];
  const out4: Box[] = [];
  const out4all: Box[] = [];
  const out6: Box[] = [];
  const out6all: Box[] = [];
  const snat4: Element[] = [];
  const ded4: Element[] = [];
  const ded4nodes: Element[] = [];
  const open6: Box[] = [];
  const open6src: Box[] = [];
  const open6all: Element[] = [];
  const open6nodes: Element[] = [];

  for (const p of plans) {
    const exp = p.experiment;
    const dedicatedBy = new Map(p.dedicated.map((d) => [d.node, d]));
    for (const n of p.nodes) {
      if (n.ipv4 !== undefined) {
        nodes4.push({ key: n.ipv4, comment: comment(`${exp} ${n.node}`) });
        const d = dedicatedBy.get(n.node);
        snat4.push({
          key: `${n.ipv4} : ${d?.address ?? gw4}`,
          comment: comment(`${exp} ${n.node}${d ? " dedicated" : ""}`),
        });
      }
      if (n.ipv6 !== undefined) nodes6.push({ key: n.ipv6, comment: comment(`${exp} ${n.node}`) });
    }
    for (const e of p.inbound) {
      const c = where(exp, e.origin);
      // Restricted grants are translated only for their sources: nothing else reaches the node through them.
      // Grants of one service share its gateway port, so their nested sources are merged by disjoint().
      const sources = e.sources.filter((x) => !x.includes(":"));
      // A range is one element per port: nat maps translate addresses, not port offsets.
      for (let i = 0; i <= e.portEnd - e.port; i++) {
        const from = `${e.external.address} . ${e.proto} . ${e.external.port + i}`;
        const to = `${e.nodeAddress} . ${e.port + i}`;
        if (e.sources.length === 0) rdr4.push({ key: `${from} : ${to}`, comment: c });
        for (const src of sources)
          rdr4src.push({
            group: `${from} : ${to}`,
            cidr: src,
            lo: 0,
            hi: 0,
            key: (h) => `${h} . ${from} : ${to}`,
            comment: c,
          });
      }
    }
    for (const g of p.outbound) {
      const c = where(exp, g.origin);
      const any = g.port === 0 && g.portEnd === 0;
      for (const n of p.nodes) {
        const src = g.family === 4 ? n.ipv4 : n.ipv6;
        if (src === undefined) continue;
        if (g.proto === "all")
          (g.family === 4 ? out4all : out6all).push({
            group: src,
            cidr: g.host,
            lo: 0,
            hi: 0,
            key: (h) => `${src} . ${h}`,
            comment: c,
          });
        else
          (g.family === 4 ? out4 : out6).push({
            group: `${src} ${g.proto}`,
            cidr: g.host,
            lo: any ? 0 : g.port,
            hi: any ? 65535 : g.portEnd,
            key: (h, ps) => `${src} . ${h} . ${g.proto} . ${ps}`,
            comment: c,
          });
      }
    }
    for (const d of p.dedicated) {
      const c = where(exp, d.origin);
      ded4.push({ key: `${d.address} : ${d.nodeAddress}`, comment: c });
      pub4.push({ key: d.address, comment: c });
      ded4nodes.push({ key: d.nodeAddress, comment: c });
    }
    for (const o of p.open6) {
      const c = where(exp, o.origin);
      open6nodes.push({ key: o.nodeAddress, comment: c });
      if (o.proto === "all") {
        if (o.sources.length === 0) open6all.push({ key: o.nodeAddress, comment: c });
        continue;
      }
      if (o.sources.length === 0)
        open6.push({
          group: o.proto,
          cidr: `${o.nodeAddress}/128`,
          lo: o.port,
          hi: o.portEnd,
          key: (_h, ps) => `${o.nodeAddress} . ${o.proto} . ${ps}`,
          comment: c,
        });
      for (const s of o.sources.filter((x) => x.includes(":")))
        open6src.push({
          group: `${o.nodeAddress} ${o.proto}`,
          cidr: s,
          lo: o.port,
          hi: o.portEnd,
          key: (h, ps) => `${h} . ${o.nodeAddress} . ${o.proto} . ${ps}`,
          comment: c,
        });
    }
  }

  const defs: SetDef[] = [
    { kind: "set", name: "nodes4", type: "ipv4_addr", elements: nodes4 },
    { kind: "set", name: "nodes6", type: "ipv6_addr", elements: nodes6 },
    {
      kind: "map",
      name: "rdr4",
      type: "ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service",
      elements: rdr4,
    },
    {
      kind: "map",
      name: "rdr4src",
      type: "ipv4_addr . ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service",
      elements: disjoint(rdr4src),
      interval: true,
    },
    { kind: "set", name: "pub4", type: "ipv4_addr", elements: pub4 },
    {
      kind: "set",
      name: "out4",
      type: "ipv4_addr . ipv4_addr . inet_proto . inet_service",
      elements: disjoint(out4),
      interval: true,
    },
    { kind: "set", name: "out4all", type: "ipv4_addr . ipv4_addr", elements: disjoint(out4all), interval: true },
    {
      kind: "set",
      name: "out6",
      type: "ipv6_addr . ipv6_addr . inet_proto . inet_service",
      elements: disjoint(out6),
      interval: true,
    },
    { kind: "set", name: "out6all", type: "ipv6_addr . ipv6_addr", elements: disjoint(out6all), interval: true },
    { kind: "map", name: "snat4", type: "ipv4_addr : ipv4_addr", elements: snat4 },
    { kind: "map", name: "ded4", type: "ipv4_addr : ipv4_addr", elements: ded4 },
    { kind: "set", name: "ded4nodes", type: "ipv4_addr", elements: ded4nodes },
    {
      kind: "set",
      name: "open6",
      type: "ipv6_addr . inet_proto . inet_service",
      elements: disjoint(open6),
      interval: true,
    },
    {
      kind: "set",
      name: "open6src",
      type: "ipv6_addr . ipv6_addr . inet_proto . inet_service",
      elements: disjoint(open6src),
      interval: true,
    },
    { kind: "set", name: "open6all", type: "ipv6_addr", elements: open6all },
    { kind: "set", name: "open6nodes", type: "ipv6_addr", elements: open6nodes },
  ];
  const header = `Generated by fwc for ${plans.length === 1 ? plans[0]!.experiment : `${plans.length} experiments`}`;
  return { header, defs, chains: chains(out) };
}

// ---- the rules: fixed, only the outside interface varies ----

function chains(iface: string): Chain[] {
  const q = `"${iface}"`;
  return [
    {
      name: "prerouting",
      type: "nat",
      hook: "prerouting",
      priority: "dstnat",
      rules: [
        {
          text: `iifname ${q} meta l4proto { tcp, udp } dnat ip to ip saddr . ip daddr . meta l4proto . th dport map @rdr4src`,
        },
        {
          text: `iifname ${q} dnat ip to ip daddr . meta l4proto . th dport map @rdr4`,
        },
        {
          text: `iifname ${q} meta l4proto { tcp, udp } dnat ip to ip daddr map @ded4`,
        },
      ],
    },
    {
      name: "postrouting",
      type: "nat",
      hook: "postrouting",
      priority: "srcnat",
      rules: [
        {
          text: `oifname ${q} snat ip to ip saddr map @snat4`,
        },
      ],
    },
    {
      name: "forward",
      type: "filter",
      hook: "forward",
      priority: "filter",
      rules: [
        {
          text: "ct state established,related accept",
        },
        {
          note: "The gateway translates only granted connections (the maps above): what it translated is granted.",
          text: `iifname ${q} ct status dnat ct original ip daddr @pub4 accept`,
        },
        {
          text: `oifname ${q} ip saddr . ip daddr . meta l4proto . th dport @out4 accept`,
        },
        {
          text: `oifname ${q} ip saddr . ip daddr @out4all accept`,
        },
        {
          text: `oifname ${q} ip saddr @ded4nodes meta l4proto { tcp, udp } accept`,
        },
        {
          text: `oifname ${q} ip6 saddr . ip6 daddr . meta l4proto . th dport @out6 accept`,
        },
        {
          text: `oifname ${q} ip6 saddr . ip6 daddr @out6all accept`,
        },
        {
          text: `iifname ${q} ip6 daddr . meta l4proto . th dport @open6 accept`,
        },
        {
          text: `iifname ${q} ip6 saddr . ip6 daddr . meta l4proto . th dport @open6src accept`,
        },
        {
          text: `iifname ${q} ip6 daddr @open6all accept`,
        },
        {
          text: `iifname ${q} ip6 daddr @open6nodes meta l4proto ipv6-icmp accept`,
        },
        {
          note: "Anything else to or from an experiment node is dropped; other traffic is not fwc's to judge.",
          text: "ip daddr @nodes4 drop",
        },
        { text: "ip saddr @nodes4 drop" },
        { text: "ip6 daddr @nodes6 drop" },
        { text: "ip6 saddr @nodes6 drop" },
      ],
    },
  ];
}

/** The ruleset as an `nft -f` file: one transaction that replaces table inet fwc only. */
export function renderNftables(input: RenderInput): string {
  const r = buildRuleset(input);
  const lines = [
    "#!/usr/sbin/nft -f",
    // Kept short: nft's scanner is slow on long comment lines (a list of 1,000 experiments cost 50 ms).
    `# ${r.header}. One transaction: it replaces table inet ${TABLE} only.`,
    `table inet ${TABLE} {}`,
    `delete table inet ${TABLE}`,
    `table inet ${TABLE} {`,
    ...r.defs.map((d) => (d.kind === "map" ? map : set)(d.name, d.type, d.elements, d.interval ? ["interval"] : [])),
  ];
  for (const c of r.chains) {
    lines.push("", `\tchain ${c.name} {`, `\t\ttype ${c.type} hook ${c.hook} priority ${c.priority}; policy accept;`);
    for (const rule of c.rules) {
      if (rule.note !== undefined) lines.push(`\t\t# ${rule.note}`);
      lines.push(`\t\t${rule.text}`);
    }
    lines.push("\t}");
  }
  lines.push("}");
  return `${lines.join("\n")}\n`;
}
