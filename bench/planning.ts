/**
 * bench/planning: planning cost in the number of grants, through the real binary (process start included).
 *   - `fwc compile --emit nft` of 100 nodes x N nat targets, N = 100, 200, 400 (target for 400: under 1 s);
 *   - `fwc open --json` of one g5kfw opening with P ports, P = 1,000, 2,000, 4,000 (target for 4,000: under 1 s),
 *     on a gateway in a network namespace (root, nft).
 *   - `fwc open --json --dry-run` of 4,000 ports, alone and beside 4,000 held (its preview plans the state again).
 * Baselines of the same run: `node -e 0`, and the smallest case of each series (doubling the grants should about
 * double the work, not quadruple it). Run: npm run bench:planning
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Lab } from "../test/kernel/lab.js";

const root = join(import.meta.dirname, "..", "..");
const bin = join(root, "dist", "fwc.cjs");
const REPEAT = Number(process.env.BENCH_REPEAT ?? 5);

const TESTBED = `domain: bench.example.net
gateway:
  name: gw.bench.example.net
  ipv4: 198.51.100.1
  ipv6: 2001:db8:ffff::1
  outside: eth0
  inside: [eth1]
ports: 20000-29999
limits: { elements: 100000 }
`;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Median wall time of a command (seconds); `before` runs untimed before each run. */
function time(cmd: string[], opts: { input?: string; before?: () => void } = {}): number {
  const times: number[] = [];
  for (let i = 0; i < REPEAT; i++) {
    opts.before?.();
    const t = process.hrtime.bigint();
    const r = spawnSync(cmd[0]!, cmd.slice(1), { input: opts.input, encoding: "utf8", maxBuffer: 1 << 28 });
    times.push(Number(process.hrtime.bigint() - t) / 1e9);
    if (r.status !== 0) throw new Error(`${cmd.join(" ")}: exit ${r.status}\n${r.stderr.slice(0, 2000)}`);
  }
  return median(times);
}

function main(): void {
  const dir = mkdtempSync(join(tmpdir(), "fwc-bench-planning-"));
  const lab = new Lab("bplan");
  try {
    writeFileSync(join(dir, "testbed.yaml"), TESTBED);
    const node = time([process.execPath, "-e", "0"]);
    console.log(`baseline: node -e 0 ${(node * 1000).toFixed(0)} ms`);

    // Compile: 100 nodes, one call with N nat targets (each grant is one element per node).
    const nodes = Array.from({ length: 100 }, (_, i) => `n${i}`);
    writeFileSync(
      join(dir, "nodes.json"),
      JSON.stringify(Object.fromEntries(nodes.map((n, i) => [n, { ipv4: `10.3.${i >> 7}.${(i & 127) + 2}` }]))),
    );
    let first = 0;
    for (const n of [100, 200, 400]) {
      const targets = Array.from({ length: n }, (_, i) => `${1 + (i % 200)}.${i >> 3}.${i & 7}.0/24,80,tcp`);
      const ns = [
        "set ns [new Simulator]",
        "source tb_compat.tcl",
        ...nodes.map((x) => `set ${x} [$ns node]`),
        `tb-allow-external $n0 shared nat "${targets.join(" ")}"`,
        "$ns run",
        "",
      ].join("\n");
      writeFileSync(join(dir, `c${n}.ns`), ns);
      const s = time([
        ...[bin, "compile", join(dir, `c${n}.ns`), "--exp", "bench/c", "--emit", "nft"],
        ...["--testbed", join(dir, "testbed.yaml"), "--nodes", join(dir, "nodes.json"), "-o", join(dir, "out.nft")],
      ]);
      if (n === 100) first = s;
      console.log(
        `compile, 100 nodes x ${n} nat targets (${100 * n} elements): ${s.toFixed(2)} s (${(s / first).toFixed(2)}x the 100-target case)${n === 400 ? "; target < 1 s" : ""}`,
      );
    }

    // open --json: a gateway namespace, one experiment with an IPv6 node, one opening of P ports.
    lab.addNamespace("gw");
    writeFileSync(join(dir, "e.ns"), "set ns [new Simulator]\nsource tb_compat.tcl\nset web [$ns node]\n$ns run\n");
    writeFileSync(join(dir, "web.json"), JSON.stringify({ web: { ipv4: "10.1.1.3", ipv6: "2620:0:e01::3" } }));
    const state = join(dir, "state");
    const opts = ["--state", state, "--testbed", join(dir, "testbed.yaml"), "--netns", lab.name("gw")];
    const fresh = () => {
      rmSync(state, { recursive: true, force: true });
      for (const family of ["inet", "bridge"])
        spawnSync("ip", ["netns", "exec", lab.name("gw"), "nft", "delete", "table", family, "fwc"]);
      const r = spawnSync(bin, [
        "swapin",
        join(dir, "e.ns"),
        "--exp",
        "bench/o",
        "--nodes",
        join(dir, "web.json"),
        ...opts,
      ]);
      if (r.status !== 0) throw new Error(`swapin: ${r.stderr}`);
    };
    first = 0;
    let real4000 = 0;
    const opening = (p: number, from: number) =>
      JSON.stringify([
        { addr: "web", proto: "tcp", port: Array.from({ length: p }, (_, i) => String(from + 2 * i)).join(" ") },
      ]);
    for (const p of [1000, 2000, 4000]) {
      const s = time([bin, "open", "--exp", "bench/o", "--json", ...opts], { input: opening(p, 30000), before: fresh });
      if (p === 1000) first = s;
      if (p === 4000) real4000 = s;
      console.log(
        `open --json, one opening of ${p} ports: ${s.toFixed(2)} s (${(s / first).toFixed(2)}x the 1,000-port case)${p === 4000 ? "; target < 1 s" : ""}`,
      );
    }

    // The dry run's preview plans the experiment's state again for its "before" side: the same opening as a
    // dry run, on an experiment holding nothing, then on one already holding 4,000 opened ports.
    const dry = time([bin, "open", "--exp", "bench/o", "--json", "--dry-run", ...opts], {
      input: opening(4000, 30000),
      before: fresh,
    });
    fresh();
    const held = spawnSync(bin, ["open", "--exp", "bench/o", "--json", ...opts], { input: opening(4000, 30000) });
    if (held.status !== 0) throw new Error(`open: ${held.stderr}`);
    const dryHeld = time([bin, "open", "--exp", "bench/o", "--json", "--dry-run", ...opts], {
      input: opening(4000, 30001),
    });
    console.log(
      `open --json --dry-run of 4,000 ports (preview and transaction): ${dry.toFixed(2)} s (${(dry / real4000).toFixed(2)}x the real open); beside 4,000 ports held: ${dryHeld.toFixed(2)} s (${(dryHeld / real4000).toFixed(2)}x)`,
    );
  } finally {
    lab.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

main();
