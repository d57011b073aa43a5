/**
 * bench/nft: the gateway ruleset at scale. For 1 experiment x 10,000 redirects and 1,000 experiments x 10
 * redirects, each with 1,000 blocked networks and default deny in place: compile time (NS file to ruleset),
 * ruleset size, `nft -f` load time beside a hand-written file with one plain DNAT map of the same entries
 * (measured in the same run; also beside a hand-written file that adds the same blocked networks as one set),
 * and new TCP connections per second through the gateway with the full ruleset (10,000 redirects, 1,000 blocks)
 * and with a single grant.
 * Targets (issues 4 and 10): load within 1.3x of the hand-written file; connection rate at least 0.9x the
 * single-grant rate. Needs root (network namespaces) and nft. Run: npm run bench:nft
 */

import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { experimentElements, renderNftables, renderTable } from "../src/backends/nftables/render.js";
import { blockElements } from "../src/deploy/blocks.js";
import { type Allocations, emptyAllocations } from "../src/plan/allocations.js";
import type { Plan } from "../src/plan/plan.js";
import type { BlockEntry } from "../src/store/schema.js";
import type { TestbedConfig } from "../src/testbed/config.js";
import { planNs } from "../test/helpers.js";
import { Lab } from "../test/kernel/lab.js";

const TESTBED: TestbedConfig = {
  domain: "bench.example.net",
  gateway: { name: "gw.bench.example.net", ipv4: "198.51.100.1", outside: "eth0", inside: ["eth1"] },
  ports: { from: 20000, to: 59999 },
  limits: { ports: 10000, elements: 20000 },
};

/** 1,000 blocked networks: 700 IPv4 /24s, 200 IPv6 /48s, 100 IPv4 /24s with one TCP port. */
const BLOCKS: BlockEntry[] = Array.from({ length: 1000 }, (_, i) => {
  const base = { reason: "bench", by: "cli:bench", at: "2026-11-27T00:00:00Z" };
  if (i < 700) return { cidr: `100.${64 + (i >> 8)}.${i & 255}.0/24`, ...base };
  if (i < 900) return { cidr: `2001:db8:${(i - 700).toString(16)}::/48`, ...base };
  return { cidr: `100.100.${i - 900}.0/24`, proto: "tcp", port: 22, portEnd: 22, ...base };
});

/** fwc's whole tables for these plans, with the blocklist. */
const fwcTables = (plans: Plan[], blocks: BlockEntry[]) =>
  renderTable(TESTBED, [...plans.map((p) => experimentElements(TESTBED, p)), blockElements(blocks)]);
const REPEAT = Number(process.env.BENCH_REPEAT ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 2000);
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 5);

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
 * table needs (`table X {}` + `delete table X` before the new table), which fwc's file has too.
 */
function handWritten(plans: Plan[], atomic: boolean, blocks = false): string {
  const elements = plans.flatMap((p) =>
    p.inbound.map((e) => `${e.external.address} . tcp . ${e.external.port} : ${e.nodeAddress} . ${e.port}`),
  );
  // What an operator would write by hand for the same blocklist: one interval set per family, one rule each.
  const v4 = BLOCKS.filter((b) => !b.cidr.includes(":")).map((b) => b.cidr);
  const v6 = BLOCKS.filter((b) => b.cidr.includes(":")).map((b) => b.cidr);
  return [
    ...(atomic ? ["table inet hand {}", "delete table inet hand"] : []),
    "table inet hand {",
    "\tmap rdr { type ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service; elements = {",
    elements.map((e) => `\t\t${e}`).join(",\n"),
    "\t} }",
    ...(blocks
      ? [
          `\tset b4 { type ipv4_addr; flags interval; elements = { ${v4.join(", ")} } }`,
          `\tset b6 { type ipv6_addr; flags interval; elements = { ${v6.join(", ")} } }`,
          "\tchain forward {",
          "\t\ttype filter hook forward priority filter; policy accept;",
          "\t\tip saddr @b4 drop",
          "\t\tip6 saddr @b6 drop",
          "\t}",
        ]
      : []),
    "\tchain pre {",
    "\t\ttype nat hook prerouting priority dstnat; policy accept;",
    "\t\tdnat ip to ip daddr . meta l4proto . th dport map @rdr",
    "\t}",
    "}",
    "",
  ].join("\n");
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Median time of `nft -f file` into a namespace without the file's tables (`tables`: "family name", ...). */
function timeLoad(lab: Lab, ns: string, file: string, ...tables: string[]): number {
  const times: number[] = [];
  for (let i = 0; i < REPEAT; i++) {
    for (const table of tables)
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
      const ruleset = fwcTables(plans, BLOCKS);
      const compileSec = Number(process.hrtime.bigint() - t0) / 1e9;
      const file = join(tmpdir(), `${lab.prefix}-${plans.length}.nft`);
      const bare = join(tmpdir(), `${lab.prefix}-${plans.length}-bare.nft`);
      const hand = join(tmpdir(), `${lab.prefix}-${plans.length}-hand.nft`);
      writeFileSync(file, ruleset);
      writeFileSync(bare, renderNftables({ testbed: TESTBED, plans }));
      const handAtomic = `${hand}.atomic`;
      const handBlocks = `${hand}.blocks`;
      writeFileSync(hand, handWritten(plans, false));
      writeFileSync(handAtomic, handWritten(plans, true));
      writeFileSync(handBlocks, handWritten(plans, true, true));
      const ours = timeLoad(lab, "load", file, "inet fwc", "bridge fwc");
      const noBlocks = timeLoad(lab, "load", bare, "inet fwc", "bridge fwc");
      const plain = timeLoad(lab, "load", hand, "inet hand");
      const atomic = timeLoad(lab, "load", handAtomic, "inet hand");
      const withBlocks = timeLoad(lab, "load", handBlocks, "inet hand");
      lab.exec("load", ["nft", "delete", "table", "inet", "fwc"]);
      lab.exec("load", ["nft", "delete", "table", "bridge", "fwc"]);
      lab.exec("load", ["nft", "delete", "table", "inet", "hand"]);
      rows.push(
        `${label} + 1,000 blocked networks, default deny: compile ${compileSec.toFixed(2)} s, ruleset ${(ruleset.length / 1024).toFixed(0)} KiB, nft -f ${ours.toFixed(3)} s; ` +
          `hand-written single map replacing its table atomically ${atomic.toFixed(3)} s (${(ours / atomic).toFixed(2)}x; target <= 1.3x), ` +
          `hand-written map and blocklist set ${withBlocks.toFixed(3)} s (${(ours / withBlocks).toFixed(2)}x), ` +
          `without the replacement lines ${plain.toFixed(3)} s (${(ours / plain).toFixed(2)}x); ` +
          `fwc without the blocklist ${noBlocks.toFixed(3)} s`,
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
  const rate = (plan: Plan, blocks: BlockEntry[]) => {
    const file = join(tmpdir(), `${lab.prefix}-conn.nft`);
    writeFileSync(file, fwcTables([plan], blocks));
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
  // Alternating runs, so that a slow spell of the machine hits each ruleset alike.
  const samples: [number, number, number][] = [];
  for (let i = 0; i < SAMPLES; i++) samples.push([rate(single, []), rate(full, BLOCKS), rate(full, [])]);
  const one = median(samples.map((s) => s[0]));
  const all = median(samples.map((s) => s[1]));
  const noBlocks = median(samples.map((s) => s[2]));
  return (
    `new connections/s through the gateway: ${all.toFixed(0)} with 10,000 redirects, 1,000 blocked networks and default deny vs ${one.toFixed(0)} with a single grant and no blocks (${(all / one).toFixed(2)}x; target >= 0.9x); ` +
    `${noBlocks.toFixed(0)} with the 10,000 redirects and no blocks (${(noBlocks / one).toFixed(2)}x)`
  );
}

void main();
