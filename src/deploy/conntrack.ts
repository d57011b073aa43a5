/**
 * Cutting revoked flows. With `ct state established,related accept` first in `forward`, removing a grant does
 * not stop a connection that is already open (g5kfw's known limitation; Neutron, Calico and kube-proxy delete the entries): its conntrack entry
 * keeps it alive. After a change, every tracked flow that the experiment's old elements admitted and its new
 * elements do not is deleted with `conntrack -D`, so the next packet of it meets the ruleset and is dropped.
 */
import { spawnSync } from "node:child_process";
import ipaddr from "ipaddr.js";
import { canonicalAddress, isAddress } from "../access/address.js";
import type { ElementSet } from "../backends/nftables/render.js";
import type { Gateway } from "./nft.js";

export interface Flow {
  proto: string;
  orig: { src: string; dst: string; sport?: number; dport?: number };
  reply: { src: string; dst: string; sport?: number; dport?: number };
  /** The words to give `conntrack -D` to delete exactly this entry. */
  spec: string[];
}

function conntrack(gw: Gateway, args: string[]): { ok: boolean; out: string; err: string; missing: boolean } {
  const cmd = gw.netns === undefined ? ["conntrack", ...args] : ["ip", "netns", "exec", gw.netns, "conntrack", ...args];
  const r = spawnSync(cmd[0]!, cmd.slice(1), { encoding: "utf8", maxBuffer: 1 << 28, timeout: 60_000 });
  const missing =
    (r.error as NodeJS.ErrnoException | undefined)?.code === "ENOENT" || /exec of "conntrack" failed/.test(r.stderr);
  return { ok: r.status === 0, out: r.stdout ?? "", err: r.stderr ?? "", missing };
}

/** Protocols whose conntrack entries carry ports. */
const PORTED = new Set(["tcp", "udp", "udplite", "sctp", "dccp"]);

/**
 * Parses `conntrack -L` lines of every protocol: the first src/dst (and ports, or ICMP type/code/id) are the
 * original direction, the second the reply. ICMP flows matter: an `all` grant admits a ping, and its entry keeps
 * answering after the grant is gone unless it is deleted too.
 */
export function parseFlows(text: string): Flow[] {
  const flows: Flow[] = [];
  for (const line of text.split("\n")) {
    const words = line.trim().split(/\s+/);
    const name = words[0];
    const num = words[1];
    if (name === undefined || num === undefined || !/^[0-9]+$/.test(num)) continue;
    const proto = name === "unknown" ? num : name;
    const dirs: Record<string, string>[] = [{}, {}];
    let d = 0;
    for (const w of words) {
      const m = /^(src|dst|sport|dport|type|code|id)=(.+)$/.exec(w);
      if (!m) continue;
      if (dirs[d]![m[1]!] !== undefined) d++;
      if (d > 1) break;
      dirs[d]![m[1]!] = m[2]!;
    }
    const [o, r] = dirs as [Record<string, string>, Record<string, string>];
    if (o.src === undefined || o.dst === undefined || r.src === undefined || r.dst === undefined) continue;
    const spec = ["-p", proto, "--orig-src", o.src, "--orig-dst", o.dst];
    if (PORTED.has(proto)) {
      if (o.sport === undefined || o.dport === undefined) continue;
      spec.push("--sport", o.sport, "--dport", o.dport);
    } else if ((proto === "icmp" || proto === "icmpv6") && o.type !== undefined) {
      const k = proto === "icmp" ? "icmp" : "icmpv6";
      spec.push(`--${k}-type`, o.type, `--${k}-code`, o.code ?? "0");
      if (o.id !== undefined) spec.push(`--${k}-id`, o.id);
    }
    const ports = (x: Record<string, string>) =>
      PORTED.has(proto) ? { sport: Number(x.sport), dport: Number(x.dport) } : {};
    flows.push({
      proto,
      orig: { src: o.src, dst: o.dst, ...ports(o) },
      reply: { src: r.src, dst: r.dst, ...ports(r) },
      spec,
    });
  }
  return flows;
}

/** A field of an element key, read once: what values it holds. */
type Field = (v: Value) => boolean;

/** A flow's field, read once: its text, and the address in it (if it is one). */
interface Value {
  text: string;
  addr: ipaddr.IPv4 | ipaddr.IPv6 | null;
  num: number | null;
}

const readValue = (text: string): Value => ({
  text,
  addr: isAddress(text) ? ipaddr.parse(text) : null,
  num: /^[0-9]+$/.test(text) ? Number(text) : null,
});

/** The matcher of one field of an element key (address, network, protocol, port, port range). */
function fieldOf(field: string): Field {
  const range = /^([0-9]+)-([0-9]+)$/.exec(field);
  if (range) {
    const lo = Number(range[1]);
    const hi = Number(range[2]);
    return (v) => v.text === field || (v.num !== null && v.num >= lo && v.num <= hi);
  }
  const [a, len] = field.split("/");
  if (a !== undefined && isAddress(a)) {
    const net = ipaddr.parse(a);
    const bits = len === undefined ? (net.kind() === "ipv4" ? 32 : 128) : Number(len);
    return (v) => v.addr !== null && v.addr.kind() === net.kind() && v.addr.match(net, bits);
  }
  return (v) => v.text === field;
}

/** Element sets read once per change, however many flows are checked against them. */
const compiled = new WeakMap<ElementSet, Map<string, { fields: Field[]; value: string }[]>>();

function compile(elements: ElementSet): Map<string, { fields: Field[]; value: string }[]> {
  let c = compiled.get(elements);
  if (c === undefined) {
    c = new Map();
    for (const [set, es] of Object.entries(elements))
      c.set(
        set,
        es.map((e) => {
          const [k, v] = e.key.split(" : ");
          return { fields: k!.split(" . ").map(fieldOf), value: v ?? "" };
        }),
      );
    compiled.set(elements, c);
  }
  return c;
}

/** The element of `set` whose key holds `values` field by field, and its value (for maps), or null. */
function lookup(elements: ElementSet, set: string, values: string[]): string | null {
  const es = compile(elements).get(set);
  if (es === undefined || es.length === 0) return null;
  const vs = values.map(readValue);
  for (const e of es) if (e.fields.length === vs.length && e.fields.every((f, i) => f(vs[i]!))) return e.value;
  return null;
}

/** Whether one field of a map's value holds `value` (the DNAT target a flow was sent to). */
const fieldHolds = (field: string, value: string) => fieldOf(field)(readValue(value));

const same = (mapped: string | null, to: string[]) =>
  mapped?.split(" . ").every((f, i) => fieldHolds(f, to[i]!)) === true;

/** Whether the experiment's elements admit this flow (the forward chain's and the DNAT maps' view of it). */
export function admits(elements: ElementSet, f: Flow): boolean {
  const { orig: o, reply: r, proto } = f;
  const dport = String(o.dport);
  const translated = o.dst !== r.src || o.dport !== r.sport;
  if (o.dport === undefined) {
    // No ports (ICMP, GRE, ...): grants of every protocol admit it, and an open6 grant admits ICMPv6 to its node.
    const v6 = o.src.includes(":");
    if (lookup(elements, v6 ? "out6all" : "out4all", [o.src, o.dst]) !== null) return true;
    if (!v6) return false;
    if (lookup(elements, "open6all", [o.dst]) !== null) return true;
    if (lookup(elements, "open6allsrc", [o.src, o.dst]) !== null) return true;
    return proto === "icmpv6" && lookup(elements, "open6nodes", [o.dst]) !== null;
  }
  if (translated) {
    // Inbound through the gateway: DNAT sent it to reply.src:reply.sport.
    const to = [r.src, String(r.sport)];
    if (same(lookup(elements, "rdr4", [o.dst, proto, dport]), to)) return true;
    if (same(lookup(elements, "rdr4src", [o.src, o.dst, proto, dport]), to)) return true;
    if (same(lookup(elements, "ded4", [o.dst]), [r.src])) return true;
  }
  const v6 = o.src.includes(":");
  // Outbound from a node (the source NAT changes only the reply's destination).
  if (lookup(elements, v6 ? "out6" : "out4", [o.src, o.dst, proto, dport]) !== null) return true;
  if (lookup(elements, v6 ? "out6all" : "out4all", [o.src, o.dst]) !== null) return true;
  if (!v6 && lookup(elements, "ded4nodes", [o.src]) !== null) return true;
  if (v6) {
    if (lookup(elements, "open6", [o.dst, proto, dport]) !== null) return true;
    if (lookup(elements, "open6src", [o.src, o.dst, proto, dport]) !== null) return true;
    if (lookup(elements, "open6all", [o.dst]) !== null) return true;
    if (lookup(elements, "open6allsrc", [o.src, o.dst]) !== null) return true;
  }
  return false;
}

/** Every tracked flow (IPv4 and IPv6), or a problem for a warning (conntrack missing or failing). */
function listFlows(gw: Gateway): { flows: Flow[] } | { problem: string } {
  let flows: Flow[] = [];
  for (const family of ["ipv4", "ipv6"]) {
    const r = conntrack(gw, ["-L", "-f", family]);
    if (r.missing)
      return {
        problem: "conntrack is not installed: open connections of revoked grants stay open (apt-get install conntrack)",
      };
    if (!r.ok) return { problem: `conntrack -L failed: ${r.err.trim().split("\n")[0]}` };
    flows = flows.concat(parseFlows(r.out));
  }
  return { flows };
}

/** Deletes the flows `cut` selects; returns how many were cut, or a problem for a warning. */
function cutFlows(gw: Gateway, cut: (f: Flow) => boolean): { cut: number; problem?: string } {
  const listed = listFlows(gw);
  if ("problem" in listed) return { cut: 0, problem: listed.problem };
  let n = 0;
  for (const f of listed.flows) {
    if (!cut(f)) continue;
    const d = conntrack(gw, ["-D", "-f", f.orig.src.includes(":") ? "ipv6" : "ipv4", ...f.spec]);
    if (d.ok) n++;
  }
  return { cut: n };
}

/**
 * Deletes the tracked flows that `before` admitted and `after` does not. Returns how many were cut, or a problem
 * (conntrack missing or failing) for a warning: the ruleset change itself stands.
 */
export function cutRevokedFlows(gw: Gateway, before: ElementSet, after: ElementSet): { cut: number; problem?: string } {
  // Only a flow with an end at one of the experiment's nodes (or its dedicated addresses) can be its grant's:
  // the other experiments' flows are passed over without looking at any grant.
  const ours = new Set(
    ["nodes4", "nodes6", "ded4nodes", "open6nodes"].flatMap((n) =>
      (before[n] ?? []).map((e) => canonicalAddress(e.key)),
    ),
  );
  const mine = (a: string) => isAddress(a) && ours.has(canonicalAddress(a));
  return cutFlows(
    gw,
    (f) => (mine(f.orig.src) || mine(f.orig.dst) || mine(f.reply.src)) && admits(before, f) && !admits(after, f),
  );
}

/**
 * Deletes the tracked flows the blocklist's elements (`block4`, `block6`, `block4p`, `block6p`) match: their
 * packets are dropped already; deleting the entries keeps a flow from resuming when the block is lifted.
 */
export function cutBlockedFlows(gw: Gateway, blocks: ElementSet): { cut: number; problem?: string } {
  return cutFlows(gw, (f) => blocked(blocks, f));
}

/** Whether a flow has a blocked network at either end (for port blocks: on the connection's service port). */
export function blocked(blocks: ElementSet, f: Flow): boolean {
  const { orig: o, reply: r, proto } = f;
  const v6 = o.src.includes(":");
  // The far ends of the flow: who opened it, who answered (before and after NAT).
  const ends = [o.src, o.dst, r.src, r.dst];
  if (ends.some((a) => lookup(blocks, v6 ? "block6" : "block4", [a]) !== null)) return true;
  if (o.dport === undefined) return false;
  // The service port, as the rules see it: the responder's port (a node's port behind a redirect).
  const service = String(r.sport);
  return ends.some((a) => lookup(blocks, v6 ? "block6p" : "block4p", [a, proto, service]) !== null);
}
