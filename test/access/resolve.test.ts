/** tb-allow-external calls to the AccessPolicy: the DETER example, every check, and where each report points. */
import { describe, expect, it } from "vitest";
import { resolveAccess } from "../../src/access/resolve.js";
import { DiagnosticBag } from "../../src/diagnostics/diagnostic.js";
import { SourceFile } from "../../src/diagnostics/source.js";
import { evaluateNs } from "../../src/ns/index.js";

const NODES = "set node [$ns node]\nset web [$ns node]\nset othernode [$ns node]\n";

function resolve(calls: string) {
  const text = `set ns [new Simulator]\nsource tb_compat.tcl\n${NODES}${calls}\n$ns run\n`;
  const file = new SourceFile("exp.ns", text);
  const bag = new DiagnosticBag();
  const r = evaluateNs(file, undefined, bag);
  const policy = resolveAccess(r.experiment, file, bag);
  const diags = bag.sorted().map((d) => {
    const p = file.position(d.span.start);
    return {
      code: d.code,
      line: p.line,
      col: p.col,
      len: d.span.end - d.span.start,
      message: d.message,
      related: (d.related ?? []).map((x) => file.position(x.span.start)),
    };
  });
  return { policy, diags };
}

describe("the DETER example", () => {
  it("yields exactly the documented grants", () => {
    const { policy, diags } = resolve(
      'tb-allow-external $node shared nat "192.154.6.22/13/udp 192.154.6.21/25 128.32.112.228" rdr "22 web/80 othernode/13/udp"',
    );
    expect(diags).toEqual([]);
    expect(policy.outbound.map((g) => [g.proto, g.host, g.port, g.portEnd])).toEqual([
      ["udp", "192.154.6.22/32", 13, 13],
      ["tcp", "192.154.6.21/32", 25, 25],
      ["tcp", "128.32.112.228/32", 0, 0],
    ]);
    expect(policy.inbound.map((g) => [g.proto, g.node, g.port])).toEqual([
      ["tcp", "node", 22],
      ["tcp", "web", 80],
      ["udp", "othernode", 13],
    ]);
    expect(policy.nodes).toEqual(["node", "web", "othernode"]);
    expect(policy.dns.map((d) => [d.node, d.reason, d.origin.line, d.origin.column, d.origin.text])).toEqual([
      ["node", "named", 6, 1, "node"],
      ["web", "inbound", 6, 97, "web/80"],
      ["othernode", "inbound", 6, 104, "othernode/13/udp"],
    ]);
    expect(policy.inbound[1]!.origin).toEqual({
      source: "nsfile",
      file: "exp.ns",
      line: 6,
      column: 97,
      text: "web/80",
      call: { line: 6, column: 1 },
    });
    expect(policy.hasCalls).toBe(true);
  });

  it("the legacy form without a cookie asks for a dedicated address", () => {
    const { policy, diags } = resolve("tb-allow-external $web");
    expect(diags).toEqual([]);
    expect(policy.dedicated.map((d) => d.node)).toEqual(["web"]);
    expect(policy.dns.map((d) => [d.node, d.reason])).toEqual([["web", "named"]]);
  });

  it("a file without calls has no grants and says so", () => {
    const { policy } = resolve("");
    expect(policy).toMatchObject({ hasCalls: false, outbound: [], inbound: [], dedicated: [], open6: [], dns: [] });
  });
});

describe("checks, pointing inside the target string", () => {
  const cases: [string, string, string, number, number, number][] = [
    // call, code, severity-free expectation: [code, line, col, len]
    ['tb-allow-external $node shared rdr "22 wbe/80"', "FWC515", "", 6, 40, 6],
    ['tb-allow-external $node shared nat "192.154.6.300/80"', "FWC511", "", 6, 37, 13],
    ['tb-allow-external $node shared nat "10.0.0.1/80"', "FWC521", "", 6, 37, 11],
    ['tb-allow-external $node shared nat "0.0.0.0"', "FWC522", "", 6, 37, 7],
    ['tb-allow-external $node shared nat "::/0,all"', "FWC522", "", 6, 37, 8],
    ['tb-allow-external $node shared rdr "22 22/tcp"', "FWC520", "", 6, 40, 6],
    ['tb-allow-external $node shared rdr "web/90..80"', "FWC514", "", 6, 41, 6],
    ['tb-allow-external $node shared rdr "22/icmp"', "FWC513", "", 6, 40, 4],
    ['tb-allow-external $node share rdr "22"', "FWC500", "", 6, 25, 5],
    ['tb-allow-external $node rdr "22"', "FWC500", "", 6, 25, 3],
    ['tb-allow-external $node shared rdrr "22"', "FWC501", "", 6, 32, 4],
    ["tb-allow-external $node shared rdr", "FWC503", "", 6, 32, 3],
  ];
  for (const [call, code, , line, col, len] of cases)
    it(`${code}: ${call}`, () => {
      const { diags } = resolve(call);
      expect(diags.map((d) => [d.code, d.line, d.col, d.len])).toEqual([[code, line, col, len]]);
    });

  it("a node whose name cannot be a DNS label is an error where it needs its CNAME", () => {
    const { diags } = resolve('set bad(-) [$ns node]\ntb-allow-external $node shared rdr "bad--/22"');
    expect(diags.map((d) => [d.code, d.line, d.col])).toEqual([["FWC523", 7, 37]]);
    expect(diags[0]!.message).toContain('"bad--"');
  });

  it("a problem at the very end of an unquoted target at the end of the file stays inside the file", () => {
    const text = "set ns [new Simulator]\nsource tb_compat.tcl\nset n [$ns node]\ntb-allow-external $n shared rdr n,";
    const file = new SourceFile("eof.ns", text);
    const bag = new DiagnosticBag();
    resolveAccess(evaluateNs(file, undefined, bag).experiment, file, bag);
    const d = bag.items.find((x) => x.code === "FWC510")!;
    expect([d.span.start, d.span.end]).toEqual([text.length - 1, text.length]);
  });

  it("a key given twice points at both", () => {
    const { diags } = resolve('tb-allow-external $node shared rdr "22" rdr "80"');
    expect(diags.map((d) => [d.code, d.col, d.related])).toEqual([["FWC502", 41, [{ line: 6, col: 32 }]]]);
  });

  it("a duplicate target points at both", () => {
    const { diags } = resolve(
      'tb-allow-external $node shared rdr "web/80"\ntb-allow-external $web shared rdr "80/tcp"',
    );
    expect(diags.map((d) => [d.code, d.line, d.col, d.related])).toEqual([["FWC520", 7, 36, [{ line: 6, col: 37 }]]]);
  });

  it("a target built by substitution is reported at its argument", () => {
    const { diags } = resolve('set p 70000\ntb-allow-external $node shared rdr "web/$p"');
    expect(diags.map((d) => [d.code, d.line, d.col, d.len])).toEqual([["FWC512", 7, 36, 8]]);
  });

  it("an unknown key suggests the right one", () => {
    const { diags } = resolve('tb-allow-external $node shared rdrr "22"');
    expect(diags[0]!.message).toContain('"rdrr"');
  });
});

describe("extensions", () => {
  it("subnets, IPv6, ranges, sources, identity mapping and open6", () => {
    const { policy, diags } = resolve(
      'tb-allow-external $web shared nat "128.112.0.0/16,443 2620:0:e00::/48,53,udp" rdr "web,50000..50100,tcp,identity othernode,22,tcp,from=128.32.0.0/16" open6 "22 othernode,all"',
    );
    expect(diags).toEqual([]);
    expect(policy.outbound.map((g) => [g.host, g.family, g.proto, g.port])).toEqual([
      ["128.112.0.0/16", 4, "tcp", 443],
      ["2620:0:e00::/48", 6, "udp", 53],
    ]);
    expect(policy.inbound.map((g) => [g.node, g.port, g.portEnd, g.identity, g.sources])).toEqual([
      ["web", 50000, 50100, true, []],
      ["othernode", 22, 22, false, ["128.32.0.0/16"]],
    ]);
    expect(policy.open6.map((g) => [g.node, g.proto, g.port])).toEqual([
      ["web", "tcp+udp", 22],
      ["othernode", "all", 0],
    ]);
  });
});
