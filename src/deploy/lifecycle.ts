/**
 * An experiment's life on a gateway (docs/deploy.md): swapin, modify, open, close, swapout, status, reconcile.
 *
 * Every change runs under the state directory's lock and goes the same way:
 *   1. roll back any change an earlier fwc left unfinished (DIR/intent.json);
 *   2. plan the experiment's new state (static grants from the NS file, dynamic grants, allocations);
 *   3. write the intent (the state and index before and after): the commit point;
 *   4. apply the element-level delta to the gateway in one `nft` transaction, checked with `nft -c` first (the
 *      whole table is written only when the gateway has none or its skeleton changed);
 *   5. push the DNS change and verify it by query (when the testbed has a DNS server);
 *   6. put the new state and index in place and drop the intent;
 *   7. cut the open connections of revoked grants (conntrack).
 * A failure in 4-6 undoes what was done (gateway, DNS) and leaves the previous state: the gateway passes
 * exactly what it passed before. A crash anywhere is undone by the next command from the intent.
 */
import { createHash } from "node:crypto";
import type { AccessPolicy } from "../access/policy.js";
import { type DnsRecord, dnsSettings } from "../backends/dns/records.js";
import { diffRecords, renderNsupdate } from "../backends/dns/zone.js";
import {
  diffElements,
  type ElementSet,
  isEmptyDelta,
  renderDelta,
  renderTable,
  skeletonText,
} from "../backends/nftables/render.js";
import type { DiagnosticCode } from "../diagnostics/codes.js";
import type { DiagnosticBag } from "../diagnostics/diagnostic.js";
import { SourceFile, span } from "../diagnostics/source.js";
import { type Allocations, portBitmap, portRanges } from "../plan/allocations.js";
import { nodeAddresses, type Plan, planAccess } from "../plan/plan.js";
import type { NodeAddresses, TestbedConfig } from "../testbed/config.js";
import { blockElements } from "./blocks.js";
import { cutRevokedFlows } from "./conntrack.js";
import { pushDns, verifyChanges } from "./dns.js";
import { acquireLock, LockError } from "./lock.js";
import { applyTransaction, type Gateway, NftError, tableExists } from "./nft.js";
import { type BlockEntry, type ExperimentState, type Index, type Intent, StateError, StateStore } from "./state.js";
import { desiredElements, syncTables } from "./table.js";

export interface DeployContext {
  stateDir: string;
  testbed: TestbedConfig;
  gw: Gateway;
  dryRun: boolean;
  waitMs: number;
  bag: DiagnosticBag;
  /** What the command prints on standard output (the transaction in a dry run). */
  out: string[];
  /**
   * Failpoints for the fault-injection tests (FWC_FAILPOINT): "after-intent", "after-nft" and "after-dns" kill
   * the process there; "invalid-ruleset" adds a line nft refuses to the transaction.
   */
  failpoint?: string;
}

/** What a change wants the experiment to be; null removes it (swapout). */
export interface Desired {
  file: string;
  policy: AccessPolicy;
  dynamic: ExperimentState["dynamic"];
  nodes: NodeAddresses;
}

export const emptyDynamic = (): ExperimentState["dynamic"] => ({ outbound: [], inbound: [], open6: [], dns: [] });

class Abort extends Error {}

export function report(ctx: DeployContext, code: DiagnosticCode, where: string, message: string, help?: string): void {
  ctx.bag.add(code, span(new SourceFile(where, ""), 0, 0), message, help);
}

/** The digest of the table's skeleton for this testbed, as the index keeps it (`Index.base`). */
export const skeletonDigest = (t: TestbedConfig): string =>
  createHash("sha256").update(skeletonText(t)).digest("hex").slice(0, 32);

/** The static grants and the dynamic ones as one policy (a dynamic grant equal to a static one adds nothing). */
export function combinedPolicy(d: Desired): AccessPolicy {
  const p = d.policy;
  const key = (g: object) => JSON.stringify({ ...g, origin: undefined });
  const fresh = <T extends object>(stat: T[], dyn: T[]) => {
    const seen = new Set(stat.map(key));
    return [...stat, ...dyn.filter((g) => !seen.has(key(g)))];
  };
  const dnsSeen = new Set(p.dns.map((x) => x.node));
  return {
    ...p,
    outbound: fresh(p.outbound, d.dynamic.outbound),
    inbound: fresh(p.inbound, d.dynamic.inbound),
    open6: fresh(p.open6, d.dynamic.open6),
    dns: [...p.dns, ...d.dynamic.dns.filter((x) => !dnsSeen.has(x.node) && dnsSeen.add(x.node))],
  };
}

const OTHERS = "(others)/(others)";

/** The planner's view of the gateway from the index: this experiment's allocations and everyone else's. */
export function allocationsFor(index: Index, exp: string, prev: ExperimentState | null): Allocations {
  const mine = prev?.allocations ?? { ports: [], dedicated: [] };
  const used = portBitmap(index.ports);
  for (const p of mine.ports) used.fill(0, p.port, p.portEnd + 1);
  return {
    version: 1,
    experiments: {
      [exp]: mine,
      [OTHERS]: {
        ports: portRanges(used).map((r) => ({ key: "", ...r })),
        dedicated: Object.entries(index.dedicated)
          .filter(([, owner]) => owner !== exp)
          .map(([address]) => ({ node: "", address })),
      },
    },
    released: index.released,
  };
}

export function nextIndex(
  index: Index,
  exp: string,
  prev: ExperimentState | null,
  next: ExperimentState | null,
  released: Index["released"],
): Index {
  const used = portBitmap(index.ports);
  for (const p of prev?.allocations.ports ?? []) used.fill(0, p.port, p.portEnd + 1);
  for (const p of next?.allocations.ports ?? []) used.fill(1, p.port, p.portEnd + 1);
  const dedicated = Object.fromEntries(Object.entries(index.dedicated).filter(([, owner]) => owner !== exp));
  for (const d of next?.allocations.dedicated ?? []) dedicated[d.address] = exp;
  return { ...index, ports: portRanges(used), dedicated, released };
}

/** What an experiment claims on the gateway: its nodes' addresses, bridge ports and MACs. */
const claimsOf = (s: { policy: { nodes: string[] }; nodes: NodeAddresses } | null) =>
  s === null ? [] : nodeAddresses(s.policy.nodes, s.nodes).map((a) => a.address);

/** Which experiment holds each claim, from the experiments' own records (a rebuild). */
export function claimIndex(states: ExperimentState[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const s of states) for (const a of claimsOf(s)) out[a] ??= s.experiment;
  return out;
}

/** The claims file, rebuilt from the experiments when it is missing. */
function readClaims(store: StateStore): Record<string, string> {
  return store.readClaims() ?? claimIndex(store.listExperiments());
}

const sameClaims = (a: string[], b: string[]) => a.length === b.length && a.every((x, i) => x === b[i]);

/** Plans a desired experiment against the index: its plan, its new allocations and the quarantine queue. */
export function planDesired(
  ctx: DeployContext,
  exp: string,
  d: Desired,
  prev: ExperimentState | null,
  index: Index,
  file: SourceFile,
  store?: StateStore,
): { plan: Plan; allocations: ExperimentState["allocations"]; released: Index["released"] } | null {
  // An address belongs to one experiment: a second claim would let the two share (and remove) each other's rules.
  // Only a change of the experiment's claims (swapin, modify with new nodes) needs the others' claims.
  const wanted = nodeAddresses(d.policy.nodes, d.nodes);
  const claims =
    store === undefined ||
    sameClaims(
      wanted.map((a) => a.address),
      claimsOf(prev),
    )
      ? {}
      : readClaims(store);
  let claimed = false;
  for (const a of wanted) {
    const holder = claims[a.address];
    if (holder === undefined || holder === exp) continue;
    claimed = true;
    report(
      ctx,
      "FWC711",
      exp,
      `${exp}: node ${a.node}'s ${a.what} ${a.address.replace(/^(port|mac) /, "")} is held by experiment ${holder}`,
      `check the node addresses given to ${exp}; the address is free again after fwc swapout --exp ${holder}`,
    );
  }
  if (claimed) return null;
  const r = planAccess(
    {
      policy: combinedPolicy(d),
      experiment: exp,
      testbed: ctx.testbed,
      nodes: d.nodes,
      allocations: allocationsFor(index, exp, prev),
      file,
      nodesFile: new SourceFile(`${exp} node addresses`, ""),
    },
    ctx.bag,
  );
  if (r === null) return null;
  return { plan: r.plan, allocations: r.allocations.experiments[exp]!, released: r.allocations.released };
}

function dnsServer(t: TestbedConfig) {
  const s = dnsSettings(t);
  return s.server === undefined
    ? null
    : { settings: s, server: { address: s.server, port: s.port, ...(s.key ? { key: s.key } : {}) } };
}

/** Pushes the DNS change from `from` to `to` (verified by query); `guarded` adds the prerequisites. */
async function pushRecords(
  ctx: DeployContext,
  exp: string,
  from: DnsRecord[],
  to: DnsRecord[],
  guarded: boolean,
): Promise<string[]> {
  const dns = dnsServer(ctx.testbed);
  if (dns === null) return [];
  const changes = diffRecords(from, to);
  if (changes.length === 0) return [];
  const script = renderNsupdate(dns.settings, exp, changes, { prerequisites: guarded });
  return (await pushDns(script, changes, dns.server)).problems;
}

/**
 * DNS drift of an experiment: what the server answers for each of its applied records' names, against the
 * records (empty when the testbed has no DNS server).
 */
export async function dnsDrift(ctx: DeployContext, records: DnsRecord[]): Promise<string[]> {
  const dns = dnsServer(ctx.testbed);
  if (dns === null || records.length === 0) return [];
  return verifyChanges(diffRecords([], records), dns.server);
}

/** Writes an experiment's records to DNS whatever is there (reconcile): each RRset replaced, then verified. */
export async function rewriteRecords(ctx: DeployContext, exp: string, records: DnsRecord[]): Promise<string[]> {
  const dns = dnsServer(ctx.testbed);
  if (dns === null || records.length === 0) return [];
  const changes = diffRecords([], records);
  const script = renderNsupdate(dns.settings, exp, changes, { prerequisites: false });
  return (await pushDns(script, changes, dns.server)).problems;
}

/**
 * What the state puts on the gateway, by owner: the blocklist's elements and each experiment's, with `override`
 * standing in for one experiment's (or the blocklist's) elements that are being changed.
 */
export function stateParts(
  store: StateStore,
  override: { exp?: string; elements?: ElementSet; blocks?: BlockEntry[] } = {},
): { owner: string; elements: ElementSet }[] {
  const blocks = override.blocks ?? store.readBlocks().entries;
  const parts = [{ owner: "the blocklist", elements: blockElements(blocks) }];
  for (const s of store.listExperiments())
    if (s.experiment !== override.exp) parts.push({ owner: s.experiment, elements: s.applied.elements });
  if (override.exp !== undefined && override.elements !== undefined)
    parts.push({ owner: override.exp, elements: override.elements });
  return parts;
}

/**
 * Puts the gateway's tables from `from` to `to` (one owner's elements: an experiment's, the blocklist's): an
 * element delta, or the whole tables (from the state, with `whole` standing in for the changed owner) when the
 * gateway has none or their skeleton changed.
 */
export function applyElements(
  ctx: DeployContext,
  index: Index,
  from: ElementSet,
  to: ElementSet,
  what: string,
  whole: () => { owner: string; elements: ElementSet }[],
): { base: string } {
  const base = skeletonDigest(ctx.testbed);
  const writeWhole = () => {
    // No table yet (first use, gateway rebooted) or a new skeleton (testbed changed): write it all, atomically.
    applyTransaction(
      ctx.gw,
      renderTable(
        ctx.testbed,
        whole().map((p) => p.elements),
      ),
    );
    return { base };
  };
  if (index.base !== base) return writeWhole();
  const delta = diffElements(from, to);
  if (isEmptyDelta(delta)) return { base };
  // A fault for the tests (FWC_FAILPOINT=invalid-ruleset): a transaction nft must refuse as a whole.
  const bad = ctx.failpoint === "invalid-ruleset" ? "add element inet fwc nosuchset { 192.0.2.1 }\n" : "";
  try {
    applyTransaction(ctx.gw, renderDelta(delta, what) + bad);
  } catch (e) {
    // A table is gone (the gateway rebooted, someone deleted it): the delta cannot apply, the whole tables can.
    if (e instanceof NftError && !tableExists(ctx.gw)) return writeWhole();
    throw e;
  }
  return { base };
}

/** A state write that failed before anything changed: the report, and the command's failure. */
function cannotWrite(ctx: DeployContext, where: string, e: unknown): false {
  report(
    ctx,
    "FWC802",
    where,
    `cannot write the state: ${(e as Error).message}`,
    "free space or fix permissions in the state directory; nothing was changed",
  );
  return false;
}

const fail = (p: string | undefined, name: string) => {
  if (p === name) process.kill(process.pid, "SIGKILL");
};

/**
 * The change itself (steps 3-7 above). `next` null removes the experiment. Returns the new state, or null when
 * the change failed (the problem is in ctx.bag and nothing changed).
 */
export async function commitChange(
  ctx: DeployContext,
  store: StateStore,
  command: string,
  exp: string,
  prev: ExperimentState | null,
  next: ExperimentState | null,
  index: Index,
  released: Index["released"],
): Promise<ExperimentState | null | false> {
  const from = prev?.applied.elements ?? {};
  const to = next?.applied.elements ?? {};
  const newIndex = nextIndex(index, exp, prev, next, released);
  const what = `${command} ${exp}`;
  if (ctx.dryRun) {
    const delta = diffElements(from, to);
    ctx.out.push(
      isEmptyDelta(delta) ? "# fwc: no change to the gateway's table\n" : renderDelta(delta, `${what} (dry run)`),
    );
    const dns = dnsServer(ctx.testbed);
    const changes = diffRecords(prev?.applied.records ?? [], next?.applied.records ?? []);
    if (dns !== null && changes.length > 0) ctx.out.push(renderNsupdate(dns.settings, exp, changes));
    return next;
  }
  // Claims are written wider first (the old and the new) and narrowed after the change: a crash in between
  // leaves a claim too many (refusing an address for a while), never one too few (letting it be taken twice).
  const claimsChange = !sameClaims(claimsOf(prev), claimsOf(next));
  let claims: Record<string, string> = {};
  if (claimsChange)
    try {
      claims = readClaims(store);
      const wider = { ...claims };
      for (const a of claimsOf(next)) wider[a] = exp;
      store.putClaims(wider);
    } catch (e) {
      return cannotWrite(ctx, store.dir, e);
    }
  const intent: Intent = {
    version: 1,
    command,
    experiment: exp,
    previous: prev,
    next,
    indexPrevious: index,
    indexNext: newIndex,
    started: new Date().toISOString(),
  };
  try {
    store.writeIntent(intent);
  } catch (e) {
    return cannotWrite(ctx, store.intentPath, e);
  }
  fail(ctx.failpoint, "after-intent");
  let applied: { base: string };
  const whole = () => stateParts(store, { exp, elements: to });
  try {
    applied = applyElements(ctx, index, from, to, what, whole);
  } catch (e) {
    store.dropIntent();
    if (e instanceof NftError) {
      report(
        ctx,
        "FWC803",
        ctx.gw.netns ?? "gateway",
        e.message,
        "the gateway keeps its previous ruleset; fix the cause and run the command again",
      );
      return false;
    }
    throw e;
  }
  fail(ctx.failpoint, "after-nft");
  const undoGateway = () =>
    applyElements(ctx, { ...index, base: applied.base }, to, from, `undo ${what}`, () =>
      stateParts(store, { exp, elements: from }),
    );
  const dnsProblems = await pushRecords(ctx, exp, prev?.applied.records ?? [], next?.applied.records ?? [], true);
  if (dnsProblems.length > 0) {
    undoGateway();
    await pushRecords(ctx, exp, next?.applied.records ?? [], prev?.applied.records ?? [], false);
    store.dropIntent();
    for (const p of dnsProblems)
      report(
        ctx,
        "FWC805",
        "dns",
        p,
        "the gateway and DNS keep their previous state; fix DNS and run the command again",
      );
    return false;
  }
  fail(ctx.failpoint, "after-dns");
  try {
    store.finish(exp, next, { ...newIndex, base: applied.base });
  } catch (e) {
    // The state cannot take the change (disk full): undo it everywhere. If the intent stays, the next command
    // finds it and rolls back again, which is then a no-op.
    undoGateway();
    await pushRecords(ctx, exp, next?.applied.records ?? [], prev?.applied.records ?? [], false);
    try {
      store.put(exp, prev, index);
      store.dropIntent();
    } catch {
      // left to the intent
    }
    report(
      ctx,
      "FWC802",
      ctx.stateDir,
      `cannot write the state: ${(e as Error).message}`,
      "free space in the state directory; the gateway keeps its previous ruleset",
    );
    return false;
  }
  if (claimsChange)
    try {
      const narrow = Object.fromEntries(Object.entries(claims).filter(([, owner]) => owner !== exp));
      for (const a of claimsOf(next)) narrow[a] = exp;
      store.putClaims(narrow);
    } catch {
      // A claim too many stays until the next change of this experiment or fwc reconcile.
    }
  // Only a change that removes elements can revoke a flow.
  if (Object.keys(diffElements(from, to).remove).length > 0) {
    const cut = cutRevokedFlows(ctx.gw, from, to);
    if (cut.problem !== undefined) report(ctx, "FWC809", ctx.gw.netns ?? "gateway", cut.problem);
  }
  return next;
}

/**
 * Rolls back a change an earlier fwc did not finish: the state goes back to before it (the experiment's file and
 * the index, or the blocklist), then the tables are made exactly what the state says, then DNS.
 */
export async function recover(ctx: DeployContext, store: StateStore): Promise<void> {
  const intent = store.readIntent();
  if (intent === null) return;
  const exp = intent.experiment;
  if (intent.blocks !== undefined) store.putBlocks(intent.blocks.previous);
  else store.put(exp, intent.previous, { ...intent.indexPrevious, base: skeletonDigest(ctx.testbed) });
  syncTables(ctx.gw, ctx.testbed, desiredElements(ctx.testbed, stateParts(store)), {
    whole: intent.indexPrevious.base !== skeletonDigest(ctx.testbed),
  });
  if (intent.blocks !== undefined) store.putIndex({ ...intent.indexPrevious, base: skeletonDigest(ctx.testbed) });
  else await pushRecords(ctx, exp, intent.next?.applied.records ?? [], intent.previous?.applied.records ?? [], false);
  store.dropIntent();
  report(
    ctx,
    "FWC808",
    store.intentPath,
    `rolled back the unfinished \`${intent.command}\` of ${exp} started ${intent.started}`,
    "run that command again if it is still wanted",
  );
}

/** Runs `body` holding the lock, after rolling back any unfinished change; state and nft problems become reports. */
export async function withState<T>(
  ctx: DeployContext,
  body: (store: StateStore) => Promise<T>,
  options: { recover?: boolean } = {},
): Promise<T | null> {
  const store = new StateStore(ctx.stateDir);
  let release: (() => void) | null = null;
  try {
    release = acquireLock(ctx.stateDir, ctx.waitMs);
    if (options.recover !== false && !ctx.dryRun) await recover(ctx, store);
    return await body(store);
  } catch (e) {
    if (e instanceof LockError) report(ctx, "FWC804", ctx.stateDir, e.message);
    else if (e instanceof StateError)
      report(ctx, "FWC802", ctx.stateDir, e.message, "fix or remove the file; fwc reconcile rebuilds the index");
    else if (e instanceof NftError) report(ctx, "FWC803", ctx.gw.netns ?? "gateway", e.message);
    else if (e instanceof Abort) return null;
    else if ((e as NodeJS.ErrnoException).code !== undefined)
      report(
        ctx,
        "FWC802",
        ctx.stateDir,
        `cannot use the state directory: ${(e as Error).message}`,
        "free space or fix permissions in the state directory; nothing was changed",
      );
    else throw e;
    return null;
  } finally {
    release?.();
  }
}
