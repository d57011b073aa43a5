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
import { Lab } from "../test/kernel/lab.js";
import { populate, TESTBED_YAML } from "./populate.js";

const root = join(import.meta.dirname, "..", "..");
const bin = join(root, "dist", "fwc.cjs");
const REPEAT = Number(process.env.BENCH_REPEAT ?? 7);
const SIZES = (process.env.BENCH_SIZES ?? "1,100,1000,10000").split(",").map(Number);

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
