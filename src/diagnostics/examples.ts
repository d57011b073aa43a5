/**
 * An example NS file for each code an NS file can cause, and the same file fixed: `fwc explain CODE` shows both,
 * with what `fwc check` says of the first (it runs the checker on it, so the output shown is always fwc's own).
 * A test checks every pair: the example gives its code, the fixed file has no error and not that code.
 */
import type { DiagnosticCode } from "./codes.js";

export interface Example {
  /** The file as an experimenter might write it. */
  file: string;
  /** The same file, fixed. */
  fixed: string;
}

const head = "set ns [new Simulator]\nsource tb_compat.tcl\n";
const ns = (body: string) => `${head}${body}$ns run\n`;
const pair = (bad: string, good: string): Example => ({ file: ns(bad), fixed: ns(good) });
const node = "set web [$ns node]\n";
/** A tb-allow-external call of node web, wrong and right: `shared ...` as written after the node. */
const allow = (bad: string, good: string): Example =>
  pair(`${node}tb-allow-external $web ${bad}\n`, `${node}tb-allow-external $web ${good}\n`);

export const EXAMPLES: Partial<Record<DiagnosticCode, Example>> = {
  FWC101: pair(
    `${node}if {1} {\n  tb-set-node-os $web UBUNTU22-64-STD\n`,
    `${node}if {1} {\n  tb-set-node-os $web UBUNTU22-64-STD\n}\n`,
  ),
  FWC102: pair(`${node}tb-set-node-os $web "UBUNTU22-64-STD\n`, `${node}tb-set-node-os $web "UBUNTU22-64-STD"\n`),
  FWC103: pair(`set web [$ns node\n`, node),
  FWC104: pair(`${node}if {1}{ set x 1 }\n`, `${node}if {1} { set x 1 }\n`),
  FWC105: pair(`${node}set os "UBUNTU22"-64\n`, `${node}set os "UBUNTU22-64"\n`),
  FWC106: pair(`${node}tb-set-node-os\u00a0$web UBUNTU22-64-STD\n`, `${node}tb-set-node-os $web UBUNTU22-64-STD\n`),
  FWC107: pair(
    `${node}<<<<<<< HEAD\ntb-set-node-os $web UBUNTU22-64-STD\n`,
    `${node}tb-set-node-os $web UBUNTU22-64-STD\n`,
  ),
  FWC108: pair(`set n(0) [$ns node]\nset x $n(0\n`, `set n(0) [$ns node]\nset x $n(0)\n`),
  FWC200: pair(`${node}tb-set-node-oss $web UBUNTU22-64-STD\n`, `${node}tb-set-node-os $web UBUNTU22-64-STD\n`),
  FWC201: pair(`${node}set os UBUNTU22 64\n`, `${node}set os UBUNTU22-64\n`),
  FWC202: pair(`tb-set-node-os $web UBUNTU22-64-STD\n`, `${node}tb-set-node-os $web UBUNTU22-64-STD\n`),
  FWC203: pair(
    `for {set i 0} {$i <} {incr i} {\n  set n($i) [$ns node]\n}\n`,
    `for {set i 0} {$i < 3} {incr i} {\n  set n($i) [$ns node]\n}\n`,
  ),
  FWC204: pair(
    `set count 0\nset each [expr {12 / $count}]\n${node}`,
    `set count 4\nset each [expr {12 / $count}]\n${node}`,
  ),
  FWC205: pair(`${node}set count 1\nincr count one\n`, `${node}set count 1\nincr count 1\n`),
  FWC206: pair(`${node}while {1} {\n  set x 1\n}\n`, `${node}for {set i 0} {$i < 10} {incr i} {\n  set x $i\n}\n`),
  FWC207: pair(
    `proc grow {n} { grow [expr {$n + 1}] }\ngrow 0\n${node}`,
    `proc grow {n} { if {$n < 10} { grow [expr {$n + 1}] } }\ngrow 0\n${node}`,
  ),
  FWC209: pair(`source my-nodes.tcl\n${node}`, node),
  FWC210: pair(`set who [exec whoami]\n${node}`, `set who experimenter\n${node}`),
  FWC211: pair(`${node}break\n`, `${node}foreach x {1 2} {\n  break\n}\n`),
  FWC212: pair(`set n 1\nset n(0) [$ns node]\n`, `set n(0) [$ns node]\n`),
  FWC213: pair(`${node}error "not ready yet"\n`, node),
  FWC300: pair(`${node}$web set-foo 1\n`, node),
  FWC301: pair(
    `set a [$ns node]\nset b [$ns node]\nset link [$ns duplex-link $a $b 100Mb 0ms]\n`,
    `set a [$ns node]\nset b [$ns node]\nset link [$ns duplex-link $a $b 100Mb 0ms DropTail]\n`,
  ),
  FWC302: pair(
    `set a [$ns node]\nset b [$ns node]\nset link [$ns duplex-link $a $b 100Mbit 0ms DropTail]\n`,
    `set a [$ns node]\nset b [$ns node]\nset link [$ns duplex-link $a $b 100Mb 0ms DropTail]\n`,
  ),
  FWC303: pair(
    `set a [$ns node]\nset b [$ns node]\nset link [$ns duplex-link $a $b 100Mb 1ms DropTail]\n`,
    `set a [$ns node]\nset b [$ns node]\nset link [$ns duplex-link $a $b 100Mb 2ms DropTail]\n`,
  ),
  FWC304: pair(
    `set a [$ns node]\nset b [$ns node]\nset link [$ns duplex-link $a $b 100Mb 0ms FQ]\n`,
    `set a [$ns node]\nset b [$ns node]\nset link [$ns duplex-link $a $b 100Mb 0ms DropTail]\n`,
  ),
  FWC305: pair(`${node}$ns rtproto OSPF\n`, `${node}$ns rtproto ospf\n`),
  FWC306: pair(
    `set srv(1) [$ns node]\ntb-set-node-os srv(1) UBUNTU22-64-STD\n`,
    `set srv(1) [$ns node]\ntb-set-node-os $srv(1) UBUNTU22-64-STD\n`,
  ),
  FWC308: { file: `${head}${node}`, fixed: ns(node) },
  FWC309: {
    file: `${head}${node}$ns run\ntb-set-node-os $web UBUNTU22-64-STD\n`,
    fixed: ns(`${node}tb-set-node-os $web UBUNTU22-64-STD\n`),
  },
  FWC311: pair(`${node}set agent [new Agent/Foo]\n`, `${node}set agent [new Agent/TCP]\n`),
  FWC312: pair(`${node}$ns at 10x "$web reboot"\n`, `${node}$ns at 10 "$web reboot"\n`),
  FWC313: pair(
    `set a [$ns node]\nset b [$ns node]\nset lan [$ns make-lan "$a $b" 100Mb 0ms]\ntb-set-node-lan-params $a $lan 10ms 10Mb 0.0\ntb-set-node-lan-params $a $lan 20ms 10Mb 0.0\n`,
    `set a [$ns node]\nset b [$ns node]\nset lan [$ns make-lan "$a $b" 100Mb 0ms]\ntb-set-node-lan-params $a $lan 20ms 10Mb 0.0\n`,
  ),
  FWC314: pair(
    `${node}set lan [$ns make-lan "" 100Mb 0ms]\n`,
    `set a [$ns node]\nset b [$ns node]\nset lan [$ns make-lan "$a $b" 100Mb 0ms]\n`,
  ),
  FWC315: { file: `set ns [new Simulator]\n${node}$ns run\n`, fixed: ns(node) },
  FWC316: pair(`${node}$ns at 10 "$web"\n`, `${node}$ns at 10 "$web reboot"\n`),
  FWC400: pair(`set n(1,2) [$ns node]\n`, `set n(1) [$ns node]\n`),
  FWC401: pair(`set n(0) [$ns node]\nset n-0 [$ns node]\n`, `set n(0) [$ns node]\nset n-1 [$ns node]\n`),
  FWC500: allow(`public rdr "22"`, `shared rdr "22"`),
  FWC501: allow(`shared redirect "22"`, `shared rdr "22"`),
  FWC502: allow(`shared rdr "22" rdr "80"`, `shared rdr "22 80"`),
  FWC503: allow(`shared rdr`, `shared rdr "22"`),
  FWC510: allow(`shared rdr "web/22/tcp/ssh"`, `shared rdr "web/22/tcp"`),
  FWC511: allow(`shared nat "192.0.2.300/80"`, `shared nat "192.0.2.30/80"`),
  FWC512: allow(`shared rdr "70000"`, `shared rdr "7000"`),
  FWC513: allow(`shared rdr "22/icmp"`, `shared rdr "22/tcp"`),
  FWC514: allow(`shared rdr "8100..8000"`, `shared rdr "8000..8100"`),
  FWC515: pair(
    `${node}tb-allow-external $web shared rdr "db/5432"\n`,
    `${node}set db [$ns node]\ntb-allow-external $web shared rdr "db/5432"\n`,
  ),
  FWC520: allow(`shared rdr "22 22"`, `shared rdr "22"`),
  FWC521: allow(`shared nat "10.0.0.5/80"`, `shared nat "128.32.112.228/80"`),
  FWC522: allow(`shared nat "0.0.0.0/0"`, `shared nat "0.0.0.0/443"`),
  FWC524: allow(`shared rdr "web,all"`, `shared rdr "web,22"`),
};
