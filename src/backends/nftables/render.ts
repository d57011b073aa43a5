/**
 * The gateway's nftables ruleset for a set of experiment plans (docs/gateway.md). Two tables, both fwc's own:
 * `inet fwc` (NAT, the blocklist, anti-spoofing, grants and default deny for everything forwarded to or from an
 * inside interface) and `bridge fwc` (MAC, address and bridge port bound together for nodes whose addresses name
 * them). They are replaced atomically by one `nft -f` transaction (`table` + `delete table` + the new table, per
 * table: nothing else on the gateway is touched, never `flush ruleset`). Per-packet cost does not grow with the
 * number of grants: every grant is an element of a concatenated set or map, each commented with its experiment
 * and source position, so one experiment's elements can be changed without rewriting the rest.
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

/** The tables fwc owns: `inet fwc` and `bridge fwc`. */
export type Family = "inet" | "bridge";
export const FAMILIES: Family[] = ["inet", "bridge"];

/** One element of an interval set: a network and a port range, plus the fixed parts of its key. */
export interface Box {
  group: string;
  cidr: string;
  lo: number;
  hi: number;
  key: (cidr: string, ports: string) => string;
  comment: string;
}

/**
 * nft refuses interval elements that overlap. Grants are a union, so each box gives up the ports that a box of
 * the same group whose network contains its network already covers (networks nest or are disjoint), and
 * nothing is lost. Wider networks come first. The containing boxes are found by looking up each prefix of the
 * box's network that some kept box of its group has: no box is compared with every other.
 */
/** The bytes of an address with all but the first `len` bits cleared: its network's address. */
function masked(bytes: number[], len: number): number[] {
  return bytes.map((x, i) => x & ((0xff << (8 - Math.max(0, Math.min(8, len - i * 8)))) & 0xff));
}

export function disjoint(boxes: Box[]): Element[] {
  const parsed = boxes.map((b) => {
    const [a, len] = ipaddr.parseCIDR(b.cidr);
    return { b, bytes: a.toByteArray(), len };
  });
  parsed.sort((x, y) => x.len - y.len);
  const netKey = (group: string, bytes: number[], len: number) =>
    `${group}\u0000${masked(bytes, len).join(".")}/${len}`;
  // Per group and network: the port ranges kept so far, sorted and disjoint, so that what a new box still
  // covers is found by binary search (a sweep), not by comparing it with every range kept.
  const kept = new Map<string, [number, number][]>();
  const lengths = new Map<string, Set<number>>();
  const out: Element[] = [];
  const minus = (pieces: [number, number][], ranges: [number, number][]): [number, number][] => {
    const rest: [number, number][] = [];
    for (const [lo, hi] of pieces) {
      // The first kept range that ends at or after lo.
      let a = 0;
      let z = ranges.length;
      while (a < z) {
        const m = (a + z) >> 1;
        if (ranges[m]![1] < lo) a = m + 1;
        else z = m;
      }
      let from = lo;
      for (let i = a; i < ranges.length && ranges[i]![0] <= hi; i++) {
        const [klo, khi] = ranges[i]!;
        if (klo > from) rest.push([from, klo - 1]);
        from = Math.max(from, khi + 1);
      }
      if (from <= hi) rest.push([from, hi]);
    }
    return rest;
  };
  for (const { b, bytes, len } of parsed) {
    let pieces: [number, number][] = [[b.lo, b.hi]];
    for (const l of lengths.get(b.group) ?? []) {
      if (l > len || pieces.length === 0) continue;
      const ranges = kept.get(netKey(b.group, bytes, l));
      if (ranges !== undefined) pieces = minus(pieces, ranges);
    }
    if (pieces.length === 0) continue;
    const own = netKey(b.group, bytes, len);
    const list = kept.get(own) ?? [];
    kept.set(own, list);
    for (const [lo, hi] of pieces) {
      // Keep the list sorted: the pieces do not overlap what it holds.
      let a = 0;
      let z = list.length;
      while (a < z) {
        const m = (a + z) >> 1;
        if (list[m]![0] < lo) a = m + 1;
        else z = m;
      }
      list.splice(a, 0, [lo, hi]);
      out.push({ key: b.key(b.cidr, lo === hi ? String(lo) : `${lo}-${hi}`), comment: b.comment });
    }
    lengths.set(b.group, (lengths.get(b.group) ?? new Set()).add(len));
  }
  return out;
}

export interface Element {
  key: string;
  comment: string;
}

const identity = (e: Element) => `${e.key}\u0000${e.comment}`;

/** Per set, the elements to delete and to add to turn `from` into `to` (a changed comment is a change). */
/** What a change removes from the sets and adds to them. */
export type ElementDelta = { remove: ElementSet; add: ElementSet };

export function diffElements(from: ElementSet, to: ElementSet): ElementDelta {
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
  // A `#` line ends at its newline: only control characters need to go (a comment "..." would also lose parentheses).
  const header = what.replace(/[\x00-\x1f\x7f]/g, "_");
  const lines = [`# fwc: ${header}. One transaction: only these elements of fwc's tables change.`];
  for (const { family, name } of SETS) {
    const r = d.remove[name];
    if (r && r.length > 0)
      lines.push(
        `delete element ${family} ${TABLE} ${name} { ${[...new Set(r.map((e) => e.key.split(" : ")[0]!))].join(", ")} }`,
      );
  }
  for (const { family, name } of SETS) {
    const x = d.add[name];
    if (x && x.length > 0) lines.push(`add element ${family} ${TABLE} ${name} { ${x.map(elementText).join(", ")} }`);
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
  family: Family;
  kind: "set" | "map";
  name: string;
  /** nft's type, `a . b` for concatenations and `key : value` for maps. */
  type: string;
  elements: Element[];
  interval?: boolean;
}

export interface Table {
  family: Family;
  defs: SetDef[];
  chains: Chain[];
}

export interface Ruleset {
  header: string;
  tables: Table[];
}

type SetSpec = { family: Family; kind: "set" | "map"; name: string; type: string; interval?: boolean };

/** The sets and maps of fwc's tables, in order: table, kind, name, nft type, whether it holds intervals. */
export const SETS: SetSpec[] = [
  { family: "inet", kind: "set", name: "nodes4", type: "ipv4_addr" },
  { family: "inet", kind: "set", name: "nodes6", type: "ipv6_addr" },
  { family: "inet", kind: "set", name: "infra4", type: "ipv4_addr", interval: true },
  { family: "inet", kind: "set", name: "infra6", type: "ipv6_addr", interval: true },
  { family: "inet", kind: "set", name: "block4", type: "ipv4_addr", interval: true },
  { family: "inet", kind: "set", name: "block6", type: "ipv6_addr", interval: true },
  { family: "inet", kind: "set", name: "block4p", type: "ipv4_addr . inet_proto . inet_service", interval: true },
  { family: "inet", kind: "set", name: "block6p", type: "ipv6_addr . inet_proto . inet_service", interval: true },
  {
    family: "inet",
    kind: "map",
    name: "rdr4",
    type: "ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service",
  },
  {
    family: "inet",
    kind: "map",
    name: "rdr4src",
    type: "ipv4_addr . ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service",
    interval: true,
  },
  { family: "inet", kind: "set", name: "pub4", type: "ipv4_addr" },
  {
    family: "inet",
    kind: "set",
    name: "out4",
    type: "ipv4_addr . ipv4_addr . inet_proto . inet_service",
    interval: true,
  },
  { family: "inet", kind: "set", name: "out4all", type: "ipv4_addr . ipv4_addr", interval: true },
  {
    family: "inet",
    kind: "set",
    name: "out6",
    type: "ipv6_addr . ipv6_addr . inet_proto . inet_service",
    interval: true,
  },
  { family: "inet", kind: "set", name: "out6all", type: "ipv6_addr . ipv6_addr", interval: true },
  { family: "inet", kind: "map", name: "snat4", type: "ipv4_addr : ipv4_addr" },
  { family: "inet", kind: "map", name: "ded4", type: "ipv4_addr : ipv4_addr" },
  { family: "inet", kind: "set", name: "ded4nodes", type: "ipv4_addr" },
  { family: "inet", kind: "set", name: "open6", type: "ipv6_addr . inet_proto . inet_service", interval: true },
  {
    family: "inet",
    kind: "set",
    name: "open6src",
    type: "ipv6_addr . ipv6_addr . inet_proto . inet_service",
    interval: true,
  },
  { family: "inet", kind: "set", name: "open6all", type: "ipv6_addr" },
  { family: "inet", kind: "set", name: "open6allsrc", type: "ipv6_addr . ipv6_addr", interval: true },
  { family: "inet", kind: "set", name: "open6nodes", type: "ipv6_addr" },
  // Anti-spoofing on the inside bridge, for nodes whose addresses name their bridge port (and MAC).
  { family: "bridge", kind: "set", name: "bports", type: "ifname" },
  { family: "bridge", kind: "set", name: "bmacports", type: "ifname" },
  { family: "bridge", kind: "set", name: "bmac", type: "ifname . ether_addr" },
  { family: "bridge", kind: "set", name: "bmacaddr", type: "ether_addr" },
  { family: "bridge", kind: "set", name: "b4", type: "ifname . ipv4_addr" },
  { family: "bridge", kind: "set", name: "b6", type: "ifname . ipv6_addr" },
  { family: "bridge", kind: "set", name: "b4addr", type: "ipv4_addr" },
  { family: "bridge", kind: "set", name: "b6addr", type: "ipv6_addr" },
];

/** Elements by set name. Every experiment's elements are its own: no key is shared with another experiment. */
export type ElementSet = Record<string, Element[]>;

/**
 * The gateway's own elements (its shared address, the testbed's infrastructure), part of the table whatever
 * experiments there are.
 */
export function baseElements(testbed: TestbedConfig): ElementSet {
  const infra = testbed.gateway.infrastructure ?? [];
  return {
    pub4: [{ key: testbed.gateway.ipv4, comment: "gateway" }],
    infra4: networks(infra.filter((c) => !c.includes(":"))).map((key) => ({ key, comment: "infrastructure" })),
    infra6: networks(infra.filter((c) => c.includes(":"))).map((key) => ({ key, comment: "infrastructure" })),
  };
}

/**
 * Networks as interval elements: each in its canonical form (network address), those inside another dropped
 * (interval sets refuse overlaps; the union is the same). Linear: a network is looked up by each of its prefixes.
 */
export function networks(cidrs: string[]): string[] {
  const parsed = cidrs.map((c) => {
    const [a, len] = c.includes("/") ? ipaddr.parseCIDR(c) : [ipaddr.parse(c), c.includes(":") ? 128 : 32];
    return { a, len };
  });
  parsed.sort((x, y) => x.len - y.len);
  const kept = new Set<string>();
  const out: string[] = [];
  const net = (a: ipaddr.IPv4 | ipaddr.IPv6, len: number) =>
    `${ipaddr.fromByteArray(masked(a.toByteArray(), len)).toString()}/${len}`;
  for (const { a, len } of parsed) {
    let inside = false;
    for (let l = 0; l <= len && !inside; l++) inside = kept.has(net(a, l));
    if (inside) continue;
    const key = net(a, len);
    kept.add(key);
    const full = a.kind() === "ipv4" ? 32 : 128;
    out.push(len === full ? key.split("/")[0]! : key);
  }
  return out;
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
  const open6allsrc: Box[] = [];
  const open6nodes: Element[] = [];
  const exp = p.experiment;
  const dedicatedBy = new Map(p.dedicated.map((d) => [d.node, d]));
  const bridge: Record<"bports" | "bmacports" | "bmac" | "bmacaddr" | "b4" | "b6" | "b4addr" | "b6addr", Element[]> = {
    bports: [],
    bmacports: [],
    bmac: [],
    bmacaddr: [],
    b4: [],
    b6: [],
    b4addr: [],
    b6addr: [],
  };
  for (const n of p.nodes) {
    if (n.port !== undefined) {
      // The node's bridge port carries only its addresses (and MAC); its addresses come only from its port.
      const c = comment(`${exp} ${n.node}`);
      const port = `"${n.port}"`;
      bridge.bports.push({ key: port, comment: c });
      if (n.mac !== undefined) {
        bridge.bmacports.push({ key: port, comment: c });
        bridge.bmac.push({ key: `${port} . ${n.mac.toLowerCase()}`, comment: c });
        bridge.bmacaddr.push({ key: n.mac.toLowerCase(), comment: c });
      }
      if (n.ipv4 !== undefined) {
        bridge.b4.push({ key: `${port} . ${n.ipv4}`, comment: c });
        bridge.b4addr.push({ key: n.ipv4, comment: c });
      }
      if (n.ipv6 !== undefined) {
        bridge.b6.push({ key: `${port} . ${n.ipv6}`, comment: c });
        bridge.b6addr.push({ key: n.ipv6, comment: c });
      }
    }
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
      for (const src of o.sources.filter((x) => x.includes(":")))
        open6allsrc.push({
          group: o.nodeAddress,
          cidr: src,
          lo: 0,
          hi: 0,
          key: (h) => `${h} . ${o.nodeAddress}`,
          comment: c,
        });
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
    open6allsrc: disjoint(open6allsrc),
    open6nodes,
    ...bridge,
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
  const of = (f: Family) => defs.filter((d) => d.family === f);
  return {
    header: `Generated by fwc for ${what}`,
    tables: [
      { family: "inet", defs: split ? of("inet").flatMap(splitData) : of("inet"), chains: chains(testbed, split) },
      { family: "bridge", defs: of("bridge"), chains: bridgeChains() },
    ],
  };
}

// ---- the rules: a small expression model written both as nft text and as nft JSON ----

type Expr =
  | {
      payload:
        | [proto: "ip" | "ip6", field: "saddr" | "daddr"]
        | [proto: "th", field: "sport" | "dport"]
        | [proto: "ether", field: "saddr" | "type"]
        | [proto: "arp", field: "saddr ip" | "saddr ether"];
    }
  | { meta: "iifname" | "oifname" | "l4proto" }
  | { ct: "state" | "status" | "direction" | "original ip daddr" | "original ip6 daddr" }
  | { concat: Expr[] };

/**
 * A value matched against an expression: a literal (`str` is written quoted), an anonymous set (its items as
 * nft writes them: `tcp`, `"eth1"`, `fe80::/10`), flags, a named set or map (`@name`).
 */
type Value = { str: string } | { sym: string } | { anon: string[] } | { flags: string[] } | { ref: string };

type Stmt =
  | { match: [Expr, Value]; not?: true }
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

/** Chain priorities by name, as numbers per table family (for nft JSON). */
const PRIORITY: Record<Family, Record<Chain["priority"], number>> = {
  inet: { dstnat: -100, srcnat: 100, filter: 0 },
  bridge: { dstnat: -300, srcnat: 300, filter: -200 },
};

const ip = (f: "saddr" | "daddr"): Expr => ({ payload: ["ip", f] });
const ip6 = (f: "saddr" | "daddr"): Expr => ({ payload: ["ip6", f] });
const dport: Expr = { payload: ["th", "dport"] };
const sport: Expr = { payload: ["th", "sport"] };
const l4proto: Expr = { meta: "l4proto" };
const iif: Expr = { meta: "iifname" };
const cat = (...e: Expr[]): Expr => ({ concat: e });
const is = (e: Expr, v: Value): Stmt => ({ match: [e, v] });
const isNot = (e: Expr, v: Value): Stmt => ({ match: [e, v], not: true });
const at = (name: string): Value => ({ ref: name });
const tcpudp = is(l4proto, { anon: ["tcp", "udp"] });
const accept: Stmt = { verdict: "accept" };
const drop: Stmt = { verdict: "drop" };

/**
 * The rules are fixed; only the interfaces vary. `split` writes each DNAT map with concatenated data
 * (address . port) as two maps of the same key, one for the address and one for the port: nft 1.0.6's JSON
 * parser cannot read the concatenated form.
 */
function chains(testbed: TestbedConfig, split: boolean): Chain[] {
  const iface = testbed.gateway.outside;
  const fromOutside = is({ meta: "iifname" }, { str: iface });
  const toOutside = is({ meta: "oifname" }, { str: iface });
  const fromInside = is({ meta: "iifname" }, { anon: testbed.gateway.inside.map((i) => `"${i}"`) });
  const toInside = is({ meta: "oifname" }, { anon: testbed.gateway.inside.map((i) => `"${i}"`) });
  const dir = (d: "original" | "reply") => is({ ct: "direction" }, { sym: d });
  // A port block is about the service port: the destination port of the connection's first packet, whichever
  // side the blocked network is on, so its replies (source port) are matched too.
  const portBlocks = (f: typeof ip, set: string): Rule[] => [
    { stmts: [dir("original"), is(cat(f("saddr"), l4proto, dport), at(set)), drop] },
    { stmts: [dir("original"), is(cat(f("daddr"), l4proto, dport), at(set)), drop] },
    { stmts: [dir("reply"), is(cat(f("saddr"), l4proto, sport), at(set)), drop] },
    { stmts: [dir("reply"), is(cat(f("daddr"), l4proto, sport), at(set)), drop] },
  ];
  const dnat = (key: Expr, map: string): Stmt =>
    split ? { nat: "dnat", addr: [key, map], port: [key, `${map}port`] } : { nat: "dnat", addr: [key, map] };
  return [
    {
      name: "prerouting",
      type: "nat",
      hook: "prerouting",
      priority: "dstnat",
      rules: [
        { stmts: [fromOutside, tcpudp, dnat(cat(ip("saddr"), ip("daddr"), l4proto, dport), "rdr4src")] },
        { stmts: [fromOutside, dnat(cat(ip("daddr"), l4proto, dport), "rdr4")] },
        { stmts: [fromOutside, tcpudp, { nat: "dnat", addr: [ip("daddr"), "ded4"] }] },
      ],
    },
    {
      name: "postrouting",
      type: "nat",
      hook: "postrouting",
      priority: "srcnat",
      rules: [{ stmts: [toOutside, { nat: "snat", addr: [ip("saddr"), "snat4"] }] }],
    },
    {
      name: "forward",
      type: "filter",
      hook: "forward",
      priority: "filter",
      rules: [
        {
          note: "The operator's blocklist: both directions, before any grant, established flows included.",
          stmts: [is(ip("saddr"), at("block4")), drop],
        },
        { stmts: [is(ip("daddr"), at("block4")), drop] },
        { stmts: [is(ip6("saddr"), at("block6")), drop] },
        { stmts: [is(ip6("daddr"), at("block6")), drop] },
        // A blocked public address of the gateway (a dedicated address): the destination before translation.
        { stmts: [is({ ct: "original ip daddr" }, at("block4")), drop] },
        { stmts: [is({ ct: "original ip6 daddr" }, at("block6")), drop] },
        ...portBlocks(ip, "block4p"),
        ...portBlocks(ip6, "block6p"),
        {
          note: "Anti-spoofing: from the inside, only nodes of swapped-in experiments and the infrastructure.",
          stmts: [fromInside, isNot(ip("saddr"), at("nodes4")), isNot(ip("saddr"), at("infra4")), drop],
        },
        { stmts: [fromInside, isNot(ip6("saddr"), at("nodes6")), isNot(ip6("saddr"), at("infra6")), drop] },
        {
          note: "Nodes and the testbed's servers are inside: their addresses never come from the outside.",
          stmts: [fromOutside, is(ip("saddr"), at("nodes4")), drop],
        },
        { stmts: [fromOutside, is(ip6("saddr"), at("nodes6")), drop] },
        { stmts: [fromOutside, is(ip("saddr"), at("infra4")), drop] },
        { stmts: [fromOutside, is(ip6("saddr"), at("infra6")), drop] },
        { stmts: [is({ ct: "state" }, { flags: ["established", "related"] }), accept] },
        {
          note: "The testbed's own servers are the operator's: exempt from default deny.",
          stmts: [is(ip("saddr"), at("infra4")), accept],
        },
        { stmts: [is(ip("daddr"), at("infra4")), accept] },
        { stmts: [is(ip6("saddr"), at("infra6")), accept] },
        { stmts: [is(ip6("daddr"), at("infra6")), accept] },
        {
          note: "The gateway translates only granted connections (the maps above): what it translated is granted.",
          stmts: [
            fromOutside,
            is({ ct: "status" }, { flags: ["dnat"] }),
            is({ ct: "original ip daddr" }, at("pub4")),
            accept,
          ],
        },
        { stmts: [toOutside, is(cat(ip("saddr"), ip("daddr"), l4proto, dport), at("out4")), accept] },
        { stmts: [toOutside, is(cat(ip("saddr"), ip("daddr")), at("out4all")), accept] },
        { stmts: [toOutside, is(ip("saddr"), at("ded4nodes")), tcpudp, accept] },
        { stmts: [toOutside, is(cat(ip6("saddr"), ip6("daddr"), l4proto, dport), at("out6")), accept] },
        { stmts: [toOutside, is(cat(ip6("saddr"), ip6("daddr")), at("out6all")), accept] },
        { stmts: [fromOutside, is(cat(ip6("daddr"), l4proto, dport), at("open6")), accept] },
        { stmts: [fromOutside, is(cat(ip6("saddr"), ip6("daddr"), l4proto, dport), at("open6src")), accept] },
        { stmts: [fromOutside, is(ip6("daddr"), at("open6all")), accept] },
        { stmts: [fromOutside, is(cat(ip6("saddr"), ip6("daddr")), at("open6allsrc")), accept] },
        { stmts: [fromOutside, is(ip6("daddr"), at("open6nodes")), is(l4proto, { sym: "ipv6-icmp" }), accept] },
        {
          note: "Default deny: nothing else passes to or from an inside interface, or to or from a node.",
          stmts: [fromInside, drop],
        },
        { stmts: [toInside, drop] },
        { stmts: [is(ip("daddr"), at("nodes4")), drop] },
        { stmts: [is(ip("saddr"), at("nodes4")), drop] },
        { stmts: [is(ip6("daddr"), at("nodes6")), drop] },
        { stmts: [is(ip6("saddr"), at("nodes6")), drop] },
      ],
    },
  ];
}

/**
 * Anti-spoofing on the inside bridge. A bound port (a node's `port`) carries only its node's MAC (when given)
 * and addresses, besides the unspecified and link-local sources that DHCP and neighbour discovery use; a bound
 * address comes only from its port. IPv4 is checked in both IP and ARP frames.
 */
function bridgeChains(): Chain[] {
  const arpIp: Expr = { payload: ["arp", "saddr ip"] };
  const arpMac: Expr = { payload: ["arp", "saddr ether"] };
  const bound = is(iif, at("bports"));
  const withMac = is(iif, at("bmacports"));
  return [
    {
      name: "prerouting",
      type: "filter",
      hook: "prerouting",
      priority: "filter",
      rules: [
        {
          note: "VLAN-tagged frames could carry addresses past the checks below (the gateway strips tag 0): dropped.",
          stmts: [is({ payload: ["ether", "type"] }, { anon: ["8021q", "8021ad"] }), drop],
        },
        { stmts: [withMac, isNot(cat(iif, { payload: ["ether", "saddr"] }), at("bmac")), drop] },
        // A bound MAC comes only from its port (the bridge would learn it elsewhere and send the node's traffic there).
        {
          stmts: [
            is({ payload: ["ether", "saddr"] }, at("bmacaddr")),
            isNot(cat(iif, { payload: ["ether", "saddr"] }), at("bmac")),
            drop,
          ],
        },
        { stmts: [withMac, isNot(cat(iif, arpMac), at("bmac")), drop] },
        { stmts: [bound, isNot(ip("saddr"), { sym: "0.0.0.0" }), isNot(cat(iif, ip("saddr")), at("b4")), drop] },
        { stmts: [bound, isNot(arpIp, { sym: "0.0.0.0" }), isNot(cat(iif, arpIp), at("b4")), drop] },
        {
          stmts: [
            bound,
            isNot(ip6("saddr"), { anon: ["::", "fe80::/10"] }),
            isNot(cat(iif, ip6("saddr")), at("b6")),
            drop,
          ],
        },
        { stmts: [is(ip("saddr"), at("b4addr")), isNot(cat(iif, ip("saddr")), at("b4")), drop] },
        { stmts: [is(arpIp, at("b4addr")), isNot(cat(iif, arpIp), at("b4")), drop] },
        { stmts: [is(ip6("saddr"), at("b6addr")), isNot(cat(iif, ip6("saddr")), at("b6")), drop] },
      ],
    },
  ];
}

// ---- nft text ----

function exprText(e: Expr): string {
  if ("payload" in e) return `${e.payload[0]} ${e.payload[1]}`;
  if ("meta" in e) return e.meta === "l4proto" ? "meta l4proto" : e.meta;
  if ("ct" in e) return `ct ${e.ct}`;
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
  if ("match" in s) return `${exprText(s.match[0])} ${s.not ? "!= " : ""}${valueText(s.match[1])}`;
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

/** The ruleset as an `nft -f` file: one transaction that replaces fwc's tables only. */
export function renderNftables(input: RenderInput, options: RenderOptions = {}): string {
  return rulesetText(buildRuleset(input, options));
}

/**
 * The whole tables from the base's and each experiment's elements, replacing what is there (deploy's full sync).
 * `withBase: false` when `parts` hold the base's elements already.
 */
export function renderTable(testbed: TestbedConfig, parts: ElementSet[], opts: { withBase?: boolean } = {}): string {
  return rulesetText(rulesetOf(testbed, opts.withBase === false ? parts : [baseElements(testbed), ...parts]));
}

/** The table's fixed part (sets, chains, rules, the gateway's own elements): a digest tells whether it changed. */
export function skeletonText(testbed: TestbedConfig): string {
  return rulesetText(rulesetOf(testbed, [baseElements(testbed)]));
}

function rulesetText(r: Ruleset): string {
  const lines = [
    "#!/usr/sbin/nft -f",
    // Kept short: nft's scanner is slow on long comment lines (a list of 1,000 experiments cost 50 ms).
    `# ${r.header}. One transaction: it replaces fwc's tables (${r.tables.map((t) => `${t.family} ${TABLE}`).join(", ")}) only.`,
  ];
  for (const t of r.tables) lines.push(`table ${t.family} ${TABLE} {}`, `delete table ${t.family} ${TABLE}`);
  for (const t of r.tables) {
    lines.push(
      `table ${t.family} ${TABLE} {`,
      ...t.defs.map((d) => (d.kind === "map" ? map : set)(d.name, d.type, d.elements, d.interval ? ["interval"] : [])),
    );
    for (const c of t.chains) {
      lines.push("", `\tchain ${c.name} {`, `\t\ttype ${c.type} hook ${c.hook} priority ${c.priority}; policy accept;`);
      for (const rule of c.rules) {
        if (rule.note !== undefined) lines.push(`\t\t# ${rule.note}`);
        lines.push(`\t\t${rule.stmts.map(stmtText).join(" ")}`);
      }
      lines.push("\t}");
    }
    lines.push("}");
  }
  return `${lines.join("\n")}\n`;
}

// ---- nft JSON (libnftables-json(5), schema version 1) ----

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function exprJson(e: Expr): Json {
  if ("payload" in e) return { payload: { protocol: e.payload[0], field: e.payload[1] } };
  if ("meta" in e) return { meta: { key: e.meta } };
  if ("ct" in e)
    return e.ct.startsWith("original ")
      ? { ct: { key: e.ct.slice("original ".length), dir: "original" } }
      : { ct: { key: e.ct } };
  return { concat: e.concat.map(exprJson) };
}

/** An item of an anonymous set as nft JSON: a quoted string, a prefix, or a word. */
const anonJson = (a: string): Json => (a.startsWith('"') ? a.slice(1, -1) : atomJson(a));

function stmtJson(s: Stmt): Json {
  if ("verdict" in s) return { [s.verdict]: null };
  if ("match" in s) {
    const [left, v] = s.match;
    let right: Json;
    if ("str" in v) right = v.str;
    else if ("sym" in v) right = v.sym;
    else if ("anon" in v) right = { set: v.anon.map(anonJson) };
    else if ("flags" in v) right = v.flags.length === 1 ? v.flags[0]! : v.flags;
    else right = `@${v.ref}`;
    return { match: { op: s.not ? "!=" : "flags" in v ? "in" : "==", left: exprJson(left), right } };
  }
  const lookup = ([k, m]: [Expr, string]): Json => ({ map: { key: exprJson(k), data: `@${m}` } });
  const nat: { [k: string]: Json } = { family: "ip", addr: lookup(s.addr) };
  if (s.port) nat.port = lookup(s.port);
  return { [s.nat]: nat };
}

/** One part of an element key or value, as nft JSON writes it. */
function atomJson(a: string): Json {
  if (a.startsWith('"')) return a.slice(1, -1);
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
    family: d.family,
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
  const cmds: Json[] = [{ metainfo: { json_schema_version: 1 } }];
  for (const t of r.tables) {
    const table = { family: t.family, name: TABLE };
    cmds.push({ add: { table } }, { delete: { table } });
  }
  for (const t of r.tables) {
    cmds.push({ add: { table: { family: t.family, name: TABLE } } }, ...t.defs.map(defJson));
    for (const c of t.chains) {
      cmds.push({
        add: {
          chain: {
            family: t.family,
            table: TABLE,
            name: c.name,
            type: c.type,
            hook: c.hook,
            prio: PRIORITY[t.family][c.priority],
            policy: "accept",
          },
        },
      });
      for (const rule of c.rules)
        cmds.push({
          add: { rule: { family: t.family, table: TABLE, chain: c.name, expr: rule.stmts.map(stmtJson) } },
        });
    }
  }
  return `${JSON.stringify({ nftables: cmds })}\n`;
}
