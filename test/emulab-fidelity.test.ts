/**
 * Emulab's parser, round 2: event objects, the checks of make_event, elab-in-elab, tb_compat.tcl's namespace, and
 * the tb-* commands Emulab has (and the ones it does not). Names and verdicts are compared with tclsh in
 * naming-oracle.test.ts; this file checks the diagnostics and what fwc records.
 */
import { describe, expect, it } from "vitest";
import { errors, evaluate, ns } from "./helpers.js";

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
      ['$ns at 1 "finish"', '"finish" is not an NS object'],
      ['$ns at 1 "$u start"', "takes no events"],
      ['$ns at 1 "$a"', "Missing event type for a"],
      ['set s [$ns event-sequence]\n$s append "nothing here"', '"nothing" is not an NS object'],
      ['set t [$ns event-timeline]\n$t at 1 "$u start"', "takes no events"],
      ["set g [$ns event-group]\n$g add $a $l", "All members must be of the same type"],
      ["set g [$ns event-group [list $a nope]]", '"nope" is not an NS object'],
      ["set s [$ns event-sequence]\n$s bogus", "unable to dispatch method bogus"],
    ];
    for (const [body, message] of bad) {
      const text = ns(
        `set a [$ns node]\nset b [$ns node]\nset l [$ns duplex-link $a $b 100Mb 0ms DropTail]\nset u [new Agent/UDP]\n${body}`,
      );
      const e = errors(text);
      expect(
        e.map((d) => d.code),
        body,
      ).toEqual(["FWC316"]);
      expect(e[0]!.message, body).toContain(message);
    }
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
  it("without it, $ns run and $ns at fail as in Emulab, with one diagnostic each", () => {
    const noSource = evaluate("set ns [new Simulator]\nset a [$ns node]\n$ns run\n").diags;
    expect(noSource.map((d) => d.code)).toEqual(["FWC315"]);
    expect(noSource[0]!.message).toContain("parent namespace doesn't exist");
    expect(noSource[0]!.help).toContain("source tb_compat.tcl");
    const at = evaluate(
      'set ns [new Simulator]\nset a [$ns node]\n$ns at 1 "$a reboot"\nsource tb_compat.tcl\n$ns run\n',
    );
    expect(at.diags.map((d) => `${d.code}:${d.line}`)).toEqual(["FWC315:3"]);
    // Sourced first, before the Simulator: fine.
    expect(evaluate("source tb_compat.tcl\nset ns [new Simulator]\nset a [$ns node]\n$ns run\n").diags).toEqual([]);
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
    for (const [call, message] of bad) {
      const e = errors(ns(`set a [$ns node]\n${call}`));
      expect(
        e.map((d) => d.code),
        call,
      ).toEqual(["FWC312"]);
      expect(e[0]!.message, call).toContain(message);
    }
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
