/** Syntax problems: each reported once, at the right place, with what to do about it. */
import { describe, expect, it } from "vitest";
import { parseScript } from "../src/ns/parser.js";
import { evaluate, ns } from "./helpers.js";

const codes = (text: string) => evaluate(text).diags.map((d) => [d.code, d.line, d.col]);

describe("parser", () => {
  it("keeps every word's position, through brackets, quotes and continuation lines", () => {
    const text = 'set a [list "x $b" {y}] ;# c\nputs \\\n  $a(1)';
    const { script, problems } = parseScript(text);
    expect(problems).toEqual([]);
    const [c1, c2] = script.commands;
    expect(c1!.words.map((w) => text.slice(w.start, w.end))).toEqual(["set", "a", '[list "x $b" {y}]']);
    expect(c2!.words.map((w) => text.slice(w.start, w.end))).toEqual(["puts", "$a(1)"]);
  });

  it("parses a quoted string that spans lines", () => {
    const { script } = parseScript('set l "a\nb c"\n');
    expect(script.commands[0]!.words[2]!.lit).toBe("a\nb c");
  });

  it("reports an unclosed brace where it opens", () => {
    expect(codes(ns("if {1} {\n  set x 1\n"))).toContainEqual(["FWC101", 3, 8]);
  });

  it("reports an unclosed quote where it opens, and still checks the commands before it", () => {
    const d = codes('set ns [new Simulator]\nsource tb_compat.tcl\ntb-set-node-oss x y\nset a "oops\nset b 1\n');
    expect(d).toContainEqual(["FWC102", 4, 7]);
    expect(d).toContainEqual(["FWC200", 3, 1]);
  });

  it("reports an unclosed bracket and an unclosed array index", () => {
    expect(codes(ns("set a [expr 1"))).toContainEqual(["FWC103", 3, 7]);
    expect(codes(ns("set a $b(1"))).toContainEqual(["FWC108", 3, 7]);
  });

  it("reports characters glued to a closing brace or quote", () => {
    expect(codes(ns("set a {x}y"))).toContainEqual(["FWC104", 3, 10]);
    expect(codes(ns('set a "x"y'))).toContainEqual(["FWC105", 3, 10]);
  });

  it("reports a non-breaking space and then treats it as a space", () => {
    const d = evaluate(ns("set a\u00a0[$ns node]"));
    expect(d.diags.map((x) => [x.code, x.line, x.col])).toEqual([["FWC106", 3, 6]]);
    expect(d.topo.nodes.map((n) => n.name)).toEqual(["a"]);
  });

  it("reports git conflict markers once each, without a cascade of unknown commands", () => {
    const d = evaluate(ns("<<<<<<< HEAD\nset a [$ns node]\n=======\nset b [$ns node]\n>>>>>>> branch"));
    expect(d.diags.map((x) => [x.code, x.line])).toEqual([
      ["FWC107", 3],
      ["FWC107", 5],
      ["FWC107", 7],
    ]);
  });

  it("comments start only where a command starts", () => {
    const r = evaluate("set x a#b ;# comment\nputs $x\n# full line \\\n continued\nputs ok\n");
    expect(r.result.output).toEqual(["a#b\n", "ok\n"]);
  });

  it("a syntax error inside a loop body is reported at its position in the file", () => {
    expect(codes(ns("for {set i 0} {$i < 2} {incr i} {\n  set x {a}b\n}"))).toContainEqual(["FWC104", 4, 12]);
  });

  it("an expression error points into the braced expression", () => {
    // The expression is parsed before any variable is read: a syntax error wins over the unset $a.
    const d = evaluate(ns("if {$a +* 2} { }"));
    expect(d.diags.map((x) => [x.code, x.line, x.col])).toEqual([["FWC203", 3, 9]]);
    const e = evaluate(ns("set a 1\nif {$a + } { }"));
    expect(e.diags.map((x) => [x.code, x.line, x.col])).toEqual([["FWC203", 4, 10]]);
  });
});
