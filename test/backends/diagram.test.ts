/** The exposure diagram: what its DOT shows, the SVG Graphviz draws from it, and strings from users in both. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { diagramDot, exposureSvg, labelText, renderSvg, shortTime } from "../../src/backends/diagram/diagram.js";
import type { EndpointListing } from "../../src/backends/endpoints/endpoints.js";
import type { BlockEntry } from "../../src/store/schema.js";
import { largeListing, smallBlocks, smallListing } from "./diagram-listings.js";

const now = new Date("2026-11-27T15:40:00Z");

/** The DOT text without its HTML-like labels (`label=<...>`, nested angle brackets included). */
function withoutLabels(dot: string): string {
  let out = "";
  let i = 0;
  for (;;) {
    const start = dot.indexOf("label=<", i);
    if (start < 0) return out + dot.slice(i);
    out += dot.slice(i, start);
    let depth = 0;
    let j = start + "label=".length;
    do {
      if (dot[j] === "<") depth++;
      else if (dot[j] === ">") depth--;
      j++;
    } while (depth > 0 && j < dot.length);
    i = j;
  }
}

/** Every edge of the DOT text, as "tail -> head [attributes]". */
const edges = (dot: string) => [...dot.matchAll(/^ {2}(\S+ -> \S+) \[(.*)\];$/gm)].map((m) => `${m[1]} [${m[2]}]`);

describe("labelText", () => {
  it("escapes markup, replaces what XML cannot carry and cuts long text", () => {
    expect(labelText(`a<b>&"'`)).toBe("a&lt;b&gt;&amp;&quot;&#39;");
    expect(labelText("x\ny\tz\r\n")).toBe("x y z ");
    expect(labelText("a\u0000b\u0007c\u001bd\u007fe\uFFFF")).toBe("a\uFFFDb\uFFFDc\uFFFDd\uFFFDe\uFFFD");
    expect(labelText("ab\u202Ecd\u2066")).toBe("ab\uFFFDcd\uFFFD");
    expect(labelText("\uD800x\uDC00 \u{1F600}")).toBe("\uFFFDx\uFFFD \u{1F600}");
    expect(labelText("abcdefghij", 5)).toBe("abcd…");
    expect(labelText("<<<<<<", 4)).toBe("&lt;&lt;&lt;…");
    expect(labelText(20000)).toBe("20000");
    // Graphviz would show \N as the node's ID and \G as the graph's name: backslashes are doubled.
    expect(labelText("a\\N\\G")).toBe("a\\\\N\\\\G");
  });

  it("writes times to the minute, UTC", () => {
    expect(shortTime("2026-11-27T18:00:00.000Z")).toBe("2026-11-27 18:00Z");
    expect(shortTime("2026-11-27T18:00:30Z")).toBe("2026-11-27 18:00:30Z");
    expect(shortTime("soon")).toBe("soon");
  });
});

describe("diagramDot", () => {
  it("shows every redirect, IPv6 opening, dedicated address, outbound grant, source, expiry and blocked network", () => {
    const dot = diagramDot(smallListing(), { blocks: smallBlocks, now });
    for (const text of [
      // inbound: gateway address:port and protocol, the node and its port
      "<B>198.51.100.1:20000</B> tcp",
      "<B>198.51.100.1:20001</B> tcp",
      "<B>198.51.100.1:20002</B> tcp",
      "<B>198.51.100.1:25000..25100</B> tcp",
      "<B>web</B>",
      "<B>gridftp</B>",
      ">22/tcp<",
      ">80/tcp<",
      ">2811/tcp<",
      ">25000..25100/tcp<",
      // tcp and udp of one grant: one row
      "<B>198.51.100.1:20004</B> tcp+udp",
      ">53/tcp+udp<",
      // a dynamic grant given for a time, from one address
      "<I><B>198.51.100.1:20003</B> tcp</I>",
      "until 2026-11-27 18:00Z (in 2h 20m)",
      "<B>only from</B><BR/>203.0.113.7<",
      "<B>only from</B><BR/>128.32.0.0/16<",
      "from anywhere",
      // IPv6 straight to the node's address
      "[2001:db8:1::5] 22/tcp",
      "[2001:db8:1::5] 8000..8100/tcp+udp",
      "IPv6, routed, not translated",
      // dedicated
      "<B>198.51.100.129</B>",
      "dedicated 1:1, every port",
      "public 198.51.100.129",
      // outbound
      "<B>128.32.112.228</B>",
      "<B>2620:0:e00::/48</B>",
      "<B>0.0.0.0/0</B>",
      "<I>all protocols</I>",
      "leaves through 198.51.100.1",
      // blocked
      "<B>203.0.113.0/24</B><BR/>everything",
      "<B>192.0.2.0/24</B><BR/>22/tcp",
      "scanning our ports",
      "cli:ops, 2026-11-20 09:30Z",
      // the gateway
      "<B>gw.testbed.example.net</B>",
      "2001:db8:100::1",
    ])
      expect(dot).toContain(text);
    const all = edges(dot);
    // Each gateway row leads to its node: 3 for web, 2 for gridftp, 2 for db (one dedicated), 2 for worker.
    expect(all.filter((e) => /^gt\d+:r\d+:e -> n\d+:(s\d+|h):w/.test(e))).toHaveLength(9);
    // The dynamic grant is dashed from its source to the node; the dedicated address goes both ways.
    expect(all.filter((e) => e.includes("style=dashed")).length).toBeGreaterThanOrEqual(3);
    expect(all.filter((e) => e.includes("dir=both"))).toHaveLength(1);
    // One outbound edge per host and service: 6 grants, tcp and udp of 2620:0:e00::/48 drawn as one.
    expect(all.filter((e) => /^out\d+:o\d+:e -> gw /.test(e))).toHaveLength(5);
    expect(all).toContain('blocked -> gw [color="#c62828", arrowhead=tee, penwidth=1.5]');
  });

  it("says when a grant has expired, and shows expiries without the time when none is given", () => {
    const later = diagramDot(smallListing(), { now: new Date("2026-11-28T00:00:00Z") });
    expect(later).toContain("expired 2026-11-27 18:00Z");
    expect(later).toContain("at 2026-11-28 00:00Z");
    const timeless = diagramDot(smallListing());
    expect(timeless).toContain("until 2026-11-27 18:00Z<");
    expect(timeless).not.toContain("blocked [");
  });

  it("draws 50 nodes one row each, in name order, with ranges grouped", () => {
    const listing = largeListing();
    const dot = diagramDot(listing);
    const nodes = [...dot.matchAll(/^ {4}(n\d+) \[label=<.*?<B>(node-\d+)<\/B>/gm)].map((m) => [m[1], m[2]]);
    expect(nodes).toHaveLength(50);
    expect(nodes.map((n) => n[1])).toEqual(Array.from({ length: 50 }, (_, i) => `node-${i}`));
    // The ten adjacent ports of node-0 are one row on each side.
    expect(dot).toContain("<B>198.51.100.1:20003..20012</B> tcp");
    expect(dot).toContain(">8000..8009/tcp<");
    expect(dot).not.toContain("198.51.100.1:20004<");
    // A box of sources per node (and set of sources), in the same order, each with one edge to its gateway table.
    const rows = edges(dot).filter((e) => /^src\d+ -> gt\d+ /.test(e));
    expect(rows.length).toBe(50);
    expect(rows.every((e) => /^src(\d+) -> gt\1 /.test(e))).toBe(true);
    // 250 inbound entries in 160 rows (10 ranges of 10), 10 IPv6 openings and 2 dedicated addresses.
    expect(listing.inbound.length).toBe(250);
    expect(edges(dot).filter((e) => /^gt\d+:r\d+:e -> /.test(e))).toHaveLength(160 + 10 + 2);
  });

  it("keeps strings from users inside escaped labels", () => {
    const evil = 'x"]; e [label="p"]\n<script>{}\\N</script>';
    const l = smallListing();
    const listing: EndpointListing = {
      ...l,
      experiment: evil,
      gateway: { name: evil, ipv4: evil, ipv6: evil },
      inbound: l.inbound.map((e) => ({ ...e, node: evil, sources: [evil], expires: evil })),
      outbound: l.outbound.map((e) => ({ ...e, host: evil, expires: evil })),
      open6: l.open6.map((e) => ({ ...e, node: `${evil}6`, address: evil, sources: [evil] })),
      dedicated: l.dedicated.map((d) => ({ ...d, node: evil, address: evil })),
    };
    const blocks: BlockEntry[] = [{ cidr: evil, reason: evil, by: evil, at: evil }];
    const dot = diagramDot(listing, { blocks, now });
    // Outside the labels there is nothing from the listing.
    const rest = withoutLabels(dot);
    for (const s of ["script", "x&quot;", '"p"', "\\N", "{}"]) expect(rest).not.toContain(s);
    expect(rest).not.toMatch(/\bp\b|\be \[/);
    // Inside them, every markup character is an entity.
    expect(dot).toContain("<B>x&quot;]; e [label=&quot;p&quot;] &lt;script&gt;{}\\\\N&lt;/script&gt;</B>");
    expect(dot).not.toMatch(/<script|label="p"/);
  });
});

describe("renderSvg", () => {
  it("draws the small lab as SVG with its texts, and nothing that refers outside", async () => {
    const svg = await exposureSvg(smallListing(), { blocks: smallBlocks, now });
    expect(svg).toMatch(/^<\?xml [^>]*\?>\n(<!--[\s\S]*?-->\n)*<svg /);
    for (const text of [
      "198.51.100.1:20000",
      "198.51.100.1:25000..25100",
      "53/tcp+udp",
      "only from",
      "128.32.0.0/16",
      "from anywhere",
      "[2001:db8:1::5] 22/tcp",
      "198.51.100.129",
      "dedicated 1:1, every port",
      "128.32.112.228",
      "all protocols",
      "until 2026&#45;11&#45;27 18:00Z (in 2h 20m)",
      "203.0.113.0/24",
      "scanning our ports",
      "gw.testbed.example.net",
      "experiment nodes",
    ])
      expect(svg).toContain(text);
    expect(svg).not.toMatch(/<!DOCTYPE|<script|<a |href=|<image|<foreignObject|<style/i);
    expect(svg).toContain('font-family="Helvetica,Arial,Liberation Sans,sans-serif"');
  });

  it("draws 50 nodes", async () => {
    const svg = await exposureSvg(largeListing());
    expect(svg.match(/<g id="node\d+" class="node">/g)?.length).toBe(50 + 50 + 50 + 1 + 1 + 4);
    expect(svg).toContain(">node&#45;49<");
  });

  it("draws an experiment that exposes nothing", async () => {
    const empty: EndpointListing = { ...smallListing(), inbound: [], outbound: [], open6: [], dedicated: [] };
    expect(await exposureSvg(empty)).toContain("nothing is exposed");
  });

  it("draws hostile strings as text: no node, attribute or element is added", async () => {
    const evil = '"];e[URL="//x"]\n<script>{}\\N\\G</script>';
    const l = smallListing();
    const listing: EndpointListing = {
      ...l,
      experiment: evil,
      inbound: l.inbound.map((e) => ({ ...e, node: evil, sources: [evil] })),
      dedicated: [],
      open6: [],
      outbound: [],
    };
    const blocks: BlockEntry[] = [{ cidr: evil, reason: evil, by: evil, at: evil }];
    const dot = diagramDot(listing, { blocks });
    const svg = await renderSvg(dot);
    // The nodes of the DOT text and no others: the box of sources, the gateway table, the gateway, the node and
    // the blocked networks.
    const titles = [...svg.matchAll(/<g id="node\d+" class="node">\n<title>([^<]*)<\/title>/g)].map((m) => m[1]);
    expect(titles.sort()).toEqual(["blocked", "gt0", "gw", "n0", "src0"]);
    expect(svg).not.toMatch(/<script|href|<a /i);
    // Graphviz shows the text as written (\N and \G are not replaced with the node's ID or the graph's name).
    expect(svg).toContain(">&quot;];e[URL=&quot;//x&quot;] &lt;script&gt;{}\\N\\G&lt;/script&gt;<");
    const texts = [...svg.matchAll(/<text[^>]*>([^<]*)</g)].map((m) => m[1]).join("\n");
    expect(texts).not.toMatch(/\b(n0|src0|gt0|exposure)\b/);
  });

  it("draws any string from users as text", async () => {
    const nodeIds = (svg: string) =>
      [...svg.matchAll(/<g id="node\d+" class="node">\n<title>([^<]*)</g)].map((m) => m[1]).sort();
    const l = smallListing();
    // Every node but db (whose dedicated address makes a row of its own) is called `a`.
    const listing = (a: string): EndpointListing => ({
      ...l,
      inbound: l.inbound.map((e) => ({ ...e, node: e.node === "db" ? "db" : a })),
      open6: [],
    });
    const expected = nodeIds(await renderSvg(diagramDot(listing("web"), { blocks: smallBlocks })));
    await fc.assert(
      fc.asyncProperty(
        fc.string({ unit: "binary", maxLength: 60 }).filter((s) => s !== "db"),
        fc.string({ maxLength: 60 }),
        async (a, b) => {
          const svg = await renderSvg(
            diagramDot(listing(a), { blocks: smallBlocks.map((x) => ({ ...x, reason: b })) }),
          );
          expect(nodeIds(svg)).toEqual(expected);
          expect(svg).not.toMatch(/<script|href=|<a /);
        },
      ),
      { numRuns: 40 },
    );
  });
});
