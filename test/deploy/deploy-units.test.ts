import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { resolveDynamic } from "../../src/access/dynamic.js";
import { diffElements, type ElementSet, renderDelta } from "../../src/backends/nftables/render.js";
import { blockElements, parseBlock } from "../../src/deploy/blocks.js";
import { G5kOpening, g5kRequest } from "../../src/deploy/commands.js";
import { admits, blocked, parseFlows } from "../../src/deploy/conntrack.js";
import { withoutRanges } from "../../src/deploy/lifecycle.js";
import { normalizeKey, parseListing } from "../../src/deploy/nft.js";
import { skeletonLines } from "../../src/deploy/table.js";
import { DiagnosticBag } from "../../src/diagnostics/diagnostic.js";
import { portBitmap, portRanges } from "../../src/plan/allocations.js";
import type { BlockEntry } from "../../src/store/schema.js";

describe("element deltas", () => {
  const a: ElementSet = {
    rdr4: [
      { key: "198.51.100.1 . tcp . 20000 : 10.1.1.2 . 22", comment: "p/e 4:1" },
      { key: "198.51.100.1 . tcp . 20001 : 10.1.1.2 . 80", comment: "p/e 4:5" },
    ],
    nodes4: [{ key: "10.1.1.2", comment: "p/e a" }],
  };
  const b: ElementSet = {
    rdr4: [
      { key: "198.51.100.1 . tcp . 20000 : 10.1.1.2 . 22", comment: "p/e 4:1" },
      { key: "198.51.100.1 . tcp . 20001 : 10.1.1.2 . 80", comment: "p/e 5:5" },
    ],
    nodes4: [{ key: "10.1.1.2", comment: "p/e a" }],
    out4: [{ key: "10.1.1.2 . 192.0.2.0/24 . tcp . 443", comment: "p/e 6:1" }],
  };

  it("touches only what changed; a changed comment is a change; deletions come first", () => {
    const d = diffElements(a, b);
    expect(d.remove).toEqual({ rdr4: [a.rdr4![1]] });
    expect(d.add).toEqual({ rdr4: [b.rdr4![1]], out4: b.out4 });
    expect(renderDelta(d, "open p/e").split("\n").slice(1, -1)).toEqual([
      "delete element inet fwc rdr4 { 198.51.100.1 . tcp . 20001 }",
      'add element inet fwc rdr4 { 198.51.100.1 . tcp . 20001 comment "p/e 5:5" : 10.1.1.2 . 80 }',
      'add element inet fwc out4 { 10.1.1.2 . 192.0.2.0/24 . tcp . 443 comment "p/e 6:1" }',
    ]);
    expect(diffElements(b, b)).toEqual({ remove: {}, add: {} });
  });
});

describe("reading nft's listing back", () => {
  const listing = `table inet fwc {
\tset nodes4 {
\t\ttype ipv4_addr
\t\telements = { 10.1.1.2 comment "p/e a", 10.1.1.3 comment "p/e b" }
\t}

\tmap rdr4 {
\t\ttype ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service
\t\telements = { 198.51.100.1 . tcp . 20000 comment "p/e 4:1" : 10.1.1.2 . 22,
\t\t\t     198.51.100.1 . udp . 20001 comment "p/e open 1:9" : 10.1.1.3 . 53 }
\t}

\tset out4 {
\t\ttype ipv4_addr . ipv4_addr . inet_proto . inet_service
\t\tflags interval
\t\telements = { 10.1.1.2 . 1.2.3.4 . tcp . 80-90 comment "p/e 5:1" }
\t}

\tset open6 {
\t\ttype ipv6_addr . inet_proto . inet_service
\t\tflags interval
\t}

\tchain forward {
\t\ttype filter hook forward priority filter; policy accept;
\t\tip daddr @nodes4 drop
\t}
}
`;

  it("parses every set and map, with comments and map values, across lines", () => {
    expect(parseListing(listing)).toEqual({
      nodes4: [
        { key: "10.1.1.2", comment: "p/e a" },
        { key: "10.1.1.3", comment: "p/e b" },
      ],
      rdr4: [
        { key: "198.51.100.1 . tcp . 20000 : 10.1.1.2 . 22", comment: "p/e 4:1" },
        { key: "198.51.100.1 . udp . 20001 : 10.1.1.3 . 53", comment: "p/e open 1:9" },
      ],
      out4: [{ key: "10.1.1.2 . 1.2.3.4 . tcp . 80-90", comment: "p/e 5:1" }],
      open6: [],
    });
  });

  it("compares keys in one spelling: full prefixes, one-port ranges, IPv6; ports stay ports", () => {
    expect(normalizeKey("10.1.1.2 . 1.2.3.4/32 . tcp . 80-80")).toBe("10.1.1.2 . 1.2.3.4 . tcp . 80");
    expect(normalizeKey("2620:0:e01:0:0:0:0:4 . 2620::/48 . udp . 53")).toBe("2620:0:e01::4 . 2620::/48 . udp . 53");
    expect(normalizeKey("198.51.100.1 . tcp . 20006 : 10.1.1.2 . 22")).toBe(
      "198.51.100.1 . tcp . 20006 : 10.1.1.2 . 22",
    );
  });
});

describe("revoked flows", () => {
  const lines = [
    // Inbound through the gateway's port 20000 to web:22 (DNAT).
    "tcp      6 431999 ESTABLISHED src=192.0.2.7 dst=198.51.100.1 sport=40000 dport=20000 src=10.1.1.2 dst=192.0.2.7 sport=22 dport=40000 [ASSURED] mark=0 use=1",
    // Outbound from the node to 1.2.3.4:85 (SNAT).
    "tcp      6 431999 ESTABLISHED src=10.1.1.2 dst=1.2.3.4 sport=50000 dport=85 src=1.2.3.4 dst=198.51.100.1 sport=85 dport=50000 [ASSURED] mark=0 use=1",
    "udp      17 29 src=10.9.9.9 dst=10.9.9.1 sport=1 dport=2 src=10.9.9.1 dst=10.9.9.9 sport=2 dport=1 mark=0 use=1",
    "icmp     1 29 src=1.1.1.1 dst=2.2.2.2 type=8 code=0 id=1 src=2.2.2.2 dst=1.1.1.1 type=0 code=0 id=1 mark=0 use=1",
    "unknown  47 599 src=10.1.1.2 dst=192.0.2.9 src=192.0.2.9 dst=198.51.100.1 mark=0 use=1",
  ].join("\n");
  const flows = parseFlows(lines);
  const granted: ElementSet = {
    rdr4: [{ key: "198.51.100.1 . tcp . 20000 : 10.1.1.2 . 22", comment: "p/e 4:1" }],
    out4: [{ key: "10.1.1.2 . 1.2.3.0/24 . tcp . 80-90", comment: "p/e 5:1" }],
  };

  it("parses both directions of entries of every protocol, ICMP with type, code and id", () => {
    expect(
      flows.map(
        (f) => `${f.proto} ${f.orig.src}:${f.orig.sport}>${f.orig.dst}:${f.orig.dport} ${f.reply.src}:${f.reply.sport}`,
      ),
    ).toEqual([
      "tcp 192.0.2.7:40000>198.51.100.1:20000 10.1.1.2:22",
      "tcp 10.1.1.2:50000>1.2.3.4:85 1.2.3.4:85",
      "udp 10.9.9.9:1>10.9.9.1:2 10.9.9.1:2",
      "icmp 1.1.1.1:undefined>2.2.2.2:undefined 2.2.2.2:undefined",
      "47 10.1.1.2:undefined>192.0.2.9:undefined 192.0.2.9:undefined",
    ]);
    expect(flows[3]!.spec).toEqual([
      ...["-p", "icmp", "--orig-src", "1.1.1.1", "--orig-dst", "2.2.2.2"],
      ...["--icmp-type", "8", "--icmp-code", "0", "--icmp-id", "1"],
    ]);
    expect(flows[0]!.spec).toEqual([
      "-p",
      "tcp",
      "--orig-src",
      "192.0.2.7",
      "--orig-dst",
      "198.51.100.1",
      "--sport",
      "40000",
      "--dport",
      "20000",
    ]);
  });

  it("a flow is admitted by the grant that let it through, and by no other", () => {
    expect(flows.map((f) => admits(granted, f))).toEqual([true, true, false, false, false]);
    // The redirect now goes elsewhere, the outbound range no longer holds port 85: both are revoked.
    const after: ElementSet = {
      rdr4: [{ key: "198.51.100.1 . tcp . 20000 : 10.1.1.3 . 22", comment: "p/e 4:1" }],
      out4: [{ key: "10.1.1.2 . 1.2.3.0/24 . tcp . 80-84", comment: "p/e 5:1" }],
    };
    expect(flows.map((f) => admits(after, f))).toEqual([false, false, false, false, false]);
    // A grant of every protocol admits the flows without ports too (a ping, GRE): close must cut them.
    const all: ElementSet = { out4all: [{ key: "10.1.1.2 . 192.0.2.0/24", comment: "p/e 6:1" }] };
    expect(flows.map((f) => admits(all, f))).toEqual([false, false, false, false, true]);
  });

  it("a blocked network's flows, either end, and a blocked service port in both directions", () => {
    const whole: ElementSet = { block4: [{ key: "192.0.2.0/24", comment: "block" }] };
    expect(flows.map((f) => blocked(whole, f))).toEqual([true, false, false, false, true]);
    const ssh: ElementSet = { block4p: [{ key: "192.0.2.0/24 . tcp . 22", comment: "block" }] };
    // The inbound flow reaches web:22 through the gateway's port 20000: its service port is 22.
    expect(flows.map((f) => blocked(ssh, f))).toEqual([true, false, false, false, false]);
    const http: ElementSet = { block4p: [{ key: "1.2.3.0/24 . tcp . 85", comment: "block" }] };
    expect(flows.map((f) => blocked(http, f))).toEqual([false, true, false, false, false]);
  });
});

describe("dynamic grants", () => {
  const nodes = ["web", "db"];

  it("resolve like the NS file's targets, marked dynamic, positioned in the option's text", () => {
    const bag = new DiagnosticBag();
    const p = resolveDynamic({ rdr: "web/80 db,5432,tcp,from=192.0.2.0/24", nat: "1.2.3.4/53/udp" }, nodes, bag);
    expect(bag.items).toEqual([]);
    expect(p!.inbound.map((g) => [g.node, g.port, g.sources, g.origin.source, g.origin.file, g.origin.column])).toEqual(
      [
        ["web", 80, [], "dynamic", "--rdr", 1],
        ["db", 5432, ["192.0.2.0/24"], "dynamic", "--rdr", 8],
      ],
    );
    expect(p!.outbound.map((g) => `${g.host} ${g.proto} ${g.port}`)).toEqual(["1.2.3.4/32 udp 53"]);
    expect(p!.dns.map((d) => d.node)).toEqual(["web", "db"]);
  });

  it("a target without a node needs --node; an unknown node is named", () => {
    const bag = new DiagnosticBag();
    expect(resolveDynamic({ rdr: "web/80 22" }, nodes, bag)).toBeNull();
    expect(bag.items.map((d) => [d.code, d.span.file.path, d.span.start, d.message])).toEqual([
      ["FWC515", "--rdr", 7, 'rdr target "22" names no node'],
    ]);
    const ok = new DiagnosticBag();
    expect(resolveDynamic({ rdr: "22", node: "db" }, nodes, ok)!.inbound[0]!.node).toBe("db");
    const bad = new DiagnosticBag();
    resolveDynamic({ rdr: "wbe/80" }, nodes, bad);
    expect(bad.items.map((d) => [d.code, d.message])).toEqual([
      ["FWC515", `rdr target "wbe/80": no node "wbe" in this experiment`],
    ]);
  });

  it("g5kfw openings become open6 targets (node names or the nodes' addresses, ports, sources)", () => {
    const addrs = { web: { ipv6: "2001:db8::47" }, db: { ipv4: "10.1.1.3" } };
    const openings = G5kOpening.parse([
      { addr: "2001:db8::47/128", port: "22 8000..8100" },
      { addr: ["web"], proto: "all", src_addr: "2001:db8:1::/48" },
    ]);
    expect(g5kRequest(openings, addrs)).toEqual({
      request: { open6: "web,22,tcp+udp web,8000..8100,tcp+udp web,all,from=2001:db8:1::/48" },
    });
    expect(g5kRequest(G5kOpening.parse([{ addr: "db", proto: "all", port: 22 }]), addrs)).toEqual({
      problem: 'opening 0: "all" takes no port',
    });
    expect(g5kRequest(G5kOpening.parse([{ addr: "2001:db8::99", port: 22 }]), addrs)).toEqual({
      problem: 'opening 0: "2001:db8::99" is not a node of the experiment or its IPv6 address',
    });
  });

  it("g5kfw fields are values: a comma, a second field or an IPv4 source is refused, never passed on", () => {
    const accepted = (o: object) => G5kOpening.safeParse([o]).success;
    // `from=::/0` smuggled into src_addr used to open the port to everyone.
    expect(accepted({ addr: "web", port: 22, src_addr: "2620:1::/32,from=::/0" })).toBe(false);
    expect(accepted({ addr: "web", port: 22, src_addr: ["2620:1::/32", "::/0,tcp"] })).toBe(false);
    // An IPv4 source on an IPv6 opening used to be dropped silently, leaving the port open to everyone.
    expect(accepted({ addr: "web", port: 22, src_addr: "192.0.2.0/24" })).toBe(false);
    expect(accepted({ addr: "web,all", port: 22 })).toBe(false);
    expect(accepted({ addr: "web", port: "22,tcp,from=::/0" })).toBe(false);
    expect(accepted({ addr: "web", port: ["22", "23 24"] })).toBe(false);
    expect(accepted({ addr: "fe80::1%eth0", port: 22 })).toBe(false);
    expect(accepted({ addr: "web", port: 22, extra: 1 })).toBe(false);
    expect(accepted({ addr: "web", port: 70000 })).toBe(false);
    expect(accepted({ addr: "", port: 22 })).toBe(false);
    expect(accepted({ addr: "web", port: 22, src_addr: "2620:1::/32 2001:db8::1" })).toBe(true);
    // A node named like an Object property is not a node.
    expect(g5kRequest(G5kOpening.parse([{ addr: "constructor", port: 22 }]), { web: {} })).toEqual({
      problem: 'opening 0: "constructor" is not a node of the experiment or its IPv6 address',
    });
  });
});

describe("the blocklist", () => {
  const entry = (cidr: string, more: Partial<BlockEntry> = {}): BlockEntry => ({
    cidr,
    reason: "",
    by: "cli:test",
    at: "2026-11-27T00:00:00Z",
    ...more,
  });

  it("networks inside another are merged away; port blocks are split into disjoint elements", () => {
    const e = blockElements([
      entry("10.0.0.0/8"),
      entry("10.1.0.0/16"),
      entry("192.0.2.7/32"),
      entry("2001:db8::/32"),
      entry("2001:db8:1::/48"),
      entry("198.51.100.0/24", { proto: "tcp", port: 20, portEnd: 30 }),
      entry("198.51.100.0/25", { proto: "tcp+udp", port: 25, portEnd: 25 }),
    ]);
    expect(e.block4!.map((x) => x.key)).toEqual(["10.0.0.0/8", "192.0.2.7"]);
    expect(e.block6!.map((x) => x.key)).toEqual(["2001:db8::/32"]);
    expect(e.block4p!.map((x) => x.key).sort()).toEqual([
      "198.51.100.0/24 . tcp . 20-30",
      "198.51.100.0/25 . udp . 25",
    ]);
  });

  it("reads a network, a protocol and a port, and refuses anything else with its position", () => {
    expect(parseBlock("203.0.113.7/24", undefined, undefined)).toEqual({ ok: true, block: { cidr: "203.0.113.0/24" } });
    expect(parseBlock("2001:DB8::1", "tcp", "22")).toEqual({
      ok: true,
      block: { cidr: "2001:db8::1/128", proto: "tcp", port: 22, portEnd: 22 },
    });
    expect(parseBlock("10.0.0.0/8", undefined, "8000..8100")).toMatchObject({
      block: { proto: "tcp+udp", port: 8000, portEnd: 8100 },
    });
    const bad = (c: string, p?: string, port?: string) => {
      const r = parseBlock(c, p, port);
      return r.ok ? "accepted" : [r.code, r.arg, r.at];
    };
    expect(bad("10.0.0.0/33")).toEqual(["FWC511", "cidr", 0]);
    expect(bad("fe80::1%eth0")).toEqual(["FWC511", "cidr", 0]);
    expect(bad("any")).toEqual(["FWC511", "cidr", 0]);
    expect(bad("10.0.0.0/8,tcp")).toEqual(["FWC511", "cidr", 0]);
    expect(bad("10.0.0.0/8", "icmp")).toEqual(["FWC513", "proto", 0]);
    expect(bad("10.0.0.0/8", "tcp", "0")).toEqual(["FWC512", "port", 0]);
    expect(bad("10.0.0.0/8", "tcp", "90..80")).toEqual(["FWC514", "port", 0]);
    expect(bad("10.0.0.0/8", "tcp", "70000")).toEqual(["FWC512", "port", 0]);
  });
});

describe("comparing the tables' rules", () => {
  it("drops element lists of sets and maps only: a rule's comment cannot hide the rule", () => {
    const listing = [
      "table inet fwc {",
      "\tset nodes4 {",
      "\t\ttype ipv4_addr",
      '\t\telements = { 10.1.1.3 comment "p/e web",',
      "\t\t\t     10.1.1.4 }",
      "\t}",
      "",
      "\tchain forward {",
      "\t\ttype filter hook forward priority filter; policy accept;",
      '\t\tiifname "eth1" accept comment "elements = {}"',
      "\t\tct state established,related accept",
      "\t}",
      "}",
    ].join("\n");
    expect(skeletonLines(listing)).toEqual([
      "table inet fwc {",
      "\tset nodes4 {",
      "\t\ttype ipv4_addr",
      "\t}",
      "\tchain forward {",
      "\t\ttype filter hook forward priority filter; policy accept;",
      '\t\tiifname "eth1" accept comment "elements = {}"',
      "\t\tct state established,related accept",
      "\t}",
      "}",
    ]);
  });
});

describe("port ranges less an experiment's own", () => {
  it("agrees with the bitmap of the whole port space (property)", () => {
    const ranges = fc
      .uniqueArray(fc.integer({ min: 1, max: 400 }), { maxLength: 120 })
      .map((ps) => portRanges(portBitmap(ps.map((p) => ({ port: p, portEnd: p })))));
    fc.assert(
      fc.property(ranges, ranges, (all, mine) => {
        const used = portBitmap(all);
        for (const m of mine) used.fill(0, m.port, m.portEnd + 1);
        expect(withoutRanges(all, mine)).toEqual(portRanges(used));
      }),
      { numRuns: 300 },
    );
  });
});
