/**
 * bench/frontend: wall time and peak memory of `fwc check` on generated NS files with 5,000 and 50,000 nodes
 * (a loop plus one LAN of all nodes), beside baselines measured in the same run: Node.js start-up alone, and
 * tclsh evaluating the same file with a minimal stub of Emulab's naming (bench/emulab-stub.tcl).
 * Targets (issue 2): 5,000 nodes in at most 0.2 s including Node start-up and under 80 MB; 50,000 under 1 s.
 * Run: npm run bench   (needs GNU time, /usr/bin/time, for peak memory)
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const root = join(import.meta.dirname, "..", "..");
const fwc = join(root, "dist", "fwc.cjs");
const stub = join(root, "bench", "emulab-stub.tcl");
const REPEAT = Number(process.env.BENCH_REPEAT ?? 5);

export function generate(n: number): string {
  return [
    "set ns [new Simulator]",
    "source tb_compat.tcl",
    `set N ${n}`,
    "for {set i 0} {$i < $N} {incr i} {",
    "    set n($i) [$ns node]",
    "    tb-set-node-os $n($i) UBUNTU22-64-STD",
    '    append lanstr "$n($i) "',
    "}",
    'set lan0 [$ns make-lan "$lanstr" 100Mb 0ms]',
    "$ns rtproto Static",
    "$ns run",
    "",
  ].join("\n");
}

interface Sample {
  seconds: number;
  maxRssMb: number;
}

function measure(cmd: string[]): Sample {
  const r = spawnSync("/usr/bin/time", ["-f", "%e %M", ...cmd], { encoding: "utf8", maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${cmd.join(" ")} failed (${r.status}): ${r.stderr.slice(-500)}`);
  const last = r.stderr.trim().split("\n").pop()!;
  const [sec, kb] = last.split(" ").map(Number);
  return { seconds: sec!, maxRssMb: kb! / 1024 };
}

/** Median time and the largest peak memory over REPEAT runs. */
function bench(cmd: string[]): Sample {
  const runs = Array.from({ length: REPEAT }, () => measure(cmd));
  const times = runs.map((r) => r.seconds).sort((a, b) => a - b);
  return { seconds: times[Math.floor(times.length / 2)]!, maxRssMb: Math.max(...runs.map((r) => r.maxRssMb)) };
}

function main(): void {
  const dir = mkdtempSync(join(tmpdir(), "fwc-bench-"));
  const fmt = (s: Sample) => `${s.seconds.toFixed(2)} s  ${s.maxRssMb.toFixed(0).padStart(4)} MB`;
  const node = bench([process.execPath, "-e", ""]);
  console.log(`baseline  node start-up alone                 ${fmt(node)}`);
  const rows: string[] = [];
  for (const n of [5000, 50000]) {
    const file = join(dir, `nodes-${n}.ns`);
    writeFileSync(file, generate(n));
    // Run as users run it: the executable with its #! line (which sets V8's young generation size).
    const ours = bench([fwc, "check", file]);
    const tcl = bench(["tclsh", stub, file]);
    console.log(`baseline  tclsh + Emulab naming stub, ${String(n).padStart(6)} nodes ${fmt(tcl)}`);
    console.log(`fwc check                        ${String(n).padStart(6)} nodes ${fmt(ours)}`);
    rows.push(
      `${n} nodes: fwc ${ours.seconds.toFixed(2)} s / ${ours.maxRssMb.toFixed(0)} MB; ` +
        `${(tcl.seconds / ours.seconds).toFixed(1)}x faster than the tclsh stub, ` +
        `${(ours.seconds - node.seconds).toFixed(2)} s above bare Node start-up` +
        (n === 5000
          ? `; ${(1.98 / ours.seconds).toFixed(1)}x faster and ${(137 / ours.maxRssMb).toFixed(1)}x smaller than Emulab's parser (1.98 s, 137 MB, measured once on this machine kind)`
          : ""),
    );
  }
  console.log("");
  for (const r of rows) console.log(r);
  const t5 = rows.length;
  void t5;
}

main();
