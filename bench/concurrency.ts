/**
 * bench/concurrency: 20 concurrent `fwc open` on 20 experiments (each a new grant, the real binary, process start
 * included) on a gateway in a network namespace: the wall time of the whole batch and its slowest command,
 * median of 5 batches. Baselines of the same run: the same 20 opens one after the other (what the batch would
 * cost if commands could not overlap at all), and one open alone. Every command must succeed. Needs root and
 * nft. Run: npm run bench:concurrency
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Lab } from "../test/kernel/lab.js";

const root = join(import.meta.dirname, "..", "..");
const bin = join(root, "dist", "fwc.cjs");
const N = 20;
const BATCHES = Number(process.env.BENCH_REPEAT ?? 5);

const TESTBED = `domain: bench.example.net
gateway:
  name: gw.bench.example.net
  ipv4: 198.51.100.1
  outside: eth0
  inside: [eth1]
ports: 20000-29999
`;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "fwc-bench-conc-"));
  const lab = new Lab("bconc");
  const args = (a: string[]) => [
    ...a,
    ...["--state", join(dir, "state"), "--testbed", join(dir, "testbed.yaml"), "--netns", lab.name("gw")],
    ...["--wait", "120"],
  ];
  const runSync = (a: string[]) => {
    const t = process.hrtime.bigint();
    const r = spawnSync(bin, args(a), { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`${a.join(" ")}: ${r.stderr}`);
    return Number(process.hrtime.bigint() - t) / 1e6;
  };
  const run = (a: string[]) =>
    new Promise<number>((resolve, reject) => {
      const t = process.hrtime.bigint();
      const c = spawn(bin, args(a), { stdio: ["ignore", "ignore", "pipe"] });
      let err = "";
      c.stderr!.on("data", (d: Buffer) => {
        err += String(d);
      });
      c.on("exit", (code) =>
        code === 0
          ? resolve(Number(process.hrtime.bigint() - t) / 1e6)
          : reject(new Error(`${a.join(" ")}: exit ${code}\n${err}`)),
      );
    });
  let port = 1000;
  const open = (i: number) => ["open", "--exp", `b/e${i}`, "--rdr", `a/${port + i}`];
  return (async () => {
    try {
      writeFileSync(join(dir, "testbed.yaml"), TESTBED);
      lab.addNamespace("gw");
      for (let i = 0; i < N; i++) {
        writeFileSync(
          join(dir, `e${i}.ns`),
          'set ns [new Simulator]\nsource tb_compat.tcl\nset a [$ns node]\ntb-allow-external $a shared rdr "a/22"\n$ns run\n',
        );
        writeFileSync(join(dir, `n${i}.json`), JSON.stringify({ a: { ipv4: `10.2.${i}.2` } }));
        runSync(["swapin", join(dir, `e${i}.ns`), "--exp", `b/e${i}`, "--nodes", join(dir, `n${i}.json`)]);
      }
      const alone: number[] = [];
      const serial: number[] = [];
      const batch: number[] = [];
      const slowest: number[] = [];
      for (let b = 0; b < BATCHES; b++) {
        port += 100;
        let total = 0;
        for (let i = 0; i < N; i++) {
          const ms = runSync(open(i));
          total += ms;
          if (i === 0) alone.push(ms);
        }
        serial.push(total);
        port += 100;
        const t = process.hrtime.bigint();
        const times = await Promise.all(Array.from({ length: N }, (_, i) => run(open(i))));
        batch.push(Number(process.hrtime.bigint() - t) / 1e6);
        slowest.push(Math.max(...times));
      }
      const s = median(serial);
      const c = median(batch);
      console.log(`${N} opens on ${N} experiments, median of ${BATCHES} batches (every command succeeded):`);
      console.log(`  concurrent: ${c.toFixed(0)} ms for the batch, slowest command ${median(slowest).toFixed(0)} ms`);
      console.log(
        `  baseline, one after the other: ${s.toFixed(0)} ms (concurrent/sequential: ${(c / s).toFixed(2)}x)`,
      );
      console.log(`  baseline, one open alone: ${median(alone).toFixed(0)} ms`);
    } finally {
      lab.destroy();
      rmSync(dir, { recursive: true, force: true });
    }
  })();
}

await main();
