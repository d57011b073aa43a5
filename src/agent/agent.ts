/**
 * `fwc agent --gateway NAME` (docs/etcd.md): makes one gateway's kernel follow the desired state in etcd. Every
 * gateway holds every experiment's rules (as every host does in uncloud's design).
 *
 *   1. List the experiments and the blocklist at one revision; compare fwc's tables on the kernel with what
 *      they should hold, and change nothing when they match (established flows live through an agent
 *      restart), else write the element delta, or the whole tables atomically when their rules differ.
 *   2. Watch from that revision + 1; each batch of events is one element delta in one `nft -f` transaction
 *      (the whole tables when the delta cannot apply), then the flows of revoked grants are cut (conntrack).
 *   3. Report the revision applied under gateways/<NAME>, on a lease: an agent that stops or loses etcd for
 *      longer than the lease has no report, and `fwc status` and the commands see it gone.
 *   4. Any watch error (compaction, a lost connection) or a lost lease: the agent keeps the rules it has,
 *      says it is stale, and lists again from the start once etcd answers (after Kubernetes' list-watch).
 *   5. Every --resync interval, the kernel is compared with the state again and drift repaired (Calico
 *      Felix's refresh).
 * With --dns (and `dns: agent` in testbed.yaml) it is also the one DNS writer: it holds the dns-writer key on
 * its lease, pushes each experiment's record changes and verifies them by query.
 */
import { renameSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import type { Etcd3, IKeyValue, Lease, Watcher } from "etcd3";
import ipaddr from "ipaddr.js";
import * as z from "zod/mini";
import { isAddress } from "../access/address.js";
import { DnsRecord } from "../backends/dns/records.js";
import {
  baseElements,
  diffElements,
  type ElementSet,
  isEmptyDelta,
  renderDelta,
  renderTable,
} from "../backends/nftables/render.js";
import { blockElements } from "../deploy/blocks.js";
import { cutBlockedFlows, cutRevokedFlows } from "../deploy/conntrack.js";
import { type DeployContext, dnsDrift, pushRecords, rewriteRecords, unionOf } from "../deploy/lifecycle.js";
import { applyTransaction, applyTransactionAsync, type Gateway, NftError, run } from "../deploy/nft.js";
import { canonicalOrNull, desiredElements, diffNormalized, listTables, rulesDrift } from "../deploy/table.js";
import { DiagnosticBag } from "../diagnostics/diagnostic.js";
import { connectEtcd, type EtcdSettings, keys, parseBlocks } from "../store/etcd.js";
import { type BlockEntry, isExperimentName } from "../store/schema.js";
import type { TestbedConfig } from "../testbed/config.js";

export interface AgentConfig {
  /** The gateway's name in reports (letters, digits, - _ .). */
  name: string;
  testbed: TestbedConfig;
  settings: EtcdSettings;
  gw: Gateway;
  /** This agent is the DNS writer. */
  dns: boolean;
  /** How often the kernel is compared with the state (ms). */
  resyncMs: number;
  /** The report's lease (s): an agent silent for longer is taken for gone. */
  leaseTtl: number;
  /** A JSON file the agent keeps up to date with its revision and staleness (for monitoring). */
  statusFile?: string;
  log: (line: string) => void;
}

/**
 * An owner's (an experiment's, the blocklist's) part of the gateway: its elements kept as their JSON text (an
 * agent holds every experiment of the testbed; text is a fifth of the objects' memory), unpacked when used.
 */
interface Owned {
  packed: string;
  records: DnsRecord[];
}
const pack = (elements: ElementSet, records: DnsRecord[] = []): Owned => ({
  packed: JSON.stringify(elements),
  records,
});
const unpack = (o: Owned | undefined): ElementSet => (o === undefined ? {} : (JSON.parse(o.packed) as ElementSet));

const BLOCKLIST = "(blocklist)";

// What the agent reads of a record. Element keys and comments go into nft's input: anything but the characters
// fwc writes is refused, so that a record written by someone else cannot smuggle commands into a transaction.
const KEY = /^(?:[0-9A-Za-z_.:/-]|"[A-Za-z0-9_.@-]{1,15}"| ){1,400}$/;
const COMMENT = /^[^"\\\u0000-\u001f\u007f]{0,128}$/;
const Records = z.array(DnsRecord);

/**
 * The part of a record the agent reads, when it has the shape fwc writes (set names, keys and comments are then
 * checked by elementProblem): checked by hand, since an agent reads every record of the testbed when it lists.
 */
function shapeOf(raw: unknown): { experiment: string; elements: ElementSet; records: unknown[] } | string {
  const r = raw as { experiment?: unknown; applied?: { elements?: unknown; records?: unknown } } | null;
  if (typeof r !== "object" || r === null || typeof r.experiment !== "string") return "experiment: not a name";
  const a = r.applied;
  if (typeof a !== "object" || a === null) return "applied: missing";
  if (!Array.isArray(a.records)) return "applied.records: not a list";
  const els = a.elements;
  if (typeof els !== "object" || els === null || Array.isArray(els)) return "applied.elements: not sets";
  for (const [set, es] of Object.entries(els)) {
    if (!Array.isArray(es)) return `applied.elements.${set.slice(0, 40)}: not a list`;
    for (const e of es)
      if (typeof e !== "object" || e === null || typeof e.key !== "string" || typeof e.comment !== "string")
        return `applied.elements.${set.slice(0, 40)}: not elements`;
  }
  return { experiment: r.experiment, elements: els as ElementSet, records: a.records };
}

/**
 * One value of an element: an address, a network (no host bits), an address range, a port or port range,
 * tcp or udp, a MAC address, an interface name in quotes.
 */
function tokenOk(t: string): boolean {
  if (/^"[A-Za-z0-9_.@-]{1,15}"$/.test(t) || t === "tcp" || t === "udp") return true;
  if (/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i.test(t)) return true;
  const ports = /^([0-9]{1,5})(?:-([0-9]{1,5}))?$/.exec(t);
  if (ports !== null) {
    const lo = Number(ports[1]);
    const hi = Number(ports[2] ?? ports[1]);
    return lo <= hi && hi <= 65535;
  }
  const slash = t.indexOf("/");
  if (slash > 0) {
    const addr = t.slice(0, slash);
    if (!isAddress(addr) || !ipaddr.isValidCIDR(t)) return false;
    // Host bits set: nft would keep the network, and the kernel would never match what etcd says.
    const net = (t.includes(":") ? ipaddr.IPv6 : ipaddr.IPv4).networkAddressFromCIDR(t);
    return net.toNormalizedString() === ipaddr.parse(addr).toNormalizedString();
  }
  const range = t.split("-");
  if (range.length === 2)
    return isAddress(range[0]!) && isAddress(range[1]!) && range[0]!.includes(":") === range[1]!.includes(":");
  return isAddress(t);
}

/**
 * Elements as fwc writes them (set names; keys made of typed values, a map's value after " : "; comments of
 * at most 128 bytes), else the first that is not.
 */
export function elementProblem(elements: ElementSet): string | null {
  for (const [set, es] of Object.entries(elements)) {
    if (!/^[a-z0-9_]{1,64}$/.test(set)) return `set "${set.slice(0, 40)}"`;
    for (const e of es) {
      const sides = e.key.split(" : ");
      const ok =
        KEY.test(e.key) &&
        sides.length <= 2 &&
        sides.every((side) => side.split(" . ").every(tokenOk)) &&
        COMMENT.test(e.comment) &&
        Buffer.byteLength(e.comment) <= 128;
      if (!ok) return `element "${e.key.slice(0, 60)}"${e.comment ? ` "${e.comment.slice(0, 40)}"` : ""}`;
    }
  }
  return null;
}

/** The blocklist from its etcd value (null: none), its entries and elements checked; a problem otherwise. */
function readBlocks(key: string, value: string | null): { entries: BlockEntry[]; owned: Owned } | { problem: string } {
  let entries: BlockEntry[];
  let elements: ElementSet;
  try {
    entries = parseBlocks(key, value).entries;
  } catch (e) {
    return { problem: (e as Error).message };
  }
  try {
    elements = blockElements(entries);
  } catch (e) {
    return { problem: `${key}: ${(e as Error).message}` };
  }
  const p = elementProblem(elements);
  return p === null ? { entries, owned: pack(elements) } : { problem: `${key}: ${p} is not one fwc writes` };
}

/** How many elements a set holds. */
const count = (s: ElementSet) => Object.values(s).reduce((a, es) => a + es.length, 0);

/** An experiment's elements and records from its etcd value; a problem when it is not one fwc wrote. */
export function readOwned(prefix: string, key: string, value: string, withRecords = true): Owned | { problem: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(value);
  } catch {
    return { problem: `${key} is not JSON` };
  }
  const shape = shapeOf(raw);
  if (typeof shape === "string") return { problem: `${key}: ${shape}` };
  const bad = elementProblem(shape.elements);
  if (bad !== null) return { problem: `${key}: ${bad} is not one fwc writes` };
  // Exactly its own key: a copy under another key would stand for it and put back what it gives up.
  if (!isExperimentName(shape.experiment) || key !== keys(prefix).experiment(shape.experiment))
    return { problem: `${key} holds the record of "${shape.experiment}"` };
  if (!withRecords) return pack(shape.elements);
  const records = Records.safeParse(shape.records);
  if (!records.success) return { problem: `${key}: applied.records ${records.error.issues[0]!.message}` };
  return pack(shape.elements, records.data);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A full garbage collection: after a list, the whole state's text and objects are garbage, and an agent lives
 * long; without it V8 keeps that memory for a long while (the agent's resident memory would be its peak).
 */
const collect = (() => {
  try {
    setFlagsFromString("--expose-gc");
    return runInNewContext("gc") as () => void;
  } catch {
    return () => undefined;
  }
})();

/** Experiments read from etcd at a time when listing. */
const PAGE = 2000;

export class Agent {
  private readonly client: Etcd3;
  private readonly k: ReturnType<typeof keys>;
  private owners = new Map<string, Owned>();
  private blocks: BlockEntry[] = [];
  /** The etcd revision the tables hold. */
  revision = "0";
  stale = true;
  private staleSince: string | null = new Date().toISOString();
  private lease: Lease | null = null;
  private leaseId = "";
  private watcher: Watcher | null = null;
  /** Incremented at each list: events of an older watch are ignored. */
  private epoch = 0;
  private queue: { epoch: number; events: { key: string; value: string | null; mod: string }[] }[] = [];
  private busy: Promise<void> = Promise.resolve();
  private stopping = false;
  private relisting = false;
  /** The watch or lease failed while a list was under way. */
  private listAgain = false;
  private timer: NodeJS.Timeout | null = null;
  private readonly canonical;
  private readonly ctx: DeployContext;
  private done: (() => void) | null = null;
  /** A batch could not be written to the kernel: the next one (or the resync) compares the whole tables. */
  private needsWhole = false;
  /** The revision of the events taken in while the kernel could not be written. */
  private unapplied = "0";
  /** Why the agent gave up (it then stops): another agent writes DNS. */
  fatal: string | null = null;

  /** An agent with its etcd client (run() starts it). */
  static async create(config: AgentConfig): Promise<Agent> {
    return new Agent(config, await connectEtcd(config.settings, Math.max(1000, (config.leaseTtl * 1000) / 3)));
  }

  private constructor(
    readonly config: AgentConfig,
    client: Etcd3,
  ) {
    this.client = client;
    this.k = keys(config.settings.prefix);
    this.canonical = canonicalOrNull(config.testbed);
    this.ctx = {
      stateDir: "",
      testbed: config.testbed,
      gw: config.gw,
      dryRun: false,
      waitMs: 0,
      bag: new DiagnosticBag(),
      out: [],
    };
  }

  private log(s: string): void {
    this.config.log(`fwc agent ${this.config.name}: ${s}`);
  }

  /** Runs until stop(): lists, watches, repairs; never gives up on etcd. */
  async run(): Promise<void> {
    const ended = new Promise<void>((r) => {
      this.done = r;
    });
    this.writeStatus();
    void this.connectLoop();
    this.timer = setInterval(() => {
      if (!this.stale && !this.relisting) this.serial(() => this.repair()).catch(() => undefined);
    }, this.config.resyncMs);
    await ended;
  }

  /** Ends cleanly: no more changes to the kernel, the report withdrawn, etcd closed. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.epoch++;
    // What is being applied to the kernel is finished (nft itself has a time limit).
    await Promise.race([this.busy.catch(() => undefined), sleep(5000)]);
    try {
      // A link to etcd that drops everything silently would hold the cancel for ever.
      await Promise.race([this.watcher?.cancel(), sleep(1000)]);
    } catch {
      // etcd gone: nothing to cancel
    }
    try {
      await Promise.race([this.lease?.revoke(), sleep(1000)]);
    } catch {
      // the lease ends by itself
    }
    this.client.close();
    this.log(`stopped at revision ${this.revision}; the gateway keeps its rules`);
    this.done?.();
  }

  private markStale(why: string): void {
    // Marked while a list is under way: that list may already have taken the old watch or lease, so list again.
    if (this.relisting) this.listAgain = true;
    if (this.becomeStale()) {
      this.log(`stale: ${why}; the gateway keeps the rules of revision ${this.revision}`);
      void this.report();
    }
    void this.connectLoop();
  }

  /** Marks the agent stale, from now; false when it was already. */
  private becomeStale(): boolean {
    if (this.stale) return false;
    this.stale = true;
    this.staleSince = new Date().toISOString();
    return true;
  }

  /** Lists again until etcd answers (backoff 0.2 s to 2 s). */
  private async connectLoop(): Promise<void> {
    if (this.relisting || this.stopping) return;
    this.relisting = true;
    for (let pause = 200; !this.stopping; pause = Math.min(2000, pause * 2)) {
      try {
        this.listAgain = false;
        await this.relist();
        if (this.listAgain) continue;
        break;
      } catch (e) {
        if (this.stopping) break;
        if (e instanceof DnsWriterTaken || e instanceof GatewayNameTaken) {
          this.fatal = e.message;
          this.log(`FWC833 ${e.message}`);
          this.relisting = false;
          await this.stop();
          return;
        }
        if (this.becomeStale()) this.writeStatus();
        this.log(`cannot follow etcd (${(e as Error).message.split("\n")[0]}); trying again`);
        await sleep(pause);
      }
    }
    this.relisting = false;
  }

  /**
   * Runs `f` after what runs before it (lists, batches, resyncs never overlap on the kernel). Its failure is
   * the caller's: the chain goes on.
   */
  private serial(f: () => Promise<void>): Promise<void> {
    const run = this.busy.then(f);
    this.busy = run.catch((e) => this.log(`FWC833 ${(e as Error).message?.split("\n")[0]}`));
    return run;
  }

  /** Step 1 and the start of step 2. */
  private async relist(): Promise<void> {
    const epoch = ++this.epoch;
    const old = this.watcher;
    this.watcher = null;
    old?.removeAllListeners();
    void old?.cancel().catch(() => undefined);
    this.queue = [];
    const started = performance.now();
    // The experiments in pages of PAGE at one revision (the first page's): what a page holds is checked and
    // dropped before the next is read, so that the whole state's text is never in memory at once.
    const owners = new Map<string, Owned>();
    const end = `${this.k.experiments.slice(0, -1)}0`;
    const first = await this.client.getAll().inRange({ start: this.k.experiments, end }).limit(PAGE).exec();
    const revision = first.header.revision;
    const next = (after: IKeyValue) =>
      this.client
        .getAll()
        .inRange({ start: `${after.key.toString()}\u0000`, end })
        .limit(PAGE)
        .revision(revision)
        .exec();
    for (let page = first; ; ) {
      // The next page is read while this one is checked.
      const last = page.kvs[page.kvs.length - 1];
      const coming = page.more && last !== undefined ? next(last) : null;
      coming?.catch(() => undefined);
      for (const kv of page.kvs) {
        const key = kv.key.toString();
        const o = readOwned(this.config.settings.prefix, key, kv.value.toString(), this.config.dns);
        if ("problem" in o) {
          // Its rules as this agent last had them (none after a restart): the controller wrote garbage.
          this.log(`FWC833 ${o.problem}; that experiment's rules are left as they were`);
          const had = this.owners.get(key.slice(this.k.experiments.length));
          if (had !== undefined) owners.set(key.slice(this.k.experiments.length), had);
        } else owners.set(key.slice(this.k.experiments.length), o);
      }
      if (coming === null) break;
      page = await coming;
    }
    const b = await this.client.get(this.k.blocks).revision(revision).exec();
    const took = performance.now() - started;
    let blocks = this.blocks;
    let blockSet = this.owners.get(BLOCKLIST) ?? pack(blockElements([]));
    const read = readBlocks(this.k.blocks, b.kvs[0]?.value.toString() ?? null);
    if ("problem" in read) this.log(`FWC833 ${read.problem}; the blocklist is left as it was`);
    else {
      blocks = read.entries;
      blockSet = read.owned;
    }
    // The lease (and the DNS writer's key) first: an agent refused as a second DNS writer changes nothing.
    await this.ensureLease();
    await this.claimReport();
    if (this.config.dns) await this.takeDnsWriter();
    await this.serial(async () => {
      if (epoch !== this.epoch) return;
      this.owners = owners;
      this.blocks = blocks;
      this.owners.set(BLOCKLIST, blockSet);
      // The pages read are garbage now: gone before the whole tables are built.
      collect();
      this.wholeSync("list");
      collect();
      this.log(
        `listed ${owners.size - 1} experiments at revision ${revision} in ${Math.round(took)} ms; the kernel in step after ${Math.round(performance.now() - started)} ms`,
      );
      if (this.config.dns) await this.syncAllDns();
      this.revision = revision;
    });
    if (epoch !== this.epoch) return;
    const w = await this.client
      .watch()
      .inRange({ start: this.k.blocks, end })
      .startRevision(String(BigInt(revision) + 1n))
      .create();
    if (epoch !== this.epoch) {
      void w.cancel().catch(() => undefined);
      return;
    }
    this.watcher = w;
    w.on("data", (res) => {
      if (epoch !== this.epoch) return;
      const events = res.events.map((ev) => ({
        key: ev.kv.key.toString(),
        value: ev.type === "Delete" ? null : ev.kv.value.toString(),
        mod: ev.kv.mod_revision,
      }));
      if (events.length === 0) return;
      this.queue.push({ epoch, events });
      this.serial(() => this.drain()).catch(() => undefined);
    });
    const lost = (why: string) => () => {
      if (epoch === this.epoch && !this.stopping) this.markStale(why);
    };
    w.on("disconnected", lost("the watch lost its connection"));
    w.on("error", lost("the watch failed (compacted past this agent's revision, or etcd refused it)"));
    w.on("end", lost("the watch ended"));
    this.stale = false;
    this.staleSince = null;
    await this.report();
    this.log(`following etcd from revision ${this.revision} (${this.owners.size - 1} experiments)`);
  }

  /**
   * syncOnce, and when nft refuses the whole tables: the experiments whose rules it refuses are found (halving
   * the set, each half checked with `nft -c`), left out of the gateway (FWC833: their traffic is not passed, the
   * others' is) until their record changes, and the tables written without them.
   */
  private wholeSync(why: string): boolean {
    try {
      return this.syncOnce(why);
    } catch (e) {
      if (!(e instanceof NftError) || e.unknown) throw e;
      const refused = this.findRefused();
      if (refused.length === 0) throw e;
      for (const owner of refused) {
        this.log(`FWC833 nft refuses the rules of ${owner}: they are left out of the gateway until its record changes`);
        this.owners.delete(owner);
      }
      return this.syncOnce(why);
    }
  }

  /** The experiments whose rules nft refuses (the blocklist is never left out: it stays, or the write fails). */
  private findRefused(): string[] {
    const check = (owners: string[]) => {
      const parts = owners.map((owner) => ({ owner, elements: unpack(this.owners.get(owner)) }));
      const text = renderTable(this.config.testbed, [desiredElements(this.config.testbed, parts).elements], {
        withBase: false,
      });
      return run(this.config.gw, ["-c", "-f", "-"], text).ok;
    };
    const all = [...this.owners.keys()].filter((o) => o !== BLOCKLIST);
    if (check([BLOCKLIST, ...all]) || !check([BLOCKLIST])) return [];
    const out: string[] = [];
    const halve = (owners: string[]) => {
      if (owners.length === 1) {
        out.push(owners[0]!);
        return;
      }
      const mid = owners.length >> 1;
      for (const half of [owners.slice(0, mid), owners.slice(mid)])
        if (half.length > 0 && !check([BLOCKLIST, ...half])) halve(half);
    };
    halve(all);
    return out;
  }

  /** The whole state against the kernel: nothing when they match, else the repair (delta, or whole tables). */
  private syncOnce(why: string): boolean {
    // Every owner's elements and the gateway's own, in one set (whose element is whose is not needed here).
    const want = unionOf([baseElements(this.config.testbed), ...[...this.owners.values()].map(unpack)]);
    const listing = listTables(this.config.gw);
    const rules = rulesDrift(listing, this.canonical);
    let what: string;
    if (rules.length > 0 || this.canonical === null) {
      // A table missing (a new gateway, a reboot) or rules not fwc's: the whole tables, without comparing
      // their elements one by one.
      applyTransaction(this.config.gw, renderTable(this.config.testbed, [want], { withBase: false }));
      what = `${rules[0]?.what ?? "the rules could not be compared"}; wrote the tables whole`;
    } else {
      const delta = diffNormalized(listing.elements, want);
      if (isEmptyDelta(delta)) return false;
      applyTransaction(this.config.gw, renderDelta(delta, `fwc agent: ${why}`));
      what = `${count(delta.add) + count(delta.remove)} elements differed; changed them`;
    }
    this.log(`${why}: the kernel differed from etcd: ${what}`);
    // Flows through what the kernel had and etcd does not are cut (none when there were no tables).
    if (Object.values(listing.elements).some((es) => es.length > 0)) this.cut(listing.elements, want, true);
    return true;
  }

  private cut(from: ElementSet, to: ElementSet, blocksChanged: boolean): void {
    const revoked = cutRevokedFlows(this.config.gw, from, to);
    if (revoked.problem !== undefined) this.log(`FWC809 ${revoked.problem}`);
    if (blocksChanged) {
      const b = cutBlockedFlows(this.config.gw, blockElements(this.blocks));
      if (b.problem !== undefined) this.log(`FWC809 ${b.problem}`);
    }
  }

  /** Step 2: the queued batches of events as one element delta. */
  private async drain(): Promise<void> {
    const batch = this.queue.splice(0).filter((q) => q.epoch === this.epoch);
    if (batch.length === 0 || this.stopping) return;
    const start = performance.now();
    const before = new Map<string, Owned | undefined>();
    let revision = this.revision;
    let blocksChanged = false;
    for (const { events } of batch)
      for (const ev of events) {
        if (BigInt(ev.mod) > BigInt(revision)) revision = ev.mod;
        let owner: string;
        let now: Owned | undefined;
        if (ev.key === this.k.blocks) {
          owner = BLOCKLIST;
          const read = readBlocks(ev.key, ev.value);
          if ("problem" in read) {
            this.log(`FWC833 ${read.problem}; the blocklist is left as it was`);
            continue;
          }
          this.blocks = read.entries;
          now = read.owned;
          blocksChanged = true;
        } else if (ev.key.startsWith(this.k.experiments)) {
          owner = ev.key.slice(this.k.experiments.length);
          if (ev.value === null) now = undefined;
          else {
            const o = readOwned(this.config.settings.prefix, ev.key, ev.value, this.config.dns);
            if ("problem" in o) {
              this.log(`FWC833 ${o.problem}; that experiment's rules are left as they were`);
              continue;
            }
            now = o;
          }
        } else continue;
        if (!before.has(owner)) before.set(owner, this.owners.get(owner));
        if (now === undefined) this.owners.delete(owner);
        else this.owners.set(owner, now);
      }
    const union = (f: (o: string) => Owned | undefined) => unionOf([...before.keys()].map((o) => unpack(f(o))));
    const from = union((o) => before.get(o));
    const to = union((o) => this.owners.get(o));
    const delta = diffElements(from, to);
    let how = "";
    if (this.needsWhole) {
      // An earlier batch did not reach the kernel: a delta from what it should have held would be wrong.
      try {
        this.wholeSync("repair");
        this.needsWhole = false;
        how = "repaired whole";
      } catch (e) {
        this.unapplied = revision;
        this.log(`FWC803 cannot write the tables: ${(e as Error).message.split("\n")[0]}; trying again later`);
        return;
      }
    } else if (!isEmptyDelta(delta)) {
      try {
        await applyTransactionAsync(this.config.gw, renderDelta(delta, `fwc agent: etcd revision ${revision}`));
        // Only a change that removes elements can revoke a flow (conntrack lists every flow: not for nothing).
        if (Object.keys(delta.remove).length > 0 || blocksChanged) this.cut(from, to, blocksChanged);
        how = `+${count(delta.add)} -${count(delta.remove)} elements`;
      } catch (e) {
        // The delta does not apply (tables deleted, the kernel changed under us): write what etcd says.
        this.log(`the delta did not apply (${(e as Error).message.split("\n")[0]}); comparing the whole tables`);
        try {
          this.wholeSync("repair");
          how = "repaired whole";
        } catch (e2) {
          // The batch is in this.owners but not on the kernel: its revision is not reported, and the next batch
          // or the resync writes the whole tables.
          this.needsWhole = true;
          this.unapplied = revision;
          this.log(
            `FWC803 cannot write the tables: ${(e2 as Error).message.split("\n")[0]}; trying again at the next change or resync`,
          );
          return;
        }
      }
    }
    if (this.config.dns)
      for (const [owner, was] of before) {
        const now = this.owners.get(owner);
        const problems = await pushRecords(this.ctx, owner, was?.records ?? [], now?.records ?? [], false);
        for (const p of problems) this.log(`FWC805 ${owner}: ${p}`);
      }
    this.revision = revision;
    await this.report();
    this.log(
      `applied revision ${revision} (${before.size} owners${how ? `, ${how}` : ", no element change"}) in ${Math.round(performance.now() - start)} ms`,
    );
  }

  /** Step 5. */
  private async repair(): Promise<void> {
    if (this.stale || this.stopping) return;
    try {
      this.wholeSync("resync");
      if (this.needsWhole) {
        // The batch that did not reach the kernel is there now: its revision can be reported.
        this.needsWhole = false;
        if (BigInt(this.unapplied) > BigInt(this.revision)) this.revision = this.unapplied;
        await this.report();
      }
    } catch (e) {
      this.log(`FWC803 resync failed: ${(e as Error).message.split("\n")[0]}`);
    }
  }

  private async ensureLease(): Promise<void> {
    if (this.lease !== null && !this.lease.revoked()) {
      try {
        // A lease that etcd let expire while it was away answers with no time left: a new one.
        if (Number((await this.lease.keepaliveOnce()).TTL) > 0) return;
      } catch {
        // expired while etcd was away: a new one
      }
    }
    this.lease?.removeAllListeners();
    const lease = this.client.lease(this.config.leaseTtl);
    lease.on("lost", () => {
      if (this.lease === lease && !this.stopping) this.markStale("lost its lease (etcd did not answer)");
    });
    lease.on("keepaliveFailed", () => {
      if (this.lease === lease && !this.stopping) this.markStale("cannot renew its lease");
    });
    this.leaseId = await lease.grant();
    this.lease = lease;
  }

  /** Step 3. */
  private async report(): Promise<void> {
    this.writeStatus();
    if (this.lease === null) return;
    const value = JSON.stringify({
      gateway: this.config.name,
      revision: this.revision,
      at: new Date().toISOString(),
      stale: this.stale,
      host: hostname(),
      pid: process.pid,
    });
    const put = this.lease.put(this.k.gateway(this.config.name)).value(value);
    if (this.stale) {
      // Stale: said in etcd too when etcd still takes it (a broken watch); the lease ends the report otherwise.
      await put.catch(() => undefined);
      return;
    }
    try {
      await put;
    } catch (e) {
      this.markStale(`cannot write its report (${(e as Error).message.split("\n")[0]})`);
    }
  }

  /**
   * The report's key is this agent's: absent, on its lease, or left by an agent of the same name on this host
   * (a restart). Another host's agent of the same name is refused: two gateways under one name would hide each
   * other's lag.
   */
  private async claimReport(): Promise<void> {
    const key = this.k.gateway(this.config.name);
    const r = await this.client.get(key).exec();
    const kv = r.kvs[0];
    if (kv === undefined || kv.lease === this.leaseId) return;
    let host = "?";
    let pid = "?";
    try {
      const o = JSON.parse(kv.value.toString());
      host = String(o.host);
      pid = String(o.pid);
    } catch {
      // not a report: taken over
    }
    if (host !== "?" && host !== hostname())
      throw new GatewayNameTaken(
        `an agent on ${host} (pid ${pid}) reports as ${this.config.name} already: give each gateway its own --gateway name`,
      );
  }

  private writeStatus(): void {
    const f = this.config.statusFile;
    if (f === undefined) return;
    const s = {
      gateway: this.config.name,
      revision: this.revision,
      stale: this.stale,
      staleSince: this.staleSince,
      at: new Date().toISOString(),
      experiments: Math.max(0, this.owners.size - (this.owners.has(BLOCKLIST) ? 1 : 0)),
    };
    try {
      writeFileSync(`${f}.tmp`, `${JSON.stringify(s)}\n`);
      renameSync(`${f}.tmp`, f);
    } catch (e) {
      this.log(`cannot write ${f}: ${(e as Error).message}`);
    }
  }

  /** The one DNS writer: the dns-writer key on this agent's lease (another agent holding it: refused). */
  private async takeDnsWriter(): Promise<void> {
    const r = await this.client
      .if(this.k.dnsWriter, "Create", "==", 0)
      .then(this.lease!.put(this.k.dnsWriter).value(this.config.name))
      .else(this.client.get(this.k.dnsWriter))
      .commit();
    if (r.succeeded) return;
    const holder = (r.responses[0]?.response_range?.kvs as IKeyValue[] | undefined)?.[0]?.value.toString();
    // Left by this gateway's agent before a restart: moved onto this agent's lease (it would end with the old one).
    const moved =
      holder === this.config.name &&
      (
        await this.client
          .if(this.k.dnsWriter, "Value", "==", this.config.name)
          .then(this.lease!.put(this.k.dnsWriter).value(this.config.name))
          .commit()
      ).succeeded;
    if (!moved)
      throw new DnsWriterTaken(
        `the agent of ${holder ?? "another gateway"} writes DNS already: exactly one agent may run with --dns`,
      );
  }

  /** Every experiment's DNS names checked by query, and written again where they differ. */
  private async syncAllDns(): Promise<void> {
    for (const [owner, o] of this.owners) {
      if (owner === BLOCKLIST || o.records.length === 0) continue;
      const drift = await dnsDrift(this.ctx, o.records);
      if (drift.length === 0) continue;
      const problems = await rewriteRecords(this.ctx, owner, o.records);
      this.log(
        problems.length === 0 ? `wrote the DNS names of ${owner} again` : `FWC805 ${owner}: ${problems.join("; ")}`,
      );
    }
  }
}

/** Another agent is the DNS writer. */
export class DnsWriterTaken extends Error {}
/** Another host's agent reports under this gateway's name. */
export class GatewayNameTaken extends Error {}
