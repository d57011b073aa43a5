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

/** Characters nft accepts inside a quoted comment, without any quoting games (and no comma: lists split on it). */
function comment(s: string): string {
  return s.replace(/[^A-Za-z0-9 ./:_=+-]/g, "_").slice(0, 120);
}

/** "proj/exp1 6:97": the experiment and the grant's line and column in its NS file (short: nft parses every byte). */
const where = (exp: string, o: { source?: string; line: number; column: number }) =>
  comment(`${exp} ${o.source === "dynamic" ? "open " : ""}${o.line}:${o.column}`);

/** The experiment an element belongs to: its comment's first word (`"proj/exp1 6:97"`), or null (the gateway's). */
export const ownerOf = (c: string): string | null => /^[^ ]+\/[^ ]+/.exec(c)?.[0] ?? null;

function set(name: string, type: string, elements: Element[], flags: string[] = []): string {
  const lines = [`\tset ${name} {`, `\t\ttype ${type}`];
  if (flags.length > 0) lines.push(`\t\tflags ${flags.join(",")}`);
  if (elements.length > 0) {
    const unique = [...new Map(elements.map((e) => [e.key, e])).values()];
    lines.push(`\t\telements = {\n${unique.map((e) => `\t\t\t${elementText(e)}`).join(",\n")}\n\t\t}`);
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

export interface Element {
  key: string;
  comment: string;
}

const identity = (e: Element) => `${e.key}\u0000${e.comment}`;

/** Per set, the elements to delete and to add to turn `from` into `to` (a changed comment is a change). */
export function diffElements(from: ElementSet, to: ElementSet): { remove: ElementSet; add: ElementSet } {
  const remove: ElementSet = {};
  const add: ElementSet = {};
  for (const { name } of SETS) {
    const a = from[name] ?? [];
    const b = to[name] ?? [];
    const inB = new Set(b.map(identity));
    const inA = new Set(a.map(identity));
    const r = a.filter((e) => !inB.has(identity(e)));
    const x = b.filter((e) => !inA.has(identity(e)));
    if (r.length > 0) remove[name] = r;
    if (x.length > 0) add[name] = x;
  }
  return { remove, add };
}

export const isEmptyDelta = (d: { remove: ElementSet; add: ElementSet }) =>
  Object.keys(d.remove).length === 0 && Object.keys(d.add).length === 0;

/**
 * An element-level change as one `nft -f` transaction: deletions first (a changed element is deleted and added
 * again), then additions. Nothing but the listed elements is touched.
 */
export function renderDelta(d: { remove: ElementSet; add: ElementSet }, what: string): string {
  const lines = [`# fwc: ${comment(what)}. One transaction: only these elements of table inet ${TABLE} change.`];
  for (const { name } of SETS) {
    const r = d.remove[name];
    if (r && r.length > 0)
      lines.push(
        `delete element inet ${TABLE} ${name} { ${[...new Set(r.map((e) => e.key.split(" : ")[0]!))].join(", ")} }`,
      );
  }
  for (const { name } of SETS) {
    const x = d.add[name];
    if (x && x.length > 0) lines.push(`add element inet ${TABLE} ${name} { ${x.map(elementText).join(", ")} }`);
  }
  return `${lines.join("\n")}\n`;
}

/** A map element's comment belongs to its key: `key comment "..." : value`. */
function elementText(e: Element): string {
  const [k, v] = e.key.split(" : ");
  return v === undefined ? `${k} comment "${e.comment}"` : `${k} comment "${e.comment}" : ${v}`;
}

export interface RenderInput {
  testbed: TestbedConfig;
  plans: Plan[];
}

export interface RenderOptions {
  /** Write DNAT maps with address . port data as two maps (address, port) of the same key: see chains(). */
  splitDnat?: boolean;
}

export interface SetDef {
  kind: "set" | "map";
  name: string;
  /** nft's type, `a . b` for concatenations and `key : value` for maps. */
  type: string;
  elements: Element[];
  interval?: boolean;
}

export interface Ruleset {
  header: string;
  defs: SetDef[];
  chains: Chain[];
}

/** The sets and maps of the table, in order: name, kind, nft type, whether it holds intervals. */
const SETS: { kind: "set" | "map"; name: string; type: string; interval?: boolean }[] = [
  { kind: "set", name: "nodes4", type: "ipv4_addr" },
  { kind: "set", name: "nodes6", type: "ipv6_addr" },
  { kind: "map", name: "rdr4", type: "ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service" },
  {
    kind: "map",
    name: "rdr4src",
    type: "ipv4_addr . ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service",
    interval: true,
  },
  { kind: "set", name: "pub4", type: "ipv4_addr" },
  { kind: "set", name: "out4", type: "ipv4_addr . ipv4_addr . inet_proto . inet_service", interval: true },
  { kind: "set", name: "out4all", type: "ipv4_addr . ipv4_addr", interval: true },
  { kind: "set", name: "out6", type: "ipv6_addr . ipv6_addr . inet_proto . inet_service", interval: true },
  { kind: "set", name: "out6all", type: "ipv6_addr . ipv6_addr", interval: true },
  { kind: "map", name: "snat4", type: "ipv4_addr : ipv4_addr" },
  { kind: "map", name: "ded4", type: "ipv4_addr : ipv4_addr" },
  { kind: "set", name: "ded4nodes", type: "ipv4_addr" },
  { kind: "set", name: "open6", type: "ipv6_addr . inet_proto . inet_service", interval: true },
  { kind: "set", name: "open6src", type: "ipv6_addr . ipv6_addr . inet_proto . inet_service", interval: true },
  { kind: "set", name: "open6all", type: "ipv6_addr" },
  { kind: "set", name: "open6nodes", type: "ipv6_addr" },
];

/** Elements by set name. Every experiment's elements are its own: no key is shared with another experiment. */
export type ElementSet = Record<string, Element[]>;

/** The gateway's own elements (its shared address), part of the table whatever experiments there are. */
export function baseElements(testbed: TestbedConfig): ElementSet {
  return { pub4: [{ key: testbed.gateway.ipv4, comment: "gateway" }] };
}

/** One experiment's elements: what it adds to the table, and what removing it takes away. */
export function experimentElements(testbed: TestbedConfig, p: Plan): ElementSet {
  const gw4 = testbed.gateway.ipv4;
  const nodes4: Element[] = [];
  const nodes6: Element[] = [];
  const rdr4: Element[] = [];
  const rdr4src: Box[] = [];
  const pub4: Element[] = [];
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
  const sets: ElementSet = {
    nodes4,
    nodes6,
    rdr4,
    rdr4src: disjoint(rdr4src),
    pub4,
    out4: disjoint(out4),
    out4all: disjoint(out4all),
    out6: disjoint(out6),
    out6all: disjoint(out6all),
    snat4,
    ded4,
    ded4nodes,
    open6: disjoint(open6),
    open6src: disjoint(open6src),
    open6all,
    open6nodes,
  };
  // One element per key, the first one's comment: nft refuses the same key twice in a transaction.
  for (const [name, elements] of Object.entries(sets))
    sets[name] = [...new Map(elements.map((e) => [e.key, e])).values()];
  return sets;
}

/** What the ruleset holds, independent of how it is written (nft text or nft JSON). */
export function buildRuleset({ testbed, plans }: RenderInput, options: RenderOptions = {}): Ruleset {
  return rulesetOf(
    testbed,
    [baseElements(testbed), ...plans.map((p) => experimentElements(testbed, p))],
    options,
    plans.length === 1 ? plans[0]!.experiment : `${plans.length} experiments`,
  );
}

/** The whole table from element sets (the base's and each experiment's). */
export function rulesetOf(
  testbed: TestbedConfig,
  parts: ElementSet[],
  options: RenderOptions = {},
  what = "the gateway",
): Ruleset {
  const defs: SetDef[] = SETS.map((d) => ({
    ...d,
    elements: parts.flatMap((x) => x[d.name] ?? []),
  }));
  const split = options.splitDnat === true;
  return {
    header: `Generated by fwc for ${what}`,
    defs: split ? defs.flatMap(splitData) : defs,
    chains: chains(testbed.gateway.outside, split),
  };
}

// ---- the rules: a small expression model written both as nft text and as nft JSON ----

type Expr =
  | { payload: [proto: "ip" | "ip6" | "th", field: "saddr" | "daddr" | "dport"] }
  | { meta: "iifname" | "oifname" | "l4proto" }
  | { ct: "state" | "status" | "original ip daddr" }
  | { concat: Expr[] };

/** A value matched against an expression: a literal, an anonymous set, a named set or map (`@name`). */
type Value = { str: string } | { sym: string } | { anon: string[] } | { flags: string[] } | { ref: string };

type Stmt =
  | { match: [Expr, Value] }
  | { nat: "dnat" | "snat"; addr: [Expr, string]; port?: [Expr, string] }
  | { verdict: "accept" | "drop" };

interface Rule {
  /** A comment line written before the rule in the nft file (the JSON form has no place for it). */
  note?: string;
  stmts: Stmt[];
}

interface Chain {
  name: string;
  type: "nat" | "filter";
  hook: "prerouting" | "postrouting" | "forward";
  priority: "dstnat" | "srcnat" | "filter";
  rules: Rule[];
}

const PRIORITY = { dstnat: -100, srcnat: 100, filter: 0 } as const;

const ip = (f: "saddr" | "daddr"): Expr => ({ payload: ["ip", f] });
const ip6 = (f: "saddr" | "daddr"): Expr => ({ payload: ["ip6", f] });
const dport: Expr = { payload: ["th", "dport"] };
const l4proto: Expr = { meta: "l4proto" };
const cat = (...e: Expr[]): Expr => ({ concat: e });
const is = (e: Expr, v: Value): Stmt => ({ match: [e, v] });
const at = (name: string): Value => ({ ref: name });
const tcpudp = is(l4proto, { anon: ["tcp", "udp"] });
const accept: Stmt = { verdict: "accept" };
const drop: Stmt = { verdict: "drop" };

/**
 * The rules are fixed; only the outside interface varies. `split` writes each DNAT map with concatenated data
 * (address . port) as two maps of the same key, one for the address and one for the port: nft 1.0.6's JSON
 * parser cannot read the concatenated form.
 */
function chains(iface: string, split: boolean): Chain[] {
  const inside = is({ meta: "iifname" }, { str: iface });
  const outside = is({ meta: "oifname" }, { str: iface });
  const dnat = (key: Expr, map: string): Stmt =>
    split ? { nat: "dnat", addr: [key, map], port: [key, `${map}port`] } : { nat: "dnat", addr: [key, map] };
  return [
    {
      name: "prerouting",
      type: "nat",
      hook: "prerouting",
      priority: "dstnat",
      rules: [
        { stmts: [inside, tcpudp, dnat(cat(ip("saddr"), ip("daddr"), l4proto, dport), "rdr4src")] },
        { stmts: [inside, dnat(cat(ip("daddr"), l4proto, dport), "rdr4")] },
        { stmts: [inside, tcpudp, { nat: "dnat", addr: [ip("daddr"), "ded4"] }] },
      ],
    },
    {
      name: "postrouting",
      type: "nat",
      hook: "postrouting",
      priority: "srcnat",
      rules: [{ stmts: [outside, { nat: "snat", addr: [ip("saddr"), "snat4"] }] }],
    },
    {
      name: "forward",
      type: "filter",
      hook: "forward",
      priority: "filter",
      rules: [
        { stmts: [is({ ct: "state" }, { flags: ["established", "related"] }), accept] },
        {
          note: "The gateway translates only granted connections (the maps above): what it translated is granted.",
          stmts: [
            inside,
            is({ ct: "status" }, { flags: ["dnat"] }),
            is({ ct: "original ip daddr" }, at("pub4")),
            accept,
          ],
        },
        { stmts: [outside, is(cat(ip("saddr"), ip("daddr"), l4proto, dport), at("out4")), accept] },
        { stmts: [outside, is(cat(ip("saddr"), ip("daddr")), at("out4all")), accept] },
        { stmts: [outside, is(ip("saddr"), at("ded4nodes")), tcpudp, accept] },
        { stmts: [outside, is(cat(ip6("saddr"), ip6("daddr"), l4proto, dport), at("out6")), accept] },
        { stmts: [outside, is(cat(ip6("saddr"), ip6("daddr")), at("out6all")), accept] },
        { stmts: [inside, is(cat(ip6("daddr"), l4proto, dport), at("open6")), accept] },
        { stmts: [inside, is(cat(ip6("saddr"), ip6("daddr"), l4proto, dport), at("open6src")), accept] },
        { stmts: [inside, is(ip6("daddr"), at("open6all")), accept] },
        { stmts: [inside, is(ip6("daddr"), at("open6nodes")), is(l4proto, { sym: "ipv6-icmp" }), accept] },
        {
          note: "Anything else to or from an experiment node is dropped; other traffic is not fwc's to judge.",
          stmts: [is(ip("daddr"), at("nodes4")), drop],
        },
        { stmts: [is(ip("saddr"), at("nodes4")), drop] },
        { stmts: [is(ip6("daddr"), at("nodes6")), drop] },
        { stmts: [is(ip6("saddr"), at("nodes6")), drop] },
      ],
    },
  ];
}

// ---- nft text ----

function exprText(e: Expr): string {
  if ("payload" in e) return `${e.payload[0]} ${e.payload[1]}`;
  if ("meta" in e) return e.meta === "l4proto" ? "meta l4proto" : e.meta;
  if ("ct" in e) return e.ct === "original ip daddr" ? "ct original ip daddr" : `ct ${e.ct}`;
  return e.concat.map(exprText).join(" . ");
}

function valueText(v: Value): string {
  if ("str" in v) return `"${v.str}"`;
  if ("sym" in v) return v.sym;
  if ("anon" in v) return `{ ${v.anon.join(", ")} }`;
  if ("flags" in v) return v.flags.join(",");
  return `@${v.ref}`;
}

function stmtText(s: Stmt): string {
  if ("match" in s) return `${exprText(s.match[0])} ${valueText(s.match[1])}`;
  if ("verdict" in s) return s.verdict;
  const lookup = ([k, m]: [Expr, string]) => `${exprText(k)} map @${m}`;
  return `${s.nat} ip to ${lookup(s.addr)}${s.port ? ` : ${lookup(s.port)}` : ""}`;
}

/** A map whose data is `address . port` becomes `name` (the address) and `nameport` (the port), same keys. */
function splitData(d: SetDef): SetDef[] {
  const [key, data] = d.type.split(" : ");
  const parts = data?.split(" . ") ?? [];
  if (d.kind !== "map" || parts.length !== 2) return [d];
  const side = (i: number) =>
    d.elements.map((e) => {
      const [k, v] = e.key.split(" : ");
      return { key: `${k} : ${v!.split(" . ")[i]}`, comment: e.comment };
    });
  return [
    { ...d, type: `${key} : ${parts[0]}`, elements: side(0) },
    { ...d, name: `${d.name}port`, type: `${key} : ${parts[1]}`, elements: side(1) },
  ];
}

/** The ruleset as an `nft -f` file: one transaction that replaces table inet fwc only. */
export function renderNftables(input: RenderInput, options: RenderOptions = {}): string {
  return rulesetText(buildRuleset(input, options));
}

/** The whole table from the base's and each experiment's elements, replacing what is there (deploy's full sync). */
export function renderTable(testbed: TestbedConfig, parts: ElementSet[]): string {
  return rulesetText(rulesetOf(testbed, [baseElements(testbed), ...parts]));
}

/** The table's fixed part (sets, chains, rules, the gateway's own elements): a digest tells whether it changed. */
export function skeletonText(testbed: TestbedConfig): string {
  return rulesetText(rulesetOf(testbed, [baseElements(testbed)]));
}

function rulesetText(r: Ruleset): string {
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
      lines.push(`\t\t${rule.stmts.map(stmtText).join(" ")}`);
    }
    lines.push("\t}");
  }
  lines.push("}");
  return `${lines.join("\n")}\n`;
}

// ---- nft JSON (libnftables-json(5), schema version 1) ----

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function exprJson(e: Expr): Json {
  if ("payload" in e) return { payload: { protocol: e.payload[0], field: e.payload[1] } };
  if ("meta" in e) return { meta: { key: e.meta } };
  if ("ct" in e)
    return e.ct === "original ip daddr" ? { ct: { key: "ip daddr", dir: "original" } } : { ct: { key: e.ct } };
  return { concat: e.concat.map(exprJson) };
}

function stmtJson(s: Stmt): Json {
  if ("verdict" in s) return { [s.verdict]: null };
  if ("match" in s) {
    const [left, v] = s.match;
    let right: Json;
    if ("str" in v) right = v.str;
    else if ("sym" in v) right = v.sym;
    else if ("anon" in v) right = { set: v.anon };
    else if ("flags" in v) right = v.flags.length === 1 ? v.flags[0]! : v.flags;
    else right = `@${v.ref}`;
    return { match: { op: "flags" in v ? "in" : "==", left: exprJson(left), right } };
  }
  const lookup = ([k, m]: [Expr, string]): Json => ({ map: { key: exprJson(k), data: `@${m}` } });
  const nat: { [k: string]: Json } = { family: "ip", addr: lookup(s.addr) };
  if (s.port) nat.port = lookup(s.port);
  return { [s.nat]: nat };
}

/** One part of an element key or value, as nft JSON writes it. */
function atomJson(a: string): Json {
  if (/^[0-9]+$/.test(a)) return Number(a);
  const range = /^([0-9]+)-([0-9]+)$/.exec(a);
  if (range) return { range: [Number(range[1]), Number(range[2])] };
  const slash = a.indexOf("/");
  if (slash >= 0) return { prefix: { addr: a.slice(0, slash), len: Number(a.slice(slash + 1)) } };
  return a;
}

const partsJson = (text: string): Json => {
  const parts = text.split(" . ").map(atomJson);
  return parts.length === 1 ? parts[0]! : { concat: parts };
};

function defJson(d: SetDef): Json {
  const [key, data] = d.type.split(" : ");
  const types = key!.split(" . ");
  const body: { [k: string]: Json } = {
    family: "inet",
    table: TABLE,
    name: d.name,
    type: types.length === 1 ? types[0]! : types,
  };
  if (data !== undefined) body.map = data;
  if (d.interval) body.flags = ["interval"];
  const unique = [...new Map(d.elements.map((e) => [e.key, e])).values()];
  if (unique.length > 0)
    body.elem = unique.map((e) => {
      const [k, v] = e.key.split(" : ");
      const keyJson: Json = { elem: { val: partsJson(k!), comment: e.comment } };
      return v === undefined ? keyJson : [keyJson, partsJson(v)];
    });
  return { add: { [d.kind]: body } };
}

/**
 * The same ruleset as nft JSON (`nft -j -f`): one transaction that replaces table inet fwc only. The DNAT maps
 * are split (address and port maps of the same key) because nft 1.0.6 cannot read concatenated map data.
 */
export function renderNftJson(input: RenderInput): string {
  const r = buildRuleset(input, { splitDnat: true });
  const table = { family: "inet", name: TABLE };
  const cmds: Json[] = [
    { metainfo: { json_schema_version: 1 } },
    { add: { table } },
    { delete: { table } },
    { add: { table } },
    ...r.defs.map(defJson),
  ];
  for (const c of r.chains) {
    cmds.push({
      add: {
        chain: {
          family: "inet",
          table: TABLE,
          name: c.name,
          type: c.type,
          hook: c.hook,
          prio: PRIORITY[c.priority],
          policy: "accept",
        },
      },
    });
    for (const rule of c.rules)
      cmds.push({ add: { rule: { family: "inet", table: TABLE, chain: c.name, expr: rule.stmts.map(stmtJson) } } });
  }
  return `${JSON.stringify({ nftables: cmds })}\n`;
}
