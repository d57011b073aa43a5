/**
 * An experiment's life on a gateway (docs/deploy.md): swapin, modify, open, close, swapout, status, reconcile.
 *
 * Every change is one transaction of the store (src/store) and goes the same way:
 *   1. take the store's write lock; put the gateway and DNS back to the store if an earlier fwc died mid-change
 *      (its pending record);
 *   2. plan the experiment's new state (static grants from the NS file, dynamic grants, allocations);
 *   3. write its rows: the store refuses a port, address or node another experiment holds;
 *   4. write the pending record (the DNS records the change may touch, the generation it commits);
 *   5. apply the element-level delta to the gateway in one `nft -f` transaction, all or nothing (the
 *      whole table is written only when the gateway has none or its skeleton changed);
 *   6. push the DNS change and verify it by query (when the testbed has a DNS server);
 *   7. commit: the change is the truth; then drop the pending record;
 *   8. cut the open connections of revoked grants (conntrack).
 * A failure in 5-7 undoes what was done (gateway, DNS) and rolls the transaction back: the gateway passes
 * exactly what it passed before. A crash anywhere leaves the store as it was before the change, and the next
 * command (or `fwc reconcile`) makes the gateway and DNS follow it.
 */
import { createHash } from "node:crypto";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { AccessPolicy } from "../access/policy.js";
import { type DnsRecord, dnsSettings } from "../backends/dns/records.js";
import { diffRecords, renderNsupdate } from "../backends/dns/zone.js";
import { endpointChange, previewText } from "../backends/endpoints/endpoints.js";
import {
  diffElements,
  type ElementDelta,
  type ElementSet,
  isEmptyDelta,
  renderDelta,
  renderTable,
  skeletonText,
} from "../backends/nftables/render.js";
import type { DiagnosticCode } from "../diagnostics/codes.js";
import { DiagnosticBag } from "../diagnostics/diagnostic.js";
import { SourceFile, span } from "../diagnostics/source.js";
import type { Catalog } from "../ns/catalog.js";
import type { Allocations } from "../plan/allocations.js";
import { nodeAddresses, type Plan, planAccess } from "../plan/plan.js";
import {
  connectEtcd,
  EtcdConflict,
  type EtcdSettings,
  EtcdStore,
  EtcdUnavailable,
  EtcdUnknown,
  etcdSettingsOf,
} from "../store/etcd.js";
import { hasLegacyState } from "../store/legacy.js";
import { type BlockEntry, type ExperimentState, type Index, type Pending, StateError } from "../store/schema.js";
import { DB_FILE, openReader, SqliteStore } from "../store/sqlite.js";
import { LockError, type Store, type StoreReader } from "../store/store.js";
import type { NodeAddresses, TestbedConfig } from "../testbed/config.js";
import { AUDIT_FILE, type AuditEntry, appendAudit, changeOf, cliUser } from "./audit.js";
import { blockElements } from "./blocks.js";
import { cutRevokedFlows } from "./conntrack.js";
import { pushDns, verifyChanges } from "./dns.js";
import { type GatewayWait, reportWait, waitForGateways } from "./gateways.js";
import { anyTable, applyTransaction, applyTransactionAsync, type Gateway, NftError, tableExists } from "./nft.js";
import { desiredElements, syncTables } from "./table.js";

export interface DeployContext {
  stateDir: string;
  testbed: TestbedConfig;
  /** The testbed catalog (testbed.yaml's catalog: or catalog_file:), for the NS file's checks. */
  catalog?: Catalog;
  gw: Gateway;
  dryRun: boolean;
  waitMs: number;
  bag: DiagnosticBag;
  /** What the command prints on standard output (the preview and the transaction in a dry run). */
  out: string[];
  /** A dry run with --json: each change goes here as one object rather than as text in `out`. */
  dryRunJson?: DryRunChange[];
  /**
   * Failpoints for the fault-injection tests (FWC_FAILPOINT): "after-pending", "after-nft" and "after-dns" kill
   * the process there; "invalid-ruleset" adds a line nft refuses to the transaction.
   */
  failpoint?: string;
  /** Who asks, for the audit log: `cli:<unix user>` by default, the user's name in the service. */
  who?: string;
  /** Wait for the store's lock by trying again (the service) rather than in SQLite. */
  lockPoll?: boolean;
  /** Told how long the lock took to get, in milliseconds (the service's metrics). */
  onLocked?: (ms: number) => void;
  /**
   * With the etcd store: how far the gateways got with the last change written (every live gateway at its
   * revision, or the ones not yet there). Set by the change; read by the service for 200 or 202.
   */
  gateways?: GatewayWait;
  /**
   * With the etcd store, a long-running process (the service) keeps its copy of the state between changes: it is
   * read again only when another controller wrote since (one small read tells).
   */
  etcdCache?: { store: EtcdStore | null };
}

/** A dry run's change, as --json prints it: the preview, the nft transaction, the nsupdate script. */
export interface DryRunChange {
  command: string;
  experiment: string;
  /** `exact` false: the state no longer plans to what the gateway has; the lines are as planned now. */
  endpoints: { remove: string[]; add: string[]; exact: boolean };
  nft: string;
  nsupdate: string;
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
  return {
    version: 1,
    experiments: {
      [exp]: mine,
      [OTHERS]: {
        ports: withoutRanges(index.ports, mine.ports).map((r) => ({ key: "", ...r })),
        dedicated: Object.entries(index.dedicated)
          .filter(([, owner]) => owner !== exp)
          .map(([address]) => ({ node: "", address })),
      },
    },
    released: index.released,
  };
}

/** Sorted, disjoint port ranges less some ports (a linear pass: no bitmap of the whole port space per change). */
export function withoutRanges(
  ranges: { port: number; portEnd: number }[],
  minus: { port: number; portEnd: number }[],
): { port: number; portEnd: number }[] {
  if (minus.length === 0) return ranges;
  const cut = [...minus].sort((a, b) => a.port - b.port);
  const out: { port: number; portEnd: number }[] = [];
  let j = 0;
  for (const r of ranges) {
    let from = r.port;
    while (j < cut.length && cut[j]!.portEnd < from) j++;
    for (let k = j; k < cut.length && cut[k]!.port <= r.portEnd && from <= r.portEnd; k++) {
      const c = cut[k]!;
      if (c.port > from) out.push({ port: from, portEnd: Math.min(r.portEnd, c.port - 1) });
      from = Math.max(from, c.portEnd + 1);
    }
    if (from <= r.portEnd) out.push({ port: from, portEnd: r.portEnd });
  }
  return out;
}

/** What an experiment claims on the gateway: its nodes' addresses, bridge ports and MACs. */
export const claimsOf = (s: { policy: { nodes: string[] }; nodes: NodeAddresses } | null): string[] =>
  s === null ? [] : nodeAddresses(s.policy.nodes, s.nodes).map((a) => a.address);

const sameClaims = (a: string[], b: string[]) => a.length === b.length && a.every((x, i) => x === b[i]);

/** Plans a desired experiment against the index: its plan, its new allocations and the quarantine queue. */
export function planDesired(
  ctx: DeployContext,
  exp: string,
  d: Desired,
  prev: ExperimentState | null,
  index: Index,
  file: SourceFile,
  store?: Store,
): { plan: Plan; allocations: ExperimentState["allocations"]; released: Index["released"] } | null {
  // An address belongs to one experiment: a second claim would let the two share (and remove) each other's rules.
  // Only a change of the experiment's claims (swapin, modify with new nodes) needs to look.
  const wanted = nodeAddresses(d.policy.nodes, d.nodes);
  const holders =
    store === undefined ||
    sameClaims(
      wanted.map((a) => a.address),
      claimsOf(prev),
    )
      ? new Map<string, string>()
      : store.claimHolders(wanted.map((a) => a.address));
  let claimed = false;
  for (const a of wanted) {
    const holder = holders.get(a.address);
    if (holder === undefined || holder === exp.toLowerCase()) continue;
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
export async function pushRecords(
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
 * What the store puts on the gateway, by owner: the blocklist's elements and each experiment's, with `before`
 * standing in for the named experiments' elements (an undo: an experiment absent there is added, one with no
 * elements left out) and `blocks` for the blocklist's.
 */
export function stateParts(
  store: StoreReader,
  override: { before?: Map<string, ElementSet>; blocks?: BlockEntry[] } = {},
): { owner: string; elements: ElementSet }[] {
  const blocks = override.blocks ?? store.readBlocks().entries;
  const parts = [{ owner: "the blocklist", elements: blockElements(blocks) }];
  const before = override.before ?? new Map<string, ElementSet>();
  for (const s of store.listExperiments())
    if (!before.has(s.experiment.toLowerCase())) parts.push({ owner: s.experiment, elements: s.applied.elements });
  for (const [owner, elements] of before) parts.push({ owner, elements });
  return parts;
}

/**
 * Puts the gateway's tables from `from` to `to` (one owner's elements: an experiment's, the blocklist's): an
 * element delta, or the whole tables (from the store, with `whole` giving every owner's elements) when the
 * gateway has none or their skeleton is not the one deployed (`base`, the digest the store keeps).
 */
export async function applyElements(
  ctx: DeployContext,
  base: string | null,
  from: ElementSet,
  to: ElementSet,
  what: string,
  whole: () => { owner: string; elements: ElementSet }[],
  /** diffElements(from, to) when the caller has it. */
  known?: ElementDelta,
): Promise<{ base: string }> {
  const digest = skeletonDigest(ctx.testbed);
  const writeWhole = () => {
    // No table yet (first use, gateway rebooted) or a new skeleton (testbed changed): write it all, atomically.
    applyTransaction(
      ctx.gw,
      renderTable(
        ctx.testbed,
        whole().map((p) => p.elements),
      ),
    );
    return { base: digest };
  };
  if (base !== digest) return writeWhole();
  const delta = known ?? diffElements(from, to);
  if (isEmptyDelta(delta)) return { base: digest };
  // A fault for the tests (FWC_FAILPOINT=invalid-ruleset): a transaction nft must refuse as a whole.
  const bad = ctx.failpoint === "invalid-ruleset" ? "add element inet fwc nosuchset { 192.0.2.1 }\n" : "";
  try {
    await applyTransactionAsync(ctx.gw, renderDelta(delta, what) + bad);
  } catch (e) {
    // A table is gone (the gateway rebooted, someone deleted it): the delta cannot apply, the whole tables can.
    if (e instanceof NftError && !e.unknown && !tableExists(ctx.gw)) return writeWhole();
    throw e;
  }
  return { base: digest };
}

/** A store write that failed before the gateway changed: the report, and the command's failure. */
function cannotWrite(ctx: DeployContext, e: unknown): false {
  if (!(e instanceof StateError)) throw e;
  report(ctx, "FWC802", ctx.stateDir, e.message, "nothing was changed");
  return false;
}

/**
 * A failpoint: "NAME" kills the process there; "pause-NAME" waits there until the file FWC_FAILPOINT_RELEASE
 * exists (at most 30 s), after writing FWC_FAILPOINT_RELEASE.paused, so that a test can act mid-change.
 */
const fail = async (p: string | undefined, name: string) => {
  if (p === name) process.kill(process.pid, "SIGKILL");
  const release = process.env.FWC_FAILPOINT_RELEASE;
  if (p !== `pause-${name}` || release === undefined) return;
  writeFileSync(`${release}.paused`, String(process.pid));
  for (let i = 0; i < 300 && !existsSync(release); i++) await new Promise((r) => setTimeout(r, 100));
};

/** Every record a change may put on the DNS server or take from it. */
const touched = (a: DnsRecord[], b: DnsRecord[]) => [...a, ...b];

/** One owner's part of a change: an experiment's (or the blocklist's) elements and DNS records, before and after. */
export interface OwnerChange {
  command: string;
  /** PID/EID, or "(blocklist)". */
  exp: string;
  from: ElementSet;
  to: ElementSet;
  fromRecords: DnsRecord[];
  toRecords: DnsRecord[];
  /** Who asked, for the audit log (the context's `who` when absent). */
  who?: string;
}

/** Elements of several owners as one set (owners' elements are disjoint: each holds its own ports and nodes). */
export function unionOf(sets: ElementSet[]): ElementSet {
  if (sets.length === 1) return sets[0]!;
  const out: ElementSet = {};
  // Appended in place: an agent joins every experiment of the testbed (copying each set for each owner would
  // be quadratic).
  for (const s of sets)
    for (const [name, es] of Object.entries(s)) {
      const list = out[name] ?? [];
      out[name] = list;
      for (const e of es) list.push(e);
    }
  return out;
}

/**
 * Makes changes that the command has written to the store (in its open transaction) real: the pending record,
 * the gateway (all of them in one nft transaction), DNS, then one commit; on failure everything is undone and
 * the transaction rolled back. `whole(undo)` gives every owner's elements for a whole-table write: the store's
 * (which holds the changes), or with `undo` the changed owners' elements before.
 */
async function makeReal(
  ctx: DeployContext,
  store: Store,
  changes: OwnerChange[],
  delta: ElementDelta,
  whole: (undo: boolean) => { owner: string; elements: ElementSet }[],
  /** The audit log's lines, when they are not one per change (several requests of one experiment). */
  lines?: OwnerChange[],
): Promise<boolean> {
  if (store instanceof EtcdStore) return publishChanges(ctx, store, changes, delta, lines);
  const one = changes.length === 1 ? changes[0]! : null;
  const command = one?.command ?? `batch of ${changes.length}`;
  const what = one === null ? command : `${one.command} ${one.exp}`;
  const from = unionOf(changes.map((c) => c.from));
  const to = unionOf(changes.map((c) => c.to));
  const base = store.readBase();
  const generation = store.generation() + 1;
  const named = changes.filter((c) => c.fromRecords.length + c.toRecords.length > 0);
  try {
    store.writePending({
      version: 1,
      command,
      experiment: one?.exp ?? "(batch)",
      generation,
      records: changes.flatMap((c) => touched(c.fromRecords, c.toRecords)),
      ...(one === null
        ? { batch: named.map((c) => ({ experiment: c.exp, records: touched(c.fromRecords, c.toRecords) })) }
        : {}),
      started: new Date().toISOString(),
    });
  } catch (e) {
    return cannotWrite(ctx, e);
  }
  await fail(ctx.failpoint, "after-pending");
  // The lock is only as good as the files it is on: deleted or replaced under this command, another command
  // would not wait for it.
  const replaced = () => {
    if (!store.filesReplaced()) return false;
    report(
      ctx,
      "FWC802",
      store.location,
      `${store.location} (or its -wal or -shm file) was deleted or replaced while fwc ran: another command would not have waited for this one`,
      "never delete SQLite's files while fwc may run; run fwc reconcile, then the command again",
    );
    return true;
  };
  if (replaced()) {
    store.dropPending(generation);
    return false;
  }
  let applied: { base: string };
  try {
    applied = await applyElements(ctx, base, from, to, what, () => whole(false), delta);
  } catch (e) {
    // nft refused the transaction: nothing was applied. nft killed or timed out: the kernel may have taken it,
    // and the pending record stays for the next command to put the gateway back to the store.
    if (!(e instanceof NftError) || !e.unknown) store.dropPending(generation);
    if (e instanceof NftError) {
      report(
        ctx,
        "FWC803",
        ctx.gw.netns ?? "gateway",
        e.message,
        e.unknown
          ? "the next fwc command (or fwc reconcile) puts the gateway back to what the store says"
          : "the gateway keeps its previous ruleset; fix the cause and run the command again",
      );
      return false;
    }
    throw e;
  }
  await fail(ctx.failpoint, "after-nft");
  const dns = await pushChanges(ctx, named, one === null);
  const undo = async () => {
    await applyElements(ctx, applied.base, to, from, `undo ${what}`, () => whole(true));
    await dns.undo();
  };
  const dnsProblems = dns.problems;
  if (dnsProblems.length > 0) {
    await undo();
    store.dropPending(generation);
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
  await fail(ctx.failpoint, "after-dns");
  if (replaced()) {
    await undo();
    store.dropPending(generation);
    return false;
  }
  try {
    store.putIndexMeta({ base: applied.base });
    store.commit();
  } catch (e) {
    // The store cannot take the change (disk full): undo it everywhere. The pending record stays when it cannot
    // be dropped; the next command then finds the gateway as the store says, which is what it checks.
    await undo();
    // Dropped while the lock is still held (a rollback releases it, and the next command may reuse the number).
    try {
      store.dropPending(generation);
    } catch {
      // left for the next command, which then finds the gateway as the store says
    }
    store.rollback();
    report(
      ctx,
      "FWC802",
      ctx.stateDir,
      `cannot write the state: ${(e as Error).message}`,
      "free space in the state directory; the gateway keeps its previous ruleset",
    );
    return false;
  }
  // The pending record stays: its generation is the store's now, which says the change is done (one write less
  // per change than dropping it).
  auditAll(ctx, changeLines(changes, delta, lines));
  return true;
}

/**
 * The audit lines of changes (one per change, or `lines` when several requests of one experiment were merged),
 * before the time and who are added: with one change, its element delta is `delta`.
 */
function changeLines(
  changes: OwnerChange[],
  delta: ElementDelta,
  lines: OwnerChange[] | undefined,
): (Omit<AuditEntry, "time" | "who"> & { who?: string })[] {
  const one = changes.length === 1 && lines === undefined;
  return (lines ?? changes).map((c) => ({
    command: c.command,
    experiment: c.exp === "(blocklist)" ? null : c.exp,
    ...(c.who === undefined ? {} : { who: c.who }),
    ...changeOf(one ? delta : diffElements(c.from, c.to), c.fromRecords, c.toRecords),
  }));
}

/** Audit entries with their time and who (the context's `who`, or the unix user, when the entry has none). */
function stamped(ctx: DeployContext, entries: (Omit<AuditEntry, "time" | "who"> & { who?: string })[]): AuditEntry[] {
  const time = new Date().toISOString();
  return entries.map((e) => ({ time, ...e, who: e.who ?? ctx.who ?? cliUser() }));
}

/**
 * Pushes the changes' DNS records one experiment after the other (each verified by query), stopping at the
 * first that fails: its problems (prefixed with the experiment when `several`), and how to undo what was pushed.
 */
async function pushChanges(
  ctx: DeployContext,
  named: OwnerChange[],
  several: boolean,
): Promise<{ problems: string[]; undo: () => Promise<void> }> {
  const pushed: OwnerChange[] = [];
  const problems: string[] = [];
  for (const c of named) {
    pushed.push(c);
    const ps = await pushRecords(ctx, c.exp, c.fromRecords, c.toRecords, true);
    problems.push(...ps.map((p) => (several ? `${c.exp}: ${p}` : p)));
    if (ps.length > 0) break;
  }
  return {
    problems,
    undo: async () => {
      for (const c of pushed) await pushRecords(ctx, c.exp, c.toRecords, c.fromRecords, false);
    },
  };
}

/**
 * makeReal with the etcd store: DNS first when the commands write it (verified by query, undone if the write to
 * etcd fails), then one etcd transaction with the audit lines (EtcdConflict when another controller wrote
 * since this one read: the caller reads again and plans again), then the wait for the gateways' agents.
 */
async function publishChanges(
  ctx: DeployContext,
  store: EtcdStore,
  changes: OwnerChange[],
  delta: ElementDelta,
  lines: OwnerChange[] | undefined,
): Promise<boolean> {
  const one = changes.length === 1 ? changes[0]! : null;
  store.auditLines = stamped(ctx, changeLines(changes, delta, lines));
  const dnsByCommand = store.settings.dns === "command";
  const named = dnsByCommand ? changes.filter((c) => c.fromRecords.length + c.toRecords.length > 0) : [];
  const { problems: dnsProblems, undo: undoDns } = await pushChanges(ctx, named, one === null);
  if (dnsProblems.length > 0) {
    await undoDns();
    for (const p of dnsProblems)
      report(
        ctx,
        "FWC805",
        "dns",
        p,
        "etcd, the gateways and DNS keep their previous state; fix DNS and run the command again",
      );
    return false;
  }
  let revision: string | null;
  try {
    revision = await store.publish();
  } catch (e) {
    if (e instanceof EtcdUnknown) {
      // The change may be in etcd: its DNS names stay, and nothing says it was not made.
      report(
        ctx,
        "FWC830",
        store.location,
        `etcd did not confirm the write, which may or may not have been made: ${e.message}`,
        "fwc status shows whether the change is there; run the command again if it is not",
      );
      return false;
    }
    await undoDns();
    if (e instanceof EtcdUnavailable) {
      report(
        ctx,
        "FWC830",
        store.location,
        e.message,
        "nothing was changed; check that etcd runs and is reachable, then run the command again",
      );
      return false;
    }
    throw e;
  }
  if (revision === null) return true;
  ctx.gateways = await waitForGateways(store.client, store.settings, revision, ctx.waitMs);
  reportWait(ctx, ctx.gateways);
  return true;
}

/** Appends to the audit log; a change that could not be written there is reported, not undone. */
export function audit(ctx: DeployContext, entry: Omit<AuditEntry, "time" | "who">): void {
  auditAll(ctx, [entry]);
}

function auditAll(ctx: DeployContext, entries: (Omit<AuditEntry, "time" | "who"> & { who?: string })[]): void {
  try {
    appendAudit(ctx.stateDir, stamped(ctx, entries));
  } catch (e) {
    report(
      ctx,
      "FWC816",
      join(ctx.stateDir, AUDIT_FILE),
      `the change was made, but not written to the audit log: ${(e as Error).message}`,
      "free space or fix the file; the store and the gateway have the change",
    );
  }
}

/** A change of one experiment, as written to the store: `next` null removes it (swapout). */
export interface ExperimentChange {
  command: string;
  exp: string;
  prev: ExperimentState | null;
  next: ExperimentState | null;
  released: Index["released"];
  /** Who asked, for the audit log (the service's user; the context's `who` when absent). */
  who?: string;
  /** A dry run's preview: the experiment's endpoint lines before and after (endpointLines). */
  endpoints?: { before: string[]; after: string[]; exact: boolean };
}

/** Writes a change's rows (step 3): false when the store refuses them (reported; nothing written). */
export function writeChange(ctx: DeployContext, store: Store, c: ExperimentChange): boolean {
  try {
    store.putExperiment(c.exp, c.next);
    store.putIndexMeta({ released: c.released });
    return true;
  } catch (e) {
    return cannotWrite(ctx, e);
  }
}

/**
 * Makes changes already written to the store (writeChange) real, all in one nft transaction and one commit
 * (steps 4-8 above): the service's batch of grants, or one command's change. Returns false when they failed
 * (the problem is in ctx.bag; nothing changed: the caller's transaction is rolled back).
 */
export async function applyChanges(ctx: DeployContext, store: Store, changes: ExperimentChange[]): Promise<boolean> {
  const partOf = (c: ExperimentChange): OwnerChange => ({
    command: c.command,
    exp: c.exp,
    from: c.prev?.applied.elements ?? {},
    to: c.next?.applied.elements ?? {},
    fromRecords: c.prev?.applied.records ?? [],
    toRecords: c.next?.applied.records ?? [],
    ...(c.who === undefined ? {} : { who: c.who }),
  });
  // Several changes of one experiment in a batch (each planned on the one before): the gateway goes from the
  // first one's before to the last one's after; the audit log still has a line for each.
  const byExp = new Map<string, OwnerChange>();
  for (const c of changes) {
    const key = c.exp.toLowerCase();
    const had = byExp.get(key);
    const p = partOf(c);
    byExp.set(key, had === undefined ? p : { ...had, to: p.to, toRecords: p.toRecords });
  }
  const parts = [...byExp.values()];
  const lines = byExp.size === changes.length ? undefined : changes.map(partOf);
  const from = unionOf(parts.map((p) => p.from));
  const to = unionOf(parts.map((p) => p.to));
  const delta = diffElements(from, to);
  if (ctx.dryRun) {
    for (const p of parts) {
      const d = parts.length === 1 ? delta : diffElements(p.from, p.to);
      const nft = isEmptyDelta(d)
        ? "# fwc: no change to the gateway's table\n"
        : renderDelta(d, `${p.command} ${p.exp} (dry run)`);
      const dns = dnsServer(ctx.testbed);
      const records = diffRecords(p.fromRecords, p.toRecords);
      const nsupdate = dns !== null && records.length > 0 ? renderNsupdate(dns.settings, p.exp, records) : "";
      // The preview: the first change's endpoints before, the last one's after.
      const mine = changes.filter((c) => c.exp.toLowerCase() === p.exp.toLowerCase());
      const before = mine[0]?.endpoints?.before ?? [];
      const after = mine[mine.length - 1]?.endpoints?.after ?? [];
      const exact = mine.every((c) => c.endpoints?.exact !== false);
      const endpoints = { ...endpointChange(before, after), exact };
      if (ctx.dryRunJson !== undefined)
        ctx.dryRunJson.push({ command: p.command, experiment: p.exp, endpoints, nft, nsupdate });
      else {
        const kept = after.length - endpoints.add.length;
        ctx.out.push(previewText(`${p.command} ${p.exp}`, endpoints, kept), nft, nsupdate);
      }
    }
    return true;
  }
  const before = new Map(parts.map((p) => [p.exp.toLowerCase(), p.from]));
  const ok = await makeReal(
    ctx,
    store,
    parts,
    delta,
    (undo) => (undo ? stateParts(store, { before }) : stateParts(store)),
    lines,
  );
  if (!ok) return false;
  // Only a change that removes elements can revoke a flow (with etcd, each gateway's agent cuts its own).
  if (Object.keys(delta.remove).length > 0 && !(store instanceof EtcdStore)) {
    const cut = cutRevokedFlows(ctx.gw, from, to);
    if (cut.problem !== undefined) report(ctx, "FWC809", ctx.gw.netns ?? "gateway", cut.problem);
  }
  return true;
}

/**
 * The change of one experiment (steps 3-8 above). `next` null removes the experiment. Returns the new state, or
 * false when the change failed (the problem is in ctx.bag and nothing changed).
 */
export async function commitChange(
  ctx: DeployContext,
  store: Store,
  command: string,
  exp: string,
  prev: ExperimentState | null,
  next: ExperimentState | null,
  released: Index["released"],
  endpoints?: ExperimentChange["endpoints"],
): Promise<ExperimentState | null | false> {
  const c: ExperimentChange = { command, exp, prev, next, released, ...(endpoints ? { endpoints } : {}) };
  if (!writeChange(ctx, store, c)) return false;
  return (await applyChanges(ctx, store, [c])) ? next : false;
}

/** The blocklist's change (block, unblock): its rows, then the gateway, in one transaction like any change. */
export async function commitBlocks(
  ctx: DeployContext,
  store: Store,
  command: string,
  previous: BlockEntry[],
  entries: BlockEntry[],
): Promise<boolean> {
  try {
    store.putBlocks({ version: 1, entries });
  } catch (e) {
    return cannotWrite(ctx, e);
  }
  const from = blockElements(previous);
  const to = blockElements(entries);
  const change = { command, exp: "(blocklist)", from, to, fromRecords: [], toRecords: [] };
  return makeReal(ctx, store, [change], diffElements(from, to), (undo) =>
    stateParts(store, undo ? { blocks: previous } : {}),
  );
}

/**
 * After a crash mid-change (a pending record whose generation the store never reached): the gateway's tables
 * are made exactly what the store says, then the changed experiment's DNS names. A pending record of a change
 * that committed is only dropped.
 */
export async function recover(ctx: DeployContext, store: Store): Promise<void> {
  const p = store.readPending();
  if (p === null || p.generation <= store.generation()) return;
  const digest = skeletonDigest(ctx.testbed);
  const synced = syncTables(ctx.gw, ctx.testbed, desiredElements(ctx.testbed, stateParts(store)), {
    whole: store.readBase() !== digest,
  });
  audit(ctx, { command: "recover", experiment: null, added: [], removed: [], changed: synced.changed });
  store.putIndexMeta({ base: digest });
  const named =
    p.batch ??
    (p.experiment !== "(blocklist)" && p.experiment !== "(unknown)" && p.records.length > 0
      ? [{ experiment: p.experiment, records: p.records }]
      : []);
  for (const x of named) {
    // The names the change may have touched go, then the store's records are written again.
    const now = store.readExperiment(x.experiment)?.applied.records ?? [];
    await pushRecords(ctx, x.experiment, x.records, [], false);
    await rewriteRecords(ctx, x.experiment, now);
  }
  store.dropPending(p.generation);
  report(
    ctx,
    "FWC808",
    join(ctx.stateDir, DB_FILE),
    `the store does not have the last change, \`${p.command}\` of ${p.experiment} started ${p.started} (interrupted, or the store was restored from an older copy): the gateway was put back to what the store says`,
    "run that command again if it is still wanted",
  );
}

/** State and gateway problems as reports; true when `e` was one. */
function reportProblem(ctx: DeployContext, e: unknown): boolean {
  if (e instanceof LockError) report(ctx, "FWC804", ctx.stateDir, e.message);
  else if (e instanceof StateError)
    report(ctx, "FWC802", ctx.stateDir, e.message, "nothing was changed on the gateway");
  else if (e instanceof NftError) report(ctx, "FWC803", ctx.gw.netns ?? "gateway", e.message);
  else if (e instanceof Abort) return true;
  else if ((e as NodeJS.ErrnoException).code !== undefined)
    report(
      ctx,
      "FWC802",
      ctx.stateDir,
      `cannot use the state directory: ${(e as Error).message}`,
      "free space or fix permissions in the state directory; nothing was changed",
    );
  else return false;
  return true;
}

/**
 * A store that is about to be made while the gateway has fwc's tables: the state was lost, or this is not the
 * gateway's state directory. Starting empty would drop every experiment's rules at the next whole-table write.
 */
function refuseLostState(ctx: DeployContext): void {
  if (hasLegacyState(ctx.stateDir)) return;
  let there = false;
  try {
    there = anyTable(ctx.gw);
  } catch {
    return; // no nft to ask (a dry run off the gateway): the first change finds out
  }
  if (there)
    throw new StateError(
      `${ctx.stateDir} holds no state, but the gateway has fwc's tables: the state was lost, or this is not the gateway's --state. Restore the state directory, or, to start empty, delete fwc's tables first (nft delete table inet fwc; nft delete table bridge fwc)`,
    );
}

/**
 * Takes the store's write lock. The CLI waits in SQLite (its busy timeout); the service (`ctx.lockPoll`) tries
 * without waiting and sleeps between tries, so that its event loop keeps answering while a command holds it.
 */
async function take(ctx: DeployContext, store: Store): Promise<void> {
  const start = performance.now();
  if (ctx.lockPoll !== true) store.begin(ctx.waitMs);
  else
    for (let pause = 2; ; pause = Math.min(50, pause * 2))
      try {
        store.begin(0);
        break;
      } catch (e) {
        const waited = performance.now() - start;
        if (!(e instanceof LockError) || waited >= ctx.waitMs) {
          if (e instanceof LockError)
            throw new LockError(
              `another fwc holds the write lock of ${store.location}; waited ${Math.round(waited / 1000)} s. Try again when it is done`,
            );
          throw e;
        }
        await sleep(Math.min(pause, ctx.waitMs - waited));
      }
  ctx.onLocked?.(performance.now() - start);
}

/**
 * Runs a change command's `body` in one transaction of the store, holding its write lock, after putting the
 * gateway back in step with the store if an earlier fwc died mid-change. Whatever `body` did not commit is
 * rolled back. State and nft problems become reports. `create`: the command may make the store (swapin,
 * block); the others, and every dry run, never make or migrate one (a dry run works on a copy in memory).
 */
export async function withState<T>(
  ctx: DeployContext,
  body: (store: Store) => Promise<T>,
  options: { recover?: boolean; create?: boolean } = {},
): Promise<T | null> {
  const etcd = etcdSettingsOf(ctx.testbed);
  if (etcd !== null) return withEtcd(ctx, etcd, body);
  let store: SqliteStore | null = null;
  try {
    store = SqliteStore.open(ctx.stateDir, claimsOf, {
      // A directory of the old layout is migrated by any change command (a dry run reads a copy in memory).
      create: (options.create === true || hasLegacyState(ctx.stateDir)) && !ctx.dryRun,
      waitMs: ctx.waitMs,
      beforeCreate: () => refuseLostState(ctx),
    });
    // No store: nothing is swapped in. A dry run (or a command that finds nothing to change) works on a store
    // in memory holding what the old layout holds, if anything; a stray --state is not made a directory.
    if (store === null) {
      // Without a store, a reconcile would empty the gateway: the same check as before making one.
      if (!ctx.dryRun) refuseLostState(ctx);
      store = SqliteStore.scratch(ctx.stateDir, claimsOf);
    }
    for (const n of store.notes) report(ctx, "FWC815", store.location, n, "see docs/deploy.md, Upgrading");
    await take(ctx, store);
    if (options.recover !== false && !ctx.dryRun) await recover(ctx, store);
    return await body(store);
  } catch (e) {
    if (!reportProblem(ctx, e)) throw e;
    return null;
  } finally {
    store?.close();
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** How many times a change is planned again when other controllers keep writing first. */
const ETCD_TRIES = 30;

/**
 * withState on etcd: `body` runs on a copy of the state read at one revision; its write fails when another
 * controller wrote since (EtcdConflict), and then it runs again on a fresh read (what it reported the first time
 * is dropped), up to ETCD_TRIES times.
 */
async function withEtcd<T>(
  ctx: DeployContext,
  settings: EtcdSettings,
  body: (store: Store) => Promise<T>,
): Promise<T | null> {
  const cache = ctx.etcdCache;
  let store: EtcdStore | null = cache?.store ?? null;
  let client: Awaited<ReturnType<typeof connectEtcd>> | null = null;
  try {
    for (let attempt = 1; ; attempt++) {
      const items = ctx.bag.items.length;
      const outs = ctx.out.length;
      const start = performance.now();
      if (store === null) {
        client = await connectEtcd(settings);
        store = await EtcdStore.open(client, settings, claimsOf);
        if (cache !== undefined) cache.store = store;
      } else if (attempt > 1) await store.reload();
      else await store.refresh();
      store.begin(0);
      ctx.onLocked?.(performance.now() - start);
      try {
        return await body(store);
      } catch (e) {
        if (!(e instanceof EtcdConflict)) throw e;
        if (attempt >= ETCD_TRIES) {
          report(
            ctx,
            "FWC831",
            store.location,
            `other controllers changed the state first ${attempt} times in a row; nothing was changed`,
            "run the command again",
          );
          return null;
        }
        ctx.bag.truncate(items);
        ctx.out.length = outs;
        await sleep(Math.random() * 5 * attempt);
      } finally {
        // What the body did not publish is dropped (the copy in memory stays what etcd holds).
        if (store.inTransaction) store.rollback();
      }
    }
  } catch (e) {
    if (e instanceof EtcdUnavailable)
      report(
        ctx,
        "FWC830",
        `etcd ${settings.endpoints.join(",")}`,
        e.message,
        "nothing was changed; check that etcd runs and is reachable, then run the command again",
      );
    else if (!reportProblem(ctx, e)) throw e;
    return null;
  } finally {
    // A cached store (and its client) lives on for the next change; one made for this command goes.
    if (cache === undefined) {
      store?.close();
      client?.close();
    }
  }
}

/**
 * Runs a command that only reads (status, blocks) without the write lock, never making a store. `body` runs
 * with a context of its own and may run again: its result counts when the store did not change while it ran
 * and no change was under way (a change touches the gateway before it commits), so that a comparison of the
 * gateway with the store never reports a change in flight as drift. After a few tries it waits for the lock.
 */
export async function withReader<T>(
  ctx: DeployContext,
  body: (store: StoreReader, pending: Pending | null, c: DeployContext) => Promise<T>,
): Promise<T | null> {
  const etcd = etcdSettingsOf(ctx.testbed);
  if (etcd !== null) {
    // One read at one revision: consistent by itself, and nothing is ever pending.
    const client = await connectEtcd(etcd);
    let store: EtcdStore | null = null;
    try {
      store = await EtcdStore.open(client, etcd, claimsOf);
      return await body(store, null, ctx);
    } catch (e) {
      if (e instanceof EtcdUnavailable)
        report(ctx, "FWC830", `etcd ${etcd.endpoints.join(",")}`, e.message, "check that etcd runs and is reachable");
      else if (!reportProblem(ctx, e)) throw e;
      return null;
    } finally {
      store?.close();
      client.close();
    }
  }
  for (let attempt = 0; ; attempt++) {
    const c: DeployContext = { ...ctx, bag: new DiagnosticBag(ctx.bag.limit), out: [] };
    let reader: StoreReader | null = null;
    let ok = false;
    let result: T | null = null;
    try {
      const last = attempt >= 5;
      reader = openReader(ctx.stateDir, claimsOf, { lock: last });
      const store = reader instanceof SqliteStore ? reader : null;
      if (store !== null && last) store.begin(ctx.waitMs);
      const before = store?.generation() ?? 0;
      const p = store?.readPending() ?? null;
      const pending = p !== null && p.generation > before ? p : null;
      result = await body(reader, pending, c);
      // Still the same store, and no change in flight: a pending record ahead of the store is a change under way
      // if its command holds the lock, or a crash's if nobody does. One that appeared while `body` ran is looked
      // at again.
      const after = store?.readPending() ?? null;
      const aheadAfter = after !== null && after.generation > before;
      ok =
        store === null ||
        last ||
        (store.generation() === before &&
          (!aheadAfter || (pending !== null && after.generation === pending.generation && !writerActive(ctx))));
    } catch (e) {
      if (!reportProblem(c, e)) throw e;
      ok = true;
    } finally {
      reader?.close();
    }
    if (ok) {
      for (const d of c.bag.items) ctx.bag.add(d.code, d.span, d.message, d.help, d.related);
      ctx.out.push(...c.out);
      return result;
    }
    await sleep(20 + 30 * attempt);
  }
}

/** Whether a command holds the store's write lock now (false when it cannot be told: a read-only store). */
function writerActive(ctx: DeployContext): boolean {
  let probe: SqliteStore | null = null;
  try {
    probe = SqliteStore.open(ctx.stateDir, claimsOf, { create: false, waitMs: 0 });
    if (probe === null) return false;
    probe.begin(0);
    return false;
  } catch (e) {
    return e instanceof LockError;
  } finally {
    probe?.close();
  }
}
