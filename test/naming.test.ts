/** Emulab's naming rule (docs/naming.md): each case with the exact name Emulab produces, or its error. */
import { describe, expect, it } from "vitest";
import { errors, evaluate, ns } from "./helpers.js";

const names = (text: string) => {
  const { topo, diags } = evaluate(text);
  return {
    nodes: topo.nodes.map((n) => n.name),
    links: topo.links.map((l) => l.name),
    lans: topo.lans.map((l) => l.name),
    diags,
  };
};

describe("Emulab naming", () => {
  it("array elements become name-index: n(0) -> n-0", () => {
    const r = names(ns("for {set i 0} {$i < 3} {incr i} { set n($i) [$ns node] }"));
    expect(r.nodes).toEqual(["n-0", "n-1", "n-2"]);
    expect(r.diags).toEqual([]);
  });

  it("$n(0) evaluates to the new name", () => {
    const { result } = evaluate(ns('set n(0) [$ns node]\nputs "$n(0)"'));
    expect(result.output).toEqual(["n-0\n"]);
  });

  it("index text is kept verbatim: n(01) -> n-01, m(client-7) -> m-client-7", () => {
    expect(names(ns("set n(01) [$ns node]\nset m(client-7) [$ns node]")).nodes).toEqual(["n-01", "m-client-7"]);
  });

  it("set a [set b [$ns node]] names the node b", () => {
    const r = names(ns("set a [set b [$ns node]]"));
    expect(r.nodes).toEqual(["b"]);
    const { result } = evaluate(ns('set a [set b [$ns node]]\nputs "$a $b"'));
    expect(result.output).toEqual(["b b\n"]);
  });

  it("foreach v {alpha beta} { set $v [$ns node] } -> alpha, beta", () => {
    expect(names(ns("foreach v {alpha beta} { set $v [$ns node] }")).nodes).toEqual(["alpha", "beta"]);
  });

  it("a proc that creates a node in a local and returns it: the global receiving it names it", () => {
    const r = names(ns("proc mk {} { global ns; set x [$ns node]; return $x }\nset server [mk]"));
    expect(r.nodes).toEqual(["server"]);
  });

  it("proc p {} { global q; set q(5) [$ns node] } -> q-5", () => {
    expect(names(ns("proc p {} { global ns q; set q(5) [$ns node] }\np")).nodes).toEqual(["q-5"]);
  });

  it("a node never assigned by set keeps tbnode-n<K>; the counter is shared by nodes, links and LANs", () => {
    const r = names(
      ns(
        'lappend l [$ns node]\nset a [$ns node]\n$ns duplex-link $a [lindex $l 0] 100Mb 0ms DropTail\nset b [$ns node]\nset lan0 [$ns make-lan "$a $b" 100Mb 0ms]',
      ),
    );
    expect(r.nodes).toEqual(["tbnode-n1", "a", "b"]);
    expect(r.links).toEqual(["tblink-l3"]);
    expect(r.lans).toEqual(["lan0"]);
    expect(r.diags).toEqual([]);
  });

  it("an unassigned make-lan keeps tblan-lan<K>", () => {
    const r = names(ns('set a [$ns node]\nset b [$ns node]\n$ns make-lan "$a $b" 100Mb 0ms'));
    expect(r.lans).toEqual(["tblan-lan3"]);
  });

  it("assignment to a proc's local variable does not rename (no global of that name)", () => {
    const r = names(ns("proc mk {} { global ns; set x [$ns node]; lappend ::keep $x }\nmk"));
    expect(r.nodes).toEqual(["tbnode-n1"]);
  });

  it("a set in between resets the last created object", () => {
    const r = names(ns("lappend l [$ns node]\nset other 5\nset x [lindex $l 0]"));
    expect(r.nodes).toEqual(["tbnode-n1"]);
  });

  it("the simulator itself is renamed after its variable", () => {
    const { result } = evaluate("set ns [new Simulator]\nputs $ns\nsource tb_compat.tcl\n$ns run\n");
    expect(result.output).toEqual(["ns\n"]);
  });
});

describe("Emulab naming errors", () => {
  it("n(1,2) fails the `$ns run` DNS check", () => {
    const e = errors(ns("set n(1,2) [$ns node]"));
    expect(e.map((d) => [d.code, d.line, d.col])).toEqual([["FWC400", 3, 5]]);
    expect(e[0]!.message).toContain('"n-1,2"');
    expect(e[0]!.message).toContain("DNS limitations");
  });

  it("names with _ fail the `$ns run` check; links and LANs too", () => {
    const e = errors(
      ns("set my_node [$ns node]\nset b [$ns node]\nset my_link [$ns duplex-link $my_node $b 1Gb 0ms DropTail]"),
    );
    expect(e.map((d) => [d.code, d.line])).toEqual([
      ["FWC400", 3],
      ["FWC400", 5],
    ]);
    expect(e[1]!.message).toContain("lan/link name");
  });

  it("assigning an already-named variable a new object is fatal", () => {
    const e = errors(ns("set x [$ns node]\nset x [$ns node]"));
    expect(e.map((d) => [d.code, d.line, d.col])).toEqual([["FWC401", 4, 5]]);
    expect(e[0]!.message).toContain(`can't rename to "x": command already exists`);
    expect(e[0]!.message).toContain('(node "x")');
  });

  it("a name collision between n-1 and n(1) is fatal", () => {
    const e = errors(ns("set n-1 [$ns node]\nset n(1) [$ns node]"));
    expect(e.map((d) => [d.code, d.line])).toEqual([["FWC401", 4]]);
    expect(e[0]!.message).toContain('"n-1"');
  });

  it("a name starting with a digit is fatal", () => {
    const e = errors(ns("set 1st [$ns node]"));
    expect(e.map((d) => d.code)).toEqual(["FWC402"]);
  });

  it("a name that is a Tcl command is fatal (Tcl's rename refuses it)", () => {
    const e = errors(ns("set list [$ns node]"));
    expect(e.map((d) => d.code)).toEqual(["FWC401"]);
  });

  it("a LAN of one node is accepted, as Emulab's current parser does; a LAN of none is a warning", () => {
    expect(errors(ns('set a [$ns node]\nset lan0 [$ns make-lan "$a" 100Mb 0ms]'))).toEqual([]);
    const r = evaluate(ns('set lan0 [$ns make-lan "" 100Mb 0ms]'));
    expect(r.diags.map((d) => [d.code, d.severity, d.line])).toEqual([["FWC314", "warning", 3]]);
  });

  it("`$ns run` twice is an error, and a file without it too", () => {
    expect(errors(ns("$ns run")).map((d) => d.code)).toEqual(["FWC312"]);
    expect(errors("set ns [new Simulator]\nsource tb_compat.tcl\nset a [$ns node]\n").map((d) => d.code)).toEqual([
      "FWC308",
    ]);
  });
});
