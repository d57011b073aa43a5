/**
 * Emulab's naming rule against an oracle that runs in the real tclsh (test/oracle/emulab-naming.tcl): for each
 * NS file, the names of nodes, links and LANs, or the fact that Emulab's Tcl fails.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { evaluate } from "./helpers.js";

const oracle = join(import.meta.dirname, "oracle", "emulab-naming.tcl");
const dir = mkdtempSync(join(tmpdir(), "fwc-naming-"));

function viaTclsh(text: string): { failed: boolean; names: Record<string, string[]> } {
  const file = join(dir, "t.ns");
  writeFileSync(file, text);
  const r = spawnSync("tclsh", [oracle, file], { encoding: "utf8", timeout: 20_000 });
  const names: Record<string, string[]> = { node: [], link: [], lan: [] };
  let failed = false;
  for (const line of r.stdout.split("\n")) {
    if (line.startsWith("ERROR:")) failed = true;
    const m = /^(node|link|lan) (.*)$/.exec(line);
    if (m) names[m[1]!]!.push(m[2]!);
  }
  return { failed, names };
}

function viaFwc(text: string) {
  const { topo, diags } = evaluate(text);
  const naming = diags.filter((d) => d.severity === "error" && d.code !== "FWC400" && d.code !== "FWC314");
  return {
    failed: naming.length > 0,
    names: {
      node: topo.nodes.map((n) => n.name),
      link: topo.links.map((l) => l.name),
      lan: topo.lans.map((l) => l.name),
    },
  };
}

const pre = "set ns [new Simulator]\nsource tb_compat.tcl\n";
const SNIPPETS: Record<string, string> = {
  array: "for {set i 0} {$i < 3} {incr i} { set n($i) [$ns node] }",
  verbatimIndex: "set n(01) [$ns node]\nset m(client-7) [$ns node]",
  nestedSet: "set a [set b [$ns node]]",
  foreachVar: "foreach v {alpha beta} { set $v [$ns node] }",
  procReturn: "proc mk {} { global ns; set x [$ns node]; return $x }\nset server [mk]",
  procGlobalArray: "proc p {} { global ns q; set q(5) [$ns node] }\np",
  procLocalShadowsGlobal: "set x 1\nproc p {} { global ns; set x [$ns node] }\np",
  procNamespaceGlobal: "proc p {} { global ns; set ::g [$ns node] }\np",
  lappendKeepsInternal: "lappend l [$ns node]\nset a [$ns node]",
  lindexAfterLappend: "lappend l [$ns node]\nset x [lindex $l 0]",
  setInBetween: "lappend l [$ns node]\nset other 5\nset x [lindex $l 0]",
  unassignedLink: "set a [$ns node]\nset b [$ns node]\n$ns duplex-link $a $b 100Mb 0ms DropTail",
  namedLinkAndLan:
    'set a [$ns node]\nset b [$ns node]\nset l [$ns duplex-link $a $b 100Mb 0ms DropTail]\nset lan0 [$ns make-lan "$a $b" 100Mb 0ms]',
  upvarInProc: "proc mk {name} { global ns; upvar 1 $name v; set v [$ns node] }\nmk web",
  upvarArray: "proc mk {name} { global ns; upvar 1 $name v; set v(1) [$ns node] }\nmk web",
  reassign: "set x [$ns node]\nset x [$ns node]",
  // biome-ignore lint/suspicious/noTemplateCurlyInString: Tcl's ${name}, not a template
  globalsPidEid: "set ${GLOBALS::eid}-web [$ns node]\nset n(${GLOBALS::pid}) [$ns node]",
  // biome-ignore lint/suspicious/noTemplateCurlyInString: Tcl's ${name}, not a template
  globalsInProc: "proc mk {} { global ns; return [$ns node] }\nset ${GLOBALS::gid}x [mk]\nset y$::GLOBALS::eid [mk]",
  // biome-ignore lint/suspicious/noTemplateCurlyInString: Tcl's ${name}, not a template
  globalsQualifiedInProc: "proc mk {} { global ns; set ::a${GLOBALS::pid} [$ns node] }\nmk",
  collision: "set n-1 [$ns node]\nset n(1) [$ns node]",
  tclCommandName: "set list [$ns node]",
  nodeAfterAgent: "set a [new Agent/UDP]\nset b [$ns node]",
  twoNodesOneSet: "set a [$ns node]\n$ns node\nset b [$ns node]",
  // Event objects take ids from the Simulator's counter (a node made after them shows it) and are named by set.
  eventSequence: 'set a [$ns node]\nset s [$ns event-sequence]\n$s append "$a reboot"\nlappend l [$ns node]',
  eventSequenceCatch:
    "set p [new Program $ns]\nset s [$ns event-sequence {{$p start}} catch {{$p stop}}]\nlappend l [$ns node]",
  eventTimeline: 'set tl [$ns event-timeline]\n$tl at 1 "$tl start"\nlappend l [$ns node]\nset n [$ns node]',
  eventGroup: "set a [$ns node]\nset g [$ns event-group [list $a]]\n$g add $a\nlappend l [$ns node]\nset c [$ns node]",
  unassignedSequence: "$ns event-sequence\nset x [$ns node]",
  // attach-agent, connect and cost make no object; a node's program-agent makes a Program named by its set.
  attachAgent: "set a [$ns node]\nset u [new Agent/UDP]\n$ns attach-agent $a $u\nlappend more [$ns node]",
  programAgent: 'set a [$ns node]\nset p [$a program-agent -command "ls"]\nset b [$ns node]\nlappend l [$ns node]',
  programAgentUnnamed: "set a [$ns node]\n$a program-agent\nset b [$ns node]",
  // namespace eval: a variable of the namespace names no object, and the object waits for the next set.
  namespaceEval: "namespace eval TBCOMPAT { set elabinelab_maxpcs 1 }\nset a [$ns node]",
  namespaceSetNoRename: "namespace eval X { set y [$ns node] }\nset z [$ns node]",
  // Assigned to an existing global from inside the namespace: Emulab renames it there, and `$ns run` fails.
  namespaceGlobalFallback: "set y 0\nnamespace eval X { set y [$ns node] }",
  namespaceVariableOnly: "namespace eval X { variable y; set y [$ns node] }\nset z [$ns node]",
  // The inner testbed Emulab adds at `$ns run` to an elab-in-elab experiment without nodes.
  elabDefault: "tb-elab-in-elab 1",
  elabMaxpcs: "namespace eval TBCOMPAT { set elabinelab_maxpcs 2 }\ntb-elab-in-elab 1",
  elabSinglenet: "tb-elab-in-elab 1\ntb-elabinelab-singlenet\nnamespace eval TBCOMPAT { set elabinelab_maxpcs 1 }",
  elabWithfsnode:
    "tb-elab-in-elab 1\ntb-elab-in-elab-topology withfsnode\nnamespace eval TBCOMPAT { set elabinelab_maxpcs 1 }",
  elabOpsvm: "tb-elab-in-elab 1\ntb-elab-in-elab-topology opsvm",
  elabOwnNodes: "tb-elab-in-elab 1\nset x [$ns node]",
  elabOff: "tb-elab-in-elab 0",
  elabUnknownTopology: "tb-elab-in-elab 1\ntb-elab-in-elab-topology nope",
};

// Whole files, without the usual first lines: Emulab's `$ns run` needs tb_compat.tcl (its namespace exists before
// the file, with the database's values, so `$ns at` and TBCOMPAT's variables do not).
const FILES: Record<string, string> = {
  noSource: "set ns [new Simulator]\nset a [$ns node]\n$ns run\n",
  sourceAfterRun: "set ns [new Simulator]\nset a [$ns node]\n$ns run\nsource tb_compat.tcl\n",
  atBeforeSource: 'set ns [new Simulator]\n$ns at 1 "$ns halt"\nsource tb_compat.tcl\nset a [$ns node]\n$ns run\n',
  namespaceOnly: "set ns [new Simulator]\nnamespace eval TBCOMPAT {}\nset a [$ns node]\n$ns run\n",
  maxpcsBeforeSource:
    "set ns [new Simulator]\nnamespace eval TBCOMPAT { set elabinelab_maxpcs 2 }\nset ::TBCOMPAT::x 1\nsource tb_compat.tcl\ntb-elab-in-elab 1\n$ns run\n",
  sourceFirst: "source tb_compat.tcl\nset ns [new Simulator]\nset a [$ns node]\n$ns run\n",
};

describe("naming agrees with the tclsh oracle", () => {
  for (const [name, body] of Object.entries(SNIPPETS)) {
    it(name, () => {
      const text = `${pre}${body}\n$ns run\n`;
      const theirs = viaTclsh(text);
      const ours = viaFwc(text);
      // Emulab stops at its first error; fwc goes on to report more, so only the failure itself is compared.
      expect(ours.failed).toBe(theirs.failed);
      if (!theirs.failed) expect(ours.names).toEqual(theirs.names);
    });
  }

  for (const [name, text] of Object.entries(FILES)) {
    it(`file ${name}`, () => {
      const theirs = viaTclsh(text);
      const ours = viaFwc(text);
      expect(ours.failed).toBe(theirs.failed);
      if (!theirs.failed) expect(ours.names).toEqual(theirs.names);
    });
  }

  const fixtures = join(import.meta.dirname, "fixtures", "ns");
  for (const f of readdirSync(fixtures)) {
    it(`fixture ${f}`, () => {
      const text = readFileSync(join(fixtures, f), "utf8");
      const ours = viaFwc(text);
      expect(ours).toEqual(viaTclsh(text));
      expect(ours.names.node.length).toBeGreaterThan(2);
    });
  }
});
