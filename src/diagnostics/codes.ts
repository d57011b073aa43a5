/**
 * Every diagnostic code fwc emits. Codes are a stable interface (CI systems and editors key on them):
 * never renumber, only add. docs/diagnostics.md is generated from this table (scripts/gen-docs.ts) and a test
 * fails when it is stale.
 */
export interface CodeInfo {
  severity: "error" | "warning" | "note";
  title: string;
  explain: string;
}

function e(title: string, explain: string): CodeInfo {
  return { severity: "error", title, explain };
}
function w(title: string, explain: string): CodeInfo {
  return { severity: "warning", title, explain };
}
/** Information only: never fails a command, not even with --strict. */
function n(title: string, explain: string): CodeInfo {
  return { severity: "note", title, explain };
}

export const CODES = {
  // 1xx: reading and syntax
  FWC100: e("cannot read file", "The file does not exist or cannot be read."),
  FWC101: e("missing close-brace", "A `{` has no matching `}`; Tcl would fail with `missing close-brace`."),
  FWC102: e("missing close-quote", 'A `"` that starts a word has no closing `"`.'),
  FWC103: e("missing close-bracket", "A `[` command substitution has no closing `]`."),
  FWC104: e(
    "extra characters after close-brace",
    "A braced word must be followed by white space, `;` or the end of the command, as in Tcl.",
  ),
  FWC105: e(
    "extra characters after close-quote",
    "A quoted word must be followed by white space, `;` or the end of the command, as in Tcl.",
  ),
  FWC106: e(
    "non-breaking space",
    "U+00A0 (often pasted from wiki pages) is not white space to Tcl, so two words run together. fwc reports it and then treats it as a space.",
  ),
  FWC107: e(
    "git conflict marker",
    "A line starting with `<<<<<<<`, `=======` or `>>>>>>>` is left over from a merge; Tcl would run it as a command.",
  ),
  FWC108: e("missing close-paren", "An array reference `$name(` has no closing `)`."),
  FWC109: e("syntax error", "The text cannot be split into Tcl commands and words."),
  FWC110: e("not a text file", "The file contains NUL bytes; it is not an NS file."),
  FWC111: w("not UTF-8", "The file is not valid UTF-8; fwc read it as Latin-1, as Tcl would on a Latin-1 system."),
  FWC112: e(
    "cannot write the output",
    "The output file (`-o`) cannot be written: its directory does not exist, permission is denied, or the disk is full. Nothing was written.",
  ),

  // 2xx: Tcl evaluation
  FWC200: e(
    "unknown command",
    "The command is neither a Tcl command fwc evaluates, a proc, an NS object nor an Emulab/DETER `tb-*` command. Emulab stops with `Unknown: ...`.",
  ),
  FWC201: e("wrong number of arguments", "The command was called with too few or too many arguments."),
  FWC202: e("no such variable", "A variable is read before it is set."),
  FWC203: e("invalid expression", "An `expr` (or `if`/`while`/`for` condition) cannot be parsed."),
  FWC204: e("expression evaluation error", "Division by zero, a math domain error, or a non-numeric operand."),
  FWC205: e(
    "invalid value",
    "An argument does not have the form the command needs (an integer, a list, a boolean, ...).",
  ),
  FWC206: e(
    "step limit exceeded",
    "The script ran more commands than the limit (`--max-steps`); usually an endless loop.",
  ),
  FWC207: e(
    "recursion limit exceeded",
    "Procs or nested evaluation went deeper than the limit; usually endless recursion.",
  ),
  FWC208: e(
    "string size limit exceeded",
    "A value grew past the size limit (`--max-string`); usually a runaway `append`.",
  ),
  FWC209: e("source of another file", "Only `source tb_compat.tcl` is understood; fwc never reads other files."),
  FWC210: e(
    "command not allowed",
    "Commands that touch files, processes or the network (`exec`, `open`, `socket`, ...) are refused.",
  ),
  FWC211: e("break or continue outside a loop", "`break`/`continue` was used where no loop encloses it."),
  FWC212: e("array/scalar mismatch", "A scalar variable was used as an array or the other way round."),
  FWC213: e(
    "error raised by the script",
    "The script called `error`, or a Tcl command failed in a way fwc reports as Tcl does.",
  ),
  FWC214: e(
    "unsupported Tcl feature",
    "A Tcl command exists but this option or form of it is not implemented by fwc's evaluator.",
  ),
  FWC215: e(
    "time limit exceeded",
    "The evaluation took longer than the limit (`--max-seconds`, default 5): work that grows with the size of huge values, or a loop that does too much. Real NS files evaluate in well under a second.",
  ),
  FWC216: e(
    "memory limit exceeded",
    "The evaluation holds or builds more than the limit (`--max-memory`, default 1024 MB): huge lists or strings kept in variables. It is stopped before the process runs out of memory.",
  ),

  // 3xx: the NS object model
  FWC300: w(
    "unsupported method",
    "The object is known but the method is not one fwc models. Emulab ignores most such methods with a warning too; a blockstore's methods (`set-class`, `set-size`, ...) Emulab implements and checks when it creates the experiment, and fwc does not check them.",
  ),
  FWC301: e("wrong number of arguments to an NS command", "An NS or `tb-*` command got the wrong number of arguments."),
  FWC302: e(
    "invalid bandwidth",
    "Bandwidth must be a number with unit b, bps, k, kb, kbps, K, Kb, Kbps, M, Mb, Mbps, G, Gb, Gbps (or `*`), at least 10 kbps.",
  ),
  FWC303: e(
    "invalid delay",
    "Delay must be a number with unit s, ms or ns (bare numbers are seconds); a nonzero delay must be at least 2 ms.",
  ),
  FWC304: w(
    "unsupported queue type",
    "Link queues are `DropTail`, `RED` or `GRED`; Emulab uses DropTail for anything else, with a warning.",
  ),
  FWC305: w(
    "routing protocol ignored",
    "`rtproto` takes Static, Session, ospf, Manual, Static-ddijk, Static-old (case matters). Emulab ignores any other protocol (a template's `@RTPROTO@`) and any further arguments, with a warning, and so does fwc.",
  ),
  FWC306: e("not a node", "The argument must be a node created by `$ns node`."),
  FWC307: e("not a link or LAN", "The argument must be a link or LAN created by `duplex-link`/`make-lan`."),
  FWC308: e(
    "missing `$ns run`",
    "Emulab builds the experiment when `$ns run` is called and fails with \"No 'Simulator run' statement found\" without it.",
  ),
  FWC309: w("command after `$ns run`", "Commands after `$ns run` do not change the experiment Emulab builds."),
  FWC311: w(
    "unknown class",
    "`new` was given a class Emulab does not know; it makes a placeholder object that ignores its methods.",
  ),
  FWC312: e("invalid argument", "A `tb-*` or NS method argument has a value Emulab rejects."),
  FWC313: w("duplicate setting", "The same property was set twice; the last value wins."),
  FWC314: w(
    "empty LAN",
    "A LAN made with no member nodes connects nothing. Emulab accepts it (its parser no longer asks for two members, and a LAN of one node is fine); the member list is most likely empty by mistake.",
  ),
  FWC315: e(
    "tb_compat.tcl not sourced",
    "`$ns run` reads a variable that Emulab's tb_compat.tcl sets: in a file without `source tb_compat.tcl` (or with it after `$ns run`), Emulab's parser stops there with a Tcl error.",
  ),
  FWC316: e(
    "invalid event",
    "An event (`$ns at`, a timeline's `at`, a sequence's lines or `append`, an event group's members) must start with an NS object that takes events (a program, traffic generator, node, link, LAN, queue, sequence, timeline or the simulator) followed by the event's type, as Emulab's make_event requires; an event group's members must all be of one class.",
  ),
  FWC317: e(
    "not in the testbed catalog",
    "A hardware type, OS image, storage class or service is not in the testbed catalog (docs/catalog.md). Emulab checks these against its database and refuses the file; with a catalog, fwc does the same.",
  ),
  FWC318: n(
    "not checked without a catalog",
    "Hardware types, OS images, storage classes and services are checked by Emulab against its database. Without a testbed catalog listing them (or without that list in it), fwc cannot, and says which values it left unchecked.",
  ),

  // 4xx: Emulab naming
  FWC400: e(
    "invalid name",
    "Node, link and LAN names must match ^[-0-9A-Za-z]+$ (DNS limitations); Emulab checks at `$ns run`.",
  ),
  FWC401: e(
    "name already in use",
    'Emulab renames an object after the variable that receives it; that name already belongs to another object (`can\'t rename to "x": command already exists`).',
  ),
  FWC402: e("name starts with a digit", "Emulab refuses object names that start with a digit."),
  FWC403: e("name too long", "A node name must fit in one DNS label (63 characters)."),

  // 5xx: tb-allow-external and the access policy
  FWC500: e(
    "unknown cookie type",
    "The word after the node must be `shared` (or nothing, for the legacy dedicated-address form).",
  ),
  FWC501: e("unknown key", "A shared grant takes the keys `nat`, `rdr` and `open6`."),
  FWC502: e(
    "key given twice",
    "Each key may appear at most once per tb-allow-external call; put all its targets in one string.",
  ),
  FWC503: e("key without a value", "Every key needs a quoted list of targets after it."),
  FWC510: e("invalid target", "The target does not have one of the forms of docs/language.md (External access)."),
  FWC511: e("invalid address", "The host is not an IPv4 or IPv6 address or subnet of the form the target uses."),
  FWC512: e("invalid port", "Ports go from 1 to 65535; 0 means any port (nat only); ranges are low..high."),
  FWC513: e(
    "invalid protocol",
    "Only tcp and udp can be granted (tcp+udp for both; all only in open6 and nat comma targets); ICMP cannot.",
  ),
  FWC514: e("reversed range", "A port range is written low..high."),
  FWC515: e("unknown node", "A redirect or opening names a node that the file does not create."),
  FWC520: w("duplicate target", "The same grant is given twice; the second adds nothing."),
  FWC521: w(
    "host not on the Internet",
    "A nat host in a private, loopback, link-local, multicast or reserved range cannot be reached through the gateway.",
  ),
  FWC522: w(
    "every outbound port",
    "0.0.0.0 (any host) with port 0 (any port) lets every node open any outbound TCP (or UDP) connection.",
  ),
  FWC523: e(
    "node name is not a DNS label",
    "Each node named in tb-allow-external gets a DNS name; its name must be a valid DNS label (letters, digits, inner hyphens, at most 63).",
  ),
  FWC525: e(
    "node names equal except for case",
    "DNS compares names without case, so two such nodes would get one name; rename one of them.",
  ),
  FWC524: e(
    "protocol all with ports",
    "`all` opens every protocol and takes no port; give ports with tcp, udp or tcp+udp instead.",
  ),
  FWC526: e(
    "source of the wrong address family",
    "A redirect is reached through the gateway's IPv4 address, so its `from=` sources are IPv4 networks; an open6 grant is reached over IPv6, so its sources are IPv6 networks. A source of the other family would never match, and the grant would silently admit nobody.",
  ),

  // 6xx: testbed configuration and node addresses
  FWC600: e("unreadable configuration", "The YAML or JSON file cannot be parsed."),
  FWC601: e(
    "invalid configuration value",
    "A key of the testbed configuration or node addresses has a value of the wrong form.",
  ),
  FWC602: e(
    "unknown configuration key",
    "The key is not one fwc knows; a misspelled key would otherwise be ignored silently.",
  ),
  FWC603: e("missing configuration key", "A required key of the testbed configuration is absent."),
  FWC604: e("TTL out of range", "DNS TTLs and SOA timers are whole seconds from 0 to 2147483647 (RFC 2181)."),
  FWC605: w(
    "unusual TTL",
    "Under 30 s many resolvers raise the TTL or load the server; over a day, names of swapped-out experiments linger in caches.",
  ),

  FWC606: w(
    "repeated configuration value",
    "A list of the testbed configuration names the same thing twice (an inside interface); fwc uses it once. Remove the repetition: it is most likely a typo for another value.",
  ),
  FWC607: n(
    "DNS names not published",
    "The testbed configuration has `dns:` without `server:`: fwc sends no DNS changes, so experiments' names exist only in the zone that `fwc compile --emit zone` writes. Add `dns.server` for fwc to publish them with nsupdate.",
  ),

  FWC608: w(
    "state directory open to others",
    "The state directory may be read (or entered) by users other than its owner: they would see every experiment's grants, ports and addresses. Make it mode 0700.",
  ),

  // 7xx: planning (addresses, ports, names)
  FWC700: e(
    "node without an address",
    "A node that a grant needs has no address of that family in the node addresses file.",
  ),
  FWC701: e(
    "external ports exhausted",
    "The gateway's port pool has no room for a redirect, or an untranslated range is already in use.",
  ),
  FWC702: e(
    "dedicated addresses exhausted",
    "The legacy form needs a dedicated public address and the pool has none left (or none is configured).",
  ),
  FWC703: e(
    "invalid experiment name",
    "`--exp` must be PID/EID, each a DNS label, so that node names can live under <eid>.<pid>.<domain>.",
  ),
  FWC704: e("no IPv6 on the gateway", "An IPv6 grant needs `gateway.ipv6` in the testbed configuration."),
  FWC705: e(
    "DNS name too long",
    "A DNS name holds at most 253 characters; shorten the node, experiment or project name.",
  ),
  FWC706: e(
    "DNS name collision",
    "The name is already taken by the gateway, a name server or another record; a CNAME cannot share its name with other data.",
  ),
  FWC707: e("CNAME at the zone apex", "The zone's own name carries SOA and NS records, so it cannot be a CNAME."),
  FWC708: e("DNS name outside the zone", "The record's name is not inside `dns.zone`, so the zone cannot publish it."),
  FWC710: e(
    "per-experiment limit exceeded",
    "The experiment would hold more external ports, nftables elements or dedicated addresses than `limits` in the testbed configuration allows; one tenant cannot take the gateway's pool from the others.",
  ),
  FWC711: e(
    "address claimed twice",
    "A node address belongs to at most one node of one experiment, and never to the gateway, the testbed's infrastructure or the dedicated pool: the gateway tells tenants apart by address. The message names the holder.",
  ),

  // 8xx: deploying to a gateway (state, nft, conntrack, DNS)
  FWC800: e("experiment not swapped in", "The state has no such experiment: swap it in first (`fwc swapin`)."),
  FWC801: e("experiment already swapped in", "The experiment is already on the gateway: change it with `fwc modify`."),
  FWC802: e(
    "unusable state",
    "The store (`DIR/fwc.db`, `DIR/pending.db`) cannot be read or written: deleted, emptied or garbled, a link, a record that fails its schema, permissions, a full disk. Nothing was changed on the gateway; the message says which file and what to do.",
  ),
  FWC803: e(
    "the gateway refused the change",
    "nft (or the network namespace) refused the transaction; the gateway keeps its previous ruleset.",
  ),
  FWC804: e(
    "state busy",
    "Another fwc held the store's write lock for longer than `--wait`; commands on one store run one at a time. Nothing was changed.",
  ),
  FWC805: e(
    "DNS update failed",
    "The DNS server refused or did not apply the update; the gateway change was rolled back with it.",
  ),
  FWC806: e("no such grant", "`fwc close` names a target that the experiment was not granted with `fwc open`."),
  FWC807: e(
    "grant of the NS file",
    "A grant written in the NS file is changed by editing the file and running `fwc modify`, not by `fwc close`.",
  ),
  FWC808: w(
    "interrupted command rolled back",
    "An earlier fwc stopped in the middle of a change (killed, crashed, power lost); the store never took its change, and the gateway and DNS were put back to what the store says first.",
  ),
  FWC809: w(
    "open connections not cut",
    "The grant is revoked in the ruleset, but conntrack could not delete the connections that were open.",
  ),
  FWC810: e(
    "gateway differs from the state",
    "fwc's tables differ from what the state says (drift): a table, chain, rule or set definition, an element the state does not have (with or without a comment), or one it lacks; or a DNS name. `fwc reconcile` repairs it.",
  ),

  FWC812: e("not blocked", "`fwc unblock` names a network (with its protocol and ports) that is not on the blocklist."),
  FWC813: w(
    "blocked already",
    "The network (with this protocol and ports) is on the blocklist already; nothing changed.",
  ),
  FWC814: e(
    "rules not compared",
    "fwc compares the gateway's chains and rules with its own by loading them into a scratch network namespace (`unshare --net`), which failed (not root, or no CAP_SYS_ADMIN in a container); `fwc status` cannot say the gateway is in step, and `fwc reconcile` writes the tables whole.",
  ),
  FWC815: w(
    "store rebuilt",
    "`fwc reconcile` rebuilt part of the store from the experiments' own records (the ports, addresses and nodes they hold, the pending record) and says what it could not: an unreadable experiment record, a lost quarantine queue.",
  ),
  FWC816: w(
    "change not audited",
    "The change reached the store and the gateway, but its line could not be appended to the audit log (`DIR/audit.jsonl`): a full disk, permissions, or a link in its place.",
  ),

  // 9xx: fwc itself
  // 82x: the service (fwc serve)
  FWC820: e(
    "bad users file",
    "The users file of `fwc serve` gives one name or one token to two users; every user needs a name and a token of their own.",
  ),
  FWC821: e(
    "bad request",
    "A request to the service is not what the route takes: a field is missing, of the wrong type, too long or unknown. The message names the field.",
  ),
  FWC822: e(
    "not authorized",
    "The request has no bearer token, an unknown one, or asks for something its user may not do (an experiment of another project, the blocklist without the admin role).",
  ),
  FWC823: e("not found", "The service has no such route, or the request names an experiment that is not swapped in."),
  FWC830: e(
    "etcd unreachable",
    "The testbed keeps its state in etcd (`store: {etcd: ...}` in testbed.yaml), and etcd did not answer or refused the request. Nothing was changed: a change is one etcd transaction.",
  ),
  FWC831: e(
    "too many concurrent changes",
    "Other controllers (commands, services) wrote to etcd between this command's read and its write, every time it tried. Nothing was changed; run the command again.",
  ),
  FWC832: w(
    "pending on some gateways",
    "The change is in etcd, but not every gateway's agent reported applying it within --wait (or none runs). It is not a failure: each agent catches up by itself, and `fwc status` shows where each gateway is.",
  ),
  FWC833: e(
    "agent problem",
    "`fwc agent` could not do what it was asked: its options, the testbed, etcd's state, or its gateway. The message says which; an agent that cannot follow etcd keeps the gateway's last rules.",
  ),
  FWC834: n(
    "dynamic grants replaced",
    "`fwc modify` with an NS file that has `tb-allow-external` calls replaces the grants made with `fwc open` (the file's calls are the experiment's whole access, as in DETER); fwc names the grants that went, so nobody loses access without being told.",
  ),
  FWC835: e(
    "no identity range",
    "`fwc env` prints Globus's port range from a node's identity range (TCP ports that are the same on the gateway and on the node): the experiment has none for the node, or several nodes have one and --node does not say which.",
  ),
  FWC836: e(
    "state directory in use",
    "`fwc init` sets up a new state directory: it never overwrites a testbed.yaml, never opens a store that is there already (it may be a running gateway's), and never makes a store for a gateway that has fwc's tables without one. Check what is there with `fwc check-config` and `fwc status`, or choose another directory.",
  ),
  FWC900: e("internal error", "fwc failed on this input; the input may be fine. Please report it with the file."),
} as const satisfies Record<string, CodeInfo>;

export type DiagnosticCode = keyof typeof CODES;
