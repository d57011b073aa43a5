/**
 * bench/deploy: the time of one `fwc open` (one grant, the real binary, process start included) on a gateway
 * already holding 1, 100, 1,000 and 10,000 experiments, each with two nodes, a redirect and an outbound grant.
 * The gateway is a network namespace with the real nft; the experiments are put in the state directory
 * directly and loaded with one `fwc reconcile`. The 1-experiment case is the baseline of the same run.
 * Targets (issue 6): 10,000 within 2x of 1, and under 150 ms (kube-proxy adds one service beside 10,000 in
 * ~141 ms, for a daemon without process start). Needs root and nft. Run: npm run bench:deploy
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { resolveAccess } from "../src/access/resolve.js";
import { stateOf } from "../src/deploy/commands.js";
import { claimsOf, type DeployContext, emptyDynamic, planDesired } from "../src/deploy/lifecycle.js";
import { DiagnosticBag } from "../src/diagnostics/diagnostic.js";
import { SourceFile } from "../src/diagnostics/source.js";
import { evaluateNs } from "../src/ns/index.js";
import { emptyIndex, type Index } from "../src/store/schema.js";
import { SqliteStore } from "../src/store/sqlite.js";
import type { TestbedConfig } from "../src/testbed/config.js";
import { Lab } from "../test/kernel/lab.js";

const root = join(import.meta.dirname, "..", "..");
const bin = join(root, "dist", "fwc.cjs");
const REPEAT = Number(process.env.BENCH_REPEAT ?? 7);
const SIZES = (process.env.BENCH_SIZES ?? "1,100,1000,10000").split(",").map(Number);

const TESTBED_YAML = `domain: bench.example.net
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

/** A store holding `n` experiments, written directly in one transaction (the way many swapins would leave it). */
function populate(dir: string, n: number): void {
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

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function main(): void {
  const lab = new Lab("bdeploy");
  const rows: { n: number; ms: number; inProcess?: number }[] = [];
  try {
    lab.addNamespace("gw");
    for (const n of SIZES) {
      const dir = mkdtempSync(join(tmpdir(), "fwc-bench-deploy-"));
      const state = join(dir, "state");
      writeFileSync(join(dir, "testbed.yaml"), TESTBED_YAML);
      populate(state, n);
      const args = ["--state", state, "--testbed", join(dir, "testbed.yaml"), "--netns", lab.name("gw")];
      try {
        lab.exec("gw", ["nft", "delete", "table", "inet", "fwc"]);
      } catch {
        // none yet
      }
      const r = spawnSync(bin, ["reconcile", ...args], { encoding: "utf8" });
      if (r.status !== 0) throw new Error(`reconcile: ${r.stderr}`);
      const times: number[] = [];
      for (let i = 0; i < REPEAT; i++) {
        const t = process.hrtime.bigint();
        const o = spawnSync(bin, ["open", "--exp", "bench/e0", "--rdr", `b/${3000 + i}`, ...args], {
          encoding: "utf8",
        });
        times.push(Number(process.hrtime.bigint() - t) / 1e6);
        if (o.status !== 0) throw new Error(`open: ${o.stderr}`);
      }
      const status = spawnSync(bin, ["status", "--exp", "bench/e0", ...args], { encoding: "utf8" });
      if (status.status !== 0) throw new Error(`status after the opens: ${status.stderr}`);
      rows.push({ n, ms: median(times) });
      rmSync(dir, { recursive: true, force: true });
    }
  } finally {
    lab.destroy();
  }
  // Same-run baselines: what any one-shot command pays before doing anything.
  const timeOf = (cmd: string, args: string[]) => {
    const xs: number[] = [];
    for (let i = 0; i < REPEAT; i++) {
      const t = process.hrtime.bigint();
      spawnSync(cmd, args);
      xs.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
    return median(xs);
  };
  const nodeOnly = timeOf(process.execPath, ["-e", "0"]);
  const version = timeOf(bin, ["--version"]);
  const base = rows[0]!.ms;
  console.log(`fwc open (one grant, the fwc binary, process start included), median of ${REPEAT}:`);
  for (const r of rows)
    console.log(
      `  ${String(r.n).padStart(6)} experiments on the gateway: ${r.ms.toFixed(0)} ms (${(r.ms / base).toFixed(2)}x the 1-experiment case)`,
    );
  console.log(
    `  baselines of the same run: node -e 0 ${nodeOnly.toFixed(0)} ms, fwc --version ${version.toFixed(0)} ms (process start, no work)`,
  );
  const last = rows[rows.length - 1]!;
  console.log(
    `target: the ${last.n}-experiment case within 2x of the 1 case (${(last.ms / base).toFixed(2)}x) and under 150 ms (${last.ms.toFixed(0)} ms)`,
  );
}

main();
