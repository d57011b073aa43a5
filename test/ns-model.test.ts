/** The NS object model: values checked as Emulab checks them, and what `inspect` reports. */
import { describe, expect, it } from "vitest";
import { DEFAULT_LIMITS } from "../src/ns/index.js";
import { parseBandwidth, parseDelay } from "../src/ns/model/units.js";
import { errors, evaluate, expectOneError, ns } from "./helpers.js";

describe("bandwidth and delay", () => {
  it("accepts every unit Emulab accepts, as Kbit/s", () => {
    const cases: [string, number | "*"][] = [
      ["100Mb", 100000],
      ["100Mbps", 100000],
      ["100M", 100000],
      ["1Gb", 1000000],
      ["1Gbps", 1000000],
      ["1G", 1000000],
      ["512kb", 512],
      ["512kbps", 512],
      ["512k", 512],
      ["512K", 512],
      ["512Kb", 512],
      ["512Kbps", 512],
      ["10000000", 10000],
      ["10000000b", 10000],
      ["10000000bps", 10000],
      ["1.5Mb", 1500],
      ["*", "*"],
    ];
    for (const [s, v] of cases) expect([s, parseBandwidth(s)]).toEqual([s, { ok: true, value: v }]);
  });

  it("refuses unknown units and less than 10 kbps", () => {
    for (const s of ["100mb", "100MB", "fast", "9kb", "9999", ""])
      expect([s, parseBandwidth(s).ok]).toEqual([s, false]);
  });

  it("delays: s, ms, ns, bare seconds; nonzero below 2 ms is an error", () => {
    expect(parseDelay("0ms")).toEqual({ ok: true, value: 0 });
    expect(parseDelay("10ms")).toEqual({ ok: true, value: 10 });
    expect(parseDelay("0.5s")).toEqual({ ok: true, value: 500 });
    expect(parseDelay("2")).toEqual({ ok: true, value: 2000 });
    expect(parseDelay("0")).toEqual({ ok: true, value: 0 });
    for (const s of ["1ms", "0.001", "10us", "x"]) expect([s, parseDelay(s).ok]).toEqual([s, false]);
  });

  it("checks the values of tb-* commands too", () => {
    const e = errors(
      ns(
        'set a [$ns node]\nset b [$ns node]\nset lan0 [$ns make-lan "$a $b" 100Mb 0ms]\ntb-set-node-lan-params $a $lan0 1ms 5kb 2\ntb-set-node-lan-delay $b $lan0 20ms\ntb-set-lan-loss $lan0 0.01',
      ),
    );
    expect(e.map((d) => [d.code, d.line, d.col])).toEqual([["FWC303", 6, 33]]);
    const loss = errors(
      ns('set a [$ns node]\nset b [$ns node]\nset lan0 [$ns make-lan "$a $b" 100Mb 0ms]\ntb-set-lan-loss $lan0 1.5'),
    );
    expect(loss.map((d) => [d.code, d.line, d.col])).toEqual([["FWC312", 6, 23]]);
  });

  it("reports them at the argument", () => {
    const e = errors(ns("set a [$ns node]\nset b [$ns node]\n$ns duplex-link $a $b 100mb 1ms DropTail"));
    expect(e.map((d) => [d.code, d.line, d.col])).toEqual([
      ["FWC302", 5, 23],
      ["FWC303", 5, 29],
    ]);
  });
});

describe("NS commands", () => {
  it("an unknown command is an error with a suggestion", () => {
    const e = errors(ns("set a [$ns node]\ntb-set-node-oss $a FBSD-STD"));
    expect(e.map((d) => [d.code, d.line, d.col])).toEqual([["FWC200", 4, 1]]);
    expect(e[0]!.help).toContain("`tb-set-node-os`");
  });

  it("tb-* commands need tb_compat.tcl to be sourced first", () => {
    const e = errors("set ns [new Simulator]\nset a [$ns node]\ntb-set-node-os $a X\nsource tb_compat.tcl\n$ns run\n");
    expect(e.map((d) => [d.code, d.line])).toEqual([["FWC200", 3]]);
    expect(e[0]!.help).toContain("source tb_compat.tcl");
  });

  it("tb-* arity is checked against Emulab's parameter lists", () => {
    const e = errors(ns("set a [$ns node]\ntb-set-node-os $a\ntb-set-node-os $a A B C"));
    expect(e.map((d) => [d.code, d.line])).toEqual([
      ["FWC301", 4],
      ["FWC301", 5],
    ]);
    expect(e[0]!.message).toBe('wrong # args: should be "tb-set-node-os node os ?parentos?"');
  });

  it("node arguments must be nodes; a missing $ is pointed out", () => {
    // `a` itself would be fine: the node is named a. srv(1) is a variable, the node is srv-1.
    expect(errors(ns("set a [$ns node]\ntb-set-node-os a FBSD"))).toEqual([]);
    const e = errors(ns("set srv(1) [$ns node]\ntb-set-node-os srv(1) FBSD"));
    expect(e.map((d) => [d.code, d.line, d.col])).toEqual([["FWC306", 4, 16]]);
    expect(e[0]!.help).toContain("$srv(1)");
  });

  it("an unsupported method of a known object is a warning, not an error", () => {
    const r = evaluate(ns("set a [$ns node]\n$a frobnicate 1"));
    expect(r.diags.map((d) => [d.code, d.severity])).toEqual([["FWC300", "warning"]]);
  });

  it("rtproto values are case-sensitive; one Emulab does not know is ignored with a warning, as Emulab does", () => {
    expect(errors(ns("$ns rtproto Static\n$ns rtproto ospf"))).toEqual([]);
    // Emulab's sim.tcl: punsup "rtproto: unsupported routing protocol ignored" (a template's @RTPROTO@ too).
    for (const p of ["OSPF", "@RTPROTO@"]) {
      const r = evaluate(ns(`$ns rtproto ${p}`));
      expect(r.diags.map((d) => [d.code, d.severity])).toEqual([["FWC305", "warning"]]);
      expect(r.diags[0]!.message).toContain("ignored");
    }
    expect(evaluate(ns("$ns rtproto OSPF")).diags[0]!.help).toContain("ospf");
    // The protocol stays what it was.
    expect(evaluate(ns("$ns rtproto Static\n$ns rtproto nope")).topo.rtproto).toBe("Static");
    // Arguments after the protocol: ignored with a warning too.
    const extra = evaluate(ns("$ns rtproto Static 1 2"));
    expect(extra.diags.map((d) => [d.code, d.severity])).toEqual([["FWC305", "warning"]]);
    expect(extra.topo.rtproto).toBe("Static");
  });

  it("[[$ns link $a $b] queue] works and queue settings are accepted", () => {
    const r = evaluate(
      ns(
        "set a [$ns node]\nset b [$ns node]\nset l [$ns duplex-link $a $b 100Mb 0ms RED]\nset q [[$ns link $a $b] queue]\n$q set limit_ 20",
      ),
    );
    expect(r.diags).toEqual([]);
    expect(r.topo.links[0]!.queue).toBe("RED");
  });

  it("agents and programs from `new` are accepted; an unknown class only warns", () => {
    const r = evaluate(
      ns("set a [$ns node]\nset udp0 [new Agent/UDP]\n$ns attach-agent $a $udp0\nset x [new Foo/Bar]\n$x whatever"),
    );
    expect(r.diags.map((d) => [d.code, d.severity])).toEqual([["FWC311", "warning"]]);
  });

  it("commands after `$ns run` are flagged", () => {
    const r = evaluate("set ns [new Simulator]\nsource tb_compat.tcl\n$ns run\nset a [$ns node]\n");
    expect(r.diags.map((d) => [d.code, d.line])).toEqual([["FWC309", 4]]);
  });

  it("source of any other file is refused without reading it", () => {
    expect(errors(ns("source /etc/passwd")).map((d) => d.code)).toEqual(["FWC209"]);
  });

  it("exec, open and socket are refused", () => {
    expect(errors(ns("exec rm -rf /\nopen /etc/passwd\nsocket localhost 80")).map((d) => d.code)).toEqual([
      "FWC210",
      "FWC210",
      "FWC210",
    ]);
  });
});

describe("inspect", () => {
  it("reports the topology and tb-allow-external calls with positions", () => {
    const text = ns(
      'set n(0) [$ns node]\nset web [$ns node]\ntb-set-node-os $web UBUNTU\nset lan0 [$ns make-lan "$n(0) $web" 1Gb 0ms]\ntb-allow-external $web shared nat "10.0.0.1/80" rdr "22 web/80"',
    );
    const { topo, diags } = evaluate(text);
    expect(diags).toEqual([]);
    expect(topo.nodes.map((n) => [n.name, n.os])).toEqual([
      ["n-0", null],
      ["web", "UBUNTU"],
    ]);
    expect(topo.lans).toMatchObject([{ name: "lan0", members: ["n-0", "web"], bandwidthKbps: 1000000, delayMs: 0 }]);
    expect(topo.external).toMatchObject([
      {
        node: "web",
        args: ["shared", "nat", "10.0.0.1/80", "rdr", "22 web/80"],
        location: { line: 7, column: 1 },
        argLocations: [
          { line: 7, column: 24 },
          { line: 7, column: 31 },
          { line: 7, column: 35 },
          { line: 7, column: 49 },
          { line: 7, column: 53 },
        ],
        // Where each value's text starts: inside the quotes for quoted literals.
        argTextStart: [
          { line: 7, column: 24 },
          { line: 7, column: 31 },
          { line: 7, column: 36 },
          { line: 7, column: 49 },
          { line: 7, column: 54 },
        ],
      },
    ]);
  });

  it("an argument built by substitution has no verbatim position", () => {
    const { topo } = evaluate(
      ns('set w [$ns node]\nset p 22\ntb-allow-external $w shared rdr "$p web/80" nat {10.0.0.1/80}'),
    );
    expect(topo.external[0]!.argTextStart.map((l) => l && [l.line, l.column])).toEqual([
      [5, 22],
      [5, 29],
      null,
      [5, 45],
      [5, 50],
    ]);
  });
});

describe("limits", () => {
  it("an endless loop stops with one diagnostic at its line, and nothing after it runs", () => {
    const r = evaluate("set ns [new Simulator]\nsource tb_compat.tcl\nwhile 1 {}\n$ns run\n", {
      ...DEFAULT_LIMITS,
      maxSteps: 100_000,
    });
    expect(r.diags.map((d) => [d.code, d.line])).toEqual([["FWC206", 3]]);
  });

  it("a missing `$ns run` is reported at the end of the file", () => {
    const r = evaluate("set ns [new Simulator]\nsource tb_compat.tcl\nset a [$ns node]\n\n\n");
    expect(r.diags.map((d) => [d.code, d.line, d.col])).toEqual([["FWC308", 3, 16]]);
  });

  it("endless recursion stops with a diagnostic", () => {
    const r = evaluate("proc f {} { f }\nf\n", { ...DEFAULT_LIMITS, maxDepth: 200 });
    expect(r.diags.map((d) => d.code)).toContain("FWC207");
  });

  it("a runaway string stops with a diagnostic", () => {
    const r = evaluate("set s x\nwhile 1 { append s $s }\n", { ...DEFAULT_LIMITS, maxString: 1 << 20 });
    expect(r.diags.map((d) => [d.code, d.line])).toContainEqual(["FWC208", 2]);
  });

  it("catch does not swallow a resource limit", () => {
    const r = evaluate("catch { while 1 {} }\nputs after\n", { ...DEFAULT_LIMITS, maxSteps: 10_000 });
    expect(r.diags.map((d) => d.code)).toContain("FWC206");
  });

  it("work on huge values stops at the deadline, at its line, and catch cannot hide it", () => {
    // Few commands, each slow: the step budget alone would allow days of this.
    const t = Date.now();
    const r = evaluate(
      "set ns [new Simulator]\nsource tb_compat.tcl\nset s [string repeat ab 200000]\ncatch { while 1 { set s [string reverse $s] } }\n$ns run\n",
      { ...DEFAULT_LIMITS, maxSeconds: 1 },
    );
    expect(Date.now() - t).toBeLessThan(4000);
    expect(r.diags.map((d) => [d.code, d.line])).toEqual([["FWC215", 4]]);
  });

  it("the memory budget stops an evaluation that holds too much, before the process runs out", () => {
    const text = "for {set i 0} {$i < 20000} {incr i} { set v($i) [string repeat $i 200] }\n";
    const r = evaluate(text, { ...DEFAULT_LIMITS, maxMemoryMb: 1 });
    expect(r.diags.map((d) => [d.code, d.line])).toEqual([["FWC216", 1]]);
    expect(evaluate(text).diags.map((d) => d.code)).not.toContain("FWC216");
  });

  it("a list that would be over the size limit is refused before it is built (split of 16M characters)", () => {
    const r = evaluate('set l [split [string repeat a 16000000] ""]\n');
    expect(r.diags.map((d) => [d.code, d.line])).toContainEqual(["FWC208", 1]);
  });

  it("tb-set-node-tarfiles and tb-set-tarfiles check their pairs as Emulab's tb_compat.tcl does", () => {
    const ok = ns(
      'set a [$ns node]\ntb-set-node-tarfiles $a /usr/local /proj/p/a.tar.gz /opt /proj/p/b.tgz\ntb-set-tarfiles "/srv /proj/p/c.tar.bz2"\ntb-set-node-tarfiles $a /x /proj/p/d.tar /y /proj/p/e.tar.Z',
    );
    expect(errors(ok)).toEqual([]);
    const bad: [string, string][] = [
      ["tb-set-node-tarfiles $a /usr/local /proj/p/a.zip", "does not have a valid extension"],
      ["tb-set-node-tarfiles $a /usr/local /proj/p/a.TGZ", "does not have a valid extension"],
      ["tb-set-node-tarfiles $a /usr/local", "Arguments should be node and series of pairs"],
      ["tb-set-node-tarfiles $a usr/local /proj/p/a.tar", "is not an absolute path"],
      ["tb-set-node-tarfiles $a /proj/p/install /proj/p/a.tar", "refers to an NFS directory"],
      ["tb-set-tarfiles /users/me/x /proj/p/a.tar", "refers to an NFS directory"],
      ["tb-set-tarfiles /srv /proj/p/a.rpm", "does not have a valid extension"],
      ["tb-set-node-tarfiles $a", "tb-set-node-tarfiles <node> (<dir> <tar>)+"],
    ];
    expectOneError("FWC312", bad);
  });

  it("a blockstore's methods are not said to be ignored by Emulab, which implements and checks them", () => {
    const r = evaluate(ns("set a [$ns node]\nset bs [$ns blockstore]\n$bs set-size 1GB\n$bs set-node $a"));
    const w = r.diags.filter((d) => d.code === "FWC300");
    expect(w.length).toBe(2);
    for (const d of w) {
      expect(d.message).not.toContain("Emulab ignores it");
      expect(d.message).toContain("Emulab implements and checks");
    }
    // Other objects' unmodelled methods are still the warning Emulab gives.
    const other = evaluate(ns("set a [$ns node]\n$a frobnicate 1")).diags[0]!;
    expect(other.message).toContain("Emulab ignores it too");
  });
});
