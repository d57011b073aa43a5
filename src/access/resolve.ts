/**
 * From the evaluated tb-allow-external calls to the AccessPolicy, with every check of docs/language.md
 * (External access). Diagnostics point at the target inside its string when the string is a literal in the
 * file, otherwise at the argument.
 */
import ipaddr from "ipaddr.js";
import type { DiagnosticCode } from "../diagnostics/codes.js";
import type { DiagnosticBag, Related } from "../diagnostics/diagnostic.js";
import { type SourceFile, type Span, span } from "../diagnostics/source.js";
import { didYouMean } from "../diagnostics/suggest.js";
import type { Experiment } from "../ns/model/experiment.js";
import type { ExternalCall } from "../ns/model/objects.js";
// Types only: zod is loaded where a policy crosses a boundary (compile), not on every `fwc check`.
import type { AccessPolicy, InboundGrant, Open6Grant, Origin, OutboundGrant } from "./policy.js";
import { parseTarget, type Target, type TargetKey } from "./targets.js";

const KEYS: TargetKey[] = ["nat", "rdr", "open6"];

interface Located {
  text: string;
  span: Span;
  /** Where the target's own characters are in the file, or null when it was built by substitution. */
  base: number | null;
}

/** The whitespace-separated targets of argument `i` of a call, each with its position. */
function targetsOf(call: ExternalCall, i: number): Located[] {
  const value = call.args[i]!;
  const start = call.argTextStart[i] ?? null;
  const word = call.argLocations[i]!;
  const out: Located[] = [];
  for (const m of value.matchAll(/\S+/g)) {
    const base = start === null ? null : start + m.index;
    out.push({ text: m[0], base, span: base === null ? word : span(word.file, base, base + m[0].length) });
  }
  return out;
}

function origin(t: Located, call: ExternalCall): Origin {
  const p = t.span.file.position(t.span.start);
  const c = call.location.file.position(call.location.start);
  return {
    source: "nsfile",
    file: t.span.file.path,
    line: p.line,
    column: p.col,
    text: t.text,
    call: { line: c.line, column: c.col },
  };
}

/** Why a host cannot be on the Internet, or null. */
function notOnInternet(cidr: string): string | null {
  if (cidr === "0.0.0.0/0" || cidr === "::/0") return null;
  const [addr] = ipaddr.parseCIDR(cidr);
  const range = addr.range();
  return range === "unicast" ? null : range;
}

export function resolveAccess(
  x: Pick<Experiment, "nodes" | "external">,
  file: SourceFile,
  bag: DiagnosticBag,
): AccessPolicy {
  const nodeNames = x.nodes.map((n) => n.name);
  const known = new Set(nodeNames);
  const policy: AccessPolicy = {
    version: 1,
    file: file.path,
    nodes: nodeNames,
    hasCalls: x.external.length > 0,
    dedicated: [],
    outbound: [],
    inbound: [],
    open6: [],
    dns: [],
  };
  const seen = new Map<string, Span>();
  // Names are compared as DNS compares them: without case.
  const dnsSeen = new Map<string, { node: string; at: Span }>();
  const addDns = (node: string, reason: "named" | "inbound", at: Span, o: Origin) => {
    const lower = node.toLowerCase();
    const prev = dnsSeen.get(lower);
    if (prev !== undefined) {
      if (prev.node !== node)
        bag.add(
          "FWC525",
          at,
          `nodes "${prev.node}" and "${node}" would get the same DNS name (${lower}): DNS ignores case`,
          "rename one of the two nodes",
          [{ message: `"${prev.node}" is named here`, span: prev.at }],
        );
      return;
    }
    dnsSeen.set(lower, { node, at });
    policy.dns.push({ node, reason, origin: o });
    // Emulab's own name rules (FWC400, FWC403: letters, digits, hyphens, at most 63) already hold for every
    // node; a DNS label also cannot start or end with a hyphen.
    if (/^-|-$/.test(node))
      bag.add(
        "FWC523",
        at,
        `node "${node}" needs a DNS name, but a DNS label cannot start or end with a hyphen`,
        "rename the node's variable: letters, digits and inner hyphens",
      );
  };
  const problem = (code: DiagnosticCode, at: Span, message: string, help?: string, related?: Related[]) =>
    bag.add(code, at, message, help, related);

  for (const call of x.external) {
    const self = call.node.name;
    addDns(self, "named", call.location, origin({ text: self, span: call.location, base: null }, call));
    if (call.args.length === 0) {
      const c = call.location.file.position(call.location.start);
      policy.dedicated.push({
        node: self,
        origin: {
          source: "nsfile",
          file: file.path,
          line: c.line,
          column: c.col,
          text: "",
          call: { line: c.line, column: c.col },
        },
      });
      continue;
    }
    const cookie = call.args[0]!;
    if (cookie !== "shared") {
      const isKey = (KEYS as string[]).includes(cookie);
      problem(
        "FWC500",
        call.argLocations[0]!,
        isKey
          ? `"${cookie}" needs the cookie type first: tb-allow-external $node shared ${cookie} "..."`
          : `unknown cookie type "${cookie}"`,
        isKey
          ? "write `shared` after the node"
          : (didYouMean(cookie, ["shared"]) ??
              "the only cookie type is `shared`; without one the node gets a dedicated external address"),
      );
      continue;
    }
    const firstKey = new Map<string, Span>();
    for (let i = 1; i < call.args.length; i += 2) {
      const key = call.args[i]!;
      const keySpan = call.argLocations[i]!;
      if (!(KEYS as string[]).includes(key)) {
        problem(
          "FWC501",
          keySpan,
          `unknown key "${key}"`,
          didYouMean(key, KEYS) ?? "the keys are nat (outbound), rdr (inbound) and open6 (direct IPv6)",
        );
        continue;
      }
      if (i + 1 >= call.args.length) {
        problem("FWC503", keySpan, `key "${key}" has no targets after it`, `write ${key} "target target ..."`);
        continue;
      }
      const prev = firstKey.get(key);
      if (prev !== undefined) {
        problem(
          "FWC502",
          keySpan,
          `key "${key}" appears twice in one call`,
          "put all its targets in one quoted string",
          [{ message: "first given here", span: prev }],
        );
        continue;
      }
      firstKey.set(key, keySpan);
      for (const t of targetsOf(call, i + 1)) {
        const r = parseTarget(key as TargetKey, t.text);
        if (!r.ok) {
          const p = r.problem;
          // Inside the target: a problem "after the last character" (an empty last field) points at that character.
          const from = Math.min(p.at, Math.max(0, t.text.length - 1));
          const to = Math.min(p.at + Math.max(1, p.length), t.text.length);
          const at = t.base === null ? t.span : span(t.span.file, t.base + from, t.base + Math.max(from + 1, to));
          problem(p.code, at, `${key} target "${t.text}": ${p.message}`, p.help);
          continue;
        }
        addGrant(r.target, t, call, self);
      }
    }
  }

  function addGrant(target: Target, t: Located, call: ExternalCall, self: string): void {
    const o = origin(t, call);
    if (target.kind !== "nat") {
      const node = target.node ?? self;
      if (!known.has(node)) {
        problem(
          "FWC515",
          t.span,
          `${target.kind} target "${t.text}": no node "${node}" in this experiment`,
          didYouMean(node, nodeNames) ?? "name a node the file creates",
        );
        return;
      }
    }
    let key: string;
    if (target.kind === "nat") {
      const g: OutboundGrant = {
        host: target.host,
        family: target.family,
        proto: target.proto,
        port: target.ports.port,
        portEnd: target.ports.portEnd,
        origin: o,
      };
      key = `nat ${g.host} ${g.proto} ${g.port} ${g.portEnd}`;
      if (duplicate(key, t)) return;
      const why = notOnInternet(g.host);
      if (why !== null)
        problem(
          "FWC521",
          t.span,
          `nat host ${g.host} is ${why}: it cannot be on the Internet`,
          "outbound grants are for Internet hosts; nodes reach their own experiment directly",
        );
      if ((g.host === "0.0.0.0/0" || g.host === "::/0") && g.port === 0)
        problem(
          "FWC522",
          t.span,
          `"${t.text}" lets every node reach any host on any ${g.proto === "all" ? "protocol" : `${g.proto.toUpperCase()} port`}`,
          "name the hosts and ports the experiment needs, unless it really needs the whole Internet",
        );
      policy.outbound.push(g);
      return;
    }
    const node = target.node ?? self;
    if (target.kind === "rdr") {
      const g: InboundGrant = {
        node,
        proto: target.proto as InboundGrant["proto"],
        port: target.ports.port,
        portEnd: target.ports.portEnd,
        sources: target.sources,
        identity: target.identity,
        origin: o,
      };
      key = `rdr ${node} ${g.proto} ${g.port} ${g.portEnd} ${g.sources.join(",")} ${g.identity}`;
      if (duplicate(key, t)) return;
      policy.inbound.push(g);
      addDns(node, "inbound", t.span, o);
      return;
    }
    const g: Open6Grant = {
      node,
      proto: target.proto,
      port: target.ports.port,
      portEnd: target.ports.portEnd,
      sources: target.sources,
      origin: o,
    };
    key = `open6 ${node} ${g.proto} ${g.port} ${g.portEnd} ${g.sources.join(",")}`;
    if (duplicate(key, t)) return;
    policy.open6.push(g);
  }

  function duplicate(key: string, t: Located): boolean {
    const first = seen.get(key);
    if (first === undefined) {
      seen.set(key, t.span);
      return false;
    }
    problem("FWC520", t.span, `"${t.text}" grants what an earlier target already grants`, "remove one of them", [
      { message: "first granted here", span: first },
    ]);
    return true;
  }

  return policy;
}
