/**
 * The etcd store (docs/etcd.md): the desired state of every gateway in etcd 3.4, so that several gateways follow
 * one state, each through its own `fwc agent`.
 *
 * Keys under the store's prefix (default "/fwc/"):
 *   experiments/<pid>/<eid>   an experiment's record (JSON, the embedded store's record)
 *   blocks                    the operator's blocklist (JSON)
 *   meta                      the quarantine of released ports (JSON)
 *   generation                the number of changes made; every change compares its revision (below)
 *   audit/<generation>        the audit lines of that change (JSON lines)
 *   gateways/<name>           what an agent reports: the revision applied, and whether it is stale (on its lease)
 *   dns-writer                held (on its lease) by the one agent that writes DNS, when the agents do
 *
 * A command works on a copy of the state in memory (an embedded store in memory, loaded from one read of the
 * prefix at one revision), so that planning is the same code as on one gateway. Its changes are then written in
 * one etcd transaction that compares the `generation` key's revision with the one read: when another controller
 * changed anything since, the transaction fails as a whole and the command reads again and plans again. So two
 * controllers never hand out the same port, address or node, and a controller killed mid-change leaves nothing
 * half-written. A key per port compared one by one was tried first; etcd allows 128 operations per transaction
 * (--max-txn-ops), and one identity range can be thousands of ports.
 */
import { randomUUID } from "node:crypto";
import { noop } from "cockatiel";
import type { Etcd3, IKeyValue } from "etcd3";
import ipaddr from "ipaddr.js";
import * as z from "zod/mini";
import { ReleasedPorts } from "../plan/allocations.js";
import type { TestbedConfig } from "../testbed/config.js";
import {
  type Blocks,
  Blocks as BlocksSchema,
  ExperimentState,
  type Index,
  isExperimentName,
  type Pending,
  StateError,
} from "./schema.js";
import { type ClaimsOf, SqliteStore } from "./sqlite.js";
import type { Store } from "./store.js";

export interface EtcdSettings {
  endpoints: string[];
  prefix: string;
  /** Who writes DNS: the command (default) or the one agent started with --dns. */
  dns: "command" | "agent";
}

/** Thrown by a write whose transaction lost to another controller's: read again and plan again. */
export class EtcdConflict extends Error {}
/** etcd could not be reached, or refused a request: nothing was written. */
export class EtcdUnavailable extends Error {}
/** etcd did not answer a write: it may have been made, or not (fwc status tells). */
export class EtcdUnknown extends Error {}

/**
 * A client with deadlines: a call to an etcd that does not answer fails within `timeoutMs`. The client library
 * (gRPC) is loaded here, only by commands that use etcd.
 */
export async function connectEtcd(s: Pick<EtcdSettings, "endpoints">, timeoutMs = 5000): Promise<Etcd3> {
  // In the CommonJS bundles (loaded through a vm.Script, where import() is not available) it is required; in ES
  // modules (the tests), imported.
  const { Etcd3 } = (
    typeof require === "function" ? require("etcd3") : await import("etcd3")
  ) as typeof import("etcd3");
  return new Etcd3({
    hosts: s.endpoints,
    dialTimeout: timeoutMs,
    // No retries by the client: a write it sent again after a lost answer would look like another
    // controller's (its condition fails), and a call must fail within its deadline, not three times it.
    faultHandling: { global: noop, host: () => noop },
    defaultCallOptions: (c) => (c.isStream ? {} : { deadline: Date.now() + timeoutMs }),
    grpcOptions: { "grpc.max_receive_message_length": 512 * 1024 * 1024 },
  });
}

/** The message of an etcd client error, for a diagnostic. */
export const etcdProblem = (s: Pick<EtcdSettings, "endpoints">, e: unknown): string =>
  `cannot use etcd at ${s.endpoints.join(", ")}: ${(e as Error).message?.split("\n")[0] ?? String(e)}`;

/** Runs an etcd call; a client error becomes EtcdUnavailable. */
export async function etcdCall<T>(s: Pick<EtcdSettings, "endpoints">, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (e instanceof EtcdConflict || e instanceof StateError || e instanceof EtcdUnknown) throw e;
    throw new EtcdUnavailable(etcdProblem(s, e));
  }
}

export const keys = (prefix: string) => ({
  experiment: (exp: string) => `${prefix}experiments/${exp.toLowerCase()}`,
  experiments: `${prefix}experiments/`,
  blocks: `${prefix}blocks`,
  meta: `${prefix}meta`,
  generation: `${prefix}generation`,
  audit: (generation: number) => `${prefix}audit/${String(generation).padStart(12, "0")}`,
  gateways: `${prefix}gateways/`,
  gateway: (name: string) => `${prefix}gateways/${name}`,
  dnsWriter: `${prefix}dns-writer`,
});

const Meta = z.object({ released: z.array(ReleasedPorts) });

/** The store's prefix of a key under experiments/ (what comes before the last "experiments/"). */
const prefixOf = (key: string) => key.slice(0, key.lastIndexOf("experiments/"));

/** A record read from etcd, checked: a damaged or foreign value is refused with its key, never taken for data. */
export function parseRecord(key: string, value: string): ExperimentState {
  let raw: unknown;
  try {
    raw = JSON.parse(value);
  } catch {
    throw new StateError(`etcd key ${key} is not JSON: it was not written by fwc, or was damaged`);
  }
  const r = ExperimentState.safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new StateError(`etcd key ${key}: ${i.path.join(".") || "(record)"}: ${i.message}`);
  }
  const exp = r.data.experiment.toLowerCase();
  // Exactly its own key: a copy under another key would stand for it (and hide or undo its changes).
  if (!isExperimentName(exp) || key !== keys(prefixOf(key)).experiment(exp))
    throw new StateError(`etcd key ${key} holds the record of experiment "${r.data.experiment}"`);
  return r.data;
}

export function parseBlocks(key: string, value: string | null): Blocks {
  if (value === null) return { version: 1, entries: [] };
  let blocks: Blocks;
  try {
    blocks = BlocksSchema.parse(JSON.parse(value));
  } catch {
    throw new StateError(`etcd key ${key} is not a blocklist written by fwc`);
  }
  // The networks go into the gateways' sets: each must be a network as fwc writes it (address/length).
  for (const e of blocks.entries) {
    const ok =
      /^[0-9A-Fa-f:.]{2,45}\/[0-9]{1,3}$/.test(e.cidr) &&
      ipaddr.isValidCIDR(e.cidr) &&
      (e.portEnd === undefined || (e.port !== undefined && e.port <= e.portEnd));
    if (!ok) throw new StateError(`etcd key ${key}: "${e.cidr.slice(0, 80)}" is not a blocklist entry fwc writes`);
  }
  return blocks;
}

/** What one read of the prefix gave: the raw values, at one revision. */
export interface Snapshot {
  revision: string;
  /** The generation key's value and revision (0 and "0" when absent). */
  generation: number;
  generationMod: string;
  records: Map<string, string>;
  blocks: string | null;
  meta: string | null;
}

/** Reads the state's keys at one revision (one range request). */
export async function readSnapshot(client: Etcd3, s: EtcdSettings): Promise<Snapshot> {
  const k = keys(s.prefix);
  // The experiments (one range), then the few other keys at the same revision: the audit log and the agents'
  // reports are not read.
  const r = await etcdCall(s, () => client.getAll().prefix(k.experiments).exec());
  const others = await etcdCall(s, () =>
    Promise.all([k.blocks, k.meta, k.generation].map((key) => client.get(key).revision(r.header.revision).exec())),
  );
  const value = (i: number) => others[i]!.kvs[0]?.value.toString() ?? null;
  const gen = others[2]!.kvs[0];
  const snap: Snapshot = {
    revision: r.header.revision,
    generation: gen === undefined ? 0 : Number(gen.value.toString().split(" ")[0]) || 0,
    generationMod: gen?.mod_revision ?? "0",
    records: new Map(),
    blocks: value(0),
    meta: value(1),
  };
  for (const kv of r.kvs) snap.records.set(kv.key.toString(), kv.value.toString());
  return snap;
}

/**
 * A store on etcd: an embedded store in memory holding a snapshot, whose changes `publish` writes to etcd. The
 * synchronous Store interface is the in-memory copy's; what only etcd can do (read, write) is asynchronous and
 * done before and after the command's planning.
 */
export class EtcdStore implements Store {
  readonly location: string;
  readonly notes: string[] = [];
  readonly scratch = false;
  private inner: SqliteStore;
  /** Each experiment's record as read (lower-case name → JSON), to know what a change wrote. */
  private seen = new Map<string, string>();
  private touched = new Set<string>();
  private blocksSeen: string | null = null;
  private metaSeen: string | null = null;
  private gen = 0;
  private genMod = "0";
  /** The audit lines of the change being made, written with it. */
  auditLines: object[] = [];

  private constructor(
    readonly client: Etcd3,
    readonly settings: EtcdSettings,
    private readonly claimsOf: ClaimsOf,
  ) {
    this.location = `etcd ${settings.endpoints.join(",")} ${settings.prefix}`;
    this.inner = SqliteStore.scratch("/nonexistent-fwc-etcd", claimsOf);
  }

  /** Opens the store: reads the prefix once. */
  static async open(client: Etcd3, settings: EtcdSettings, claimsOf: ClaimsOf): Promise<EtcdStore> {
    const store = new EtcdStore(client, settings, claimsOf);
    await store.reload();
    return store;
  }

  /** The revision of etcd that the copy in memory holds. */
  revision = "0";

  /** The revision of the last change written (0 before the first): where every gateway should be. */
  get changeRevision(): string {
    return this.genMod;
  }

  /** Reads the prefix again into a fresh copy in memory (another controller changed it). */
  async reload(): Promise<void> {
    const snap = await readSnapshot(this.client, this.settings);
    this.load(snap);
  }

  /** Reads the prefix again only when another controller changed the state since it was read (one small read). */
  async refresh(): Promise<void> {
    const r = await etcdCall(this.settings, () => this.client.get(keys(this.settings.prefix).generation).exec());
    if ((r.kvs[0]?.mod_revision ?? "0") !== this.genMod) await this.reload();
  }

  private load(snap: Snapshot): void {
    const fresh = SqliteStore.scratch("/nonexistent-fwc-etcd", this.claimsOf);
    const seen = new Map<string, string>();
    try {
      fresh.begin(0);
      for (const [key, value] of snap.records) {
        const state = parseRecord(key, value);
        fresh.putExperiment(state.experiment, state);
        seen.set(state.experiment.toLowerCase(), value);
      }
      fresh.putBlocks(parseBlocks(keys(this.settings.prefix).blocks, snap.blocks));
      if (snap.meta !== null) {
        const m = Meta.safeParse(JSON.parse(snap.meta));
        if (!m.success) throw new StateError(`etcd key ${keys(this.settings.prefix).meta} was not written by fwc`);
        fresh.putIndexMeta({ released: m.data.released });
      }
      fresh.commit();
    } catch (e) {
      fresh.close();
      if (e instanceof SyntaxError) throw new StateError(`etcd key ${keys(this.settings.prefix).meta} is not JSON`);
      throw e;
    }
    this.inner.close();
    this.inner = fresh;
    this.seen = seen;
    this.blocksSeen = snap.blocks;
    this.metaSeen = snap.meta;
    this.gen = snap.generation;
    this.genMod = snap.generationMod;
    this.revision = snap.revision;
    this.touched.clear();
    this.auditLines = [];
  }

  /**
   * Writes what the open transaction changed to etcd, in transactions of at most `chunk` experiments, the first
   * comparing the generation with the one read (EtcdConflict when another controller wrote since), each next
   * one with the one before. Then commits the copy in memory. Returns the revision of the last write (the one
   * the gateways must reach), or null when nothing changed.
   */
  async publish(chunk = 110): Promise<string | null> {
    const k = keys(this.settings.prefix);
    // The blocklist and meta first, so that a write in parts never has a part the agents do not watch.
    const puts: { key: string; value: string | null }[] = [];
    const records: { key: string; value: string | null }[] = [];
    for (const exp of this.touched) {
      const state = this.inner.readExperiment(exp);
      const value = state === null ? null : JSON.stringify(state);
      if (value !== (this.seen.get(exp) ?? null)) records.push({ key: k.experiment(exp), value });
    }
    const blocks = JSON.stringify(this.inner.readBlocks());
    const blocksNow = this.blocksSeen === null && this.inner.readBlocks().entries.length === 0 ? null : blocks;
    if (blocksNow !== this.blocksSeen) puts.push({ key: k.blocks, value: blocksNow });
    const meta = JSON.stringify({ released: this.inner.readIndex().released });
    const metaNow = this.metaSeen === null && meta === JSON.stringify({ released: [] }) ? null : meta;
    if (metaNow !== this.metaSeen && puts.length + records.length > 0) puts.unshift({ key: k.meta, value: metaNow });
    puts.push(...records);
    if (puts.length === 0) {
      this.inner.commit();
      this.touched.clear();
      return null;
    }
    let mod = this.genMod;
    let gen = this.gen;
    let revision = this.revision;
    for (let i = 0; i < puts.length; i += chunk) {
      const part = puts.slice(i, i + chunk);
      gen++;
      // The generation's value names this write, so that a write whose answer was lost can be recognised.
      const id = randomUUID();
      const ops = [
        this.client.put(k.generation).value(`${gen} ${id}`),
        ...part.map((p) =>
          p.value === null ? this.client.delete().key(p.key) : this.client.put(p.key).value(p.value),
        ),
      ];
      if (i + chunk >= puts.length && this.auditLines.length > 0)
        ops.push(this.client.put(k.audit(gen)).value(this.auditLines.map((l) => JSON.stringify(l)).join("\n")));
      const txn =
        mod === "0" ? this.client.if(k.generation, "Create", "==", 0) : this.client.if(k.generation, "Mod", "==", mod);
      let r: Awaited<ReturnType<typeof txn.commit>>;
      try {
        r = await etcdCall(this.settings, () => txn.then(...ops).commit());
      } catch (e) {
        // Never sent (no connection): not made.
        if (i === 0 && /ECONNREFUSED|No connection established|Failed to connect|ENOTFOUND/.test(String(e))) throw e;
        // No answer: the write may have been made. etcd is asked whether the generation is this write's.
        const made = await this.madeBy(id, mod);
        if (made === null) throw new EtcdUnknown((e as Error).message);
        if (made === false) {
          if (i === 0) throw e;
          throw new EtcdUnknown(`${(e as Error).message}; ${i} of ${puts.length} keys were written`);
        }
        r = { succeeded: true, header: { revision: made } } as typeof r;
      }
      if (!r.succeeded) {
        if (i > 0)
          throw new EtcdUnknown(
            `another controller wrote to etcd while this change was written in parts: ${i} of ${puts.length} keys were written`,
          );
        throw new EtcdConflict("another controller changed the state since it was read");
      }
      mod = r.header.revision;
      revision = r.header.revision;
    }
    // The copy in memory is now what etcd holds.
    this.inner.commit();
    for (const p of puts) {
      if (!p.key.startsWith(k.experiments)) continue;
      const exp = p.key.slice(k.experiments.length);
      if (p.value === null) this.seen.delete(exp);
      else this.seen.set(exp, p.value);
    }
    this.blocksSeen = blocksNow;
    this.metaSeen = metaNow;
    this.gen = gen;
    this.genMod = mod;
    this.revision = revision;
    this.touched.clear();
    this.auditLines = [];
    return revision;
  }

  /**
   * After a write whose answer was lost: the revision at which it was made (the generation's value is this
   * write's); false when it can never be made (another write changed the generation it compared); null when
   * it cannot be told (the generation is still the one it compared, and the write may still be on its way, or
   * etcd does not answer).
   */
  private async madeBy(id: string, compared: string): Promise<string | false | null> {
    try {
      const r = await this.client
        .get(keys(this.settings.prefix).generation)
        .options({ deadline: Date.now() + 2000 })
        .exec();
      const kv = r.kvs[0];
      if (kv?.value.toString().endsWith(` ${id}`)) return kv.mod_revision;
      return (kv?.mod_revision ?? "0") !== compared ? false : null;
    } catch {
      return null;
    }
  }

  // The Store interface: the copy in memory.
  readIndex(): Index {
    return this.inner.readIndex();
  }
  readExperiment(exp: string): ExperimentState | null {
    return this.inner.readExperiment(exp);
  }
  listExperiments(): ExperimentState[] {
    return this.inner.listExperiments();
  }
  listExpiring(): ExperimentState[] {
    return this.inner.listExpiring();
  }
  listNames(): string[] {
    return this.inner.listNames();
  }
  readBlocks(): Blocks {
    return this.inner.readBlocks();
  }
  close(): void {
    this.inner.close();
  }
  begin(_waitMs: number): void {
    this.touched.clear();
    this.auditLines = [];
    this.inner.begin(0);
  }
  /** Commits the copy in memory only: `publish` is what writes to etcd. */
  commit(): void {
    this.inner.commit();
  }
  rollback(): void {
    this.inner.rollback();
    this.touched.clear();
    this.auditLines = [];
  }
  get inTransaction(): boolean {
    return this.inner.inTransaction;
  }
  mark(): void {
    this.inner.mark();
  }
  keepMark(): void {
    this.inner.keepMark();
  }
  undoToMark(): void {
    this.inner.undoToMark();
  }
  /** Each gateway's agent writes whole tables when it needs to: the store keeps no skeleton digest. */
  readBase(): string | null {
    return null;
  }
  generation(): number {
    return this.gen;
  }
  claimHolders(claims: string[]): Map<string, string> {
    return this.inner.claimHolders(claims);
  }
  putExperiment(exp: string, state: ExperimentState | null): void {
    this.inner.putExperiment(exp, state);
    this.touched.add(exp.toLowerCase());
  }
  putIndexMeta(meta: { base?: string | null; released?: ReleasedPorts[] }): void {
    if (meta.released !== undefined) this.inner.putIndexMeta({ released: meta.released });
  }
  putBlocks(blocks: Blocks): void {
    this.inner.putBlocks(blocks);
  }
  rebuildIndex(): { experiments: number; unreadable: number; problems: string[] } {
    return { experiments: this.inner.listNames().length, unreadable: 0, problems: [] };
  }
  /** A change to etcd is one transaction: nothing is ever pending. */
  readPending(): Pending | null {
    return null;
  }
  writePending(_p: Pending): void {}
  dropPending(_generation: number): void {}
  resetPending(): void {}
  check(): void {}
  filesReplaced(): boolean {
    return false;
  }
}

/** What an agent reports about its gateway (gateways/<name>, on the agent's lease). */
export const GatewayReport = z.object({
  gateway: z.string(),
  /** The etcd revision whose state the gateway's tables hold. */
  revision: z.string().check(z.regex(/^[0-9]{1,19}$/, "is not a revision")),
  at: z.string(),
  /** The agent cannot follow etcd (it keeps its last rules). */
  stale: z.boolean(),
  host: z.string(),
  pid: z.int(),
});
export type GatewayReport = z.infer<typeof GatewayReport>;

/** The live gateways' reports (an agent that stopped or lost etcd for longer than its lease has none). */
export async function readGateways(
  client: Etcd3,
  s: EtcdSettings,
): Promise<{ reports: GatewayReport[]; bad: string[] }> {
  const r = await etcdCall(s, () => client.getAll().prefix(keys(s.prefix).gateways).exec());
  const reports: GatewayReport[] = [];
  const bad: string[] = [];
  for (const kv of r.kvs as IKeyValue[]) {
    try {
      reports.push(GatewayReport.parse(JSON.parse(kv.value.toString())));
    } catch {
      bad.push(kv.key.toString());
    }
  }
  return { reports, bad };
}

/** Whether revision `a` is at least `b` (revisions are decimal strings of 64-bit numbers). */
export const revisionAtLeast = (a: string, b: string): boolean => BigInt(a) >= BigInt(b);

/** The testbed's etcd store, with its defaults; null: the embedded store. */
export function etcdSettingsOf(t: TestbedConfig): EtcdSettings | null {
  const e = t.store?.etcd;
  return e === undefined ? null : { endpoints: e.endpoints, prefix: e.prefix ?? "/fwc/", dns: e.dns ?? "command" };
}
