/**
 * What the deploy and service benchmarks share: a gateway's store holding many experiments, written directly in
 * one transaction (the way many swapins would leave it), each with two nodes, a redirect and an outbound grant.
 */
import { resolveAccess } from "../src/access/resolve.js";
import { stateOf } from "../src/deploy/commands.js";
import { claimsOf, type DeployContext, emptyDynamic, planDesired } from "../src/deploy/lifecycle.js";
import { DiagnosticBag } from "../src/diagnostics/diagnostic.js";
import { SourceFile } from "../src/diagnostics/source.js";
import { evaluateNs } from "../src/ns/index.js";
import { emptyIndex, type Index } from "../src/store/schema.js";
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

/** A store holding `n` experiments bench/e0 ... bench/e<n-1>. */
export function populate(dir: string, n: number): void {
  const file = new SourceFile("bench.ns", NS);
  const bag = new DiagnosticBag();
  const policy = resolveAccess(evaluateNs(file, undefined, bag).experiment, file, bag);
  const ctx: DeployContext = { stateDir: dir, testbed: TESTBED, gw: {}, dryRun: true, waitMs: 0, bag, out: [] };
  const index: Index = emptyIndex();
  const store = SqliteStore.open(dir, claimsOf, { create: true, waitMs: 0 })!;
  store.begin(0);
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
    store.putExperiment(exp, s);
    index.ports.push(...s.allocations.ports.map((x) => ({ port: x.port, portEnd: x.portEnd })));
  }
  store.commit();
  store.close();
}
