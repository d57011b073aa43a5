/**
 * The gateway's nftables ruleset for a set of experiment plans. One table, `inet fwc`, replaced atomically by
 * one `nft -f` transaction (`table` + `delete table` + the new table: nothing else on the gateway is touched,
 * never `flush ruleset`). Per-packet cost does not grow with the number of grants: every grant is an element
 * of a concatenated set or map, each commented with its experiment and source position, so one experiment's
 * elements can be changed without rewriting the rest.
 */

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

const where = (exp: string, o: { file: string; line: number; column: number; text: string }) =>
  comment(`${exp} ${o.file.split("/").pop()}:${o.line}:${o.column} ${o.text}`);

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

const portRange = (p: number, e: number) => (p === 0 && e === 0 ? "0-65535" : p === e ? String(p) : `${p}-${e}`);

export interface RenderInput {
  testbed: TestbedConfig;
  plans: Plan[];
}

export function renderNftables({ testbed, plans }: RenderInput): string {
  const out = testbed.gateway.outside;
  const gw4 = testbed.gateway.ipv4;
  const nodes4: Element[] = [];
  const nodes6: Element[] = [];
  const rdr4: Element[] = [];
  const in4: Element[] = [];
  const in4src: Element[] = [];
  const out4: Element[] = [];
  const out4all: Element[] = [];
  const out6: Element[] = [];
  const out6all: Element[] = [];
  const snat4: Element[] = [];
  const ded4: Element[] = [];
  const ded4nodes: Element[] = [];
  const open6: Element[] = [];
  const open6src: Element[] = [];
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
      // A range is one element per port: nat maps translate addresses, not port offsets.
      for (let i = 0; i <= e.portEnd - e.port; i++) {
        rdr4.push({
          key: `${e.external.address} . ${e.proto} . ${e.external.port + i} : ${e.nodeAddress} . ${e.port + i}`,
          comment: c,
        });
        if (e.sources.length === 0) in4.push({ key: `${e.nodeAddress} . ${e.proto} . ${e.port + i}`, comment: c });
      }
      for (const s of e.sources.filter((x) => !x.includes(":")))
        in4src.push({ key: `${s} . ${e.nodeAddress} . ${e.proto} . ${portRange(e.port, e.portEnd)}`, comment: c });
    }
    for (const g of p.outbound) {
      const c = where(exp, g.origin);
      for (const n of p.nodes) {
        const src = g.family === 4 ? n.ipv4 : n.ipv6;
        if (src === undefined) continue;
        if (g.proto === "all") (g.family === 4 ? out4all : out6all).push({ key: `${src} . ${g.host}`, comment: c });
        else
          (g.family === 4 ? out4 : out6).push({
            key: `${src} . ${g.host} . ${g.proto} . ${portRange(g.port, g.portEnd)}`,
            comment: c,
          });
      }
    }
    for (const d of p.dedicated) {
      const c = where(exp, d.origin);
      ded4.push({ key: `${d.address} : ${d.nodeAddress}`, comment: c });
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
        open6.push({ key: `${o.nodeAddress} . ${o.proto} . ${portRange(o.port, o.portEnd)}`, comment: c });
      for (const s of o.sources.filter((x) => x.includes(":")))
        open6src.push({ key: `${s} . ${o.nodeAddress} . ${o.proto} . ${portRange(o.port, o.portEnd)}`, comment: c });
    }
  }

  const iface = (name: string) => `"${name}"`;
  return `${[
    "#!/usr/sbin/nft -f",
    `# Generated by fwc for ${plans.map((p) => p.experiment).join(", ") || "no experiment"}. One transaction: it replaces table inet ${TABLE} only.`,
    `table inet ${TABLE} {}`,
    `delete table inet ${TABLE}`,
    `table inet ${TABLE} {`,
    set("nodes4", "ipv4_addr", nodes4),
    set("nodes6", "ipv6_addr", nodes6),
    map("rdr4", "ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service", rdr4),
    set("in4", "ipv4_addr . inet_proto . inet_service", in4),
    set("in4src", "ipv4_addr . ipv4_addr . inet_proto . inet_service", in4src, ["interval"]),
    set("out4", "ipv4_addr . ipv4_addr . inet_proto . inet_service", out4, ["interval"]),
    set("out4all", "ipv4_addr . ipv4_addr", out4all, ["interval"]),
    set("out6", "ipv6_addr . ipv6_addr . inet_proto . inet_service", out6, ["interval"]),
    set("out6all", "ipv6_addr . ipv6_addr", out6all, ["interval"]),
    map("snat4", "ipv4_addr : ipv4_addr", snat4),
    map("ded4", "ipv4_addr : ipv4_addr", ded4),
    set("ded4nodes", "ipv4_addr", ded4nodes),
    set("open6", "ipv6_addr . inet_proto . inet_service", open6, ["interval"]),
    set("open6src", "ipv6_addr . ipv6_addr . inet_proto . inet_service", open6src, ["interval"]),
    set("open6all", "ipv6_addr", open6all),
    set("open6nodes", "ipv6_addr", open6nodes),
    "",
    "\tchain prerouting {",
    "\t\ttype nat hook prerouting priority dstnat; policy accept;",
    `\t\tiifname ${iface(out)} dnat ip to ip daddr . meta l4proto . th dport map @rdr4`,
    `\t\tiifname ${iface(out)} meta l4proto { tcp, udp } dnat ip to ip daddr map @ded4`,
    "\t}",
    "",
    "\tchain postrouting {",
    "\t\ttype nat hook postrouting priority srcnat; policy accept;",
    `\t\toifname ${iface(out)} snat ip to ip saddr map @snat4`,
    "\t}",
    "",
    "\tchain forward {",
    "\t\ttype filter hook forward priority filter; policy accept;",
    "\t\tct state established,related accept",
    `\t\tiifname ${iface(out)} ct status dnat ip daddr . meta l4proto . th dport @in4 accept`,
    `\t\tiifname ${iface(out)} ct status dnat ip saddr . ip daddr . meta l4proto . th dport @in4src accept`,
    `\t\tiifname ${iface(out)} ct status dnat ip daddr @ded4nodes meta l4proto { tcp, udp } accept`,
    `\t\toifname ${iface(out)} ip saddr . ip daddr . meta l4proto . th dport @out4 accept`,
    `\t\toifname ${iface(out)} ip saddr . ip daddr @out4all accept`,
    `\t\toifname ${iface(out)} ip saddr @ded4nodes meta l4proto { tcp, udp } accept`,
    `\t\toifname ${iface(out)} ip6 saddr . ip6 daddr . meta l4proto . th dport @out6 accept`,
    `\t\toifname ${iface(out)} ip6 saddr . ip6 daddr @out6all accept`,
    `\t\tiifname ${iface(out)} ip6 daddr . meta l4proto . th dport @open6 accept`,
    `\t\tiifname ${iface(out)} ip6 saddr . ip6 daddr . meta l4proto . th dport @open6src accept`,
    `\t\tiifname ${iface(out)} ip6 daddr @open6all accept`,
    `\t\tiifname ${iface(out)} ip6 daddr @open6nodes meta l4proto ipv6-icmp accept`,
    "\t\t# Anything else to or from an experiment node is dropped; other traffic is not fwc's to judge.",
    "\t\tip daddr @nodes4 drop",
    "\t\tip saddr @nodes4 drop",
    "\t\tip6 daddr @nodes6 drop",
    "\t\tip6 saddr @nodes6 drop",
    "\t}",
    "}",
  ].join("\n")}\n`;
}
