/**
 * The exposure diagram (`fwc compile --emit svg`): an experiment's endpoint listing drawn as a picture. This
 * module writes the graph in DOT; Graphviz (@viz-js/viz, compiled to WebAssembly and loaded only when a picture
 * is drawn) lays it out and renders SVG. No coordinates are given here.
 *
 * Left to right, one row of the picture per node and set of sources: who may connect in ("from anywhere" or
 * "only from" networks), the gateway (a small table of the ways in to the node: gateway address:port, IPv6
 * openings, dedicated addresses), the node (a table with a row per exposed service). Below, the Internet: the
 * blocked networks and what the nodes may reach through the gateway's NAT.
 *
 * Strings from the listing (node names, addresses, reasons) come from users. They reach the DOT text only as
 * the text of HTML-like labels, entity-escaped by `labelText`; every node, port and cluster ID is made up here,
 * and no attribute takes a string from the listing. The SVG carries no scripts, links or external references
 * (`renderSvg` checks).
 */
import type { BlockEntry } from "../../store/schema.js";
import type { EndpointListing } from "../endpoints/endpoints.js";

export interface DiagramOptions {
  /** The operator's blocklist, drawn in red at the gateway. */
  blocks?: BlockEntry[];
  /** The current time, shown in the title: expiries then also read "in 2h 10m" or "expired". */
  now?: Date;
}

type Origin = "nsfile" | "dynamic";

const ENTITY: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
/**
 * Characters XML cannot carry (C0 and C1 controls, U+FFFE, U+FFFF, unpaired surrogates) and the bidirectional
 * controls that reorder what is shown: each becomes U+FFFD.
 */
const UNSAFE =
  /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u200E\u200F\u202A-\u202E\u2066-\u2069\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * Any value as the text of an HTML-like label: tabs and line breaks become spaces, characters XML cannot carry
 * U+FFFD, at most `max` characters (the rest cut to "…"), `& < > " '` entities, and each backslash doubled
 * (in the text of a label, entities decoded, Graphviz reads \N, \G and \E as the names of the node, graph and
 * edge, and \\ as one backslash).
 */
export function labelText(value: unknown, max = 40): string {
  let t = String(value)
    .replace(/[\t\n\r]+/g, " ")
    .replace(UNSAFE, "\uFFFD");
  const chars = Array.from(t);
  if (chars.length > max) t = `${chars.slice(0, max - 1).join("")}…`;
  return t.replace(/[&<>"']/g, (c) => ENTITY[c]!).replaceAll("\\", "\\\\");
}

const ports = (p: number, e: number) => (p === 0 && e === 0 ? "any port" : p === e ? `${p}` : `${p}..${e}`);
/** "22/tcp", "8000..8100/tcp+udp", "tcp, any port", "all protocols". */
function service(proto: string, p: number, e: number): string {
  if (proto === "all") return "all protocols";
  return p === 0 && e === 0 ? `${proto}, any port` : `${ports(p, e)}/${proto}`;
}
/** A CIDR without its length when it is a single address. */
const hostOf = (cidr: string) => `${cidr}`.replace(/^([0-9.]+)\/32$/, "$1").replace(/^([0-9a-fA-F:.]+)\/128$/, "$1");

const pad = (n: number) => String(n).padStart(2, "0");
/** "2026-11-27 18:00Z" (with seconds when there are any); the text as given when it is not a time. */
export function shortTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const s = d.getUTCSeconds();
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}${s === 0 ? "" : `:${pad(s)}`}Z`;
}

/** A time to come, to the minute: "2d 3h", "1h 5m", "12m". */
function span(ms: number): string {
  const m = Math.ceil(ms / 60_000);
  const d = Math.floor(m / 1440);
  const h = Math.floor((m % 1440) / 60);
  if (d > 0) return h > 0 ? `${d}d ${h}h` : `${d}d`;
  return h > 0 ? (m % 60 > 0 ? `${h}h ${m % 60}m` : `${h}h`) : `${m}m`;
}

const INK = "#37474f";
const GREY = "#607d8b";
const BLUE = "#1565c0";
const GREEN = "#2e7d32";
const PURPLE = "#6a1b9a";
const RED = "#c62828";
const ORANGE = "#e65100";
/** Graphviz sizes text by its metrics of Helvetica only when the name is exactly that (a list gets Times'). */
const FONT = "Helvetica";

const small = (markup: string) => `<FONT POINT-SIZE="9">${markup}</FONT>`;
const colored = (color: string, markup: string) => `<FONT COLOR="${color}">${markup}</FONT>`;
const italicIf = (origin: Origin, markup: string) => (origin === "dynamic" ? `<I>${markup}</I>` : markup);
const edgeStyle = (origin: Origin) => (origin === "dynamic" ? "dashed" : "solid");
const table = (rows: string, attributes = "") =>
  `<<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="4"${attributes}>${rows}</TABLE>>`;
/** A row of one cell, its lines aligned left. */
const cell = (markup: string, attributes = "") => `<TR><TD ALIGN="LEFT" BALIGN="LEFT"${attributes}>${markup}</TD></TR>`;

/** The second line of a grant given for a time: "until 2026-11-27 18:00Z", with `now` "(in 2h)" or "expired". */
function expiry(expires: string | undefined, now: Date | undefined): string {
  if (expires === undefined) return "";
  const at = new Date(expires).getTime();
  const when = labelText(shortTime(expires));
  if (now === undefined || Number.isNaN(at)) return `<BR/>${small(`until ${when}`)}`;
  const left = at - now.getTime();
  return `<BR/>${small(left <= 0 ? colored(RED, `expired ${when}`) : `until ${when} (in ${span(left)})`)}`;
}

/** Networks one a line, at most `max` of them and "+N more". */
function networks(list: string[], max = 3): string {
  const shown = list.slice(0, max).map((s) => labelText(hostOf(s), 44));
  if (list.length > max) shown.push(`+${list.length - max} more`);
  return shown.join("<BR/>");
}

const byName = (a: string, b: string) => `${a}`.localeCompare(`${b}`, "en", { numeric: true });

/**
 * The tcp and udp entries of one grant (the listing has one per protocol) as one `tcp+udp` entry; entries that
 * differ in nothing else are kept once.
 */
function mergeProtocols<T extends { proto: string }>(rows: T[], key: (r: T) => string): T[] {
  const out = new Map<string, T>();
  for (const r of rows) {
    const seen = out.get(key(r));
    if (seen === undefined) out.set(key(r), { ...r });
    else if (seen.proto !== r.proto) seen.proto = "tcp+udp";
  }
  return [...out.values()];
}

/** One inbound grant, or several for adjacent ports drawn as one range. */
interface Inbound {
  node: string;
  proto: string;
  port: number;
  portEnd: number;
  ext: { address: string; port: number; portEnd: number };
  sources: string[];
  origin: Origin;
  expires: string | undefined;
}

function inboundOf(listing: EndpointListing): Inbound[] {
  const rows: Inbound[] = listing.inbound.map((e) => ({
    node: e.node,
    proto: e.proto,
    port: e.port,
    portEnd: e.portEnd ?? e.port,
    ext: { address: e.external.address, port: e.external.port, portEnd: e.external.portEnd ?? e.external.port },
    sources: e.sources,
    origin: e.origin as Origin,
    expires: e.expires,
  }));
  const alike = (r: Inbound) => JSON.stringify([r.node, r.ext.address, r.sources, r.origin, r.expires ?? null]);
  const merged = mergeProtocols(rows, (r) =>
    JSON.stringify([alike(r), r.port, r.portEnd, r.ext.port, r.ext.portEnd]),
  ).sort((a, b) => byName(a.node, b.node) || a.port - b.port || a.ext.port - b.ext.port || byName(a.proto, b.proto));
  // Adjacent ports forwarded to adjacent gateway ports, alike in everything else, are one range.
  const out: Inbound[] = [];
  for (const r of merged) {
    const last = out.at(-1);
    if (
      last !== undefined &&
      r.port !== 0 &&
      last.proto === r.proto &&
      alike(last) === alike(r) &&
      r.port === last.portEnd + 1 &&
      r.ext.port === last.ext.portEnd + 1
    ) {
      last.portEnd = r.portEnd;
      last.ext.portEnd = r.ext.portEnd;
    } else out.push({ ...r, ext: { ...r.ext } });
  }
  return out;
}

function open6Of(listing: EndpointListing) {
  const rows = listing.open6.map((e) => ({
    node: e.node,
    address: e.address,
    proto: e.proto as string,
    port: e.port,
    portEnd: e.portEnd ?? e.port,
    sources: e.sources,
    origin: e.origin as Origin,
    expires: e.expires,
  }));
  return mergeProtocols(rows, (r) =>
    JSON.stringify([r.node, r.address, r.port, r.portEnd, r.sources, r.origin, r.expires ?? null]),
  ).sort((a, b) => byName(a.node, b.node) || a.port - b.port || byName(a.proto, b.proto));
}

function outboundOf(listing: EndpointListing) {
  const rows = listing.outbound.map((e) => ({
    host: e.host,
    proto: e.proto as string,
    port: e.port,
    portEnd: e.portEnd ?? e.port,
    origin: e.origin as Origin,
    expires: e.expires,
  }));
  const merged = mergeProtocols(rows, (r) =>
    JSON.stringify([r.host, r.port, r.portEnd, r.origin, r.expires ?? null, r.proto === "all"]),
  );
  const hosts = new Map<string, typeof merged>();
  for (const r of merged) hosts.set(r.host, [...(hosts.get(r.host) ?? []), r]);
  return [...hosts].sort((a, b) => byName(a[0], b[0]));
}

/** A row of a gateway table, and where its edge goes in the node's table. */
interface GatewayRow {
  markup: string;
  origin: Origin;
  /** The port of the node's table ("h": its heading, the node itself). */
  to: string;
  color: string;
  both?: boolean;
}

/** The ways in to one node from one set of sources: a small table in the gateway. */
interface GatewayTable {
  node: string;
  sources: string[];
  rows: GatewayRow[];
}

/** The map's value for `key`, made and added first when there is none. */
function entry<K, V>(map: Map<K, V>, key: K, make: () => V): V {
  if (!map.has(key)) map.set(key, make());
  return map.get(key)!;
}

/** The diagram's DOT text. */
export function diagramDot(listing: EndpointListing, opts: DiagramOptions = {}): string {
  const now = opts.now;
  const blocks = opts.blocks ?? [];
  const gwAddress = listing.gateway.ipv4;
  const inbound = inboundOf(listing);
  const open6 = open6Of(listing);
  const hosts = outboundOf(listing);
  const nodeNames = [
    ...new Set([...inbound.map((r) => r.node), ...open6.map((r) => r.node), ...listing.dedicated.map((d) => d.node)]),
  ].sort(byName);
  const nodeId = new Map(nodeNames.map((n, i) => [n, `n${i}`]));

  // Each node's services (the rows of its table, by their text) and the gateway tables that lead to them.
  const services = new Map<string, Map<string, string>>(nodeNames.map((n) => [n, new Map()]));
  const serviceOf = (node: string, proto: string, port: number, portEnd: number) => {
    const m = services.get(node)!;
    return entry(m, labelText(service(proto, port, portEnd)), () => `s${m.size}`);
  };
  const tables = new Map<string, GatewayTable>();
  const tableOf = (node: string, sources: string[]) =>
    entry(tables, JSON.stringify([node, sources]), () => ({ node, sources, rows: [] }));
  for (const r of inbound)
    tableOf(r.node, r.sources).rows.push({
      markup:
        italicIf(
          r.origin,
          `<B>${labelText(`${r.ext.address}:${ports(r.ext.port, r.ext.portEnd)}`, 64)}</B> ${labelText(r.proto)}`,
        ) + expiry(r.expires, now),
      origin: r.origin,
      to: serviceOf(r.node, r.proto, r.port, r.portEnd),
      color: INK,
    });
  for (const r of open6)
    tableOf(r.node, r.sources).rows.push({
      markup:
        colored(
          BLUE,
          italicIf(r.origin, `[${labelText(r.address, 48)}] ${labelText(service(r.proto, r.port, r.portEnd))}`),
        ) +
        `<BR/>${small(colored(BLUE, "IPv6, routed, not translated"))}` +
        expiry(r.expires, now),
      origin: r.origin,
      to: serviceOf(r.node, r.proto, r.port, r.portEnd),
      color: BLUE,
    });
  for (const d of listing.dedicated) {
    const origin = d.origin as Origin;
    tableOf(d.node, []).rows.push({
      markup: `${colored(PURPLE, italicIf(origin, `<B>${labelText(d.address, 48)}</B>`))}<BR/>${small(colored(PURPLE, "dedicated 1:1, every port"))}`,
      origin,
      to: "h",
      color: PURPLE,
      both: true,
    });
  }
  // A node's gateway tables in the order of the rows they lead to (the node itself, at the top, first), so
  // that their edges do not cross.
  const first = (t: GatewayTable) => Math.min(...t.rows.map((r) => (r.to === "h" ? -1 : Number(r.to.slice(1)))));
  const rows = [...tables.values()].sort((a, b) => byName(a.node, b.node) || first(a) - first(b));

  const out: string[] = [];
  const add = (line: string): void => {
    out.push(line);
  };
  add("digraph exposure {");
  add(`  graph [rankdir=LR, ranksep=0.9, nodesep=0.12, fontname="${FONT}", fontsize=12, labelloc=t, labeljust=l];`);
  add(`  node [shape=plain, fontname="${FONT}", fontsize=11, color="${INK}", fontcolor="${INK}"];`);
  add(`  edge [color="${INK}", arrowsize=0.6];`);
  const legend = [
    colored(INK, "inbound through a gateway port"),
    colored(BLUE, "IPv6 to the node's own address"),
    colored(PURPLE, "dedicated 1:1 address"),
    colored(GREEN, "outbound"),
    colored(RED, "blocked"),
    "solid: from the NS file",
    "dashed, italic: dynamic (fwc open)",
  ];
  const at = now === undefined ? "" : ` <FONT POINT-SIZE="10">at ${labelText(shortTime(now.toISOString()))}</FONT>`;
  add(
    `  label=<<FONT POINT-SIZE="14"><B>Exposure of ${labelText(listing.experiment, 60)}</B></FONT>${at}<BR ALIGN="LEFT"/>` +
      `<FONT POINT-SIZE="10">${legend.join("  ·  ")}</FONT><BR ALIGN="LEFT"/>>;`,
  );

  // Who may connect in: a box per row of the picture. The boxes stay out of any cluster (dot pulls a cluster's
  // nodes together, away from their rows) and are kept in order, top to bottom, by invisible edges.
  rows.forEach((t, i) => {
    const label =
      t.sources.length === 0
        ? colored(GREY, "from anywhere")
        : colored(ORANGE, `<B>only from</B><BR/>${networks(t.sources)}`);
    const color = t.sources.length === 0 ? "#b0bec5" : ORANGE;
    add(`  src${i} [shape=box, style="rounded", color="${color}", margin="0.1,0.04", label=<${label}>];`);
  });
  if (rows.length > 1) add(`  { rank=same; ${rows.map((_, i) => `src${i}`).join(" -> ")} [style=invis]; }`);

  // The Internet: the blocked networks and what the nodes may reach (a table per host, a row per service).
  if (blocks.length > 0 || hosts.length > 0) {
    add("  subgraph cluster_internet {");
    add(`    label=<<B>Internet</B>>; style="rounded"; color="#90a4ae";`);
    if (blocks.length > 0) {
      const entries = blocks.map((b) => {
        const what =
          b.proto === undefined
            ? "everything"
            : b.port === undefined
              ? b.proto
              : service(b.proto, b.port, b.portEnd ?? b.port);
        return (
          `<TR><TD ALIGN="LEFT" BALIGN="LEFT"><B>${labelText(hostOf(b.cidr), 44)}</B><BR/>${labelText(what)}</TD>` +
          `<TD ALIGN="LEFT" BALIGN="LEFT">${labelText(b.reason, 48)}<BR/>${small(`${labelText(b.by, 24)}, ${labelText(shortTime(b.at), 24)}`)}</TD></TR>`
        );
      });
      const head = `<TR><TD COLSPAN="2" ALIGN="LEFT" BALIGN="LEFT" BGCOLOR="#ffebee"><B>blocked</B><BR/>${small("dropped both ways, before any grant")}</TD></TR>`;
      add(
        `    blocked [color="${RED}", fontcolor="${RED}", label=${table(head + entries.join(""), ` COLOR="${RED}"`)}];`,
      );
    }
    if (hosts.length > 0) {
      add("    subgraph cluster_out {");
      add(`      label=<<FONT POINT-SIZE="10">the nodes may reach</FONT>>; style="rounded,dashed"; color="${GREEN}";`);
      // Declared last first: within a cluster Graphviz then stacks them in order from the top.
      [...hosts.entries()].reverse().forEach(([i, [host, grants]]) => {
        const body = grants
          .map((g, j) =>
            cell(
              italicIf(g.origin, labelText(service(g.proto, g.port, g.portEnd))) + expiry(g.expires, now),
              ` PORT="o${j}"`,
            ),
          )
          .join("");
        const head = cell(`<B>${labelText(hostOf(host), 44)}</B>`, ' BGCOLOR="#e8f5e9"');
        add(`      out${i} [color="${GREEN}", label=${table(head + body)}];`);
      });
      add("    }");
    }
    add("  }");
  }

  // The gateway: itself (outbound NAT, the blocklist) and, per row of the picture, the ways in to the node.
  add("  subgraph cluster_gw {");
  add(`    label=<<B>gateway</B>>; style="rounded,filled"; fillcolor="#f5f7f8"; color="#78909c";`);
  const gwLines = [
    `<B>${labelText(listing.gateway.name, 48)}</B>`,
    labelText(gwAddress, 48),
    ...(listing.gateway.ipv6 ? [labelText(listing.gateway.ipv6, 48)] : []),
  ];
  add(
    `    gw [shape=box, style="rounded,filled", fillcolor="white", margin="0.12,0.06", label=<${gwLines.join("<BR/>")}>];`,
  );
  rows.forEach((t, i) => {
    const body = t.rows.map((r, j) => cell(r.markup, ` PORT="r${j}"`)).join("");
    add(`    gt${i} [label=${table(body, ' BGCOLOR="white"')}];`);
  });
  add("  }");

  // The experiment's nodes, each with its services.
  add("  subgraph cluster_nodes {");
  add(`    label=<<B>experiment nodes</B>>; style="rounded"; color="#90a4ae";`);
  for (const node of nodeNames) {
    const addresses = [
      ...new Set([
        ...open6.filter((r) => r.node === node).map((r) => labelText(r.address, 48)),
        ...listing.dedicated.filter((d) => d.node === node).map((d) => `public ${labelText(d.address, 48)}`),
      ]),
    ];
    const head = `<TR><TD PORT="h" BGCOLOR="#e3f2fd"><B>${labelText(node)}</B>${addresses.length > 0 ? `<BR/>${small(addresses.join("<BR/>"))}` : ""}</TD></TR>`;
    const body = [...services.get(node)!].map(([text, id]) => cell(text, ` PORT="${id}"`)).join("");
    add(`    ${nodeId.get(node)} [label=${table(head + body)}];`);
  }
  if (hosts.length > 0)
    add(
      `    every [shape=box, style="rounded,dashed", color="${GREEN}", margin="0.12,0.06", label=<<B>every node</B><BR/>${small(`leaves through ${labelText(gwAddress, 48)}`)}>];`,
    );
  add("  }");

  // Inbound: source -> gateway table -> node. The heavy weights keep each row of the picture straight.
  rows.forEach((t, i) => {
    const style = t.rows.every((r) => r.origin === "dynamic") ? "dashed" : "solid";
    add(`  src${i} -> gt${i} [weight=8, style=${style}, color="${t.sources.length > 0 ? ORANGE : INK}"];`);
    const n = nodeId.get(t.node)!;
    for (const [j, r] of t.rows.entries())
      add(
        `  gt${i}:r${j}:e -> ${n}:${r.to}:w [weight=8, color="${r.color}", style=${edgeStyle(r.origin)}${r.both ? ", dir=both" : ""}];`,
      );
  });
  // Outbound: every node, through the gateway's NAT, to each host and service (the edges run right to left;
  // their arrows point the way connections are opened).
  if (hosts.length > 0) {
    add(`  gw -> every [dir=back, color="${GREEN}"];`);
    for (const [i, [, grants]] of hosts.entries())
      for (const [j, g] of grants.entries())
        add(`  out${i}:o${j}:e -> gw [dir=back, color="${GREEN}", style=${edgeStyle(g.origin)}];`);
  }
  if (blocks.length > 0) add(`  blocked -> gw [color="${RED}", arrowhead=tee, penwidth=1.5];`);
  if (nodeNames.length === 0 && hosts.length === 0)
    add(`  nothing [shape=box, style="rounded,dashed", label=<nothing is exposed>];`);
  add("}");
  return `${out.join("\n")}\n`;
}

/** Elements and attributes the SVG must not carry: scripts, links, styles, embedded or referred documents. */
const FORBIDDEN_ELEMENT = /^<\s*(script|a|image|foreignObject|iframe|object|embed|use|style)\b/i;
const FORBIDDEN_ATTRIBUTE = /\s(on[a-z]+|(xlink:)?href|src)\s*=|url\(\s*['"]?(?!#)/i;

/**
 * The SVG as given out: without its document type (a reference to the W3C's DTD), with fonts that renderers
 * without Helvetica match by metrics, and checked to refer to nothing outside itself.
 */
function selfContained(svg: string): string {
  const out = svg
    .replace(/<!DOCTYPE[^>]*>\s*/i, "")
    .replaceAll('font-family="Helvetica,sans-Serif"', 'font-family="Helvetica,Arial,Liberation Sans,sans-serif"');
  for (const m of out.matchAll(/<[^>]*>/g)) {
    const tag = m[0];
    if (tag.startsWith("<!--") || tag.startsWith("<?")) continue;
    if (FORBIDDEN_ELEMENT.test(tag) || FORBIDDEN_ATTRIBUTE.test(tag))
      throw new Error(`the diagram's SVG has an element it must not have: ${tag.slice(0, 80)}`);
  }
  return out;
}

type VizModule = typeof import("@viz-js/viz");
let viz: Promise<Awaited<ReturnType<VizModule["instance"]>>> | undefined;

/**
 * Graphviz's module. The CommonJS bundles (dist/fwc-*.cjs) run their code where `import()` has no loader, so
 * there it is `require`d; everywhere else (ES modules, where `require` is not defined) it is imported.
 */
async function loadViz(): Promise<VizModule> {
  if (typeof require === "function") return require("@viz-js/viz") as VizModule;
  return import("@viz-js/viz");
}

/** Lays out and draws DOT text as SVG (Graphviz in WebAssembly, loaded on the first call). */
export async function renderSvg(dot: string): Promise<string> {
  viz ??= loadViz().then((m) => m.instance());
  return selfContained((await viz).renderString(dot, { format: "svg" }));
}

/** The exposure diagram of an endpoint listing, as an SVG document. */
export async function exposureSvg(listing: EndpointListing, opts: DiagramOptions = {}): Promise<string> {
  return renderSvg(diagramDot(listing, opts));
}
