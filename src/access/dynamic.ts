/**
 * Dynamic grants: targets given to a running experiment (`fwc open --rdr "..." --nat "..." --open6 "..."`, the
 * CXA web page, Grid'5000's API) in the target syntax of tb-allow-external. They are resolved by the same code
 * as the NS file's calls, against the experiment's nodes; positions are columns in the option's text, shown as
 * the file `--rdr` (or `--nat`, `--open6`).
 */
import type { DiagnosticBag } from "../diagnostics/diagnostic.js";
import { SourceFile, span } from "../diagnostics/source.js";
import type { ExternalCall, NodeObj } from "../ns/model/objects.js";
import type { AccessPolicy } from "./policy.js";
import { resolveAccess } from "./resolve.js";
import { parseTarget, type TargetKey } from "./targets.js";

export interface DynamicRequest {
  rdr?: string;
  nat?: string;
  open6?: string;
  /** The node that bare-port targets (`22`, `80/udp`) mean, as the calling node of tb-allow-external does. */
  node?: string;
}

/** The grants of one request, each with `origin.source` "dynamic"; problems go to `bag`. */
export function resolveDynamic(req: DynamicRequest, nodes: string[], bag: DiagnosticBag): AccessPolicy | null {
  const errors = bag.errorCount;
  const keys = (["rdr", "nat", "open6"] as const).filter((k) => req[k] !== undefined);
  const external: ExternalCall[] = [];
  for (const key of keys) {
    const text = req[key]!;
    const file = new SourceFile(`--${key}`, text);
    const whole = span(file, 0, Math.max(1, text.length));
    if (text.trim() === "") {
      bag.add("FWC503", whole, `--${key} has no targets`, `write --${key} "target target ..."`);
      continue;
    }
    // A target without a node means the calling node; a request from outside the NS file has none unless --node.
    if (req.node === undefined && key !== "nat")
      for (const m of text.matchAll(/\S+/g)) {
        const r = parseTarget(key as TargetKey, m[0]);
        if (r.ok && r.target.kind !== "nat" && !r.target.node)
          bag.add(
            "FWC515",
            span(file, m.index, m.index + m[0].length),
            `${key} target "${m[0]}" names no node`,
            `write the node (web/${m[0]} or web,${m[0]}) or give --node NAME`,
          );
      }
    external.push({
      node: { name: req.node ?? "" } as NodeObj,
      args: ["shared", key, text],
      location: whole,
      argLocations: [whole, whole, whole],
      argTextStart: [null, null, 0],
    });
  }
  if (req.node !== undefined && !nodes.includes(req.node))
    bag.add(
      "FWC515",
      span(new SourceFile("--node", req.node), 0, Math.max(1, req.node.length)),
      `no node "${req.node}" in this experiment`,
      `the experiment's nodes: ${nodes.join(", ")}`,
    );
  if (bag.errorCount > errors) return null;
  const files = external.map((c) => c.location.file);
  // Each option is its own "file": resolve them one by one and merge (positions stay in their own text).
  const parts = external.map((call, i) =>
    resolveAccess({ nodes: nodes.map((name) => ({ name }) as NodeObj), external: [call] }, files[i]!, bag),
  );
  if (bag.errorCount > errors) return null;
  const dyn = <T extends { origin: { source: string } }>(gs: T[]): T[] =>
    gs.map((g) => ({ ...g, origin: { ...g.origin, source: "dynamic" as const } }));
  return {
    version: 1,
    file: "(dynamic)",
    nodes,
    hasCalls: false,
    dedicated: [],
    outbound: dyn(parts.flatMap((p) => p.outbound)),
    inbound: dyn(parts.flatMap((p) => p.inbound)),
    open6: dyn(parts.flatMap((p) => p.open6)),
    // The calling node is not named by a dynamic request: only redirect targets get names.
    dns: dyn(parts.flatMap((p) => p.dns.filter((d) => d.reason === "inbound"))),
  };
}
