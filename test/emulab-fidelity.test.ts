/**
 * Emulab's parser, round 2: event objects, the checks of make_event, elab-in-elab, tb_compat.tcl's namespace, and
 * the tb-* commands Emulab has (and the ones it does not). Names and verdicts are compared with tclsh in
 * naming-oracle.test.ts; this file checks the diagnostics and what fwc records.
 */
import { describe, expect, it } from "vitest";
import { renderText } from "../src/diagnostics/render.js";
import { errors, evaluate, expectOneError, ns } from "./helpers.js";

const codes = (text: string) => errors(text).map((d) => d.code);

describe("event objects", () => {
  it("sequences, timelines and groups are objects whose methods work", () => {
    const text = ns(
      [
        "set a [$ns node]",
        "set b [$ns node]",
        "set l [$ns duplex-link $a $b 100Mb 0ms DropTail]",
        "set prog [new Program $ns]",
        "set seq [$ns event-sequence {",
        "  $prog start",
        "  # a comment line is skipped",
        "",
        "  $l down",
        "}]",
        '$seq append "$a reboot"',
        "set tl [$ns event-timeline]",
        '$tl at 10 "$prog start; $l up"',
        '$tl at 1h2m3s "$seq start"',
        "set g [$ns event-group [list $a]]",
        "$g add $b $a",
        "set m [$g members]",
        '$ns at 5 "$g reboot"',
        '$ns at swapout "$tl start"',
        '$ns at 2m "$seq run"',
      ].join("\n"),
    );
    const r = evaluate(text);
    expect(r.diags.filter((d) => d.severity !== "note")).toEqual([]);
    const events = r.result.experiment.events.map((e) => `${e.holder?.name ?? "ns"}@${e.time}: ${e.event}`);
    expect(events).toEqual([
      "seq@: prog start",
      "seq@: l down",
      "seq@: a reboot",
      "tl@10: prog start",
      "tl@10: l up",
      "tl@1h2m3s: seq start",
      "ns@5: g reboot",
      "ns@swapout: tl start",
      "ns@2m: seq run",
    ]);
    expect(r.result.experiment.others.find((o) => o.name === "g")?.members?.map((o) => o.name)).toEqual(["a", "b"]);
  });

  it("an event must start with an object that takes events, then its type", () => {
    const bad: [string, string][] = [
      ['$ns at 1 "finish"', "Missing event type for finish"],
      ['$ns at 1 "nothing here"', '"nothing" is not an NS object'],
      ['$ns at 1 "$u start"', "takes no events"],
      ['$ns at 1 "$a"', "Missing event type for a"],
      ['$ns at 1 "$a reboot;"', "Missing event type for "],
      ['$ns at 1 " "', "Missing event type for "],
      ['set s [$ns event-sequence]\n$s append "nothing here"', '"nothing" is not an NS object'],
      ['set s [$ns event-sequence]\n$s append ""', "Missing event type for "],
      ['set t [$ns event-timeline]\n$t at 1 "$u start"', "takes no events"],
      ["set g [$ns event-group]\n$g add $a $l", "All members must be of the same type"],
      ["set g [$ns event-group [list $a nope]]", '"nope" is not an NS object'],
      ["set s [$ns event-sequence]\n$s bogus", "unable to dispatch method bogus"],
      ["set s [$ns event-sequence {{$a reboot}} catch {{$b reboot}}]", "always fails in Emulab"],
      ['$ns at 08m "$a reboot"', "looks like invalid octal number"],
      ['$ns at 1h09s "$a reboot"', "looks like invalid octal number"],
    ];
    for (const [body, message] of bad) {
      const text = ns(
        `set a [$ns node]\nset b [$ns node]\nset l [$ns duplex-link $a $b 100Mb 0ms DropTail]\nset u [new Agent/UDP]\n${body}`,
      );
      const e = errors(text);
      expect(
        e.map((d) => d.code),
        body,
      ).toContain(body.includes("08") || body.includes("09") ? "FWC312" : "FWC316");
      expect(e[0]!.message, body).toContain(message);
    }
    // Fine in Emulab too: an empty event string, octal that is valid, comments, and classes new knows.
    const ok = ns(
      [
        "set a [$ns node]",
        '$ns at 1 ""',
        '$ns at 010m "$a reboot"',
        '$ns at 2 "# nothing yet"',
        "set tcp [new Agent/TCP/FullTcp/Reno]",
        '$ns at 3 "$tcp start"',
        "set t [new EventTimeline $ns]",
        '$t at 1 "$a reboot"',
        "set g [new EventGroup $ns]",
        "$g add $a",
        "$g frobnicate",
        "set s [$ns event-sequence {\n\n  $a reboot\n}]",
      ].join("\n"),
    );
    expect(errors(ok)).toEqual([]);
    // An event group keeps adding after a member of another class; its own `add` stops there.
    const g = evaluate(
      ns("set a [$ns node]\nset b [$ns node]\nset p [new Program $ns]\nset g [$ns event-group [list $a $p $b]]"),
    );
    expect(g.result.experiment.others.find((o) => o.name === "g")?.members?.map((o) => o.name)).toEqual(["a", "b"]);
  });

  it("new with more than one argument makes no object, as in Emulab", () => {
    const r = evaluate(ns("set a [$ns node]\nset s [new EventSequence $ns {$a reboot}]\n$s append x"));
    expect(r.diags.map((d) => d.code)).toEqual(["FWC311", "FWC200"]);
  });

  it("times are Emulab's: seconds or 1h2m3s; swapout only for $ns at", () => {
    const at = (t: string) => codes(ns(`set a [$ns node]\n$ns at ${t} "$a reboot"`));
    for (const t of ["10", "2.5", ".5", "1h", "2m", "3s", "1h20m3s", "swapout", '""']) expect(at(t), t).toEqual([]);
    for (const t of ["10x", "1.", "-1", "1m2h", "1h 2m"]) expect(at(`{${t}}`), t).toEqual(["FWC312"]);
    const tl = (t: string) => codes(ns(`set a [$ns node]\nset t [$ns event-timeline]\n$t at ${t} "$a reboot"`));
    expect(tl("1h")).toEqual([]);
    expect(tl("swapout")).toEqual(["FWC312"]);
  });
});

describe("tb_compat.tcl", () => {
  it("without it, $ns run fails as in Emulab, with one diagnostic; $ns at and TBCOMPAT do not need it", () => {
    const noSource = evaluate("set ns [new Simulator]\nset a [$ns node]\n$ns run\n").diags;
    expect(noSource.map((d) => d.code)).toEqual(["FWC315"]);
    expect(noSource[0]!.message).toContain('can\'t read "oml_use_control"');
    expect(noSource[0]!.help).toContain("source tb_compat.tcl");
    // Emulab's parse-ns writes TBCOMPAT (the database's values) before the file: these work before `source`.
    const early = evaluate(
      'set ns [new Simulator]\nset a [$ns node]\n$ns at 1 "$a reboot"\nset ::TBCOMPAT::x 1\nsource tb_compat.tcl\n$ns run\n',
    );
    expect(early.diags).toEqual([]);
    expect(evaluate("source tb_compat.tcl\nset ns [new Simulator]\nset a [$ns node]\n$ns run\n").diags).toEqual([]);
    const late = evaluate("set ns [new Simulator]\nset a [$ns node]\n$ns run\nsource tb_compat.tcl\n").diags;
    expect(late.map((d) => d.code)).toEqual(["FWC315"]);
  });

  it("its namespace holds the elab-in-elab variables Emulab gives a new experiment", () => {
    const r = evaluate(ns('puts "$::TBCOMPAT::elabinelab_maxpcs $::GLOBALS::elabinelab_singlenet"\nset a [$ns node]'));
    expect(r.diags).toEqual([]);
    expect(r.result.output).toEqual(["0 0\n"]);
  });
});

describe("elab-in-elab", () => {
  it("the inner testbed is added at $ns run, with TBCOMPAT's settings", () => {
    const text = ns(
      [
        "namespace eval TBCOMPAT {",
        "  set elabinelab_maxpcs 2",
        '  set elabinelab_hardware("boss") pc3000',
        "  set elabinelab_nodeos(mypc1) FBSD-INNER",
        "}",
        "tb-elab-in-elab 1",
        "tb-set-elabinelab-attribute CONFIG_WINDOWS 1",
      ].join("\n"),
    );
    const r = evaluate(text);
    expect(r.diags).toEqual([]);
    const nodes = r.result.experiment.nodes.map((n) => `${n.name} ${n.hardware} ${n.os}`);
    expect(nodes).toEqual([
      "myboss pc3000 FBSD83-STD",
      "myops pc850 FBSD83-STD",
      "mypc1 pcslow FBSD-INNER",
      "mypc2 pcslow null",
    ]);
    const lan = r.result.experiment.lans[0]!;
    expect(lan.name).toBe("publiclan");
    expect([...r.result.experiment.nodes[0]!.ips.values()]).toEqual(["10.200.1.252"]);
    expect([...r.result.experiment.nodes[2]!.ips.values()]).toEqual(["10.200.1.1"]);
    const roles = r.result.experiment.nodes.map((n) => n.settings.get("tb-set-node-inner-elab-role")?.[0]);
    expect(roles).toEqual(["boss+router", "ops+fs", "node", "node"]);
  });

  it("a tarfile from TBCOMPAT is checked as the experimenter's own", () => {
    const text = ns(
      "namespace eval TBCOMPAT { set elabinelab_source_tarfile /proj/p/src.zip }\ntb-elab-in-elab 1\ntb-elabinelab-singlenet",
    );
    // One diagnostic: both servers' calls are at `$ns run`, with the same message.
    const e = errors(text);
    expect(e.map((d) => d.code)).toEqual(["FWC312"]);
    expect(e[0]!.message).toContain("does not have a valid extension");
  });

  it("an unknown topology fails, with the ones that exist", () => {
    const e = errors(ns("tb-elab-in-elab 1\ntb-elab-in-elab-topology withfs"));
    expect(e.map((d) => d.code)).toEqual(["FWC312"]);
    expect(e[0]!.help).toContain("withfsnode");
  });

  it("attributes are checked and kept as Emulab keeps them", () => {
    const r = evaluate(
      ns(
        [
          "tb-set-elabinelab-attribute CONFIG_WINDOWS 1",
          "tb-set-elabinelab-role-attribute boss EXTRADISKS {da1:/usr/testbed,da2:/q}",
          "tb-set-elabinelab-role-attribute ops K v 2",
          "tb-unset-elabinelab-role-attribute ops K",
          "tb-unset-elabinelab-attribute NOPE",
          "puts [tb-get-elabinelab-role-attribute boss EXTRADISKS]",
          "puts [llength $::TBCOMPAT::elabinelab_attributes]",
          "set a [$ns node]",
        ].join("\n"),
      ),
    );
    expect(r.diags).toEqual([]);
    expect(r.result.output).toEqual(["da1:/usr/testbed,da2:/q\n", "6\n"]);
    const bad: [string, string][] = [
      ["tb-set-elabinelab-role-attribute king K v", '"king" is not a valid elabinelab role'],
      ["tb-set-elabinelab-attribute {K;x} v", "is not a valid elabinelab key"],
      ["tb-set-elabinelab-attribute K {v;rm}", "is not a valid elabinelab value"],
      ["tb-set-elabinelab-attribute K v first", '"first" is not a valid elabinelab order'],
      ["tb-unset-elabinelab-role-attribute queen K", "is not a valid elabinelab role"],
      ["tb-set-node-inner-elab-role $a king", "type must be one of"],
      ["tb-set-elabinelab-fw-type unknown", "is not a valid type"],
    ];
    expectOneError("FWC312", bad);
    // The attribute commands take no role (Emulab's), the role ones do.
    expect(codes(ns("set a [$ns node]\ntb-set-elabinelab-attribute boss K v 1 2"))).toEqual(["FWC301"]);
  });
});

describe("the tb-* commands are Emulab's", () => {
  it("names Emulab does not have fail, with the one to use", () => {
    for (const [old, now] of [
      ["tb-set-elabinelab-singlenet 1", "tb-elabinelab-singlenet"],
      ["tb-set-uselinkdelays 1", "tb-use-endnodeshaping"],
      ["tb-set-forcelinkdelays 1", "tb-force-endnodeshaping"],
    ]) {
      const e = errors(ns(`set a [$ns node]\n${old}`));
      expect(
        e.map((d) => d.code),
        old,
      ).toEqual(["FWC200"]);
      expect(e[0]!.help).toContain(now);
    }
  });

  it("commands fwc did not know are accepted", () => {
    const calls = [
      "tb-elabinelab-singlenet",
      "tb-elabinelab-singlenet 0",
      "tb-set-nonfs 1",
      "tb-request-ip-alias-lan $a $lan 2",
      "tb-request-ip-alias-link $a $link 1",
      "tb-set-node-loadlist $a FBSD-A,FBSD-B",
      "tb-set-link-failure-action $link nonfatal",
      "tb-set-lan-simplex-backfill $lan $a 10Mb 10Mb",
      "tb-set-packing-strategy pack",
      "tb-set-link-protocol $link ethernet",
      "tb-set-link-layer $link 2",
      "tb-use-modelnet 0",
      "tb-set-use-oml",
      "tb-set-oml-server $a",
      "tb-set-oml-use-control 1",
      "tb-set-oml-mp x y",
      'tbx-log "hello"',
      "tb-set-elabinelab-fw-type iptables-vlan",
    ];
    const text = ns(
      `set a [$ns node]\nset b [$ns node]\nset link [$ns duplex-link $a $b 100Mb 0ms DropTail]\nset lan [$ns make-lan "$a $b" 100Mb 0ms]\n${calls.join("\n")}`,
    );
    expect(errors(text)).toEqual([]);
  });
});

describe("event limits", () => {
  it("Emulab stops past 14,000 events of $ns at and 4,000 of one timeline; fwc too", () => {
    const at = (n: number) =>
      codes(ns(`set a [$ns node]\nfor {set i 0} {$i < ${n}} {incr i} { $ns at $i "$a reboot" }`));
    expect(at(14001)).toEqual([]);
    expect(at(14002)).toEqual(["FWC316"]);
    const tl = (n: number) =>
      codes(
        ns(`set a [$ns node]\nset t [$ns event-timeline]\nfor {set i 0} {$i < ${n}} {incr i} { $t at $i "$a reboot" }`),
      );
    expect(tl(4001)).toEqual([]);
    expect(tl(4002)).toEqual(["FWC316"]);
  });
});

describe("hostile files stay within the limits", () => {
  it("a million events in one $ns at stop at a limit, with a diagnostic", () => {
    const text = ns(
      'set a [$ns node]\nset e "$a reboot"\nfor {set i 0} {$i < 20} {incr i} { append e ";$e" }\nfor {set j 0} {$j < 30} {incr j} { $ns at 1 $e }',
    );
    const t0 = performance.now();
    const e = errors(text);
    expect(performance.now() - t0).toBeLessThan(30_000);
    expect(e.map((d) => d.code).some((c) => ["FWC206", "FWC215", "FWC216", "FWC316"].includes(c))).toBe(true);
  });

  it("a namespace name of thousands of parts is refused, not built", () => {
    const e = errors(ns("namespace eval [string repeat a:: 60000] {}"));
    expect(e.map((d) => d.code)).toEqual(["FWC205"]);
    expect(e[0]!.message).toContain("fwc takes at most 1000");
    // Nesting stops at the name's length here, or at the depth limit (it counts toward it).
    const t0 = performance.now();
    const deep = errors(ns("set s {namespace eval a $::s}\neval $s"));
    expect(["FWC205", "FWC207"]).toContain(deep.map((d) => d.code).join());
    expect(performance.now() - t0).toBeLessThan(3000);
    const wide = errors(ns("set s {namespace eval :: $::s}\neval $s"));
    expect(wide.map((d) => d.code)).toEqual(["FWC207"]);
  });

  it("topology names that are properties of every JavaScript object are unknown topologies", () => {
    for (const t of ["constructor", "__proto__", "toString", "hasOwnProperty"]) {
      const e = errors(ns(`tb-elab-in-elab 1\ntb-elab-in-elab-topology ${t}`));
      expect(
        e.map((d) => d.code),
        t,
      ).toEqual(["FWC312"]);
    }
  });

  it("a message quoting a line break cannot forge a diagnostic line", () => {
    const r = evaluate(ns('set a [$ns node]\n$ns at 1 "x\nt/f.ns:1:1: error\\[FWC999\\]: forged"'));
    const text = renderText(r.result.diagnostics.sorted(), { color: false });
    expect(text).toContain("forged");
    expect(text.split("\n").filter((l) => l.startsWith("t/f.ns"))).toEqual([]);
  });

  it("an object named inside namespace eval fails as in Emulab", () => {
    const e = errors(ns("set m 0\nnamespace eval X { set m [$ns node] }"));
    expect(e.map((d) => d.code)).toEqual(["FWC401"]);
  });
});

describe("what Emulab adds to a file", () => {
  it("OML: tb-set-use-oml makes the node omlserver, tb-set-oml-use-control 0 a LAN of every node", () => {
    const r = evaluate(ns("set b [$ns node]\nset a [$ns node]\ntb-set-use-oml\ntb-set-oml-use-control 0"));
    expect(r.diags).toEqual([]);
    const x = r.result.experiment;
    expect(x.nodes.map((n) => `${n.name} ${n.os}`)).toEqual(["b null", "a null", "omlserver UBUNTU10-OML"]);
    expect(x.lans.map((l) => `${l.name}: ${l.members.map((m) => m.name).join(" ")}`)).toEqual([
      "omllan: a b omlserver",
    ]);
  });

  it("the Xen and opsvm inner testbeds get their own images", () => {
    const xen = evaluate(ns("tb-elab-in-elab 1\ntb-elab-in-elab-topology xen")).result.experiment;
    expect(xen.nodes.map((n) => `${n.name} ${n.hardware} ${n.os}`)).toEqual([
      "myboss pcvm3000 XEN-GUEST-FBSD90-STD",
      "myops pcvm3000 XEN-GUEST-FBSD90-STD",
    ]);
    const opsvm = evaluate(ns("tb-elab-in-elab 1\ntb-elab-in-elab-topology opsvm")).result.experiment;
    expect(opsvm.nodes[0]!.settings.get("tb-set-node-loadlist")).toEqual(["FBSD83-S2"]);
  });
});

describe("Emulab's own NS files", () => {
  it("a node's program-agent, disk-agent and custom-agent return objects that take events", () => {
    const r = evaluate(
      ns(
        [
          "set n [$ns node]",
          'set p [$n program-agent -command "touch x" -timeout 10m]',
          "set d [$n disk-agent -type ext3 -size 10]",
          "set c [$n custom-agent -name x]",
          '$ns at 1 "$p run"',
          "set seq [$ns event-sequence {",
          "",
          "  $p start",
          "}]",
          "set g [$ns event-group [list $p]]",
          '$ns at 2 "$g start"',
        ].join("\n"),
      ),
    );
    expect(r.diags).toEqual([]);
    expect(r.result.experiment.others.filter((o) => o.name.length === 1).map((o) => `${o.name} ${o.nsClass}`)).toEqual([
      "p Program",
      "d Disk",
      "c Custom",
      "g EventGroup",
    ]);
    const bad = errors(ns("set n [$ns node]\nset p [$n program-agent -bogus 1]"));
    expect(bad.map((d) => d.message)).toEqual([
      "bad option '-bogus', should be one of: -command -dir -expected-exit-code -timeout",
    ]);
  });

  it("attach-agent and connect take agents, as Emulab checks", () => {
    const base = "set a [$ns node]\nset b [$ns node]\nset u [new Agent/UDP]\nset z [new Agent/Null]\n";
    expect(errors(ns(`${base}$ns attach-agent $a $u\n$ns attach-agent $b $z\n$ns connect $u $z`))).toEqual([]);
    const bad: [string, string][] = [
      ["$ns attach-agent $a $b", "[attach-agent] b is not an Agent."],
      ["set s [new Agent/TCPSINK]\n$ns attach-agent $a $s", "[attach-agent] s is not an Agent."],
      ["$ns attach-agent $u $z", '[attach-agent] "u" is not a node'],
      ["$ns connect $a $b", "[connect] a is not an Agent."],
    ];
    for (const [body, message] of bad) {
      const e = errors(ns(`${base}${body}`));
      expect(e[0]?.message, body).toBe(message);
    }
  });

  it("a node's setting on a LAN is one per LAN", () => {
    const r = evaluate(
      ns(
        'set a [$ns node]\nset b [$ns node]\nset c [$ns node]\nset lan0 [$ns make-lan "$a $b" 100Mb 0ms]\nset lan1 [$ns make-lan "$a $c" 100Mb 0ms]\ntb-set-node-lan-params $a $lan0 10ms 10Mb 0.0\ntb-set-node-lan-params $a $lan1 20ms 10Mb 0.0',
      ),
    );
    expect(r.diags).toEqual([]);
    const twice = evaluate(
      ns(
        'set a [$ns node]\nset b [$ns node]\nset lan0 [$ns make-lan "$a $b" 100Mb 0ms]\ntb-set-node-lan-params $a $lan0 10ms 10Mb 0.0\ntb-set-node-lan-params $a $lan0 20ms 10Mb 0.0',
      ),
    );
    expect(twice.diags.map((d) => d.code)).toEqual(["FWC313"]);
  });

  it("methods Emulab implements are not said to be ignored", () => {
    const r = evaluate(
      ns(
        "set a [$ns node]\nset b [$ns node]\nset l [$ns duplex-link $a $b 100Mb 0ms DropTail]\n$l trace\n$a add-attribute k v",
      ),
    );
    expect(r.diags.map((d) => d.message.includes("Emulab implements and checks"))).toEqual([true, true]);
  });

  it("a tarball must be a URL or under /proj, /groups or /users, as Emulab checks at swap-in", () => {
    const e = (tar: string) =>
      errors(ns(`set a [$ns node]\ntb-set-node-tarfiles $a /usr ${tar}`)).map((d) => d.message);
    expect(e("/proj/p/a.tar")).toEqual([]);
    expect(e("https://example.net/a.tgz")).toEqual([]);
    expect(e("/tmp/foo.tar")).toEqual(["[tb-set-node-tarfiles] '/tmp/foo.tar' is not in an allowed directory"]);
    expect(e("gopher://x/a.tar")).toEqual([
      "[tb-set-node-tarfiles] 'gopher://x/a.tar' is not an http, https, or ftp URL.",
    ]);
  });
});

describe("security levels and firewalls", () => {
  it("are checked as Emulab checks them", () => {
    for (const l of ["Green", "Blue", "Yellow", "Orange", "0", "2"])
      expect(codes(ns(`set a [$ns node]\ntb-set-security-level ${l}`)), l).toEqual([]);
    for (const l of ["Red", "Purple", "unknown"])
      expect(codes(ns(`set a [$ns node]\ntb-set-security-level ${l}`)), l).toEqual(["FWC312"]);
    expect(codes(ns("set a [$ns node]\nset f [new Firewall $ns]\nset g [new Firewall $ns]"))).toEqual(["FWC312"]);
    expect(codes(ns("set a [$ns node]\ntb-set-security-level Blue\nset f [new Firewall $ns]"))).toEqual(["FWC312"]);
    expect(codes(ns("set a [$ns node]\nset f [new Firewall $ns]\ntb-set-security-level Blue"))).toEqual(["FWC312"]);
  });
});
