/**
 * bench/agents: many gateways following one etcd (docs/etcd.md), with real parts: an etcd started by the bench
 * (loopback, temporary data directory), gateways in network namespaces of their own (no links: nft needs none to
 * load fwc's tables), one `fwc agent` (the real binary) per gateway, and changes made in this process by the
 * real `fwc open` code (src/deploy/commands.ts) on the etcd store. For 50 experiments (the baseline of the same
 * run) and 10,000 (BENCH_SIZES):
 *   - resync: a fresh agent started on a gateway with no fwc tables, from its spawn until its first report
 *     appears in etcd (it then follows etcd: listed, tables written whole, watching), for each of 3 gateways in
 *     turn;
 *   - latency: BENCH_CHANGES changes (`open`, each a new redirect, on 50 experiments in turn) one after the
 *     other, from the moment the change's etcd transaction returned its revision to the moment every gateway's
 *     report reached that revision, p50 and p99: with 3 agents, then with 10 agents on this one machine;
 *   - memory: each agent's resident memory (VmRSS) and peak (VmHWM, /proc/PID/status) after the changes;
 *   - with BENCH_RESTART=1, gw1's agent restarted on the tables it left.
 * Also printed: each agent's own time per batch (its log) and the CPU time an agent and its children (nft,
 * conntrack) spend per change. The agents run with --resync 1h (BENCH_RESYNC). The reports are watched (an etcd watch in this process, arrival times noted), never polled. Targets (issue
 * 13): p50 <= 100 ms to every gateway, resync of 10,000 <= 2 s, agent memory <= 150 MB. Needs root, nft and
 * etcd. Run: npm run bench:agents
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Etcd3, Watcher } from "etcd3";
import * as cmd from "../src/deploy/commands.js";
import { claimsOf, type DeployContext } from "../src/deploy/lifecycle.js";
import { DiagnosticBag } from "../src/diagnostics/diagnostic.js";
import { SourceFile } from "../src/diagnostics/source.js";
import { connectEtcd, EtcdStore, etcdSettingsOf, keys } from "../src/store/etcd.js";
import { loadTestbed, type TestbedConfig } from "../src/testbed/config.js";
import { type Etcd, startEtcd } from "../test/etcd/etcd-helpers.js";
import { Lab } from "../test/kernel/lab.js";
import { populateEtcd, TESTBED_YAML } from "./populate.js";

const root = join(import.meta.dirname, "..", "..");
const bin = join(root, "dist", "fwc.cjs");
const SIZES = (process.env.BENCH_SIZES ?? "50,10000").split(",").map(Number);
const CHANGES = Number(process.env.BENCH_CHANGES ?? 100);
const GATEWAYS = Number(process.env.BENCH_GATEWAYS ?? 3);
const AGENTS = Number(process.env.BENCH_AGENTS ?? 10);
/**
 * The agents' --resync. Not their default (30s): a resync lists and compares the whole tables, which beside
 * 10,000 experiments keeps an agent's event loop busy for minutes (docs/benchmarks.md), so the latency figures
 * are of the deltas alone. BENCH_RESYNC=30s measures with it.
 */
const RESYNC = process.env.BENCH_RESYNC ?? "1h";
/** BENCH_RESTART=1: also restart gw1's agent on its gateway, which holds the tables (minutes beside 10,000). */
const RESTART = process.env.BENCH_RESTART === "1";
/** The experiments the changes go to, in turn. */
const TARGETS = 50;
/** How long one change or one agent's start may take before the bench fails. */
const TIMEOUT_MS = 30_000;

interface Figures {
  n: number;
  /** Each of the first GATEWAYS agents' start, spawn to first report (ms). */
  resync: number[];
  /** The later agents' starts (the first ones already running). */
  resyncMore: number[];
  /** gw1's agent restarted on its gateway's tables (BENCH_RESTART=1), spawn to first report (ms). */
  restart?: number;
  /**
   * What the agents log for each batch ("applied revision R (...) in N ms", from the batch's arrival to its
   * report written): their own time (ms), with GATEWAYS agents, then AGENTS.
   */
  appliedFew: number[];
  appliedMany: number[];
  /** Per change: the commit to the last of the gateways' reports (ms), with GATEWAYS agents, then AGENTS. */
  few: number[];
  many: number[];
  /** Per change and gateway (ms), with GATEWAYS agents. */
  fewEach: number[];
  /** CPU time of one agent per change (its process and its nft and conntrack children), ms. */
  cpuFew: number;
  cpuMany: number;
  /** The largest over the agents (MB). */
  rss: number;
  hwm: number;
  /** The etcd transaction of one change (publish, ms), median. */
  publish: number;
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};
const median = (xs: number[]) => pct(xs, 50);

/** The gateways' reports as they arrive, from a watch on `<prefix>gateways/`. */
class Reports {
  /** Per gateway: each report's revision and when it arrived (performance.now()). */
  readonly seen = new Map<string, { revision: bigint; at: number }[]>();
  private waiters: (() => void)[] = [];
  /** Why the watch failed, if it did. */
  private failed: Error | null = null;
  private constructor(private readonly watcher: Watcher) {}

  static async watch(client: Etcd3, prefix: string): Promise<Reports> {
    const w = await client.watch().prefix(keys(prefix).gateways).create();
    const r = new Reports(w);
    w.on("put", (kv) => {
      const at = performance.now();
      const report = JSON.parse(kv.value.toString()) as { gateway: string; revision: string; stale: boolean };
      if (report.stale) return;
      const list = r.seen.get(report.gateway) ?? [];
      list.push({ revision: BigInt(report.revision), at });
      r.seen.set(report.gateway, list);
      for (const f of r.waiters.splice(0)) f();
    });
    w.on("error", (e) => {
      r.failed = new Error(`the watch of the reports failed: ${e.message}`);
      for (const f of r.waiters.splice(0)) f();
    });
    return r;
  }

  /** When `gateway`'s first report at `revision` or later arrived, if it did. */
  reached(gateway: string, revision: bigint): number | undefined {
    return this.seen.get(gateway)?.find((x) => x.revision >= revision)?.at;
  }

  /** Waits until each of `gateways` reported `revision` or later: when each one's report arrived. */
  async until(gateways: string[], revision: bigint, what: string): Promise<number[]> {
    const end = performance.now() + TIMEOUT_MS;
    for (;;) {
      const at = gateways.map((g) => this.reached(g, revision));
      if (at.every((x) => x !== undefined)) return at as number[];
      if (this.failed !== null) throw this.failed;
      if (performance.now() > end) {
        const behind = gateways.filter((_, i) => at[i] === undefined);
        const where = behind.map((g) => `${g} at ${this.seen.get(g)?.at(-1)?.revision ?? "none"}`);
        throw new Error(`timed out waiting for ${what}: ${where.join(", ")}`);
      }
      await this.wake();
    }
  }

  /** Waits for `gateway`'s report number `index` (from 0): when it arrived. */
  async report(
    gateway: string,
    index: number,
    what: string,
    timeoutMs = RESTART ? 600_000 : TIMEOUT_MS,
  ): Promise<number> {
    const end = performance.now() + timeoutMs;
    for (;;) {
      const at = this.seen.get(gateway)?.[index]?.at;
      if (at !== undefined) return at;
      if (this.failed !== null) throw this.failed;
      if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
      await this.wake();
    }
  }

  private wake(): Promise<void> {
    return new Promise<void>((resolve) => {
      const t = setTimeout(resolve, 1000);
      this.waiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  async close(): Promise<void> {
    await this.watcher.cancel();
  }
}

/** Everything one size started, for the cleanup. */
interface Run {
  lab: Lab;
  agents: { name: string; child: ChildProcess; log: string[] }[];
  reports?: Reports;
  store?: EtcdStore;
  client?: Etcd3;
}

const runs: Run[] = [];
let etcd: Etcd | null = null;
let dir: string | null = null;

async function stopAgent(a: Run["agents"][number]): Promise<void> {
  const c = a.child;
  if (c.exitCode !== null || c.signalCode !== null) return;
  const exited = new Promise((r) => c.once("exit", r));
  c.kill("SIGTERM");
  const t = setTimeout(() => c.kill("SIGKILL"), 5000);
  await exited;
  clearTimeout(t);
}

async function cleanup(): Promise<void> {
  for (const run of runs.splice(0)) {
    await Promise.all(run.agents.map(stopAgent));
    await run.reports?.close().catch(() => undefined);
    run.store?.close();
    run.client?.close();
    run.lab.destroy();
  }
  await etcd?.stop();
  etcd = null;
  if (dir !== null) rmSync(dir, { recursive: true, force: true });
  dir = null;
}

/** CPU time of a process and of its children it waited for (nft, conntrack), in ms. */
function cpuMs(pid: number): number {
  // The fields after the command name (which is in parentheses): utime stime cutime cstime are 12-15 of them.
  const after = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return [11, 12, 13, 14].reduce((a, i) => a + Number(after[i]), 0) * 10;
}

/** VmRSS and VmHWM of a process, in MB. */
function memory(pid: number): { rss: number; hwm: number } {
  const s = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(s)?.[1] ?? Number.NaN);
  return { rss: kb("VmRSS") / 1024, hwm: kb("VmHWM") / 1024 };
}

async function measure(n: number, url: string, workdir: string): Promise<Figures> {
  const prefix = `/bench-agents-${n}/`;
  const testbedFile = join(workdir, `testbed-${n}.yaml`);
  writeFileSync(testbedFile, `${TESTBED_YAML}store:\n  etcd:\n    endpoints: ["${url}"]\n    prefix: ${prefix}\n`);
  const bag = new DiagnosticBag();
  const testbed: TestbedConfig | null = loadTestbed(
    new SourceFile(testbedFile, readFileSync(testbedFile, "utf8")),
    bag,
  );
  if (testbed === null || bag.errorCount > 0) throw new Error(bag.items.map((d) => d.message).join("; "));
  const settings = etcdSettingsOf(testbed)!;
  const run: Run = { lab: new Lab(`bag${runs.length}`), agents: [] };
  runs.push(run);
  const client = await connectEtcd(settings, 60_000);
  run.client = client;
  const t0 = performance.now();
  await populateEtcd(client, prefix, n);
  console.error(`  ${n} experiments written to etcd in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const reports = await Reports.watch(client, prefix);
  run.reports = reports;

  const appliedFew: number[] = [];
  const appliedMany: number[] = [];
  /** Where the agents' batch times go: the phase being measured. */
  let applied: number[] = [];

  /**
   * Starts agent i on a gateway namespace of its own (`fresh`: a new one, no fwc tables): spawn to its first
   * report (ms).
   */
  const startAgent = async (i: number, fresh = true): Promise<number> => {
    const name = `gw${i + 1}`;
    if (fresh) run.lab.addNamespace(name);
    const earlier = reports.seen.get(name)?.length ?? 0;
    const log: string[] = [];
    const start = performance.now();
    const child = spawn(
      bin,
      [
        "agent",
        "--gateway",
        name,
        "--testbed",
        testbedFile,
        "--netns",
        run.lab.name(name),
        "--resync",
        RESYNC,
        "--status-file",
        join(workdir, `${n}-${name}.status`),
        "--color",
        "never",
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    let partial = "";
    child.stderr!.on("data", (d: Buffer) => {
      const lines = (partial + String(d)).split("\n");
      partial = lines.pop()!;
      for (const line of lines) {
        const m = /applied revision \d+ \(.*\) in (\d+) ms$/.exec(line);
        if (m !== null) applied.push(Number(m[1]));
      }
      log.push(String(d));
      if (log.length > 200) log.splice(0, 100);
    });
    const agent = { name, child, log };
    run.agents.push(agent);
    const exited = new Promise<never>((_, reject) =>
      child.once("exit", (code) => reject(new Error(`agent ${name} exited ${code}:\n${log.join("")}`))),
    );
    // Its first report: the agent listed, wrote the tables, and watches.
    const at = await Promise.race([reports.report(name, earlier, `agent ${name} to follow etcd`), exited]);
    return at - start;
  };

  const resync: number[] = [];
  for (let i = 0; i < GATEWAYS; i++) resync.push(await startAgent(i));

  // The commands' code, in this process, on a copy of the state kept between changes (as fwc serve keeps it);
  // the moment its transaction returned is taken from the store's publish.
  const store = await EtcdStore.open(client, settings, claimsOf);
  run.store = store;
  let committed = { at: 0, revision: null as string | null };
  const publish = store.publish.bind(store);
  const publishMs: number[] = [];
  store.publish = async (chunk?: number) => {
    const s = performance.now();
    const revision = await publish(chunk);
    committed = { at: performance.now(), revision };
    publishMs.push(committed.at - s);
    return revision;
  };
  let change = 0;
  const changes = async (count: number): Promise<{ all: number[]; each: number[] }> => {
    const names = run.agents.map((a) => a.name);
    const all: number[] = [];
    const each: number[] = [];
    for (let i = 0; i < count; i++, change++) {
      const ctx: DeployContext = {
        stateDir: workdir,
        testbed,
        gw: {},
        dryRun: false,
        // The command does not wait for the gateways: their reports are watched here.
        waitMs: 0,
        bag: new DiagnosticBag(),
        out: [],
        etcdCache: { store },
      };
      committed = { at: 0, revision: null };
      const exp = `bench/e${change % Math.min(n, TARGETS)}`;
      const ok = await cmd.open(ctx, exp, { rdr: `b/${1000 + change}` }, { json: true });
      // With no wait, the change is pending on the gateways (FWC832): anything else is a failure.
      const problems = ctx.bag.items.filter((d) => d.code !== "FWC832");
      if (!ok || problems.length > 0 || committed.revision === null)
        throw new Error(`open ${exp}: ${ok} ${problems.map((d) => `${d.code} ${d.message}`).join("; ")}`);
      const at = await reports
        .until(names, BigInt(committed.revision), `revision ${committed.revision}`)
        .catch((e: Error) => {
          throw new Error(
            `${e.message}\n${run.agents.map((a) => `--- ${a.name}\n${a.log.join("").slice(-3000)}`).join("\n")}`,
          );
        });
      all.push(Math.max(...at) - committed.at);
      each.push(...at.map((x) => x - committed.at));
    }
    return { all, each };
  };
  /** The changes of one phase, and what they cost each agent in CPU time. */
  const phase = async (into: number[]) => {
    applied = into;
    const before = run.agents.map((a) => cpuMs(a.child.pid!));
    const r = await changes(CHANGES);
    const spent = run.agents.map((a, i) => cpuMs(a.child.pid!) - before[i]!);
    applied = [];
    return { ...r, cpu: spent.reduce((a, b) => a + b, 0) / spent.length / CHANGES };
  };

  const few = await phase(appliedFew);
  const resyncMore: number[] = [];
  for (let i = GATEWAYS; i < AGENTS; i++) resyncMore.push(await startAgent(i));
  const many = await phase(appliedMany);
  const mem = run.agents.map((a) => memory(a.child.pid!));
  await Promise.all(run.agents.map(stopAgent));
  let restart: number | undefined;
  if (RESTART) {
    // The first gateway's agent again, on the tables it left: it lists, compares them with etcd, and changes
    // nothing (established flows live through an agent restart).
    run.agents.splice(0);
    restart = await startAgent(0, false);
    await Promise.all(run.agents.map(stopAgent));
  }
  return {
    n,
    resync,
    resyncMore,
    ...(restart === undefined ? {} : { restart }),
    appliedFew,
    appliedMany,
    few: few.all,
    fewEach: few.each,
    many: many.all,
    cpuFew: few.cpu,
    cpuMany: many.cpu,
    rss: Math.max(...mem.map((m) => m.rss)),
    hwm: Math.max(...mem.map((m) => m.hwm)),
    publish: median(publishMs),
  };
}

async function main(): Promise<void> {
  dir = mkdtempSync(join(tmpdir(), "fwc-bench-agents-"));
  etcd = await startEtcd();
  const rows: Figures[] = [];
  for (const n of SIZES) {
    console.error(`${n} experiments:`);
    rows.push(await measure(n, etcd.url, dir));
    // Each size's gateways, agents and watch go before the next one starts.
    const run = runs.pop()!;
    await run.reports?.close().catch(() => undefined);
    run.store?.close();
    run.client?.close();
    run.lab.destroy();
  }
  await cleanup();

  const base = rows[0]!;
  const x = (a: number, b: number) => `${(a / b).toFixed(2)}x`;
  const ms = (v: number) => `${v.toFixed(1)} ms`;
  const cols = [
    "experiments",
    `p50 to ${GATEWAYS}`,
    `p99 to ${GATEWAYS}`,
    `p50 to ${AGENTS}`,
    `p99 to ${AGENTS}`,
    "resync (max)",
    "RSS",
    "VmHWM",
  ];
  console.log(
    `fwc agent: ${CHANGES} changes (fwc open) one after the other, etcd commit to every gateway's report; a fresh agent's resync; agent memory`,
  );
  console.log(cols.map((c) => c.padStart(14)).join(""));
  for (const r of rows) {
    const resync = Math.max(...r.resync);
    console.log(
      [
        String(r.n),
        ms(pct(r.few, 50)),
        ms(pct(r.few, 99)),
        ms(pct(r.many, 50)),
        ms(pct(r.many, 99)),
        `${(resync / 1000).toFixed(2)} s`,
        `${r.rss.toFixed(0)} MB`,
        `${r.hwm.toFixed(0)} MB`,
      ]
        .map((c) => c.padStart(14))
        .join(""),
    );
    if (r !== base)
      console.log(
        [
          "ratio",
          x(pct(r.few, 50), pct(base.few, 50)),
          x(pct(r.few, 99), pct(base.few, 99)),
          x(pct(r.many, 50), pct(base.many, 50)),
          x(pct(r.many, 99), pct(base.many, 99)),
          x(resync, Math.max(...base.resync)),
          x(r.rss, base.rss),
          x(r.hwm, base.hwm),
        ]
          .map((c) => c.padStart(14))
          .join(""),
      );
  }
  const secs = (v: number) => `${(v / 1000).toFixed(2)} s`;
  for (const r of rows) {
    const more =
      r.resyncMore.length > 0
        ? `; the ${r.resyncMore.length} later agents' starts: median ${secs(median(r.resyncMore))}`
        : "";
    console.log(
      `  ${r.n}: with ${GATEWAYS} agents, one gateway's report p50 ${ms(pct(r.fewEach, 50))}; an agent's own time per batch (its log) p50 ${ms(median(r.appliedFew))}, p99 ${ms(pct(r.appliedFew, 99))} (with ${AGENTS}: p50 ${ms(median(r.appliedMany))}); CPU per change and agent ${ms(r.cpuFew)} (with ${AGENTS}: ${ms(r.cpuMany)}); etcd transaction of a change p50 ${ms(r.publish)}`,
    );
    console.log(
      `  ${r.n}: fresh agents' starts ${r.resync.map(secs).join(", ")}${more}${r.restart === undefined ? "" : `; gw1's agent restarted on its tables: ${secs(r.restart)}`}`,
    );
  }
  const last = rows[rows.length - 1]!;
  const met = (ok: boolean) => (ok ? "met" : "MISSED");
  const p50few = pct(last.few, 50);
  const p50many = pct(last.many, 50);
  const resync = Math.max(...last.resync);
  // The target is the agent's resident memory while it runs; its peak (while it lists and writes the whole
  // tables once at start) is shown beside it.
  const mem = last.rss;
  console.log(`targets with ${last.n} experiments:`);
  console.log(`  p50 to all ${GATEWAYS} gateways <= 100 ms: ${ms(p50few)}, ${met(p50few <= 100)}`);
  console.log(`  p50 to all ${AGENTS} agents on one machine <= 100 ms: ${ms(p50many)}, ${met(p50many <= 100)}`);
  console.log(
    `  resync of a fresh agent <= 2 s: ${(resync / 1000).toFixed(2)} s (slowest of ${GATEWAYS}), ${met(resync <= 2000)}`,
  );
  console.log(
    `  agent memory <= 150 MB: RSS ${last.rss.toFixed(0)} MB (largest of ${AGENTS}), ${met(mem <= 150)}; its peak at start ${last.hwm.toFixed(0)} MB${last.hwm > 150 ? " (above the target)" : ""}`,
  );
}

for (const signal of ["SIGINT", "SIGTERM"] as const)
  process.once(signal, () => {
    console.error(`${signal}: cleaning up`);
    void cleanup().finally(() => process.exit(130));
  });

main().catch(async (e) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : e);
  await cleanup().catch((c) => console.error(`cleanup: ${c}`));
  process.exitCode = 1;
});
