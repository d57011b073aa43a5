/**
 * The target language of `tb-allow-external ... shared nat "..." rdr "..." open6 "..."` (docs/language.md,
 * grammar/targets.ebnf). Pure functions from one whitespace-separated target to its meaning, or a problem with
 * its offset inside the target. Which node a target names is checked later, against the topology.
 *
 * Classic forms (DETER CXA, exact original meaning):
 *   nat  H/P/proto | H/P (tcp) | H (tcp, any port)       H dotted-quad IPv4, 0.0.0.0 any; P 0 = any port
 *   rdr  N/P/proto | P/proto (calling node) | N/P (tcp) | P (tcp, calling node)   pairs decided by shape
 * Extensions (never valid before, so old files keep their meaning):
 *   port ranges a..b wherever a port goes;
 *   comma form  nat  host,ports[,proto]                   host IPv4/IPv6 address or CIDR, `any`
 *               rdr  [node,]ports[,proto][,from=CIDR]...[,identity]
 *               open6 [node,]ports[,proto][,from=CIDR]... | [node,]all[,from=CIDR]...
 *   proto: tcp, udp, tcp+udp (both), all (every protocol, no ports; comma form only)
 */
import ipaddr from "ipaddr.js";

export type Proto = "tcp" | "udp" | "tcp+udp" | "all";

export interface PortRange {
  /** 0 with end 0 means any port. */
  port: number;
  portEnd: number;
}

export interface NatTarget {
  kind: "nat";
  /** CIDR; 0.0.0.0/0 for any IPv4 host. */
  host: string;
  family: 4 | 6;
  ports: PortRange;
  proto: Proto;
  form: "slash" | "comma";
}

export interface RdrTarget {
  kind: "rdr";
  /** null: the node of the tb-allow-external call. */
  node: string | null;
  ports: PortRange;
  proto: Proto;
  sources: string[];
  identity: boolean;
  form: "slash" | "comma";
}

export interface Open6Target {
  kind: "open6";
  node: string | null;
  ports: PortRange;
  proto: Proto;
  sources: string[];
}

export type Target = NatTarget | RdrTarget | Open6Target;
export type TargetKey = Target["kind"];

export interface TargetProblem {
  code: "FWC510" | "FWC511" | "FWC512" | "FWC513" | "FWC514" | "FWC524" | "FWC526";
  message: string;
  help: string;
  /** Offset of the offending part inside the target text. */
  at: number;
  length: number;
}

export type Parsed = { ok: true; target: Target } | { ok: false; problem: TargetProblem };

const NAME_RE = /^[A-Za-z][-A-Za-z0-9]*$/;
const NUM_RE = /^[0-9]+$/;
const PORTS_RE = /^([0-9]+)(?:\.\.([0-9]+))?$/;

class Bad extends Error {
  constructor(readonly problem: TargetProblem) {
    super(problem.message);
  }
}

function bad(code: TargetProblem["code"], message: string, help: string, at: number, length: number): never {
  throw new Bad({ code, message, help, at, length });
}

/** A field of a target with its offset, so problems point at the part that is wrong. */
interface Field {
  text: string;
  at: number;
}

function split(text: string, sep: string): Field[] {
  const out: Field[] = [];
  let at = 0;
  for (const part of text.split(sep)) {
    out.push({ text: part, at });
    at += part.length + sep.length;
  }
  return out;
}

export function parsePorts(f: Field, allowRange: boolean): PortRange {
  const m = PORTS_RE.exec(f.text);
  if (m === null)
    bad(
      "FWC512",
      `"${f.text}" is not a port`,
      "write a port from 1 to 65535 (in nat targets, 0 means any port), or a range such as 8000..8100",
      f.at,
      f.text.length,
    );
  const a = Number(m[1]);
  const b = m[2] === undefined ? a : Number(m[2]);
  for (const [v, s] of [
    [a, m[1]!],
    [b, m[2] ?? m[1]!],
  ] as const)
    if (v > 65535 || s.length > 5)
      bad(
        "FWC512",
        `port ${s} is out of range`,
        "a port is 1 to 65535 (in nat targets, 0 means any port)",
        f.at,
        f.text.length,
      );
  if (m[2] !== undefined) {
    if (!allowRange) bad("FWC512", `a port range is not allowed here`, "give one port", f.at, f.text.length);
    if (a === 0 || b === 0)
      bad(
        "FWC512",
        `port 0 (any) cannot be part of a range`,
        "use 0 alone for any port, or a range of real ports",
        f.at,
        f.text.length,
      );
    if (b < a) bad("FWC514", `the range ${f.text} is reversed`, `write it low..high: ${b}..${a}`, f.at, f.text.length);
    return { port: a, portEnd: b };
  }
  return { port: a, portEnd: a };
}

function parseProto(f: Field, allowed: Proto[]): Proto {
  const p = f.text.toLowerCase() as Proto;
  if (!allowed.includes(p) || f.text !== f.text.toLowerCase())
    bad(
      "FWC513",
      `"${f.text}" is not a protocol here`,
      `use ${allowed.join(", ")}${allowed.includes("all") ? "" : " (TCP and UDP only; ICMP cannot be granted)"}`,
      f.at,
      f.text.length,
    );
  return p;
}

/** An IPv4 dotted quad as the classic form writes it. */
function parseIPv4(f: Field): string {
  if (!ipaddr.IPv4.isValidFourPartDecimal(f.text))
    bad(
      "FWC511",
      `"${f.text}" is not an IPv4 address`,
      "the slash form takes a dotted quad such as 192.0.2.10 (0.0.0.0 = any host); use the comma form for subnets and IPv6",
      f.at,
      f.text.length,
    );
  return f.text === "0.0.0.0" ? "0.0.0.0/0" : `${ipaddr.IPv4.parse(f.text).toString()}/32`;
}

/** An address or CIDR of either family, as the comma form writes it; returned as a normalised CIDR. */
export function parseHost(f: Field): { cidr: string; family: 4 | 6 } {
  if (f.text === "any") return { cidr: "0.0.0.0/0", family: 4 };
  const zone = f.text.indexOf("%");
  if (zone >= 0)
    bad(
      "FWC511",
      `"${f.text}" has a zone id (${f.text.slice(zone).split("/")[0]}): it names an interface of one host, not an address on the Internet`,
      "write the address without %zone; link-local addresses cannot be reached through the gateway",
      f.at + zone,
      f.text.length - zone,
    );
  const bare = f.text.split("/")[0]!;
  if (!bare.includes(":") && !ipaddr.IPv4.isValidFourPartDecimal(bare))
    bad(
      "FWC511",
      `"${f.text}" is not an IP address or subnet`,
      "write an IPv4 address as four decimal numbers (192.0.2.10, no octal or hex), an IPv6 address, a CIDR subnet such as 198.51.100.0/24, or `any`",
      f.at,
      f.text.length,
    );
  if (bare.includes(":") && ipaddr.IPv6.isValid(bare) && ipaddr.IPv6.parse(bare).isIPv4MappedAddress())
    bad(
      "FWC511",
      `"${f.text}" is an IPv4-mapped IPv6 address: it never appears on the wire, so it would match nothing`,
      `write the IPv4 address itself (${ipaddr.IPv6.parse(bare).toIPv4Address().toString()})`,
      f.at,
      f.text.length,
    );
  try {
    if (f.text.includes("/")) {
      const [addr, len] = ipaddr.parseCIDR(f.text);
      const net = ipaddr.IPv4.isIPv4(f.text.split("/")[0]!) || addr.kind() === "ipv4";
      // The network address, so 10.1.2.3/8 and 10.0.0.0/8 are the same grant.
      const base = net ? ipaddr.IPv4.networkAddressFromCIDR(f.text) : ipaddr.IPv6.networkAddressFromCIDR(f.text);
      return { cidr: `${base.toString()}/${len}`, family: addr.kind() === "ipv4" ? 4 : 6 };
    }
    if (ipaddr.IPv4.isValidFourPartDecimal(f.text)) {
      const a = ipaddr.IPv4.parse(f.text);
      return f.text === "0.0.0.0" ? { cidr: "0.0.0.0/0", family: 4 } : { cidr: `${a.toString()}/32`, family: 4 };
    }
    if (ipaddr.IPv6.isValid(f.text)) return { cidr: `${ipaddr.IPv6.parse(f.text).toString()}/128`, family: 6 };
  } catch {
    // fall through to the diagnostic
  }
  return bad(
    "FWC511",
    `"${f.text}" is not an IP address or subnet`,
    "write an IPv4 or IPv6 address, a CIDR subnet such as 198.51.100.0/24, or `any`",
    f.at,
    f.text.length,
  );
}

/** A `from=CIDR` field: the sources of a redirect are IPv4 (the gateway's IPv4 address), of an open6 IPv6. */
function parseSource(f: Field, family: 4 | 6): string {
  const h = parseHost({ text: f.text.slice(5), at: f.at + 5 });
  if (h.family !== family)
    bad(
      "FWC526",
      `from=${f.text.slice(5)} is an IPv${h.family} source, but ${family === 4 ? "a redirect is reached over IPv4" : "an open6 grant is reached over IPv6"}`,
      family === 4
        ? "give IPv4 sources to rdr targets; IPv6 sources belong to open6 targets"
        : "give IPv6 sources to open6 targets; IPv4 sources belong to rdr targets",
      f.at + 5,
      f.text.length - 5,
    );
  return h.cidr;
}

/** Parses one target of key `key`. Never throws. */
export function parseTarget(key: TargetKey, text: string): Parsed {
  try {
    return { ok: true, target: text.includes(",") || key === "open6" ? parseComma(key, text) : parseSlash(key, text) };
  } catch (e) {
    if (e instanceof Bad) return { ok: false, problem: e.problem };
    throw e;
  }
}

function parseSlash(key: TargetKey, text: string): Target {
  const f = split(text, "/");
  if (f.some((x) => x.text === "") || f.length > 3)
    bad(
      "FWC510",
      `"${text}" is not a ${key} target`,
      key === "nat"
        ? "write host/port/proto, host/port or host, e.g. 192.0.2.10/80/tcp"
        : "write node/port/proto, port/proto, node/port or port, e.g. web/80/tcp",
      0,
      text.length,
    );
  if (key === "nat") {
    const host = parseIPv4(f[0]!);
    if (f.length === 3 && NUM_RE.test(f[2]!.text) && Number(f[1]!.text) <= 32)
      bad(
        "FWC513",
        `"${f[2]!.text}" is not a protocol: the slash form cannot express the subnet ${f[0]!.text}/${f[1]!.text}`,
        `subnets need the comma form: ${f[0]!.text}/${f[1]!.text},${f[2]!.text}`,
        f[2]!.at,
        f[2]!.text.length,
      );
    const ports = f[1] ? parsePorts(f[1], true) : { port: 0, portEnd: 0 };
    const proto = f[2] ? parseProto(f[2], ["tcp", "udp"]) : "tcp";
    return { kind: "nat", host, family: 4, ports, proto, form: "slash" };
  }
  // rdr. Node names start with a letter, so the shape of a pair decides (docs/language.md): 22/udp is port/proto on the
  // calling node, web/80 is node/port over tcp.
  let node: string | null = null;
  let rest = f;
  if (f.length === 3 || (f.length === 2 && !NUM_RE.test(f[0]!.text) && !PORTS_RE.test(f[0]!.text))) {
    if (!NAME_RE.test(f[0]!.text))
      bad(
        "FWC510",
        `"${f[0]!.text}" is not a node name`,
        "node names start with a letter and contain letters, digits and -",
        f[0]!.at,
        f[0]!.text.length,
      );
    node = f[0]!.text;
    rest = f.slice(1);
  }
  const ports = parsePorts(rest[0]!, true);
  if (ports.port === 0)
    bad(
      "FWC512",
      "an inbound redirect needs a port",
      "port 0 (any) is only meaningful for outbound nat targets",
      rest[0]!.at,
      rest[0]!.text.length,
    );
  const proto = rest[1] ? parseProto(rest[1], ["tcp", "udp"]) : "tcp";
  return { kind: "rdr", node, ports, proto, sources: [], identity: false, form: "slash" };
}

function parseComma(key: TargetKey, text: string): Target {
  const f = split(text, ",");
  const empty = f.find((x) => x.text === "");
  if (empty !== undefined)
    bad("FWC510", `empty field in "${text}"`, "fields are separated by single commas, without spaces", empty.at, 1);
  if (key === "nat") {
    if (f.length < 2 || f.length > 3)
      bad(
        "FWC510",
        `"${text}" is not a nat target`,
        "the comma form is host,port[,proto], e.g. 198.51.100.0/24,443,tcp or 2001:db8::1,0,udp",
        0,
        text.length,
      );
    const h = parseHost(f[0]!);
    let proto: Proto = "tcp";
    if (f[2]) proto = parseProto(f[2], ["tcp", "udp", "tcp+udp", "all"]);
    if (f[1]!.text === "all" || proto === "all") {
      if (f[1]!.text !== "all" && f[1]!.text !== "0")
        bad(
          "FWC524",
          "protocol all takes no port",
          "write host,all (every protocol) or give a port with tcp, udp or tcp+udp",
          f[1]!.at,
          f[1]!.text.length,
        );
      return {
        kind: "nat",
        host: h.cidr,
        family: h.family,
        ports: { port: 0, portEnd: 0 },
        proto: "all",
        form: "comma",
      };
    }
    return { kind: "nat", host: h.cidr, family: h.family, ports: parsePorts(f[1]!, true), proto, form: "comma" };
  }
  let i = 0;
  let node: string | null = null;
  if (NAME_RE.test(f[0]!.text) && f[0]!.text !== "all") {
    node = f[0]!.text;
    i = 1;
  }
  const portField = f[i];
  if (portField === undefined)
    bad("FWC510", `"${text}" names no port`, `the comma form is [node,]port[,proto][,from=CIDR]...`, 0, text.length);
  let ports: PortRange = { port: 0, portEnd: 0 };
  let proto: Proto = key === "open6" ? "tcp+udp" : "tcp";
  let all = false;
  if (portField.text === "all") {
    if (key !== "open6")
      bad(
        "FWC524",
        "protocol all is only for open6 and nat targets",
        "a redirect forwards one TCP or UDP port or range",
        portField.at,
        3,
      );
    all = true;
    proto = "all";
  } else {
    ports = parsePorts(portField, true);
    if (ports.port === 0)
      bad(
        "FWC512",
        "an inbound grant needs a port",
        "give a port or a range; for every protocol of an open6 target write `all`",
        portField.at,
        portField.text.length,
      );
  }
  const sources: string[] = [];
  let identity = false;
  let protoSeen = false;
  for (const x of f.slice(i + 1)) {
    if (x.text.startsWith("from=")) sources.push(parseSource(x, key === "rdr" ? 4 : 6));
    else if (x.text === "identity" && key === "rdr") identity = true;
    else if (!protoSeen && !all) {
      proto = parseProto(x, ["tcp", "udp", "tcp+udp"]);
      protoSeen = true;
    } else
      bad(
        "FWC510",
        `unexpected field "${x.text}"`,
        key === "rdr"
          ? "after the port come the protocol, from=CIDR (any number) and identity"
          : "after the port come the protocol and from=CIDR (any number)",
        x.at,
        x.text.length,
      );
  }
  if (key === "open6") return { kind: "open6", node, ports, proto, sources };
  return { kind: "rdr", node, ports, proto, sources, identity, form: "comma" };
}

function portsText(p: PortRange): string {
  return p.port === p.portEnd ? String(p.port) : `${p.port}..${p.portEnd}`;
}

/** A target as text that parseTarget reads back to the same target (its canonical spelling). */
export function printTarget(t: Target): string {
  if (t.kind === "nat") {
    if (t.form === "slash") {
      const host = t.host === "0.0.0.0/0" ? "0.0.0.0" : t.host.replace(/\/32$/, "");
      return `${host}/${portsText(t.ports)}/${t.proto}`;
    }
    const host = t.host === "0.0.0.0/0" ? "any" : t.host;
    return t.proto === "all" ? `${host},all` : `${host},${portsText(t.ports)},${t.proto}`;
  }
  const parts: string[] = [];
  if (t.node !== null) parts.push(t.node);
  parts.push(t.proto === "all" ? "all" : portsText(t.ports));
  if (t.kind === "rdr" && t.form === "slash") return `${parts.join("/")}/${t.proto}`;
  if (t.proto !== "all") parts.push(t.proto);
  for (const s of t.sources) parts.push(`from=${s}`);
  if (t.kind === "rdr" && t.identity) parts.push("identity");
  return parts.join(",");
}
