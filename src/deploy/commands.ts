/**
 * The lifecycle commands (docs/deploy.md): what the testbed runs at swap-in, swap-modify and swap-out, and what
 * experimenters use to change a running experiment's access. CXA's rules (docs/deploy.md): a modify whose NS file has
 * any tb-allow-external call replaces the dynamic grants; one whose file has none keeps them; swapout removes
 * everything; DNS follows.
 */
import ipaddr from "ipaddr.js";
import * as z from "zod/mini";
import { canonicalAddress, isAddress } from "../access/address.js";
import { type DynamicRequest, resolveDynamic } from "../access/dynamic.js";
import type { AccessPolicy } from "../access/policy.js";
import {
  endpointChange,
  endpointLines,
  endpointsJson,
  endpointsTable,
  previewText,
} from "../backends/endpoints/endpoints.js";
import { diffElements, experimentElements, isEmptyDelta, renderDelta } from "../backends/nftables/render.js";
import { DiagnosticBag } from "../diagnostics/diagnostic.js";
import { plural } from "../diagnostics/render.js";
import { SourceFile, span } from "../diagnostics/source.js";
import { releasedBy } from "../plan/allocations.js";
import type { Plan } from "../plan/plan.js";
import "../schema.js";
import { dnsSettings } from "../backends/dns/records.js";
import { DEFAULT_QUARANTINE_SECONDS } from "../plan/allocations.js";
import { EtcdStore, readGateways } from "../store/etcd.js";
import { type BlockEntry, type ExperimentState, StateError } from "../store/schema.js";
import { PENDING_FILE } from "../store/sqlite.js";
import type { Store, StoreReader } from "../store/store.js";
import { DEFAULT_EXPERIMENT_LIMITS, type NodeAddresses } from "../testbed/config.js";

/** Whether the commands send DNS changes: testbed.yaml names a server (docs/dns.md). */
const publishes = (t: DeployContext["testbed"]): boolean => dnsSettings(t).server !== undefined;

/** "1 experiment", "3 experiments". */
const experiments = (n: number): string => plural(n, "experiment");

export { cliUser } from "./audit.js";

import { type BlockRequest, blockElements, blockKey, blockText } from "./blocks.js";
import { cutBlockedFlows } from "./conntrack.js";
import {
  applyChanges,
  commitBlocks,
  commitChange,
  type DeployContext,
  type Desired,
  dnsDrift,
  type ExperimentChange,
  emptyDynamic,
  planDesired,
  recover,
  report,
  rewriteRecords,
  skeletonDigest,
  stateParts,
  withReader,
  withState,
  writeChange,
} from "./lifecycle.js";
import { canonicalSkeleton, desiredElements, listTables, syncTables, tableDrift } from "./table.js";

export interface Shown {
  json: boolean;
  /** Colour the tables (a terminal that wants it: the caller decides, honouring NO_COLOR and --color). */
  color?: boolean;
  /** Print nothing (a change made by reconcile). */
  quiet?: boolean;
}

function show(ctx: DeployContext, plan: Plan, opts: Shown): void {
  if (ctx.dryRun || opts.quiet === true) return;
  ctx.out.push(
    opts.json
      ? `${JSON.stringify(endpointsJson(plan), null, 2)}\n`
      : endpointsTable(plan, opts.color === true, { unpublished: !publishes(ctx.testbed) }),
  );
}

export function stateOf(
  ctx: DeployContext,
  exp: string,
  d: Desired,
  planned: NonNullable<ReturnType<typeof planDesired>>,
): ExperimentState {
  return {
    version: 1,
    experiment: exp,
    file: d.file,
    policy: d.policy,
    dynamic: d.dynamic,
    nodes: d.nodes,
    allocations: planned.allocations,
    applied: { elements: experimentElements(ctx.testbed, planned.plan), records: planned.plan.dns },
    updated: new Date().toISOString(),
  };
}

/**
 * An experiment's endpoint lines as they stand (a dry run's "before"): its state planned again on its own
 * allocations. A state that no longer plans (the testbed changed under it) has none; that is not this change's
 * problem to report.
 */
function linesOf(
  ctx: DeployContext,
  store: StoreReader,
  s: ExperimentState | null,
): { before: string[]; exact: boolean } {
  if (s === null) return { before: [], exact: true };
  const quiet = { ...ctx, bag: new DiagnosticBag() };
  const p = planDesired(quiet, s.experiment, desiredOf(s), s, store.readIndex(), new SourceFile(s.file, ""));
  if (p === null) return { before: [], exact: false };
  // Exact when planning again gives the elements the gateway has for it (same testbed, same addresses).
  const again = experimentElements(ctx.testbed, p.plan);
  return { before: endpointLines(p.plan), exact: isEmptyDelta(diffElements(again, s.applied.elements)) };
}

/** A change planned and written to the store (in its open transaction), not yet applied. */
export interface Prepared {
  change: ExperimentChange;
  plan: Plan;
}

/**
 * Plans `d` and writes it to the store's open transaction (steps 2-3 of a change): what applyChanges makes real,
 * or null when it cannot be made (reported in ctx.bag; nothing written unless the store refused a row, which the
 * caller rolls back).
 */
export function prepare(
  ctx: DeployContext,
  store: Store,
  command: string,
  exp: string,
  prev: ExperimentState | null,
  d: Desired,
  file: SourceFile,
): Prepared | null {
  const index = store.readIndex();
  const planned = planDesired(ctx, exp, d, prev, index, file, store);
  if (planned === null) return null;
  const next = stateOf(ctx, exp, d, planned);
  const limit = { ...DEFAULT_EXPERIMENT_LIMITS, ...ctx.testbed.limits }.elements;
  const count = Object.values(next.applied.elements).reduce((n, es) => n + es.length, 0);
  if (count > limit) {
    report(
      ctx,
      "FWC710",
      exp,
      `${exp} would hold ${count} nftables elements on the gateway; the limit per experiment is ${limit}`,
      "grant fewer ports, hosts or nodes (a range is one element per port, an outbound grant one per node), or ask the operators to raise limits.elements",
    );
    return null;
  }
  const c: ExperimentChange = {
    command,
    exp,
    prev,
    next,
    released: planned.released,
    ...(ctx.who === undefined ? {} : { who: ctx.who }),
    ...(ctx.dryRun ? { endpoints: { ...linesOf(ctx, store, prev), after: endpointLines(planned.plan) } } : {}),
  };
  return writeChange(ctx, store, c) ? { change: c, plan: planned.plan } : null;
}

/** Applies prepared changes and prints each one's endpoints. */
async function finish(ctx: DeployContext, store: Store, prepared: Prepared[], opts: Shown): Promise<boolean> {
  if (
    !(await applyChanges(
      ctx,
      store,
      prepared.map((p) => p.change),
    ))
  )
    return false;
  for (const p of prepared) show(ctx, p.plan, opts);
  return true;
}

/** Plans `d`, applies it, prints the endpoints. */
async function change(
  ctx: DeployContext,
  store: Store,
  command: string,
  exp: string,
  prev: ExperimentState | null,
  d: Desired,
  file: SourceFile,
  opts: Shown,
): Promise<boolean> {
  const p = prepare(ctx, store, command, exp, prev, d, file);
  return p !== null && finish(ctx, store, [p], opts);
}

export async function swapin(
  ctx: DeployContext,
  exp: string,
  file: SourceFile,
  policy: AccessPolicy,
  nodes: NodeAddresses,
  opts: Shown,
): Promise<boolean> {
  return (
    (await withState(
      ctx,
      async (store) => {
        if (store.readExperiment(exp) !== null) {
          report(ctx, "FWC801", exp, `${exp} is already swapped in`, `use fwc modify ${file.path} --exp ${exp}`);
          return false;
        }
        // Not found: a damaged page could hide it too, and its ports would be handed out again.
        store.check();
        const d: Desired = { file: file.path, policy, dynamic: emptyDynamic(), nodes };
        return change(ctx, store, "swapin", exp, null, d, file, opts);
      },
      { create: true },
    )) ?? false
  );
}

function need(ctx: DeployContext, store: StoreReader, exp: string, command = ""): ExperimentState | null {
  const s = store.readExperiment(exp);
  // Not found: make sure a damaged page is not what hides it.
  if (s === null && "check" in store) (store as Store).check();
  if (s === null)
    report(
      ctx,
      "FWC800",
      exp,
      `${exp} is not swapped in on this gateway`,
      command === "swapout"
        ? "there is nothing to swap out (it may be swapped out already); fwc status lists the experiments swapped in"
        : `fwc swapin FILE --exp ${exp} first; fwc status lists the experiments swapped in`,
    );
  return s;
}

export async function modify(
  ctx: DeployContext,
  exp: string,
  file: SourceFile,
  policy: AccessPolicy,
  nodes: NodeAddresses | null,
  opts: Shown,
): Promise<boolean> {
  return (
    (await withState(ctx, async (store) => {
      const prev = need(ctx, store, exp);
      if (prev === null) return false;
      // CXA: a file with any tb-allow-external call overrules the dynamic grants; a file without keeps them
      // (those whose time is not up).
      const live = unexpired(prev.dynamic).dynamic;
      const dynamic = policy.hasCalls ? emptyDynamic() : live;
      const d: Desired = { file: file.path, policy, dynamic, nodes: nodes ?? prev.nodes };
      const ok = await change(ctx, store, "modify", exp, prev, d, file, opts);
      const gone = [...live.inbound, ...live.outbound, ...live.open6];
      if (ok && policy.hasCalls && gone.length > 0) {
        const shown = [...new Set(gone.map((g) => g.origin.text))];
        report(
          ctx,
          "FWC834",
          exp,
          `${ctx.dryRun ? "would replace" : "replaced"} ${plural(gone.length, "grant")} made with fwc open, because ${file.path} has tb-allow-external calls: ${shown.slice(0, 10).join(", ")}${shown.length > 10 ? ", ..." : ""}`,
          `open them again with fwc open --exp ${exp} if they are still wanted, or add them to the NS file`,
        );
      }
      return ok;
    })) ?? false
  );
}

const desiredOf = (s: ExperimentState): Desired => ({
  file: s.file,
  policy: s.policy,
  dynamic: s.dynamic,
  nodes: s.nodes,
});

/** Where a target of --rdr/--nat/--open6 is, in the option's own text. */
const optionSpan = (o: { file: string; column: number; text: string }) =>
  span(new SourceFile(o.file, `${" ".repeat(o.column - 1)}${o.text}`), o.column - 1, o.column - 1 + o.text.length);

/** Grants compared without where they came from. */
const grantKey = (g: object) => JSON.stringify({ ...g, origin: undefined });

/** Grants with a lifetime, and whether one has ended. */
type Timed = { origin: { expires?: string } };
const ended = (g: Timed, now: number) => g.origin.expires !== undefined && Date.parse(g.origin.expires) <= now;

/** The dynamic grants that have not ended, and how many have. */
export function unexpired(dyn: ExperimentState["dynamic"], now = Date.now()) {
  const keep = <T extends Timed>(gs: T[]) => gs.filter((g) => !ended(g, now));
  const inbound = keep(dyn.inbound);
  const targets = new Set(inbound.map((g) => g.node));
  const kept = {
    inbound,
    outbound: keep(dyn.outbound),
    open6: keep(dyn.open6),
    // A name stays while a dynamic redirect still points at its node.
    dns: dyn.dns.filter((x) => x.reason !== "inbound" || targets.has(x.node)),
  };
  const count = (d: ExperimentState["dynamic"]) => d.inbound.length + d.outbound.length + d.open6.length;
  return { dynamic: kept, expired: count(dyn) - count(kept) };
}

/** fwc open's change, planned and written to the store's open transaction (see prepare). */
export function prepareOpen(
  ctx: DeployContext,
  store: Store,
  exp: string,
  req: DynamicRequest,
  lifetime?: { seconds: number },
): Prepared | null {
  const prev = need(ctx, store, exp);
  if (prev === null) return null;
  const grants = resolveDynamic(req, prev.policy.nodes, ctx.bag);
  if (grants === null) return null;
  // Grants whose time is up go with this change; the new ones carry their end (or none: for good).
  const dyn = unexpired(prev.dynamic).dynamic;
  const expires = lifetime === undefined ? undefined : new Date(Date.now() + lifetime.seconds * 1000).toISOString();
  const timed = <T extends { origin: object }>(g: T): T => ({ ...g, origin: { ...g.origin, expires } });
  // A grant opened again keeps one entry, with the lifetime of the last open.
  const add = <T extends { origin: object }>(have: T[], more: T[]) => {
    const fresh = new Map(more.map((g) => [grantKey(g), timed(g)]));
    const kept = have.map((g) => fresh.get(grantKey(g)) ?? g);
    const seen = new Set(have.map(grantKey));
    return [...kept, ...[...fresh.values()].filter((g) => !seen.has(grantKey(g)) && seen.add(grantKey(g)))];
  };
  const dnsSeen = new Set(dyn.dns.map((x) => x.node));
  const d: Desired = {
    ...desiredOf(prev),
    dynamic: {
      outbound: add(dyn.outbound, grants.outbound),
      inbound: add(dyn.inbound, grants.inbound),
      open6: add(dyn.open6, grants.open6),
      dns: [...dyn.dns, ...grants.dns.filter((x) => !dnsSeen.has(x.node) && dnsSeen.add(x.node))],
    },
  };
  return prepare(ctx, store, "open", exp, prev, d, new SourceFile(prev.file, ""));
}

export async function open(
  ctx: DeployContext,
  exp: string,
  req: DynamicRequest,
  opts: Shown,
  lifetime?: { seconds: number },
): Promise<boolean> {
  return (
    (await withState(ctx, async (store) => {
      const p = prepareOpen(ctx, store, exp, req, lifetime);
      return p !== null && finish(ctx, store, [p], opts);
    })) ?? false
  );
}

/** fwc close's change (every dynamic grant with "all"), planned and written to the store's open transaction. */
export function prepareClose(
  ctx: DeployContext,
  store: Store,
  exp: string,
  req: DynamicRequest | "all",
): Prepared | null {
  const prev = need(ctx, store, exp);
  if (prev === null) return null;
  let dynamic = emptyDynamic();
  if (req !== "all") {
    const grants = resolveDynamic(req, prev.policy.nodes, ctx.bag);
    if (grants === null) return null;
    const drop = (
      have: ExperimentState["dynamic"]["inbound"] | object[],
      gone: { origin: { file: string; column: number; text: string } }[],
      stat: object[],
    ) => {
      const haveKeys = new Set((have as object[]).map(grantKey));
      const statKeys = new Set(stat.map(grantKey));
      let ok = true;
      for (const g of gone) {
        if (haveKeys.has(grantKey(g))) continue;
        ok = false;
        const at = optionSpan(g.origin);
        if (statKeys.has(grantKey(g)))
          ctx.bag.add(
            "FWC807",
            at,
            `"${g.origin.text}" is granted by the NS file ${prev.file}, not by fwc open`,
            `remove it from the file and run fwc modify ${prev.file} --exp ${exp}`,
          );
        else
          ctx.bag.add(
            "FWC806",
            at,
            `"${g.origin.text}" is not an open grant of ${exp}`,
            "fwc status --exp shows the grants",
          );
      }
      const goneKeys = new Set(gone.map(grantKey));
      return { ok, kept: (have as object[]).filter((g) => !goneKeys.has(grantKey(g))) };
    };
    const a = drop(prev.dynamic.inbound, grants.inbound, prev.policy.inbound);
    const b = drop(prev.dynamic.outbound, grants.outbound, prev.policy.outbound);
    const c = drop(prev.dynamic.open6, grants.open6, prev.policy.open6);
    if (!a.ok || !b.ok || !c.ok) return null;
    const inbound = a.kept as ExperimentState["dynamic"]["inbound"];
    // A name stays while a dynamic redirect still points at its node.
    const targets = new Set(inbound.map((g) => g.node));
    dynamic = {
      inbound,
      outbound: b.kept as ExperimentState["dynamic"]["outbound"],
      open6: c.kept as ExperimentState["dynamic"]["open6"],
      dns: prev.dynamic.dns.filter((x) => targets.has(x.node)),
    };
  }
  // Grants whose time is up go too (closing one by name is not an error).
  const d: Desired = { ...desiredOf(prev), dynamic: unexpired(dynamic).dynamic };
  return prepare(ctx, store, "close", exp, prev, d, new SourceFile(prev.file, ""));
}

export async function close(
  ctx: DeployContext,
  exp: string,
  req: DynamicRequest | "all",
  opts: Shown,
): Promise<boolean> {
  return (
    (await withState(ctx, async (store) => {
      const p = prepareClose(ctx, store, exp, req);
      return p !== null && finish(ctx, store, [p], opts);
    })) ?? false
  );
}

export async function swapout(ctx: DeployContext, exp: string, opts: Shown = { json: false }): Promise<boolean> {
  return (
    (await withState(ctx, async (store) => {
      const prev = need(ctx, store, exp, "swapout");
      if (prev === null) return false;
      const index = store.readIndex();
      // Its ports go to the quarantine queue, oldest release first.
      const released = [...index.released, ...releasedBy(exp, prev.allocations.ports)];
      const endpoints = ctx.dryRun ? { ...linesOf(ctx, store, prev), after: [] } : undefined;
      const r = await commitChange(ctx, store, "swapout", exp, prev, null, released, endpoints);
      if (r === false) return false;
      // What went: a person (or a script, with --json) should not have to look it up.
      const ports = prev.allocations.ports.map((p) => (p.portEnd > p.port ? `${p.port}-${p.portEnd}` : String(p.port)));
      const names = prev.applied.records.length;
      const grants = prev.dynamic.inbound.length + prev.dynamic.outbound.length + prev.dynamic.open6.length;
      // As the other commands: a dry run prints its transaction only (so that --json stays one document).
      const quarantine = ctx.testbed.quarantine ?? DEFAULT_QUARANTINE_SECONDS;
      if (opts.quiet !== true && !ctx.dryRun)
        ctx.out.push(
          opts.json
            ? `${JSON.stringify({ experiment: exp, swappedOut: true, releasedPorts: ports, dnsRecords: names, dynamicGrants: grants, quarantineSeconds: quarantine }, null, 2)}\n`
            : `Swapped out ${exp}: ${ports.length === 0 ? "no gateway ports" : `gateway ports ${ports.join(", ")}`} released${quarantine > 0 && ports.length > 0 ? ` (kept from other experiments' identity ranges for ${quarantine} s)` : ""}, ${publishes(ctx.testbed) ? `${plural(names, "DNS record")} and ` : ""}${plural(grants, "dynamic grant")} removed.\n`,
        );
      return true;
    })) ?? false
  );
}

/**
 * The change that removes an experiment's grants whose time is up (the service's expiry, reconcile), written to
 * the store's open transaction; "none" when no grant has ended (or the experiment is gone).
 */
export function prepareExpire(
  ctx: DeployContext,
  store: Store,
  exp: string,
  now = Date.now(),
): Prepared | null | "none" {
  const cur = store.readExperiment(exp);
  if (cur === null) return "none";
  const u = unexpired(cur.dynamic, now);
  if (u.expired === 0) return "none";
  return prepare(
    ctx,
    store,
    "expire",
    exp,
    cur,
    { ...desiredOf(cur), dynamic: u.dynamic },
    new SourceFile(cur.file, ""),
  );
}

/**
 * The earliest end among grants (an experiment's dynamic grants, a plan's endpoints), in ms since the epoch;
 * null when none has one. Only grants given with a lifetime (fwc open --for, "expires") have an end.
 */
export function nextExpiry(grants: Timed[]): number | null {
  let next: number | null = null;
  for (const g of grants)
    if (g.origin.expires !== undefined) {
      const t = Date.parse(g.origin.expires);
      if (next === null || t < next) next = t;
    }
  return next;
}

/** An experiment's plan as it stands (the endpoint listing; read only); null when it is not swapped in (reported). */
export function currentPlan(ctx: DeployContext, store: StoreReader, exp: string): Plan | null {
  const s = need(ctx, store, exp);
  if (s === null) return null;
  return planDesired(ctx, s.experiment, desiredOf(s), s, store.readIndex(), new SourceFile(s.file, ""))?.plan ?? null;
}

/**
 * g5kfw's GET answer: the experiment's dynamic IPv6 openings in the resolved list form (addresses as /128,
 * ports as a list, "tcp+udp" where both protocols are open alike).
 */
export function g5kList(plan: Plan) {
  // One opening per address and sources; its ports by protocol.
  const groups = new Map<string, { addr: string; sources: string[]; ports: Map<string, (number | string)[]> }>();
  for (const g of plan.open6) {
    if (g.origin.source !== "dynamic") continue;
    const key = JSON.stringify([g.nodeAddress, g.sources]);
    const x = groups.get(key) ?? { addr: `${g.nodeAddress}/128`, sources: g.sources, ports: new Map() };
    const list = x.ports.get(g.proto) ?? [];
    if (g.proto !== "all") list.push(g.port === g.portEnd ? g.port : `${g.port}..${g.portEnd}`);
    x.ports.set(g.proto, list);
    groups.set(key, x);
  }
  const out: { addr: string[]; port?: (number | string)[]; proto: string; src_addr?: string[] }[] = [];
  for (const x of groups.values()) {
    const src = x.sources.length > 0 ? { src_addr: x.sources } : {};
    const addr = [x.addr];
    if (x.ports.has("all")) out.push({ addr, proto: "all", ...src });
    const tcp = x.ports.get("tcp");
    const udp = x.ports.get("udp");
    if (tcp !== undefined && udp !== undefined && JSON.stringify(tcp) === JSON.stringify(udp))
      out.push({ addr, port: tcp, proto: "tcp+udp", ...src });
    else for (const [proto, port] of x.ports) if (proto !== "all") out.push({ addr, port, proto, ...src });
  }
  return out;
}

// ---- status and reconcile ----

export interface Drift {
  /** The experiment, or "the blocklist" or "the gateway", whose elements differ. */
  experiment: string;
  missing: string[];
  extra: string[];
}

/** Endpoints of each experiment, the blocklist, and every difference between the gateway and the state. */
/**
 * `fwc env`: the settings grid middleware needs behind the gateway (Globus's GLOBUS_TCP_PORT_RANGE and
 * GLOBUS_HOSTNAME), from the node's identity range: the ports that are the same outside and inside.
 */
export async function env(ctx: DeployContext, exp: string, node: string | undefined, opts: Shown): Promise<boolean> {
  return (
    (await withReader(ctx, async (store, _pending, c) => {
      const s = need(c, store, exp);
      if (s === null) return false;
      const p = planDesired(c, exp, desiredOf(s), s, store.readIndex(), new SourceFile(s.file, ""));
      if (p === null) return false;
      const ranges = p.plan.inbound.filter(
        (e) => e.identity && e.proto === "tcp" && (node === undefined || e.node === node),
      );
      const nodes = [...new Set(ranges.map((e) => e.node))];
      if (ranges.length === 0 || (node === undefined && nodes.length > 1)) {
        report(
          c,
          "FWC835",
          exp,
          ranges.length === 0
            ? `${node === undefined ? exp : `node ${node} of ${exp}`} has no TCP identity range: Globus needs ports that are the same on the gateway and on the node`
            : `nodes ${nodes.join(", ")} have identity ranges: say which with --node`,
          ranges.length === 0
            ? `grant one, e.g. tb-allow-external $${node ?? "node"} shared rdr "${node ?? "node"},50000..50100,tcp,identity" in the NS file, or fwc open --exp ${exp} --rdr "${node ?? "node"},50000..50100,tcp,identity"`
            : `fwc env --exp ${exp} --node ${nodes[0]}`,
        );
        return false;
      }
      // Globus takes one range: the widest, the others named.
      const [best, ...others] = [...ranges].sort(
        (a, b) => b.portEnd - b.port - (a.portEnd - a.port) || a.port - b.port,
      );
      const host = c.testbed.gateway.name.replace(/\.$/, "");
      const vars = { GLOBUS_TCP_PORT_RANGE: `${best!.port},${best!.portEnd}`, GLOBUS_HOSTNAME: host };
      if (opts.json) c.out.push(`${JSON.stringify({ experiment: exp, node: best!.node, ...vars }, null, 2)}\n`);
      else {
        c.out.push(`# fwc env: ${exp}, node ${best!.node} (eval "$(fwc env ...)" in a shell, or copy the lines)\n`);
        for (const [k, v] of Object.entries(vars)) c.out.push(`export ${k}=${v}\n`);
        if (others.length > 0)
          c.out.push(
            `# other identity ranges of the node: ${others.map((o) => `${o.port}..${o.portEnd}`).join(", ")}\n`,
          );
      }
      return true;
    })) ?? false
  );
}

export async function status(ctx: DeployContext, exp: string | undefined, opts: Shown): Promise<boolean> {
  return (
    (await withReader(ctx, async (store, pending, c) => {
      if ("check" in store) (store as Store).check();
      const states = exp === undefined ? store.listExperiments() : [need(c, store, exp)].filter((s) => s !== null);
      if (exp !== undefined && states.length === 0) return false;
      if (store instanceof EtcdStore) return etcdStatus(c, store, states, exp, opts);
      const blocks = store.readBlocks().entries;
      const listing = listTables(c.gw);
      const canonical = canonicalSkeleton(c.testbed);
      if ("problem" in canonical)
        report(c, "FWC814", c.gw.netns ?? "gateway", canonical.problem, "run fwc status as root on the gateway");
      const found = tableDrift(
        listing,
        desiredElements(c.testbed, stateParts(store)),
        "problem" in canonical ? null : canonical,
      );
      const byOwner = new Map<string, Drift>();
      const strays: string[] = [];
      const rules: string[] = [];
      for (const d of found) {
        if (d.kind === "table" || d.kind === "rules") rules.push(d.what);
        else if (d.owner === null) strays.push(d.what);
        else {
          const x = byOwner.get(d.owner) ?? { experiment: d.owner, missing: [], extra: [] };
          (d.kind === "missing" ? x.missing : x.extra).push(d.what);
          byOwner.set(d.owner, x);
        }
      }
      const drift = [...byOwner.values()].filter((d) => exp === undefined || d.experiment === exp);
      const index = store.readIndex();
      const plans: Plan[] = [];
      for (const s of states) {
        const p = planDesired(c, s.experiment, desiredOf(s), s, index, new SourceFile(s.file, ""));
        if (p !== null) plans.push(p.plan);
      }
      for (const r of rules)
        report(
          c,
          "FWC810",
          c.gw.netns ?? "gateway",
          r,
          // No table at all is also what a look at the wrong gateway finds (another network namespace): writing
          // the tables there would not mend the real one.
          r.includes("has no table")
            ? `if this is the gateway of ${c.stateDir} (after a reboot, say), fwc reconcile writes fwc's tables again from the state; if its gateway is a network namespace, give --netns NAME${c.gw.netns === undefined ? "" : ` (this was ${c.gw.netns})`} instead`
            : "fwc reconcile writes fwc's tables again from the state",
        );
      for (const d of drift)
        report(
          c,
          "FWC810",
          d.experiment,
          `${d.experiment}: the gateway lacks ${d.missing.length} and has ${plural(d.extra.length, "unexpected element")}${d.missing[0] ? `, e.g. missing ${d.missing[0]}` : `, e.g. ${d.extra[0]}`}`,
          "fwc reconcile puts the gateway back in step with the state",
        );
      if (exp === undefined && strays.length > 0)
        report(
          c,
          "FWC810",
          c.gw.netns ?? "gateway",
          `fwc's tables hold ${plural(strays.length, "element")} the state does not, e.g. ${strays[0]}`,
          "fwc reconcile removes them",
        );
      for (const st of states)
        for (const p of await dnsDrift(c, st.applied.records))
          report(
            c,
            "FWC810",
            "dns",
            `${st.experiment}: ${p}`,
            "fwc reconcile writes the experiment's names again; a record in the way that fwc did not write (another type, another owner) must be removed by hand first",
          );
      if (pending !== null)
        report(
          c,
          "FWC810",
          store.location,
          `an unfinished \`${pending.command}\` of ${pending.experiment} (started ${pending.started}) is pending`,
          "the next command or fwc reconcile puts the gateway back to what the store says",
        );
      const tablesThere = listing.tables.inet !== null && listing.tables.bridge !== null;
      if (opts.json)
        c.out.push(
          `${JSON.stringify(
            {
              experiments: plans.map((p) => endpointsJson(p)),
              blocks,
              drift,
              strays: exp === undefined ? strays : [],
              rules,
              table: tablesThere,
              interrupted:
                pending === null
                  ? null
                  : { command: pending.command, experiment: pending.experiment, started: pending.started },
            },
            null,
            2,
          )}\n`,
        );
      else {
        for (const p of plans)
          c.out.push(endpointsTable(p, opts.color === true, { unpublished: !publishes(c.testbed) }));
        if (exp === undefined) {
          c.out.push(`${experiments(states.length)} on the gateway\n`);
          c.out.push(blocksTable(blocks));
        }
        if (c.bag.errorCount === 0) c.out.push("The gateway is in step with the state.\n");
      }
      return true;
    })) ?? false
  );
}

/**
 * Writes again the DNS names of each experiment whose names the server answers differently (a dry run only
 * counts them); returns how many were written (or would be).
 */
async function rewriteDrifted(ctx: DeployContext, states: ExperimentState[]): Promise<number> {
  let names = 0;
  for (const st of states)
    if ((await dnsDrift(ctx, st.applied.records)).length > 0) {
      if (ctx.dryRun) {
        names++;
        continue;
      }
      const problems = await rewriteRecords(ctx, st.experiment, st.applied.records);
      // Only names that were written count as written again.
      if (problems.length === 0) names++;
      for (const p of problems)
        report(
          ctx,
          "FWC805",
          "dns",
          `${st.experiment}: ${p}`,
          "fwc does not replace a record it did not write: remove it from the zone by hand, then run fwc reconcile again",
        );
    }
  return names;
}

/**
 * reconcile with the etcd store: the gateways are their agents' (each compares its kernel with etcd every
 * --resync); what is left is DNS, when the commands write it: every experiment's names, written again where
 * the server's answers differ.
 */
async function reconcileEtcd(ctx: DeployContext, store: EtcdStore): Promise<boolean> {
  const states = store.listExperiments();
  const names = store.settings.dns === "command" ? await rewriteDrifted(ctx, states) : 0;
  store.rollback();
  if (names > 0)
    ctx.out.push(`${ctx.dryRun ? "Would write" : "Wrote"} the DNS names of ${experiments(names)} again.\n`);
  ctx.out.push(
    `${experiments(states.length)} in ${store.location}; each gateway's agent keeps its kernel in step (fwc status shows them).\n`,
  );
  return true;
}

/** A gateway as `fwc status` shows it with the etcd store. */
export interface GatewayStatus {
  gateway: string;
  /** The etcd revision its tables hold. */
  revision: string;
  /** Revisions behind the last change written (0: in step). */
  lag: number;
  /** Its agent reports (its lease lives) and follows etcd. */
  live: boolean;
  stale: boolean;
  /** When it last reported, and from where. */
  at: string;
  host: string;
}

/** status with the etcd store: the endpoints, the blocklist, each gateway's revision, lag and liveness, DNS. */
async function etcdStatus(
  c: DeployContext,
  store: EtcdStore,
  states: ExperimentState[],
  exp: string | undefined,
  opts: Shown,
): Promise<boolean> {
  const blocks = store.readBlocks().entries;
  const index = store.readIndex();
  const plans: Plan[] = [];
  for (const s of states) {
    const p = planDesired(c, s.experiment, desiredOf(s), s, index, new SourceFile(s.file, ""));
    if (p !== null) plans.push(p.plan);
  }
  const want = BigInt(store.changeRevision);
  const { reports, bad } = await readGateways(store.client, store.settings);
  const gateways: GatewayStatus[] = reports
    .map((r) => {
      const lag = want - BigInt(r.revision);
      return {
        gateway: r.gateway,
        revision: r.revision,
        lag: lag > 0n ? Number(lag) : 0,
        live: !r.stale,
        stale: r.stale,
        at: r.at,
        host: r.host,
      };
    })
    .sort((a, b) => a.gateway.localeCompare(b.gateway));
  for (const k of bad) report(c, "FWC833", k, `${k} is not an agent's report`, "only fwc agent writes under gateways/");
  if (gateways.length === 0)
    report(
      c,
      "FWC832",
      store.location,
      "no gateway's agent reports: nothing applies the state in etcd",
      "start `fwc agent --gateway NAME` on each gateway",
    );
  for (const g of gateways.filter((g) => g.lag > 0 || g.stale))
    report(
      c,
      "FWC832",
      g.gateway,
      `${g.gateway} is ${g.stale ? "stale (its agent cannot follow etcd)" : `at revision ${g.revision}, behind the last change (${store.changeRevision})`}`,
      "a gateway that lags catches up by itself; its agent's log says why it does not",
    );
  for (const st of states)
    for (const p of await dnsDrift(c, st.applied.records))
      report(c, "FWC810", "dns", `${st.experiment}: ${p}`, "fwc reconcile writes the experiment's names again");
  if (opts.json)
    c.out.push(
      `${JSON.stringify(
        {
          experiments: plans.map((p) => endpointsJson(p)),
          blocks,
          revision: store.changeRevision,
          gateways,
        },
        null,
        2,
      )}\n`,
    );
  else {
    for (const p of plans) c.out.push(endpointsTable(p, opts.color === true, { unpublished: !publishes(c.testbed) }));
    if (exp === undefined) {
      c.out.push(`${experiments(states.length)} in ${store.location}\n`);
      c.out.push(blocksTable(blocks));
    }
    const rows = gateways.map((g) => [g.gateway, g.revision, String(g.lag), g.stale ? "stale" : "live", g.at, g.host]);
    const head = ["gateway", "revision", "lag", "agent", "reported", "host"];
    const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    const line = (r: string[]) =>
      `${r
        .map((x, i) => x.padEnd(w[i]!))
        .join("  ")
        .trimEnd()}\n`;
    c.out.push(line(head), ...rows.map(line));
    if (c.bag.errorCount + c.bag.warningCount === 0)
      c.out.push(`Every gateway is in step with etcd (revision ${store.changeRevision}).\n`);
  }
  return true;
}

/**
 * Puts the gateway in step with the store: finishes interrupted changes (withState), rebuilds the ports,
 * addresses and claims from the experiments' records, rewrites the tables' drift and the DNS names that differ.
 */
export async function reconcile(ctx: DeployContext): Promise<boolean> {
  return (
    (await withState(
      ctx,
      async (store) => {
        if (store.scratch && !ctx.dryRun) {
          report(
            ctx,
            "FWC802",
            ctx.stateDir,
            `${ctx.stateDir} holds no store: there is nothing to reconcile the gateway with`,
            "check --state (or $FWC_STATE); a store is made by the first swapin or block",
          );
          return false;
        }
        store.check();
        if (!ctx.dryRun)
          try {
            await recover(ctx, store);
          } catch (e) {
            if (!(e instanceof StateError) || !e.message.includes(PENDING_FILE)) throw e;
            // The record of a change under way is lost: the full sync below puts the tables and the store's DNS
            // names back; a name only that change added is not known any more.
            report(
              ctx,
              "FWC815",
              store.location,
              `${e.message}: replaced with an empty one; the tables and DNS names are made what the store says`,
              "a DNS name that an interrupted change added and the store does not have must be removed by hand",
            );
            store.resetPending();
          }
        // Grants whose time is up (fwc open --for) are removed first, one experiment at a time, each its own
        // change (and its own transaction, so the lock is taken again for the next).
        let expired = 0;
        let toExpire: string[] = [];
        try {
          toExpire = store.listExperiments().map((x) => x.experiment);
        } catch (e) {
          // A damaged record: the rebuild below reports it; nothing expires until it is repaired.
          if (!(e instanceof StateError)) throw e;
        }
        for (const name of toExpire) {
          if (!store.inTransaction) store.begin(ctx.waitMs);
          const cur = store.readExperiment(name);
          const u = cur === null ? null : unexpired(cur.dynamic);
          const p = prepareExpire(ctx, store, name);
          if (p === "none" || u === null) continue;
          if (p !== null && (await finish(ctx, store, [p], { json: false, quiet: true }))) expired += u.expired;
          // Its problem is reported; the others' grants still expire, and the rest of reconcile still runs.
          else store.rollback();
        }
        if (!store.inTransaction) store.begin(ctx.waitMs);
        if (expired > 0 && !ctx.dryRun) ctx.out.push(`Removed ${plural(expired, "grant")} whose time was up.\n`);
        if (store instanceof EtcdStore) return reconcileEtcd(ctx, store);
        const rebuilt = store.rebuildIndex();
        for (const p of rebuilt.problems)
          report(ctx, "FWC815", store.location, p, "restore the store from a backup to get it back");
        if (rebuilt.unreadable > 0) {
          // Without an experiment's record, fwc does not know its elements: the gateway is left as it is.
          report(
            ctx,
            "FWC802",
            store.location,
            "an experiment's record cannot be read, so the gateway's tables are left as they are",
            "restore the store from a backup: without the record, fwc cannot know what the experiment had on the gateway",
          );
          if (!ctx.dryRun) store.commit();
          return false;
        }
        const states = store.listExperiments();
        const index = store.readIndex();
        const base = skeletonDigest(ctx.testbed);
        const synced = syncTables(ctx.gw, ctx.testbed, desiredElements(ctx.testbed, stateParts(store)), {
          whole: index.base !== base,
          dryRun: ctx.dryRun,
        });
        if (ctx.dryRun && synced.text !== "") ctx.out.push(synced.text);
        // DNS: every experiment's names, written again where the server's answers differ.
        const names = await rewriteDrifted(ctx, states);
        if (ctx.dryRun) return true;
        store.putIndexMeta({ base });
        store.commit();
        if (names > 0) ctx.out.push(`Wrote the DNS names of ${experiments(names)} again.\n`);
        ctx.out.push(
          synced.changed === 0
            ? `The gateway was in step with the state (${experiments(states.length)}).\n`
            : synced.changed === "whole"
              ? `Wrote fwc's tables whole from the state (${experiments(states.length)}).\n`
              : `Changed ${plural(synced.changed, "element")} to match the state (${experiments(states.length)}).\n`,
        );
        return true;
      },
      { recover: false },
    )) ?? false
  );
}

// ---- the operator's blocklist ----

export function blocksTable(entries: BlockEntry[]): string {
  if (entries.length === 0) return "Blocked networks: none\n";
  const lines = [`Blocked networks (${entries.length}): dropped both ways before any grant`];
  for (const e of entries) lines.push(`  ${blockText(e).padEnd(30)} ${e.reason || "(no reason)"}  (${e.by}, ${e.at})`);
  return `${lines.join("\n")}\n`;
}

/**
 * Adds networks to the blocklist (or removes them): the state, then the gateway (an element delta of the block
 * sets, in one transaction under the intent), then the open flows of newly blocked networks are cut.
 */
export async function changeBlocks(
  ctx: DeployContext,
  command: "block" | "unblock",
  requests: BlockRequest[],
  reason: string,
  who: string,
  opts: Shown,
): Promise<boolean> {
  return (
    (await withState(
      ctx,
      async (store) => {
        const previous = store.readBlocks();
        const have = new Map(previous.entries.map((e) => [blockKey(e), e]));
        const at = new Date().toISOString();
        let entries = previous.entries;
        if (command === "block") {
          const added: BlockEntry[] = [];
          for (const r of requests) {
            const old = have.get(blockKey(r));
            if (old !== undefined) {
              report(
                ctx,
                "FWC813",
                "fwc block",
                `${blockText(r)} is blocked already (since ${old.at}, by ${old.by}${old.reason ? `: ${old.reason}` : ""})`,
              );
              continue;
            }
            have.set(blockKey(r), { ...r, reason, by: who, at });
            added.push({ ...r, reason, by: who, at });
          }
          entries = [...entries, ...added];
        } else {
          const gone = new Set<string>();
          for (const r of requests) {
            if (!have.has(blockKey(r)))
              report(ctx, "FWC812", "fwc unblock", `${blockText(r)} is not on the blocklist`, "fwc blocks lists it");
            gone.add(blockKey(r));
          }
          if (ctx.bag.errorCount > 0) return false;
          entries = entries.filter((e) => !gone.has(blockKey(e)));
        }
        const what = `${command} ${requests.map(blockText).join(" ")}`;
        if (ctx.dryRun) {
          const delta = diffElements(blockElements(previous.entries), blockElements(entries));
          const nft = isEmptyDelta(delta) ? "# fwc: no change to the gateway's tables\n" : renderDelta(delta, what);
          const line = (e: BlockEntry) => `block ${blockText(e)}`;
          const endpoints = endpointChange(previous.entries.map(line), entries.map(line));
          if (ctx.dryRunJson !== undefined)
            ctx.dryRunJson.push({
              command,
              experiment: "(blocklist)",
              endpoints: { ...endpoints, exact: true },
              nft,
              nsupdate: "",
            });
          else
            ctx.out.push(
              previewText(command, endpoints, entries.length - endpoints.add.length, "no change to the blocklist"),
              nft,
            );
          return true;
        }
        if (entries.length !== previous.entries.length) {
          if (!(await commitBlocks(ctx, store, command, previous.entries, entries))) return false;
          if (command === "block") {
            // With etcd, each gateway's agent cuts its own.
            const cut: { problem?: string } =
              store instanceof EtcdStore ? {} : cutBlockedFlows(ctx.gw, blockElements(entries));
            if (cut.problem !== undefined) report(ctx, "FWC809", ctx.gw.netns ?? "gateway", cut.problem);
          }
        }
        ctx.out.push(opts.json ? `${JSON.stringify({ blocks: entries }, null, 2)}\n` : blocksTable(entries));
        return true;
      },
      { create: true },
    )) ?? false
  );
}

/** The blocklist as it stands (read only). */
export async function listBlocks(ctx: DeployContext, opts: Shown): Promise<boolean> {
  return (
    (await withReader(ctx, async (store, _pending, c) => {
      const entries = store.readBlocks().entries;
      c.out.push(opts.json ? `${JSON.stringify({ blocks: entries }, null, 2)}\n` : blocksTable(entries));
      return true;
    })) ?? false
  );
}

/** Space-separated words of a g5kfw field, or its list form. */
const words = (x: string | string[] | undefined): string[] =>
  x === undefined ? [] : (Array.isArray(x) ? x : x.split(/\s+/)).filter((w) => w !== "");

/**
 * A g5kfw field given as a string of words or a list: every word is checked as a value of its kind, so no text
 * of the request can add a field (`,from=...`) or a target to the grants it becomes.
 */
const g5kWords = (what: string, ok: (w: string) => boolean) =>
  z.union([z.string(), z.array(z.string())]).check(
    z.refine((x) => {
      const ws = words(x);
      return ws.length > 0 && ws.every(ok);
    }, what),
  );

const NODE_NAME = /^[A-Za-z][-A-Za-z0-9]*$/;
const isV6 = (w: string) => w.includes(":") && isAddress(w) && !ipaddr.IPv6.parse(w).isIPv4MappedAddress();
const isV6Net = (w: string) => {
  const [a, len, more] = w.split("/");
  return more === undefined && isV6(a!) && (len === undefined || (/^[0-9]{1,3}$/.test(len) && Number(len) <= 128));
};
const PORT_WORD = /^[0-9]{1,5}(\.\.[0-9]{1,5})?$/;
/** A port (1-65535) or a range of them, low to high. */
const isPortWord = (w: string) => {
  if (!PORT_WORD.test(w)) return false;
  const [a, b = a] = w.split("..").map(Number);
  return a! >= 1 && b! <= 65535 && a! <= b!;
};

/** g5kfw's opening JSON (docs/deploy.md) as an open6 request: addresses are node names or the nodes' IPv6 addresses. */
export const G5kOpening = z.array(
  z.strictObject({
    addr: g5kWords("must be node names or the nodes' IPv6 addresses (/128), separated by spaces", (w) =>
      NODE_NAME.test(w) ? true : isV6Net(w) && (!w.includes("/") || w.endsWith("/128")),
    ),
    proto: z._default(z.enum(["tcp+udp", "tcp", "udp", "all"]), "tcp+udp"),
    port: z.optional(
      z.union([
        z.int().check(z.minimum(1), z.maximum(65535)),
        g5kWords("must be ports (1-65535) or ranges (8000..8100), separated by spaces", isPortWord),
        z.array(
          z.union([
            z.int().check(z.minimum(1), z.maximum(65535)),
            z.string().check(z.refine(isPortWord, "must be a port (1-65535) or a range (8000..8100)")),
          ]),
        ),
      ]),
    ),
    src_addr: z.optional(
      g5kWords(
        "must be IPv6 addresses or networks (2001:db8::/32), separated by spaces: an IPv6 opening admits IPv6 sources only",
        isV6Net,
      ),
    ),
  }),
);

export function g5kRequest(
  openings: z.infer<typeof G5kOpening>,
  nodes: NodeAddresses,
  /** The most nftables elements an experiment may hold (limits.elements). */
  maxElements: number = DEFAULT_EXPERIMENT_LIMITS.elements,
): { request: DynamicRequest } | { problem: string; code?: "FWC710" } {
  const byAddress = new Map(
    Object.entries(nodes).flatMap(([n, a]) => (a.ipv6 ? [[canonicalAddress(a.ipv6), n] as const] : [])),
  );
  const targets: string[] = [];
  // Each field's words are checked one by one; their product is what the gateway would hold. It is counted
  // before any target is written: a few KB of words must not become millions of targets.
  let elements = 0;
  const distinct = (ws: string[]) => [...new Set(ws)];
  for (const [i, o] of openings.entries()) {
    if (o.proto === "all" && o.port !== undefined) return { problem: `opening ${i}: "all" takes no port` };
    if (o.proto !== "all" && o.port === undefined) return { problem: `opening ${i}: "${o.proto}" needs "port"` };
    const ports =
      o.proto === "all" ? ["all"] : distinct(words(Array.isArray(o.port) ? o.port.map(String) : String(o.port)));
    const sources = distinct(words(o.src_addr));
    const addrs = distinct(words(o.addr));
    elements += addrs.length * ports.length * Math.max(1, sources.length) * (o.proto === "tcp+udp" ? 2 : 1);
    if (elements > maxElements)
      return {
        code: "FWC710",
        problem: `the openings would hold at least ${elements} nftables elements (addresses x ports x sources); the limit per experiment is ${maxElements}`,
      };
    const from = sources.map((s) => `,from=${s.includes("/") ? s : `${s}/${s.includes(":") ? 128 : 32}`}`);
    for (const a of addrs) {
      const node = Object.hasOwn(nodes, a)
        ? a
        : isV6Net(a)
          ? byAddress.get(canonicalAddress(a.replace(/\/128$/, "")))
          : undefined;
      if (node === undefined)
        return { problem: `opening ${i}: "${a}" is not a node of the experiment or its IPv6 address` };
      for (const p of ports) targets.push(`${node},${p}${o.proto === "all" ? "" : `,${o.proto}`}${from.join("")}`);
    }
  }
  return { request: { open6: targets.join(" ") } };
}
