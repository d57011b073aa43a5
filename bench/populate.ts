/**
 * What the deploy, service and agent benchmarks share: a gateway's store holding many experiments, written
 * directly (the way many swapins would leave it), each with two nodes, a redirect and an outbound grant: in the
 * embedded store in one transaction (populate), or in etcd under a prefix (populateEtcd).
 */
import type { Etcd3 } from "etcd3";
import { resolveAccess } from "../src/access/resolve.js";
import { stateOf } from "../src/deploy/commands.js";
import { claimsOf, type DeployContext, emptyDynamic, planDesired } from "../src/deploy/lifecycle.js";
import { DiagnosticBag } from "../src/diagnostics/diagnostic.js";
import { SourceFile } from "../src/diagnostics/source.js";
import { evaluateNs } from "../src/ns/index.js";
import { keys } from "../src/store/etcd.js";
import { type ExperimentState, emptyIndex, type Index } from "../src/store/schema.js";
import { SqliteStore } from "../src/store/sqlite.js";
import type { TestbedConfig } from "../src/testbed/config.js";

export const TESTBED_YAML = `domain: bench.example.net
gateway:
  name: gw.bench.example.net
  ipv4: 198.51.100.1
  outside: eth0
  inside: [eth1]
ports: 10000-60000
`;
const TESTBED: TestbedConfig = {
  domain: "bench.example.net",
  gateway: { name: "gw.bench.example.net", ipv4: "198.51.100.1", outside: "eth0", inside: ["eth1"] },
  ports: { from: 10000, to: 60000 },
};
const NS = `set ns [new Simulator]
source tb_compat.tcl
set a [$ns node]
set b [$ns node]
tb-allow-external $a shared rdr "a/22" nat "192.0.2.0/24,443"
$ns run
`;

/** The records of `n` experiments bench/e0 ... bench/e<n-1>, planned by the real planner one after the other. */
function* records(dir: string, n: number): Generator<[string, ExperimentState]> {
  const file = new SourceFile("bench.ns", NS);
  const bag = new DiagnosticBag();
  const policy = resolveAccess(evaluateNs(file, undefined, bag).experiment, file, bag);
  const ctx: DeployContext = { stateDir: dir, testbed: TESTBED, gw: {}, dryRun: true, waitMs: 0, bag, out: [] };
  const index: Index = emptyIndex();
  for (let i = 0; i < n; i++) {
    const exp = `bench/e${i}`;
    const nodes = {
      a: { ipv4: `10.${(i >> 7) & 255}.${(i & 127) * 2}.2` },
      b: { ipv4: `10.${(i >> 7) & 255}.${(i & 127) * 2}.3` },
    };
    const d = { file: "bench.ns", policy, dynamic: emptyDynamic(), nodes };
    const p = planDesired(ctx, exp, d, null, index, file);
    if (p === null) throw new Error(bag.items.map((x) => x.message).join("; "));
    const s = stateOf(ctx, exp, d, p);
    index.ports.push(...s.allocations.ports.map((x) => ({ port: x.port, portEnd: x.portEnd })));
    yield [exp, s];
  }
}

/** A store holding `n` experiments bench/e0 ... bench/e<n-1>. */
export function populate(dir: string, n: number): void {
  const store = SqliteStore.open(dir, claimsOf, { create: true, waitMs: 0 })!;
  store.begin(0);
  for (const [exp, s] of records(dir, n)) store.putExperiment(exp, s);
  store.commit();
  store.close();
}

/**
 * The same `n` experiments in etcd under `prefix`, laid out as the etcd store lays them out (src/store/etcd.ts):
 * `experiments/<pid>/<eid>` (the record's JSON) in transactions of at most `chunk` records, each one putting
 * `generation` + 1 and conditional on the generation the one before wrote (the first on its absence). Returns
 * the revision of the last transaction.
 */
export async function populateEtcd(client: Etcd3, prefix: string, n: number, chunk = 100): Promise<string> {
  const k = keys(prefix);
  let generation = 0;
  let mod = "0";
  let part: [string, ExperimentState][] = [];
  const write = async () => {
    generation++;
    const txn = mod === "0" ? client.if(k.generation, "Create", "==", 0) : client.if(k.generation, "Mod", "==", mod);
    const r = await txn
      .then(
        client.put(k.generation).value(String(generation)),
        ...part.map(([exp, s]) => client.put(k.experiment(exp)).value(JSON.stringify(s))),
      )
      .commit();
    if (!r.succeeded) throw new Error(`populateEtcd: another writer changed ${k.generation}`);
    mod = r.header.revision;
    part = [];
  };
  for (const rec of records("/nonexistent-fwc-bench", n)) {
    part.push(rec);
    if (part.length === chunk) await write();
  }
  if (part.length > 0 || generation === 0) await write();
  return mod;
}
