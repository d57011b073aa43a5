/**
 * The NS object model as Emulab's parser builds it: `new Simulator`, the Simulator's methods, nodes, links,
 * LANs, the `tb-*` commands, and Emulab's naming rule (an object takes the name of the global variable it is
 * first assigned to, with `(` turned into `-` and `)` dropped).
 */
import ipaddr from "ipaddr.js";
import type { Span } from "../../diagnostics/source.js";
import { didYouMean } from "../../diagnostics/suggest.js";
import type { Command } from "../ast.js";
import type { FrontOptions } from "../catalog.js";
import type { Interp, Slot } from "../interp.js";
import { formatList, parseBoolean } from "../values.js";
import type { ExternalCall, LanObj, LinkObj, NodeObj, NsEvent, NsObject, OtherObj, TbCall } from "./objects.js";
import { type ArgKind, arity, RENAMED, TB_COMMANDS, type TbCommand, usage } from "./tbcommands.js";
import { parseBandwidth, parseDelay, parseLoss, QUEUES, RTPROTOS } from "./units.js";

/** Classes Emulab's `new` knows (its new_classes); anything else becomes a null object with a warning. */
const KNOWN_CLASSES = new Set([
  "Simulator",
  "Program",
  "EventGroup",
  "EventSequence",
  "EventTimeline",
  "Firewall",
  "Console",
  "Custom",
  "Disk",
  "Blockstore",
  "Path",
  "NSENode",
  "Topography",
  "Agent/UDP",
  "Agent/TCP",
  "Agent/TCP/FullTcp",
  "Agent/TCP/FullTcp/Reno",
  "Agent/TCP/FullTcp/Newreno",
  "Agent/TCP/FullTcp/Tahoe",
  "Agent/TCP/FullTcp/Sack",
  "Agent/TCPSink",
  "Agent/Null",
  "Application/Traffic/CBR",
  "Application/FTP",
  "Application/Telnet",
]);

const NAME_RE = /^[-0-9A-Za-z]+$/;
/**
 * What Emulab's parse-ns writes into the namespace TBCOMPAT before the NS file, for every file (from its database
 * and the experiment): the namespace exists from the first line, and `elabinelab_maxpcs` is the experiment's
 * maximum node count, 0 for a new one.
 */
const PRELUDE_VARS: [string, string][] = [
  ["TBCOMPAT::elabinelab_maxpcs", "0"],
  ["GLOBALS::elabinelab_singlenet", "0"],
  ["DATASTORE", "/proj"],
];
/** What tb_compat.tcl itself sets, each time it is sourced (`variable name value`). */
const TBCOMPAT_VARS: [string, string][] = [
  ["elabinelab_source_tarfile", ""],
  ["elabinelab_cnetspeed", "0"],
  ["elabinelab_attributes", ""],
  ["oml_use_control", "1"],
  ["oml_server_port", "3003"],
];
/** parse.tcl's GLOBALS that the tb-* commands of elab-in-elab set, with their defaults. */
const GLOBALS_VARS: [string, string][] = [
  ["elab_in_elab", "0"],
  ["elabinelab_topo", ""],
  ["elabinelab_eid", ""],
  ["elabinelab_cvstag", ""],
];

/** Node and link methods Emulab implements (and checks) that fwc does not model. */
const NODE_METHODS = new Set(["start-command", "add-attribute", "console", "set-fw-style", "add-rule"]);
const LINK_METHODS = new Set([
  "trace",
  "trace_snaplen",
  "trace_mysql",
  "trace_endnode",
  "enable_openflow",
  "implemented_by",
]);

/** The event objects of `event-sequence`, `event-timeline` and `event-group`, with methods of their own. */
const EVENT_OBJECTS = new Set(["EventSequence", "EventTimeline", "EventGroup"]);
const EMULAB_IP_RE = /^([0-9]{1,3}\.){3}[0-9]{1,3}$/;

/** The shared (NFS) directories of an Emulab testbed as it is installed by default: never a tarball's target. */
const NFS_ROOTS = ["/proj", "/groups", "/users", "/share"];
/** The tarball extensions Emulab's tb_compat.tcl takes (case matters). */
const TAR_EXTENSIONS = [".tar", ".tar.Z", ".tar.gz", ".tgz", ".tar.bz2"];

/**
 * The (directory, tarball) pairs of tb-set-node-tarfiles and tb-set-tarfiles, checked as Emulab's tb_compat.tcl
 * checks them when it has no experiment (the tarballs' existence is checked at swap-in, not here): one argument is
 * split at spaces; pairs; an absolute directory on the node's own disk; a tarball extension.
 */
function checkTarfiles(it: Interp, name: string, a: string[], from: number): void {
  const words = a.length - from === 1 ? a[from]!.split(" ") : a.slice(from);
  const at = (k: number) => it.wordSpan(a.length - from === 1 ? from : from + k);
  const fail = (k: number, message: string, help: string) =>
    it.diags.add("FWC312", at(k), `[${name}] ${message}`, help);
  if (a.length === from) {
    it.diags.add(
      "FWC312",
      it.wordSpan(0),
      `[${name}] ${name}${from === 2 ? " <node>" : ""} (<dir> <tar>)+`,
      "give a directory on the node and a tarball, for each tarball",
    );
    return;
  }
  if (words.length % 2 !== 0) {
    fail(
      0,
      "Arguments should be node and series of pairs.",
      "give a directory on the node and a tarball, for each tarball",
    );
    return;
  }
  for (let k = 0; k < words.length; k += 2) {
    const dir = words[k]!;
    const tar = words[k + 1]!;
    // Emulab stops at the first pair in error.
    if (NFS_ROOTS.some((r) => dir.startsWith(`${r}/`))) {
      fail(
        k,
        `'${dir}' refers to an NFS directory instead of the node's local disk.`,
        "unpack into a directory of the node's own disk (for example /usr/local or /opt)",
      );
      return;
    }
    if (!dir.startsWith("/")) {
      fail(k, `'${dir}' is not an absolute path.`, "give the directory on the node as an absolute path");
      return;
    }
    // Emulab checks where the tarball is when it creates the experiment (its anonymous mode does not): a URL
    // of http, https or ftp, or a file in the shared project, group or user directories. Whether the file
    // exists is left to Emulab.
    if (tar.includes("://")) {
      if (!/^(http|https|ftp):\/\/./.test(tar)) {
        fail(
          k + 1,
          `'${tar}' is not an http, https, or ftp URL.`,
          "give an http, https or ftp URL, or a path under /proj",
        );
        return;
      }
    } else if (!SHARED_ROOTS.some((r) => tar.startsWith(`${r}/`))) {
      fail(
        k + 1,
        `'${tar}' is not in an allowed directory`,
        "put the tarball under /proj, /groups or /users, or give a URL",
      );
      return;
    }
    if (!TAR_EXTENSIONS.some((x) => tar.endsWith(x))) {
      fail(
        k + 1,
        `'${tar}' does not have a valid extension (e.g. *.tar, *.tar.Z, *.tar.gz, *.tgz).`,
        `Emulab takes ${TAR_EXTENSIONS.join(", ")} (case matters)`,
      );
      return;
    }
  }
}
/** Emulab's reltime-to-secs: seconds (`10`, `2.5`, `.5`) or `1h20m3s` with any part left out (even all of them). */
const TIME_RE = /(^[0-9]+(\.[0-9]+)?$)|(^\.[0-9]+$)|(^([0-9]+h)?([0-9]+m)?([0-9]+s)?$)/;

/** The NS classes Emulab's make_event sends events to; an event for any other object fails ("otype was empty"). */
const EVENT_CLASSES = new Set([
  "Application/Traffic/CBR",
  "Agent/TCP/FullTcp",
  "Agent/TCP/FullTcp/Reno",
  "Agent/TCP/FullTcp/Newreno",
  "Agent/TCP/FullTcp/Tahoe",
  "Agent/TCP/FullTcp/Sack",
  "Application/FTP",
  "Application/Telnet",
  "EventSequence",
  "EventTimeline",
  "Link",
  "Lan",
  "Node",
  "Queue",
  "Program",
  "Disk",
  "Custom",
  "Console",
  "Simulator",
]);

const SIM_METHODS = [
  "node",
  "bridge",
  "duplex-link",
  "make-lan",
  "make-cloud",
  "make-path",
  "make-portinvlan",
  "make-san",
  "make-deter-lan",
  "make-new-lan",
  "blockstore",
  "rtproto",
  "run",
  "at",
  "connect",
  "attach-agent",
  "cost",
  "link",
  "lanlink",
  "event-group",
  "event-sequence",
  "event-timeline",
  "define-template-parameter",
  "description",
  "instructions",
  "node-config",
];

export class Experiment {
  readonly nodes: NodeObj[] = [];
  readonly links: LinkObj[] = [];
  readonly lans: LanObj[] = [];
  readonly others: OtherObj[] = [];
  readonly external: ExternalCall[] = [];
  readonly tbCalls: TbCall[] = [];
  readonly events: NsEvent[] = [];
  rtproto: string | null = null;
  ranAt: Span | null = null;
  sourcedCompat = false;
  /** Firewall objects made, and whether tb-set-security-level set a level (Emulab takes one or the other). */
  private firewalls = 0;
  private securityLevel = false;
  /** The node settings made so far (node, command, and the LAN for per-LAN ones), for FWC313. */
  private readonly settingsSeen = new Set<string>();
  /** Events added by `$ns at` (null) and by each timeline's `at`. */
  private readonly eventCounts = new Map<OtherObj | null, number>();
  /** `$ns run` was called, even if it failed. */
  private runCalled = false;
  private idCounter = 0;
  private newCounter = 0;
  private lastCreated: NsObject | null = null;
  private readonly byName = new Map<string, NsObject>();

  /** Values a catalog would check, by kind, when there is none for them: said once per kind by a note. */
  private readonly unchecked = new Map<CatalogKind, { values: Set<string>; at: Span }>();
  /** Virtual node types made by tb-make-*-vtype: tb-set-hardware takes them as it takes the catalog's types. */
  private readonly vtypes = new Set<string>();
  /** tb-set-node-service's node, service, env and whence: each may be controlled once. */
  private readonly serviceCtls = new Set<string>();

  constructor(
    private readonly it: Interp,
    private readonly front: FrontOptions = {},
  ) {
    it.onSet = (it2, name, value, slot, cmd) => this.onSet(it2, name, value, slot, cmd);
    const c = it.commands;
    c.set("new", (it, a) => this.newObject(it, a));
    // Tcl's `source` (src/ns/tcl/control.ts) refuses every file but tb_compat.tcl; after it, the tb-* commands exist.
    const tclSource = c.get("source")!;
    c.set("source", (it, a, cmd) => {
      const r = tclSource(it, a, cmd);
      // tb_compat.tcl's own variables that NS files read or set; `variable x` without a value keeps what the file
      // set before.
      this.sourcedCompat = true;
      for (const [k, v] of TBCOMPAT_VARS) it.setVar(`::TBCOMPAT::${k}`, v);
      for (const k of ["elabinelab_hardware", "elabinelab_fixnodes", "elabinelab_nodeos", "elabinelab_tarfiles"])
        it.declare(`TBCOMPAT::${k}`);
      return r;
    });
    it.makeNamespace("::TBCOMPAT");
    for (const [k, v] of [...PRELUDE_VARS, ...GLOBALS_VARS.map(([k, v]) => [`GLOBALS::${k}`, v] as const)])
      it.setVar(`::${k}`, v);
    for (const [name, def] of Object.entries(TB_COMMANDS)) c.set(name, (it, a) => this.tbCommand(it, name, def, a));
    for (const [name, now] of Object.entries(RENAMED))
      c.set(name, (it) => {
        throw it.error(
          "FWC200",
          `invalid command name "${name}": Emulab has no such command`,
          `use \`${now}\``,
          it.wordSpan(0),
        );
      });
  }

  // ---- naming ----

  private register(obj: NsObject, it: Interp): void {
    this.byName.set(obj.name, obj);
    it.commands.set(obj.name, (it2, a, cmd) => this.method(obj, it2, a, cmd));
    this.lastCreated = obj;
  }

  /** Emulab's redefined `set`: see parse.tcl's comment "Redefining Assignment". */
  private onSet(it: Interp, name: string, value: string, _slot: Slot, cmd: Command): string {
    const last = this.lastCreated;
    if (last === null) return value;
    const paren = name.indexOf("(");
    let base = paren < 0 ? name : name.slice(0, paren);
    if (base.startsWith("::")) base = base.slice(2);
    const g = it.global.vars.get(base);
    // Only assignments to variables that exist globally rename (a proc's own locals do not).
    if (g === undefined || (g.value === undefined && g.arr === undefined)) return value;
    this.lastCreated = null;
    if (value !== last.name) return value;
    if (it.ns !== "")
      // Emulab renames the object from inside the namespace: its command becomes ::NS::name, and `$ns run`
      // later fails looking for it.
      throw it.error(
        "FWC401",
        `can't name ${describe(last)} "${name}" inside \`namespace eval ${it.ns}\`: Emulab makes the command ::${it.ns}::${name} and then fails at $ns run (invalid command name)`,
        "create and name NS objects outside `namespace eval`",
        it.wordSpan(1, cmd),
      );
    // The name is the variable name as written, `::` included (Emulab then rejects it at `$ns run`).
    const newName = paren < 0 ? name : name.replaceAll("(", "-").replaceAll(")", "");
    const at = it.wordSpan(1, cmd);
    if (newName === last.name) return value;
    const holder = this.byName.get(newName);
    // Tcl's rename refuses any existing command: another object, a proc, or a Tcl command (even refused ones).
    if (it.commands.has(newName)) {
      const what = holder !== undefined ? describe(holder) : `the command "${newName}"`;
      const err = it.error(
        "FWC401",
        `can't rename to "${newName}": command already exists (${what})`,
        holder !== undefined
          ? "each variable (and array element) can name only one object: use a new variable name"
          : `"${newName}" is a Tcl or NS command name; choose another variable name`,
        at,
      );
      if (holder !== undefined)
        err.related.push({ message: `${describe(holder)} got that name here`, span: holder.namedAt ?? holder.created });
      throw err;
    }
    if (/^[0-9]/.test(newName) && last.cls !== "Simulator")
      throw it.error(
        "FWC402",
        `object name "${newName}" starts with a digit`,
        "Emulab refuses such names; start the variable name with a letter",
        at,
      );
    this.byName.delete(last.name);
    const handler = it.commands.get(last.name)!;
    it.commands.delete(last.name);
    last.name = newName;
    last.namedAt = at;
    this.byName.set(newName, last);
    it.commands.set(newName, handler);
    return newName;
  }

  // ---- creation ----

  private newObject(it: Interp, a: string[]): string {
    const cls = a[1];
    if (cls === undefined) throw it.wrongArgs("new class ?arg ...?");
    const known = KNOWN_CLASSES.has(cls);
    if (!known) {
      const hint = didYouMean(cls, KNOWN_CLASSES);
      it.diags.add(
        "FWC311",
        it.wordSpan(1),
        `unknown class "${cls}": Emulab makes a placeholder object and ignores its methods`,
        hint ??
          "Emulab supports Simulator, Program, EventGroup, Firewall, Agent/UDP, Agent/TCP, Agent/Null, Application/Traffic/CBR, ...",
      );
    }
    const name = known ? `${cls}${++this.newCounter}` : `null${++this.newCounter}`;
    if (known && a.length > 3) {
      // Emulab's `new` passes at most one argument on: with more, it warns and makes no object at all (the name
      // it returns is not a command).
      it.diags.add(
        "FWC311",
        it.wordSpan(3),
        `arguments for ${cls} are unsupported: Emulab makes no object`,
        `give ${cls} at most one argument (usually $ns)`,
      );
      return name;
    }
    if (cls === "Firewall") {
      // Emulab's Firewall: one per experiment, and not with tb-set-security-level.
      if (++this.firewalls > 1)
        it.diags.add(
          "FWC312",
          it.wordSpan(1),
          "[add_firewall]: only one firewall per experiment right now",
          "remove the second Firewall",
        );
      if (this.securityLevel)
        it.diags.add(
          "FWC312",
          it.wordSpan(1),
          "[add_firewall] cannot combine firewall with security-level",
          "keep the Firewall object or the security level",
        );
    }
    const obj = this.makeOther(it, cls === "Simulator" ? "Simulator" : "Other", name, cls, !known);
    if (cls === "EventGroup") obj.members = [];
    return name;
  }

  /** An object that is neither node, link nor LAN: registered as a command, recorded, named like the others. */
  private makeOther(
    it: Interp,
    cls: OtherObj["cls"],
    name: string,
    nsClass: string,
    unknownClass = false,
    register = true,
  ): OtherObj {
    const obj: OtherObj = {
      cls,
      name,
      internal: name,
      created: it.wordSpan(),
      namedAt: null,
      nsClass,
      unknownClass,
      settings: new Map(),
    };
    this.others.push(obj);
    if (register) this.register(obj, it);
    return obj;
  }

  private makeNode(it: Interp, kind: "node" | "bridge"): string {
    const name = `tbnode-n${++this.idCounter}`;
    const node: NodeObj = {
      cls: "Node",
      kind,
      name,
      internal: name,
      created: it.wordSpan(),
      namedAt: null,
      hardware: kind === "bridge" ? "bridge" : null,
      os: null,
      ips: new Map(),
      settings: new Map(),
    };
    this.nodes.push(node);
    this.register(node, it);
    return name;
  }

  private asNode(it: Interp, value: string, wordIndex: number, context: string): NodeObj | null {
    const o = this.byName.get(value);
    if (o?.cls === "Node") return o;
    it.diags.add(
      "FWC306",
      it.wordSpan(wordIndex),
      `[${context}] ${value === "" ? "(empty)" : `"${value}"`} is not a node`,
      o !== undefined ? `it is ${describe(o)}` : (this.nodeHint(value) ?? "pass a node made by `$ns node`, e.g. $n1"),
    );
    return null;
  }

  private nodeHint(value: string): string | undefined {
    const base = value.split("(")[0]!;
    if (value.length > 0 && !value.startsWith("$") && this.it.global.vars.has(base))
      return `did you forget the \`$\`? write \`$${value}\``;
    return didYouMean(
      value,
      this.nodes.map((n) => n.name),
    );
  }

  private asLanLink(
    it: Interp,
    value: string,
    wordIndex: number,
    context: string,
    want: "lan" | "link" | "lanlink",
  ): LanObj | LinkObj | null {
    const o = this.byName.get(value);
    if ((o?.cls === "Lan" && want !== "link") || (o?.cls === "Link" && want !== "lan")) return o;
    const what = want === "lanlink" ? "a link or LAN" : want === "lan" ? "a LAN" : "a link";
    it.diags.add(
      "FWC307",
      it.wordSpan(wordIndex),
      `[${context}] "${value}" is not ${what}`,
      o !== undefined ? `it is ${describe(o)}` : "pass the variable that holds the `duplex-link` or `make-lan` result",
    );
    return null;
  }

  private bandwidth(it: Interp, s: string, wordIndex: number): number | "*" {
    const r = parseBandwidth(s);
    if (r.ok) return r.value;
    it.diags.add("FWC302", it.wordSpan(wordIndex), r.message, r.help);
    return 100000;
  }

  private delay(it: Interp, s: string, wordIndex: number): number {
    const r = parseDelay(s);
    if (r.ok) return r.value;
    it.diags.add("FWC303", it.wordSpan(wordIndex), r.message, r.help);
    return 0;
  }

  private afterRun(it: Interp, what: string): void {
    if (this.ranAt !== null)
      it.diags.add(
        "FWC309",
        it.wordSpan(),
        `${what} after \`$ns run\` does not change the experiment Emulab builds`,
        "move it above the `$ns run` line",
      );
  }

  // ---- methods ----

  private method(obj: NsObject, it: Interp, a: string[], cmd: Command): string {
    const m = a[1];
    if (m === undefined) throw it.wrongArgs(`${obj.name} method ?arg ...?`);
    if (obj.cls === "Simulator") return this.simulatorMethod(obj, it, a, cmd);
    if (m === "set" || m === "instvar") {
      // OTcl instance variables (`$queue set limit_ 20`): recorded, no effect on the topology.
      if (obj.cls !== "Node" && obj.cls !== "Link" && obj.cls !== "Lan")
        obj.settings.set(`set ${a[2] ?? ""}`, a.slice(3));
      return a[3] ?? "";
    }
    if (obj.cls === "Link" && m === "queue") return this.queueOf(obj, it);
    if ((obj.cls === "Link" || obj.cls === "Lan") && m === "cost") return "";
    if (obj.cls === "Other" && obj.unknownClass) return "";
    if (obj.cls === "Other" && EVENT_OBJECTS.has(obj.nsClass)) return this.eventMethod(obj, it, a);
    if (obj.cls === "Node" && (m === "program-agent" || m === "disk-agent" || m === "custom-agent"))
      return this.nodeAgent(obj, it, a);
    if (obj.cls === "Node" && (m === "add-desire" || m === "topography" || m === "add-route")) return "";
    if (obj.cls === "Other" && ["attach-agent", "start", "stop", "set_fid", "attach", "connect"].includes(m)) return "";
    const blockstore = obj.cls === "Blockstore";
    if (blockstore && m === "set-class") {
      if (a.length !== 3) throw it.error("FWC301", `wrong # args: should be "${obj.name} set-class newclass"`);
      if (this.inCatalog(it, "storageClasses", a[2]!, 2, "set-class")) obj.settings.set("set-class", [a[2]!]);
      return "";
    }
    // Emulab's blockstore.tcl implements a blockstore's other methods and checks their values: fwc does not, and
    // must not say Emulab ignores them.
    it.diags.add(
      "FWC300",
      it.wordSpan(1),
      blockstore ||
        (obj.cls === "Node" && NODE_METHODS.has(m)) ||
        ((obj.cls === "Link" || obj.cls === "Lan") && LINK_METHODS.has(m))
        ? `method "${m}" of ${describe(obj)} is not checked by fwc; Emulab implements and checks it when the experiment is created`
        : `method "${m}" of ${describe(obj)} is not modelled by fwc; Emulab ignores it too`,
      "it has no effect on the experiment's topology or external access",
    );
    return "";
  }

  // ---- events ----

  /**
   * `$ns run` reads tb_compat.tcl's `oml_use_control`: in a file without `source tb_compat.tcl` (or with it after
   * `$ns run`), Emulab's parser stops there.
   */
  private needCompat(it: Interp): void {
    if (!this.sourcedCompat)
      throw it.error(
        "FWC315",
        `$ns run needs \`source tb_compat.tcl\` first: Emulab's parser fails here (can't read "oml_use_control": no such variable)`,
        "add `source tb_compat.tcl` near the top of the file",
        it.wordSpan(),
      );
  }

  /** Emulab stops the whole file when a `$ns at` finds more than 14,000 events, or a timeline's more than 4,000. */
  private tooManyEvents(it: Interp, holder: OtherObj | null, limit: number): void {
    if ((this.eventCounts.get(holder) ?? 0) <= limit) return;
    throw it.error(
      "FWC316",
      "Too many events in your NS file!",
      `Emulab stops past ${limit} events ${holder === null ? "of `$ns at`" : "in one timeline"}; use fewer, or a program that runs them`,
    );
  }

  /** The class Emulab's `info class` gives an object. */
  private classOf(o: NsObject): string {
    if (o.cls === "Node" || o.cls === "Link" || o.cls === "Lan" || o.cls === "Simulator") return o.cls;
    if (o.cls === "Other") return o.unknownClass ? "NullClass" : o.nsClass;
    return o.cls;
  }

  /**
   * One event, checked as Emulab's make_event checks it: a comment or an empty event is skipped; the first word
   * must be an object that takes events, and the second the event's type. The event's own arguments are not
   * checked (see docs/language.md).
   */
  private makeEvent(
    it: Interp,
    event: string,
    time: string,
    holder: OtherObj | null,
    wordIndex: number,
    skipEmpty = false,
  ): void {
    const words = it.list(event, wordIndex);
    if (skipEmpty && words.length === 0) return;
    const target = words[0] ?? "";
    if (target.startsWith("#")) return;
    // Each event is work done inside one command: a hostile event string of millions of events is stopped by
    // the limits like a loop.
    it.tick(1, it.wordSpan(wordIndex));
    if (words.length < 2 || words[1] === "") {
      it.diags.add(
        "FWC316",
        it.wordSpan(wordIndex),
        `Missing event type for ${target}`,
        target === "" ? "remove the empty event (a stray `;`?)" : `write "${target} start", for example`,
      );
      return;
    }
    const o = this.objectNamed(
      it,
      target,
      wordIndex,
      "FWC316",
      `event "${event.trim()}"`,
      'an event starts with the object it is sent to, e.g. "$prog start"',
    );
    const cls = o.cls === "Other" && o.nsClass === "EventGroup" ? (o.memberClass ?? "") : this.classOf(o);
    if (!EVENT_CLASSES.has(cls)) {
      it.diags.add(
        "FWC316",
        it.wordSpan(wordIndex),
        `event "${event.trim()}": ${describe(o)} takes no events (Emulab: otype was empty)`,
        "send events to programs, traffic generators, nodes, links, LANs, queues, sequences or timelines",
      );
      return;
    }
    this.events.push({ time, event: words.join(" "), location: it.wordSpan(), holder });
    this.eventCounts.set(holder, (this.eventCounts.get(holder) ?? 0) + 1);
  }

  /** The events of `$ns at` and a timeline's `at`: the string split at `;`, each piece one event. */
  private eventsOf(it: Interp, text: string, time: string, holder: OtherObj | null, wordIndex: number): void {
    if (text === "") return;
    for (const e of text.split(";")) this.makeEvent(it, e, time, holder, wordIndex);
  }

  /**
   * A time as Emulab's reltime-to-secs takes it: seconds (`10`, `2.5`, `.5`) or `1h20m3s` with any part left out;
   * the parts of the second form go through Tcl's `expr`, where a leading 0 means octal (`08m` fails).
   */
  private timeOk(it: Interp, time: string, wordIndex: number): boolean {
    if (!TIME_RE.test(time)) {
      it.diags.add(
        "FWC312",
        it.wordSpan(wordIndex),
        `Invalid time spec: ${time}`,
        "write the time in seconds (10, 2.5) or as 1h20m3s",
      );
      return false;
    }
    const octal = /(^|[hm])0[0-9]*[89]/.exec(time);
    if (octal !== null && !/^[0-9]+(\.[0-9]+)?$/.test(time))
      throw it.error(
        "FWC312",
        `time spec ${time}: expected integer but got a number with a leading 0 and a digit 8 or 9 (looks like invalid octal number)`,
        "Emulab computes these parts with Tcl's expr, where a leading 0 means octal: drop the leading 0",
        it.wordSpan(wordIndex),
      );
    return true;
  }

  /**
   * `$ns event-sequence ?seq?`: each line of `seq` is substituted where the call is and is one event (empty lines
   * are skipped). The catch form (`seq catch catchseq`) always fails in Emulab: the sequence that runs the two
   * others is built as a string, and each of its words is taken as an event without a type.
   */
  private eventSequence(it: Interp, a: string[]): string {
    if ((a[3] ?? "") !== "") {
      this.idCounter += 2;
      const seq = this.makeOther(it, "Other", `tbseq-seq${++this.idCounter}`, "EventSequence");
      it.diags.add(
        "FWC316",
        it.wordSpan(3),
        `Missing event type for tbseq-seq${this.idCounter - 2}: the catch form of event-sequence always fails in Emulab`,
        "Emulab builds the sequence that runs the two others from a string whose every word it takes as an event; make two sequences and run them with events instead",
      );
      return seq.name;
    }
    const seq = this.makeOther(it, "Other", `tbseq-seq${++this.idCounter}`, "EventSequence");
    for (const line of (a[2] ?? "").split("\n")) {
      const words = it.evalBody(`list ${line}`, 2);
      this.makeEvent(it, words, "", seq, 2, true);
    }
    this.lastCreated = seq;
    return seq.name;
  }

  /** Adds one member to an EventGroup; false when Emulab stops adding (a member of another class). */
  private addToGroup(it: Interp, g: OtherObj, name: string, wordIndex: number): boolean {
    const o = this.objectNamed(
      it,
      name,
      wordIndex,
      "FWC316",
      `[${g.name} add]`,
      "add the objects the group's events go to, e.g. programs or nodes",
    );
    const cls = o.cls === "Link" || o.cls === "Lan" ? "LanLink" : this.classOf(o);
    g.memberClass ??= cls;
    if (g.memberClass !== cls) {
      it.diags.add(
        "FWC316",
        it.wordSpan(wordIndex),
        `[${g.name} add ${name}] All members must be of the same type!`,
        `the group holds ${g.memberClass} objects; make another group for ${cls} objects`,
      );
      return false;
    }
    if (!g.members!.includes(o)) g.members!.push(o);
    return true;
  }

  /** The methods of sequences, timelines and groups (the others are internal to Emulab, or OTcl's own). */
  private eventMethod(obj: OtherObj, it: Interp, a: string[]): string {
    const m = a[1]!;
    const want = (n: number, u: string) => {
      if (a.length - 2 !== n) throw it.error("FWC301", `wrong # args: should be "${obj.name} ${m} ${u}"`);
    };
    if (obj.nsClass === "EventSequence" && m === "append") {
      want(1, "event");
      this.makeEvent(it, a[2]!, "", obj, 2);
      return "";
    }
    if (obj.nsClass === "EventTimeline" && m === "at") {
      want(2, "time eventstring");
      if (!this.timeOk(it, a[2]!, 2)) return "";
      this.tooManyEvents(it, obj, 4000);
      this.eventsOf(it, a[3]!, a[2]!, obj, 3);
      return "";
    }
    if (obj.nsClass === "EventGroup" && m === "add") {
      for (let i = 2; i < a.length; i++) if (!this.addToGroup(it, obj, a[i]!, i)) break;
      return "";
    }
    if (obj.nsClass === "EventGroup" && m === "members") {
      want(0, "");
      return (obj.members ?? []).map((o) => o.name).join(" ");
    }
    if (obj.nsClass === "EventGroup") {
      // An EventGroup is an NSObject: Emulab ignores a method it does not have, with a warning.
      it.diags.add(
        "FWC300",
        it.wordSpan(1),
        `EventGroup ${m}: unsupported, Emulab ignores it`,
        "an EventGroup has the methods add and members",
      );
      return "";
    }
    const methods =
      obj.nsClass === "EventSequence"
        ? "the method append"
        : obj.nsClass === "EventTimeline"
          ? "the method at"
          : "the methods add and members";
    throw it.error(
      "FWC316",
      `${obj.name}: unable to dispatch method ${m}`,
      `an ${obj.nsClass} has ${methods}`,
      it.wordSpan(1),
    );
  }

  /**
   * The NS object named `name`. A name that is none stops the file, as it stops Emulab, whose code asks the
   * object its class (`$name info class`: "invalid command name").
   */
  private objectNamed(
    it: Interp,
    name: string,
    wordIndex: number,
    code: "FWC312" | "FWC316",
    context: string,
    help: string,
  ): NsObject {
    const o = this.byName.get(name);
    if (o !== undefined) return o;
    throw it.error(
      code,
      `${context} "${name}" is not an NS object (Emulab stops: invalid command name "${name}")`,
      this.nodeHint(name) ?? help,
      it.wordSpan(wordIndex),
    );
  }

  /** True when `name` is an agent (Agent/UDP, Agent/TCP/FullTcp, ...); else Emulab's error, as `attach-agent` gives it. */
  private isAgent(it: Interp, name: string, wordIndex: number, context: string): boolean {
    const o = this.objectNamed(
      it,
      name,
      wordIndex,
      "FWC312",
      `[${context}]`,
      "pass an agent made by `new Agent/UDP` (or another Agent class)",
    );
    if (o.cls === "Other" && !o.unknownClass && o.nsClass.startsWith("Agent/")) return true;
    it.diags.add(
      "FWC312",
      it.wordSpan(wordIndex),
      `[${context}] ${name} is not an Agent.`,
      o.cls === "Other" && o.unknownClass
        ? `its class ${o.nsClass} is not one Emulab knows (${
            didYouMean(
              o.nsClass,
              [...KNOWN_CLASSES].filter((c) => c.startsWith("Agent/")),
            ) ?? "Agent/UDP, Agent/TCP, ..."
          })`
        : `it is ${describe(o)}`,
    );
    return false;
  }

  /**
   * A node's `program-agent`, `disk-agent` and `custom-agent`: a new Program, Disk or Custom object on the node,
   * named like any other, after its options are checked as Emulab's named-args checks them.
   */
  private nodeAgent(node: NodeObj, it: Interp, a: string[]): string {
    const m = a[1]!;
    const options: Record<string, string[]> = {
      "program-agent": ["-command", "-dir", "-timeout", "-expected-exit-code"],
      "disk-agent": ["-type", "-size", "-mountpoint", "-parameters", "-command"],
      "custom-agent": ["-name"],
    };
    const given = namedArgs(it, a, 2, options[m]!);
    const cls = m === "program-agent" ? "Program" : m === "disk-agent" ? "Disk" : "Custom";
    const obj = this.makeOther(it, "Other", `${cls}${++this.newCounter}`, cls);
    obj.settings.set("node", [node.name]);
    for (const [k, v] of given) obj.settings.set(k, [v]);
    const timeout = given.get("-timeout");
    if (timeout !== undefined && timeout !== "" && !TIME_RE.test(timeout))
      it.diags.add(
        "FWC312",
        it.wordSpan(),
        `-timeout value is not a relative time: ${timeout}`,
        "write the timeout in seconds or as 1h20m3s",
      );
    return obj.name;
  }

  private queueOf(link: LinkObj, it: Interp): string {
    const name = `to${link.internal}-queue`;
    if (!this.byName.has(name)) {
      // Made on demand, without becoming the last created object: `set q [[$ns link $a $b] queue]` names no queue.
      const q = this.makeOther(it, "Queue", name, "Queue", false, false);
      this.byName.set(name, q);
      it.commands.set(name, (it2, a, cmd) => this.method(q, it2, a, cmd));
    }
    return name;
  }

  private simulatorMethod(sim: OtherObj, it: Interp, a: string[], cmd: Command): string {
    const m = a[1]!;
    const need = (min: number, max: number, u: string) => {
      if (a.length - 2 < min || a.length - 2 > max)
        throw it.error("FWC301", `wrong # args: should be "${sim.name} ${m} ${u}"`, undefined, it.wordSpan());
    };
    switch (m) {
      case "node":
      case "bridge":
        if (a.length > 2)
          it.diags.add("FWC300", it.wordSpan(2), `arguments for ${m} are not supported: ${a.slice(2).join(" ")}`);
        this.afterRun(it, `creating a ${m}`);
        return this.makeNode(it, m);
      case "duplex-link": {
        need(5, 99, "node1 node2 bandwidth delay queue");
        const n1 = this.asNode(it, a[2]!, 2, "duplex-link");
        const n2 = this.asNode(it, a[3]!, 3, "duplex-link");
        if (a.length > 7)
          it.diags.add(
            "FWC300",
            it.wordSpan(7),
            `extra arguments for duplex-link are ignored: ${a.slice(7).join(" ")}`,
          );
        if (n1 === null || n2 === null) return "";
        const bw = this.bandwidth(it, a[4]!, 4);
        const delay = this.delay(it, a[5]!, 5);
        const queue = a[6]!;
        if (!QUEUES.includes(queue))
          it.diags.add(
            "FWC304",
            it.wordSpan(6),
            `link type "${queue}" is not supported; Emulab uses DropTail instead`,
            didYouMean(queue, QUEUES) ?? "use DropTail or RED",
          );
        this.afterRun(it, "creating a link");
        const name = `tblink-l${++this.idCounter}`;
        const link: LinkObj = {
          cls: "Link",
          name,
          internal: name,
          created: it.wordSpan(),
          namedAt: null,
          ends: [n1, n2],
          bandwidth: bw,
          delay,
          queue: QUEUES.includes(queue) ? queue : "DropTail",
        };
        this.links.push(link);
        this.register(link, it);
        return name;
      }
      case "make-lan":
      case "make-cloud":
      case "make-deter-lan":
      case "make-new-lan":
      case "make-portinvlan":
      case "make-san": {
        need(3, 99, "nodelist bandwidth delay");
        const members: NodeObj[] = [];
        for (const v of it.list(a[2]!, 2)) {
          const n = this.asNode(it, v, 2, m);
          if (n !== null) members.push(n);
        }
        const bw = this.bandwidth(it, a[3]!, 3);
        const delay = this.delay(it, a[4]!, 4);
        this.afterRun(it, "creating a LAN");
        const name = `tblan-lan${++this.idCounter}`;
        const lan: LanObj = {
          cls: "Lan",
          name,
          internal: name,
          created: it.wordSpan(),
          namedAt: null,
          members,
          bandwidth: bw,
          delay,
          cloud: m === "make-cloud",
        };
        this.lans.push(lan);
        this.register(lan, it);
        return name;
      }
      case "make-path": {
        need(1, 99, "linklist");
        for (const v of it.list(a[2]!, 2)) this.asLanLink(it, v, 2, "make-path", "link");
        const name = `tbpath-path${++this.idCounter}`;
        this.makeOther(it, "Path", name, "Path");
        return name;
      }
      case "blockstore": {
        const name = `tbblockstore-bs${++this.idCounter}`;
        this.makeOther(it, "Blockstore", name, "Blockstore");
        return name;
      }
      case "rtproto": {
        need(1, 99, "protocol");
        const p = a[2]!;
        // As Emulab's parser: more arguments, or a protocol it does not know (a template's @RTPROTO@), are
        // ignored with a warning; the routing stays what it was.
        if (a.length > 3)
          it.diags.add(
            "FWC305",
            it.wordSpan(3),
            `rtproto: arguments ignored: ${a.slice(3).join(" ")}`,
            "Emulab takes the protocol only",
          );
        if (!RTPROTOS.includes(p))
          it.diags.add(
            "FWC305",
            it.wordSpan(2),
            `rtproto: unsupported routing protocol ignored: "${p}"`,
            didYouMean(p, RTPROTOS) ?? `use one of ${RTPROTOS.join(", ")} (case matters)`,
          );
        else this.rtproto = p;
        return "";
      }
      case "run":
        need(0, 0, "");
        this.runCalled = true;
        this.needCompat(it);
        if (this.ranAt !== null) {
          throw it.error("FWC312", "the Simulator 'run' statement can only be run once", "remove the second `$ns run`");
        }
        // tb-set-oml-use-control 0: a LAN of every node, for OML's measurements.
        if (isZero(it.readVarName("::TBCOMPAT::oml_use_control"))) {
          const all = this.nodes.map((n) => n.name).sort(cmp);
          it.atLevel(0, () => it.evalBody(`set omllan [$ns make-lan ${quoted(all.join(" "))} 100Mb 0ms]`, 1, cmd));
        }
        if (it.readVarName("::GLOBALS::elab_in_elab") === "1" && this.nodes.length === 0) this.elabTopology(it, cmd);
        this.ranAt = it.wordSpan(undefined, cmd);
        this.checkNames(it);
        return "";
      case "at": {
        need(2, 2, "time event");
        if (a[2] !== "swapout" && !this.timeOk(it, a[2]!, 2)) return "";
        this.tooManyEvents(it, null, 14000);
        this.eventsOf(it, a[3]!, a[2]!, null, 3);
        return "";
      }
      case "link": {
        need(2, 2, "node1 node2");
        const n1 = this.asNode(it, a[2]!, 2, "link");
        const n2 = this.asNode(it, a[3]!, 3, "link");
        if (n1 === null || n2 === null) return "";
        for (let i = this.links.length - 1; i >= 0; i--) {
          const l = this.links[i]!;
          if ((l.ends[0] === n1 && l.ends[1] === n2) || (l.ends[0] === n2 && l.ends[1] === n1)) return l.name;
        }
        throw it.error("FWC307", `no link between ${n1.name} and ${n2.name}`, "create it first with `$ns duplex-link`");
      }
      case "lanlink": {
        need(2, 2, "lan node");
        const l = this.asLanLink(it, a[2]!, 2, "lanlink", "lanlink");
        this.asNode(it, a[3]!, 3, "lanlink");
        return l?.name ?? "";
      }
      case "cost":
        need(3, 3, "src dst c");
        return "";
      case "attach-agent": {
        need(2, 2, "node agent");
        // Emulab checks the agent first, then the node.
        if (!this.isAgent(it, a[3]!, 3, "attach-agent")) return "";
        this.asNode(it, a[2]!, 2, "attach-agent");
        return "";
      }
      case "connect": {
        need(2, 2, "src dst");
        const src = this.byName.get(a[2]!);
        const dst = this.byName.get(a[3]!);
        const console = (x?: NsObject) => x?.cls === "Other" && x.nsClass === "Console";
        if ((src?.cls === "Node" && console(dst)) || (console(src) && dst?.cls === "Node")) return "";
        this.isAgent(it, a[2]!, 2, "connect");
        this.isAgent(it, a[3]!, 3, "connect");
        return "";
      }
      case "event-timeline":
        return this.makeOther(it, "Other", `tbtl-tl${++this.idCounter}`, "EventTimeline").name;
      case "event-sequence":
        need(0, 3, "?seq? ?catch? ?catch_seq?");
        return this.eventSequence(it, a);
      case "event-group": {
        need(0, 1, "?list?");
        const g = this.makeOther(it, "Other", `EventGroup${++this.newCounter}`, "EventGroup");
        g.members = [];
        // Emulab adds each member with its own `add`: one of another class is refused, and the others still added.
        for (const m of it.list(a[2] ?? "", 2)) this.addToGroup(it, g, m, 2);
        this.lastCreated = g;
        return g.name;
      }
      case "define-template-parameter":
      case "description":
      case "instructions":
      case "node-config":
      case "make-san-disabled":
        return "";
      default:
        it.diags.add(
          "FWC300",
          it.wordSpan(1),
          `Simulator method "${m}" is not supported`,
          didYouMean(m, SIM_METHODS) ?? "Emulab ignores it with a warning",
        );
        return "";
    }
  }

  private tbCommand(it: Interp, name: string, def: TbCommand, a: string[]): string {
    if (!this.sourcedCompat) {
      throw it.error(
        "FWC200",
        `invalid command name "${name}": tb-* commands exist only after \`source tb_compat.tcl\``,
        "add `source tb_compat.tcl` near the top of the file, before the first tb-* command",
        it.wordSpan(0),
      );
    }
    const { min, max } = arity(def);
    const n = a.length - 1;
    if (n < min || n > max) throw it.error("FWC301", `wrong # args: should be "${usage(name, def)}"`);
    this.afterRun(it, name);
    for (const [k, kind] of kindsOf(def)) {
      const i = k + 1;
      const v = a[i];
      if (v === undefined) continue;
      if (kind === "node" && this.asNode(it, v, i, name) === null) return "";
      if ((kind === "lan" || kind === "link" || kind === "lanlink") && this.asLanLink(it, v, i, name, kind) === null)
        return "";
      if (kind === "bw" || kind === "delay" || kind === "loss") {
        const r = kind === "bw" ? parseBandwidth(v) : kind === "delay" ? parseDelay(v) : parseLoss(v);
        if (!r.ok) {
          it.diags.add(
            kind === "bw" ? "FWC302" : kind === "delay" ? "FWC303" : "FWC312",
            it.wordSpan(i),
            `[${name}] ${r.message}`,
            r.help,
          );
          return "";
        }
      }
      if (kind === "onoff" && parseBoolean(v) === null) {
        it.diags.add(
          "FWC312",
          it.wordSpan(i),
          `[${name}] expected a boolean (0/1, true/false, yes/no, on/off) but got "${v}"`,
        );
        return "";
      }
    }
    const call: TbCall = { command: name, args: a.slice(1), location: it.wordSpan() };
    this.tbCalls.push(call);
    const node = def.kinds?.[0] === "node" ? (this.byName.get(a[1]!) as NodeObj) : undefined;
    switch (name) {
      case "tb-set-hardware":
        if (!this.inCatalog(it, "hardware", a[2]!, 2, name)) break;
        node!.hardware = a[2]!;
        break;
      case "tb-make-soft-vtype":
      case "tb-make-hard-vtype":
      case "tb-make-weighted-vtype":
        this.vtypes.add(a[1]!);
        break;
      case "tb-set-node-loadlist":
        for (const os of a[2]!.split(",")) if (!this.inCatalog(it, "os", os, 2, name)) break;
        node!.settings.set(name, a.slice(2));
        break;
      case "tb-set-node-service":
      case "tb-add-node-service-hook":
        this.service(it, name, a);
        break;
      case "tb-set-node-tarfiles":
      case "tb-set-tarfiles":
        checkTarfiles(it, name, a, name === "tb-set-node-tarfiles" ? 2 : 1);
        break;
      case "tb-set-node-os": {
        const os = a[2]!;
        const parent = a[3];
        if (!/^(ftp|http|https):/.test(os) && this.front.catalog?.os !== undefined) {
          if (os === "RHL-STD" || os === "FBSD-STD") {
            it.diags.add(
              "FWC317",
              it.wordSpan(2),
              `[${name}] ${os} is no longer supported; remove this statement if you really do not care what OS you get.`,
              "name an image from the testbed's catalog, or leave the OS to the testbed",
            );
            break;
          }
        }
        if (!/^(ftp|http|https):/.test(os) && !this.inCatalog(it, "os", os.split(":")[0]!, 2, name)) break;
        if (
          parent !== undefined &&
          parent !== "" &&
          parent !== "0" &&
          !this.inCatalog(it, "os", parent.split(":")[0]!, 3, name)
        )
          break;
        node!.os = os;
        break;
      }
      case "tb-set-use-oml":
        // Emulab makes the OML server node at the top level, as if the file had.
        it.atLevel(0, () =>
          it.evalBody(
            'set omlserver [$ns node]\ntb-set-node-os $omlserver UBUNTU10-OML\ntb-set-node-startcmd $omlserver "/usr/bin/oml2-server -l $::TBCOMPAT::oml_server_port --logfile=/local/logs/oml-server.log --data-dir=/local/logs"',
            0,
          ),
        );
        break;
      case "tb-set-security-level": {
        // Emulab's levels by colour; Red is refused; its check of other words is a switch case that only matches
        // the word "unknown", and any other word then fails at `$ns run` as a Tcl boolean.
        const level = { Green: 0, Blue: 1, Yellow: 2, Orange: 3 }[a[1]!];
        if (this.firewalls > 0)
          it.diags.add(
            "FWC312",
            it.wordSpan(),
            `[${name}] cannot combine with explicit firewall`,
            "keep the Firewall object or the security level",
          );
        if (
          a[1] === "Red" ||
          a[1] === "unknown" ||
          (level === undefined && parseBoolean(a[1]!) === null && (a[1]!.trim() === "" || Number.isNaN(Number(a[1]))))
        ) {
          it.diags.add(
            "FWC312",
            it.wordSpan(1),
            a[1] === "Red" ? `[${name}] Red security not implemented yet` : `[${name}] ${a[1]} is not a valid level`,
            "use Green, Blue, Yellow or Orange",
          );
          break;
        }
        this.securityLevel = true;
        break;
      }
      case "tb-set-oml-use-control":
        it.setVar("::TBCOMPAT::oml_use_control", a[1]!);
        break;
      case "tb-elab-in-elab":
        it.setVar("::GLOBALS::elab_in_elab", parseBoolean(a[1]!) ? "1" : "0");
        break;
      case "tb-elab-in-elab-topology":
        it.setVar("::GLOBALS::elabinelab_topo", a[1]!);
        break;
      case "tb-set-inner-elab-eid":
        it.setVar("::GLOBALS::elabinelab_eid", a[1]!);
        break;
      case "tb-set-elabinelab-cvstag":
        it.setVar("::GLOBALS::elabinelab_cvstag", a[1]!);
        break;
      case "tb-elabinelab-singlenet":
        it.setVar("::GLOBALS::elabinelab_singlenet", a[1] ?? "1");
        break;
      case "tb-set-elabinelab-attribute":
      case "tb-set-elabinelab-role-attribute":
      case "tb-unset-elabinelab-attribute":
      case "tb-unset-elabinelab-role-attribute":
      case "tb-get-elabinelab-role-attribute":
        return elabAttribute(it, name, a);
      case "tb-set-elabinelab-fw-type":
        // Emulab's check is a switch whose last case is the word "unknown", not a default: only that word fails.
        if (a[1] === "unknown")
          it.diags.add(
            "FWC312",
            it.wordSpan(1),
            `[${name}] ${a[1]} is not a valid type`,
            "use ipfw2-vlan or iptables-vlan",
          );
        break;
      case "tb-set-node-inner-elab-role":
        if (!INNER_ROLES.includes(a[2]!)) {
          it.diags.add(
            "FWC312",
            it.wordSpan(2),
            `[${name}] type must be one of ${INNER_ROLES.join("|")}`,
            didYouMean(a[2]!, INNER_ROLES) ?? `use one of ${INNER_ROLES.join(", ")}`,
          );
          break;
        }
        node!.settings.set(name, a.slice(2));
        break;
      case "tb-set-ip":
      case "tb-set-ip-lan":
      case "tb-set-ip-link":
      case "tb-set-ip-interface": {
        const ip = a[a.length - 1]!;
        const ok = EMULAB_IP_RE.test(ip) && ipaddr.IPv4.isValidFourPartDecimal(ip);
        if (!ok) {
          it.diags.add(
            "FWC312",
            it.wordSpan(a.length - 1),
            `[${name}] ${ip} is not a valid IP address`,
            "write a dotted-quad IPv4 address such as 10.1.1.2",
          );
          break;
        }
        const on =
          name === "tb-set-ip" || name === "tb-set-ip-interface" ? null : (this.byName.get(a[2]!) as LanObj | LinkObj);
        node!.ips.set(on, ip);
        break;
      }
      case "tb-allow-external":
        this.external.push({
          node: node!,
          args: a.slice(2),
          location: it.wordSpan(),
          argLocations: a.slice(2).map((_, i) => it.wordSpan(i + 2)),
          argTextStart: a.slice(2).map((v, i) => it.verbatimStart(i + 2, v)),
        });
        break;
      default:
        if (node !== undefined) {
          // A setting of a node on one of its LANs or links (tb-set-node-lan-params) is one per LAN.
          const perLan = def.kinds?.[1] === "lan" || def.kinds?.[1] === "link" || def.kinds?.[1] === "lanlink";
          const key = `${node.internal}\0${name}${perLan ? `\0${this.byName.get(a[2]!)?.internal ?? a[2]}` : ""}`;
          if (this.settingsSeen.has(key) && !def.params.includes("args"))
            it.diags.add(
              "FWC313",
              it.wordSpan(),
              `${name} was already called for ${node.name}${perLan ? ` on ${a[2]}` : ""}; this call replaces it`,
            );
          this.settingsSeen.add(key);
          node.settings.set(name, a.slice(2));
        }
    }
    return "";
  }

  // ---- elab-in-elab ----

  /**
   * At `$ns run`, an elab-in-elab experiment whose file made no nodes gets Emulab's inner testbed: the servers of
   * its topology (myboss, myops, myfs), `elabinelab_maxpcs` inner nodes mypc1..N, and, unless
   * `tb-elabinelab-singlenet`, the LAN `publiclan` joining them. Evaluated as NS code where `$ns run` is, as Emulab
   * does, so that names, settings and checks are the same as for the experimenter's own nodes.
   */
  private elabTopology(it: Interp, cmd: Command): void {
    const topo = it.readVarName("::GLOBALS::elabinelab_topo");
    const shape = Object.hasOwn(ELAB_TOPOLOGIES, topo) ? ELAB_TOPOLOGIES[topo] : undefined;
    if (shape === undefined) {
      throw it.error(
        "FWC312",
        `elab-in-elab topology "${topo}" does not exist (Emulab reads elabinelab-${topo}.ns and fails)`,
        didYouMean(topo, Object.keys(ELAB_TOPOLOGIES).filter(Boolean)) ??
          `use one of ${Object.keys(ELAB_TOPOLOGIES).filter(Boolean).join(", ")}, or no tb-elab-in-elab-topology`,
        it.wordSpan(1, cmd),
      );
    }
    it.evalBody(elabScript(shape), 1, cmd);
  }

  // ---- `$ns run` checks ----

  private checkNames(it: Interp): void {
    const at = (o: NsObject) => o.namedAt ?? o.created;
    for (const n of [...this.nodes].sort((x, y) => cmp(x.name, y.name))) {
      if (!NAME_RE.test(n.name))
        it.diags.add(
          "FWC400",
          at(n),
          `invalid node name "${n.name}": names can only contain [-0-9A-Za-z] due to DNS limitations`,
          nameHelp(n.name),
          [{ message: "checked here, at `$ns run`", span: this.ranAt! }],
        );
      else if (n.name.length > 63)
        it.diags.add(
          "FWC403",
          at(n),
          `node name "${n.name}" is longer than 63 characters, the limit of a DNS label`,
          "use a shorter variable name",
        );
    }
    for (const l of [...this.links, ...this.lans].sort((x, y) => cmp(x.name, y.name))) {
      if (!NAME_RE.test(l.name))
        it.diags.add(
          "FWC400",
          at(l),
          `invalid lan/link name "${l.name}": names can only contain [-0-9A-Za-z] for symmetry with node DNS limitations`,
          nameHelp(l.name),
          [{ message: "checked here, at `$ns run`", span: this.ranAt! }],
        );
    }
    // Emulab's current parser takes a LAN of any size (its check for two members is gone); one of none connects
    // nothing, which is most likely a mistake.
    for (const l of this.lans) {
      if (l.members.length === 0)
        it.diags.add(
          "FWC314",
          at(l),
          `${l.name} has no nodes: it connects nothing`,
          "check the member list passed to make-lan (is the variable empty or misspelled?)",
        );
    }
  }

  // ---- the testbed catalog ----

  /**
   * Checks `value` against the catalog's list of `kind`, as Emulab checks it against its database; true when it
   * passes. Without that list, the value is remembered for a note (`fwc check`) and passes.
   */
  private inCatalog(it: Interp, kind: CatalogKind, value: string, wordIndex: number, context: string): boolean {
    const list = this.front.catalog?.[kind];
    if (kind === "hardware" && this.vtypes.has(value)) return true;
    if (list === undefined) {
      const seen = this.unchecked.get(kind);
      if (seen === undefined) this.unchecked.set(kind, { values: new Set([value]), at: it.wordSpan(wordIndex) });
      else if (seen.values.size < 1000) seen.values.add(value);
      return true;
    }
    if (list.has(value)) return true;
    const what = CATALOG_WORDS[kind];
    const known = [...list].slice(0, 8).join(", ");
    it.diags.add(
      "FWC317",
      it.wordSpan(wordIndex),
      `[${context}] Invalid ${what.one} ${value}: not in the testbed catalog`,
      didYouMean(value, kind === "hardware" ? [...list, ...this.vtypes] : [...list]) ??
        (list.size === 0
          ? `the catalog (${this.front.catalog!.from}) lists no ${what.many}`
          : `the catalog (${this.front.catalog!.from}) lists ${known}${list.size > 8 ? ", ..." : ""}`),
    );
    return false;
  }

  /**
   * tb-set-node-service and tb-add-node-service-hook, checked as Emulab's tb_compat.tcl checks them: named
   * arguments (-node, -env, -whence, -script, -scriptblob, ...), a script or a script blob (a hook needs one,
   * neither takes both), the script in a shared directory and not a URL, each service controlled once per node
   * and point, and the service against the catalog.
   */
  private service(it: Interp, name: string, a: string[]): boolean {
    const hook = name === "tb-add-node-service-hook";
    const defaults: Record<string, string> = hook
      ? {
          "-node": "",
          "-env": "boot",
          "-whence": "every",
          "-script": "",
          "-scriptblob": "",
          "-op": "boot",
          "-point": "post",
          "-argv": "",
          "-fatal": "1",
        }
      : {
          "-node": "",
          "-env": "boot",
          "-whence": "every",
          "-script": "",
          "-scriptblob": "",
          "-enable": "1",
          "-enablehooks": "1",
          "-fatal": "1",
        };
    const opt = { ...defaults, ...Object.fromEntries(namedArgs(it, a, 2, Object.keys(defaults))) };
    const fail = (message: string, help: string) => {
      it.diags.add("FWC312", it.wordSpan(), `[${name}] ${message}`, help);
      return false;
    };
    const script = opt["-script"]!;
    if (script !== "" && opt["-scriptblob"] !== "")
      return fail(
        `you cannot define both a script (${script}) and a scriptblob (${opt["-scriptblob"]})!`,
        "give -script or -scriptblob",
      );
    if (hook && script === "" && opt["-scriptblob"] === "")
      return fail(
        "you must define either a script or a scriptblob!",
        "give the hook's -script (a file in /proj, /groups or /users)",
      );
    const service = a[1]!;
    const point = `${service}:${opt["-env"]}:${opt["-whence"]}`;
    if (this.front.catalog?.services?.has(point) !== true && !this.inCatalog(it, "services", service, 1, name))
      return false;
    if (!hook) {
      const key = `${opt["-node"]}:${point}`;
      if (this.serviceCtls.has(key))
        return fail(
          `service ${service} has already been controlled once for node ${opt["-node"]} at ${opt["-whence"]}:${opt["-env"]}`,
          "control each service once per node, env and whence",
        );
      this.serviceCtls.add(key);
    }
    if (script === "") return true;
    if (script.includes("://"))
      return fail(`'${script}' cannot be a URL!`, "put the script in /proj, /groups or /users and give its path");
    if (!SHARED_ROOTS.some((r) => script.startsWith(`${r}/`)))
      return fail(`'${script}' is not in an allowed directory`, `put the script under ${SHARED_ROOTS.join(", ")}`);
    return true;
  }

  /** Called when the whole file has been evaluated. */
  finish(it: Interp, endOfFile: Span): void {
    if (this.front.noteUnchecked === true) {
      for (const [kind, { values, at }] of this.unchecked) {
        const what = CATALOG_WORDS[kind];
        const shown = [...values].slice(0, 10).join(", ");
        const where =
          this.front.catalog === undefined
            ? "there is no testbed catalog"
            : `the catalog (${this.front.catalog.from}) has no ${what.key} list`;
        it.diags.add(
          "FWC318",
          at,
          `${what.many} not checked: ${shown}${values.size > 10 ? `, ... (${values.size} in all)` : ""} (${where})`,
          `Emulab checks them against its database; list them in a catalog (fwc check --catalog FILE, or catalog: in testbed.yaml) to check them too`,
        );
      }
    }
    if (this.ranAt === null && !this.runCalled)
      it.diags.add(
        "FWC308",
        endOfFile,
        "no `$ns run` statement found: Emulab builds nothing without it",
        "end the file with `$ns run`",
      );
  }
}

interface ElabShape {
  /** The servers: variable (and node) name, inner role, last byte of the address on publiclan. */
  servers: [string, string, number][];
  hardware: string;
  /** The control LAN's speed follows TBCOMPAT::elabinelab_cnetspeed (Xen's is always 100Mb). */
  cnetspeed: boolean;
  /** The servers' image, and for Xen the host's (TBCOMPAT::elabinelab_nodeos("xenhost") may change it). */
  os: string;
  xenhost?: string;
  /** Images the boss loads beside its own (opsvm). */
  loadlist?: string;
}

/** Emulab's elab-in-elab topologies (`tb-elab-in-elab-topology`; "" is the default one). */
const ELAB_TOPOLOGIES: Record<string, ElabShape> = {
  "": {
    servers: [
      ["myboss", "boss+router", 252],
      ["myops", "ops+fs", 253],
    ],
    hardware: "pc850",
    cnetspeed: true,
    os: "FBSD83-STD",
  },
  opsvm: {
    servers: [["myboss", "boss+fs+router", 252]],
    hardware: "pc850",
    cnetspeed: true,
    os: "FBSD83-STD",
    loadlist: "FBSD83-S2",
  },
  withfsnode: {
    servers: [
      ["myboss", "boss+router", 252],
      ["myops", "ops", 253],
      ["myfs", "fs", 251],
    ],
    hardware: "pc850",
    cnetspeed: true,
    os: "FBSD83-STD",
  },
  xen: {
    servers: [
      ["myboss", "boss+router", 252],
      ["myops", "ops+fs", 253],
    ],
    hardware: "pcvm3000",
    cnetspeed: false,
    os: "XEN-GUEST-FBSD90-STD",
    xenhost: "XEN44-64-STD",
  },
};

/** The NS code of an inner testbed of shape `s` (run where `$ns run` is). */
function elabScript(s: ElabShape): string {
  const role = (v: string) => v.slice(2);
  const lines: string[] = [];
  for (const [v] of s.servers) lines.push(`set ${v} [$ns node]`);
  for (const [v, r] of s.servers) {
    lines.push(`tb-set-node-inner-elab-role $${v} ${r}`);
    lines.push(
      `if {[info exists ::TBCOMPAT::elabinelab_hardware("${role(v)}")]} { tb-set-hardware $${v} $::TBCOMPAT::elabinelab_hardware("${role(v)}") } else { tb-set-hardware $${v} ${s.hardware} }`,
      `if {[info exists ::TBCOMPAT::elabinelab_fixnodes("${role(v)}")]} { tb-fix-node $${v} $::TBCOMPAT::elabinelab_fixnodes("${role(v)}") }`,
      `set _tar ""`,
      `if {$::TBCOMPAT::elabinelab_source_tarfile != ""} { set _tar "/usr/src $::TBCOMPAT::elabinelab_source_tarfile" }`,
      `if {[info exists ::TBCOMPAT::elabinelab_tarfiles("${role(v)}")]} { if {$_tar != ""} { append _tar " " }; append _tar $::TBCOMPAT::elabinelab_tarfiles("${role(v)}") }`,
      `if {$_tar != ""} { tb-set-node-tarfiles $${v} $_tar }`,
    );
  }
  lines.push(
    "tb-make-soft-vtype pcslow {pc600 pc850}",
    `set _lan "${s.servers.map(([v]) => v).join(" ")} "`,
    "for {set i 1} {$i <= $::TBCOMPAT::elabinelab_maxpcs} {incr i} {",
    '  set _n "mypc$i"',
    "  set $_n [$ns node]",
    '  append _lan "[set $_n] "',
    "  tb-set-node-inner-elab-role [set $_n] node",
    "  if {[info exists ::TBCOMPAT::elabinelab_nodeos($_n)]} { tb-set-node-os [set $_n] $::TBCOMPAT::elabinelab_nodeos($_n) }",
    "  if {[info exists ::TBCOMPAT::elabinelab_fixnodes($_n)]} { tb-fix-node [set $_n] $::TBCOMPAT::elabinelab_fixnodes($_n)",
    "  } elseif {[info exists ::TBCOMPAT::elabinelab_hardware($_n)]} { tb-set-hardware [set $_n] $::TBCOMPAT::elabinelab_hardware($_n)",
    "  } else { tb-set-hardware [set $_n] pcslow }",
    "}",
    "if {$::GLOBALS::elabinelab_singlenet == 0} {",
    s.cnetspeed
      ? "  if {$::TBCOMPAT::elabinelab_cnetspeed != 0} { set _speed $::TBCOMPAT::elabinelab_cnetspeed } else { set _speed 100 }"
      : "  set _speed 100",
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Tcl's ${name}, not a template
    "  set publiclan [$ns make-lan $_lan ${_speed}Mb 0ms]",
    ...s.servers.map(([v, , b]) => `  tb-set-ip-lan $${v} $publiclan 10.200.1.${b}`),
    "  for {set i 1} {$i <= $::TBCOMPAT::elabinelab_maxpcs} {incr i} { tb-set-ip-lan [set mypc$i] $publiclan 10.200.1.$i }",
    "}",
  );
  if (s.xenhost !== undefined)
    lines.push(
      `if {[info exists ::TBCOMPAT::elabinelab_nodeos("xenhost")]} { set _host $::TBCOMPAT::elabinelab_nodeos("xenhost") } else { set _host ${s.xenhost} }`,
    );
  const parent = s.xenhost !== undefined ? " $_host" : "";
  for (const [v] of s.servers)
    lines.push(
      `if {[info exists ::TBCOMPAT::elabinelab_nodeos("${role(v)}")]} { tb-set-node-os $${v} $::TBCOMPAT::elabinelab_nodeos("${role(v)}")${parent} } else { tb-set-node-os $${v} ${s.os}${parent} }`,
    );
  if (s.loadlist !== undefined) lines.push(`tb-set-node-loadlist $myboss ${s.loadlist}`);
  return lines.join("\n");
}

type CatalogKind = "hardware" | "os" | "storageClasses" | "services";
const CATALOG_WORDS: Record<CatalogKind, { one: string; many: string; key: string }> = {
  hardware: { one: "hardware type", many: "hardware types", key: "hardware" },
  os: { one: "osid", many: "OS images", key: "os" },
  storageClasses: { one: "storage class", many: "storage classes", key: "storage_classes" },
  services: { one: "service", many: "services", key: "services" },
};
/** Where Emulab takes a service's script from: the shared project, group and user directories. */
const SHARED_ROOTS = ["/proj", "/groups", "/users"];

const INNER_ROLES = ["boss", "boss+router", "boss+fs+router", "router", "ops", "ops+fs", "fs", "node"];
const EINE_ROLE = /^(all|boss|ops|fs|router|node)$/;
const EINE_KEY = /^([-\w.]+)$/;
const EINE_VALUE = /^([-\w.+,\s/:@]+)$/;
const EINE_ORDER = /^\d+$/;
const EINE_ROLES = ["boss", "ops", "fs", "router", "node"];

/**
 * The elab-in-elab attributes, kept as Emulab keeps them (`role;key;value;order` in TBCOMPAT::elabinelab_attributes):
 * `all` stands for every role; setting the same role, key and order again replaces it.
 */
function elabAttribute(it: Interp, name: string, a: string[]): string {
  const role = name.includes("-role-") ? a[1]! : "all";
  const from = name.includes("-role-") ? 2 : 1;
  const key = a[from]!;
  const shown = name.replace("-role-", "-");
  const bad = (k: number, what: string, help: string) => {
    it.diags.add("FWC312", it.wordSpan(k), `[${shown}] - "${a[k]}" is not a valid elabinelab ${what}`, help);
    return "";
  };
  const list = it.list(it.readVarName("::TBCOMPAT::elabinelab_attributes"), 0);
  if (name === "tb-get-elabinelab-role-attribute") {
    const hit = list.find((x) => x.startsWith(`${role};${key};`) && x.endsWith(";0"));
    return hit === undefined ? "" : (hit.split(";")[2] ?? "");
  }
  if (name.includes("-role-") && !EINE_ROLE.test(role)) return bad(1, "role", "use all, boss, ops, fs, router or node");
  if (!EINE_KEY.test(key)) return bad(from, "key", "a key is letters, digits, _, - and .");
  const roles = role === "all" ? EINE_ROLES : [role];
  let out = list;
  if (name.startsWith("tb-set-")) {
    const value = a[from + 1]!;
    const order = a[from + 2] ?? "0";
    if (!EINE_VALUE.test(value))
      return bad(from + 1, "value", "a value is letters, digits, spaces and _ - . + , / : @");
    if (!EINE_ORDER.test(order)) return bad(from + 2, "order", "an order is a number");
    for (const r of roles) {
      const i = out.findIndex((x) => x.startsWith(`${r};${key};`) && x.endsWith(`;${order}`));
      if (i >= 0) out = [...out.slice(0, i), ...out.slice(i + 1)];
      out = [...out, `${r};${key};${value};${order}`];
    }
  } else {
    out = out.filter((x) => !roles.some((r) => x.startsWith(`${r};${key};`)));
  }
  it.setVar("::TBCOMPAT::elabinelab_attributes", formatList(out));
  return "";
}

/**
 * Emulab's named-args: `-name value` pairs from word `from` on, each name among `known` (an unknown one stops
 * the file: "bad option"; a last name without a value gets ""). Returns the options given, in order.
 */
function namedArgs(it: Interp, a: string[], from: number, known: readonly string[]): Map<string, string> {
  const given = new Map<string, string>();
  for (let i = from; i < a.length; i += 2) {
    if (!known.includes(a[i]!))
      throw it.error(
        "FWC312",
        `bad option '${a[i]}', should be one of: ${[...known].sort().join(" ")}`,
        didYouMean(a[i]!, [...known]) ?? "give options as -name value pairs",
        it.wordSpan(i),
      );
    given.set(a[i]!, a[i + 1] ?? "");
  }
  return given;
}

const kindCache = new WeakMap<TbCommand, [number, ArgKind][]>();
/** The typed parameters of a tb-* command, computed once per command. */
function kindsOf(def: TbCommand): [number, ArgKind][] {
  let k = kindCache.get(def);
  if (k === undefined) {
    k = Object.entries(def.kinds ?? {}).map(([i, kind]) => [Number(i), kind]);
    kindCache.set(def, k);
  }
  return k;
}

/** `s` as a quoted Tcl word, so that evaluating it substitutes as Tcl's `subst` does. */
function quoted(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === "\\" && i + 1 < s.length) out += c + s[++i];
    else out += c === '"' ? '\\"' : c === "\\" ? "\\\\" : c;
  }
  return `${out}"`;
}

/** Tcl's `$v == 0` for a value a file set: a number equal to zero. */
function isZero(v: string): boolean {
  return v.trim() !== "" && Number(v) === 0;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function nameHelp(name: string): string {
  if (name.includes(",")) return "Emulab turns `n(1,2)` into `n-1,2`; use n(1-2) or n($i-$j) as the index instead";
  if (name.includes("_"))
    return "underscores are not allowed in DNS names; use `-` or nothing, e.g. `node-1` or `node1`";
  return "rename the variable so it uses only letters, digits and `-`";
}

function describe(o: NsObject): string {
  switch (o.cls) {
    case "Node":
      return `${o.kind} "${o.name}"`;
    case "Link":
      return `link "${o.name}"`;
    case "Lan":
      return `LAN "${o.name}"`;
    case "Simulator":
      return `the simulator "${o.name}"`;
    default:
      return `${o.nsClass} object "${o.name}"`;
  }
}
