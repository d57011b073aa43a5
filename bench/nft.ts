/**
 * bench/nft: the gateway ruleset at scale. For 1 experiment x 10,000 redirects and 1,000 experiments x 10
 * redirects: compile time (NS file to ruleset), ruleset size, `nft -f` load time beside a hand-written file
 * with one plain DNAT map of the same entries (measured in the same run), and new TCP connections per second
 * through the gateway with the full ruleset and with a single grant.
 * Targets (issue 4): load within 1.3x of the hand-written file; connection rate at least 0.9x the single-grant
 * rate. Needs root (network namespaces) and nft. Run: npm run bench:nft
 */

import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { renderNftables } from "../src/backends/nftables/render.js";
import { type Allocations, emptyAllocations } from "../src/plan/allocations.js";
import type { Plan } from "../src/plan/plan.js";
import type { TestbedConfig } from "../src/testbed/config.js";
import { planNs } from "../test/helpers.js";
import { Lab } from "../test/kernel/lab.js";

const TESTBED: TestbedConfig = {
  domain: "bench.example.net",
  gateway: { name: "gw.bench.example.net", ipv4: "198.51.100.1", outside: "eth0", inside: ["eth1"] },
  ports: { from: 20000, to: 59999 },
};
const REPEAT = Number(process.env.BENCH_REPEAT ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 2000);

/** One experiment: `nodes` nodes, `perNode` redirects each (ports 1000.. on each node). */
function experiment(
  exp: string,
  nodes: number,
  perNode: number,
  base: number,
  all: Allocations,
): { plan: Plan; allocations: Allocations } {
  const text = [
    "set ns [new Simulator]",
    "source tb_compat.tcl",
    `for {set i 0} {$i < ${nodes}} {incr i} {`,
    "  set n($i) [$ns node]",
    '  set r ""',
    `  for {set p 1000} {$p < ${1000 + perNode}} {incr p} { append r "n-$i/$p " }`,
    "  tb-allow-external $n($i) shared rdr $r",
    "}",
    "$ns run",
    "",
  ].join("\n");
  const addrs = Object.fromEntries(
    Array.from({ length: nodes }, (_, i) => [`n-${i}`, { ipv4: `10.${(base >> 8) & 255}.${base & 255}.${i + 2}` }]),
  );
  return planNs(text, { experiment: exp, testbed: TESTBED, nodes: addrs, allocations: all });
}

/**
 * The baseline: one plain DNAT map of the same entries. `atomic` adds the two lines every safe replacement of a
 * table needs (FACTS §8: `table X {}` + `delete table X` before the new table), which fwc's file has too.
 */
function handWritten(plans: Plan[], atomic: boolean): string {
  const elements = plans.flatMap((p) =>
    p.inbound.map((e) => `${e.external.address} . tcp . ${e.external.port} : ${e.nodeAddress} . ${e.port}`),
  );
  return [
    ...(atomic ? ["table ip hand {}", "delete table ip hand"] : []),
    "table ip hand {",
    "\tmap rdr { type ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service; elements = {",
    elements.map((e) => `\t\t${e}`).join(",\n"),
    "\t} }",
    "\tchain pre {",
    "\t\ttype nat hook prerouting priority dstnat; policy accept;",
    "\t\tdnat ip to ip daddr . meta l4proto . th dport map @rdr",
    "\t}",
    "}",
    "",
  ].join("\n");
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function timeLoad(lab: Lab, ns: string, file: string, table: string): number {
  const times: number[] = [];
  for (let i = 0; i < REPEAT; i++) {
    try {
      lab.exec(ns, ["nft", "delete", "table", ...table.split(" ")]);
    } catch {
      // not loaded yet
    }
    const t = process.hrtime.bigint();
    lab.exec(ns, ["nft", "-f", file]);
    times.push(Number(process.hrtime.bigint() - t) / 1e9);
  }
  return median(times);
}

async function main(): Promise<void> {
  const lab = new Lab("bnft");
  try {
    lab.addNamespace("load");
    const rows: string[] = [];
    for (const [label, make] of [
      ["1 experiment x 10,000 redirects", () => [experiment("bench/one", 100, 100, 1, emptyAllocations()).plan]],
      [
        "1,000 experiments x 10 redirects",
        () => {
          let all = emptyAllocations();
          const plans: Plan[] = [];
          for (let e = 0; e < 1000; e++) {
            const r = experiment(`bench/e${e}`, 1, 10, e + 2, all);
            all = r.allocations;
            plans.push(r.plan);
          }
          return plans;
        },
      ],
    ] as const) {
      const t0 = process.hrtime.bigint();
      const plans = make();
      const ruleset = renderNftables({ testbed: TESTBED, plans });
      const compileSec = Number(process.hrtime.bigint() - t0) / 1e9;
      const file = join(tmpdir(), `${lab.prefix}-${plans.length}.nft`);
      const hand = join(tmpdir(), `${lab.prefix}-${plans.length}-hand.nft`);
      writeFileSync(file, ruleset);
      const handAtomic = `${hand}.atomic`;
      writeFileSync(hand, handWritten(plans, false));
      writeFileSync(handAtomic, handWritten(plans, true));
      const ours = timeLoad(lab, "load", file, "inet fwc");
      const plain = timeLoad(lab, "load", hand, "ip hand");
      const atomic = timeLoad(lab, "load", handAtomic, "ip hand");
      lab.exec("load", ["nft", "delete", "table", "inet", "fwc"]);
      lab.exec("load", ["nft", "delete", "table", "ip", "hand"]);
      rows.push(
        `${label}: compile ${compileSec.toFixed(2)} s, ruleset ${(ruleset.length / 1024).toFixed(0)} KiB, nft -f ${ours.toFixed(3)} s; ` +
          `hand-written single map replacing its table atomically ${atomic.toFixed(3)} s (${(ours / atomic).toFixed(2)}x; target <= 1.3x), ` +
          `without the replacement lines ${plain.toFixed(3)} s (${(ours / plain).toFixed(2)}x)`,
      );
      console.log(rows[rows.length - 1]);
    }
    console.log(await connectionRates(lab));
  } finally {
    lab.destroy();
  }
}

/** New TCP connections per second through the gateway: full 10,000-redirect ruleset vs a single grant. */
async function connectionRates(lab: Lab): Promise<string> {
  for (const ns of ["inet", "gw", "node"]) lab.addNamespace(ns);
  lab.link("inet", "inet0", ["198.51.100.2/24"], "gw", "eth0", ["198.51.100.1/24"]);
  lab.link("gw", "eth1", ["10.0.1.1/24"], "node", "eth0", ["10.0.1.2/24"]);
  lab.exec("node", ["ip", "route", "add", "default", "via", "10.0.1.1"]);
  lab.exec("gw", ["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
  await lab.listen("node", "tcp", "10.0.1.2", 1000, "bench");
  const full = experiment("bench/one", 100, 100, 1, emptyAllocations()).plan;
  const single = { ...full, inbound: full.inbound.filter((e) => e.node === "n-0" && e.port === 1000) };
  const target = single.inbound[0]!.external.port;
  const rate = (plan: Plan) => {
    const file = join(tmpdir(), `${lab.prefix}-conn.nft`);
    writeFileSync(file, renderNftables({ testbed: TESTBED, plans: [plan] }));
    lab.exec("gw", ["nft", "-f", file]);
    const out = lab.exec("inet", [
      process.execPath,
      join(import.meta.dirname, "..", "..", "bench", "conn-client.mjs"),
      "198.51.100.1",
      String(target),
      String(CONNECTIONS),
    ]);
    const r = JSON.parse(out) as { perSecond: number; connections: number };
    if (r.connections < CONNECTIONS) throw new Error(`only ${r.connections} connections completed`);
    return r.perSecond;
  };
  const samples: [number, number][] = [];
  for (let i = 0; i < 3; i++) samples.push([rate(single), rate(full)]);
  const one = median(samples.map((s) => s[0]));
  const all = median(samples.map((s) => s[1]));
  return `new connections/s through the gateway: ${all.toFixed(0)} with 10,000 redirects vs ${one.toFixed(0)} with a single grant (${(all / one).toFixed(2)}x; target >= 0.9x)`;
}

void main();
