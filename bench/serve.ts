/**
 * bench/serve: `fwc serve` (the real binary) on a gateway in a network namespace that already holds 10,000
 * experiments (and, as the baseline of the same run, 50: one experiment per client):
 *   - latency: one grant at a time through the API (POST .../grants, each a new redirect, on 50 experiments
 *     in turn), p50 and p99;
 *   - throughput: 50 concurrent clients, each posting grants one after the other for a few seconds, in grants
 *     per second (every grant must be answered 200), and the round sizes the service used.
 * The clients run in a process of their own (bench/serve-client.mjs), with keep-alive connections. Targets
 * (issue 12): p50 <= 30 ms, p99 <= 150 ms, >= 300 grants/s beside 10,000 experiments. Needs root and nft.
 * Run: npm run bench:serve
 */
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Lab, lineReader } from "../test/kernel/lab.js";
import { populate, TESTBED_YAML } from "./populate.js";

const root = join(import.meta.dirname, "..", "..");
const bin = join(root, "dist", "fwc.cjs");
const client = join(root, "bench", "serve-client.mjs");
const SIZES = (process.env.BENCH_SIZES ?? "50,10000").split(",").map(Number);
const SEQUENTIAL = Number(process.env.BENCH_GRANTS ?? 300);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 50);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const TOKEN = "bench-token-0123456789";

interface Figures {
  n: number;
  p50: number;
  p99: number;
  rate: number;
  answered: number;
  failed: number;
  rounds: number;
}

/** Runs the load client: its JSON summary. */
function load(args: object): Promise<{ latencies: number[]; ok: number; failed: number; seconds: number }> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [client, JSON.stringify(args)], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    c.stdout!.on("data", (d: Buffer) => {
      out += String(d);
    });
    c.on("exit", (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`client exited ${code}`))));
  });
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};

async function measure(lab: Lab, n: number): Promise<Figures> {
  const dir = mkdtempSync(join(tmpdir(), "fwc-bench-serve-"));
  const state = join(dir, "state");
  writeFileSync(join(dir, "testbed.yaml"), TESTBED_YAML);
  const hash = createHash("sha256").update(TOKEN).digest("hex");
  writeFileSync(join(dir, "users.yaml"), `users:\n  - name: bench\n    token_sha256: "${hash}"\n    admin: true\n`);
  populate(state, n);
  const args = ["--state", state, "--testbed", join(dir, "testbed.yaml"), "--netns", lab.name("gw")];
  for (const t of [
    ["inet", "fwc"],
    ["bridge", "fwc"],
  ])
    try {
      lab.exec("gw", ["nft", "delete", "table", ...t]);
    } catch {
      // none yet
    }
  const r = spawnSync(bin, ["reconcile", ...args], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`reconcile: ${r.stderr}`);
  const server = spawn(bin, ["serve", "--listen", "127.0.0.1:0", "--users", join(dir, "users.yaml"), ...args], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  try {
    const first = await lineReader(server).next(30_000);
    const url = /listening on (\S+) /.exec(first)?.[1];
    if (url === undefined) throw new Error(`fwc serve: ${first}`);
    const experiments = Math.min(n, CLIENTS);
    // One grant at a time, each a new redirect, on the clients' experiments in turn (6 each by default).
    const seq = await load({
      url,
      token: TOKEN,
      clients: 1,
      experiments,
      count: SEQUENTIAL,
      base: 20000,
      rotate: true,
    });
    // 50 clients at once, for SECONDS: client k opens new redirects on experiment e<k mod n>.
    const par = await load({ url, token: TOKEN, clients: CLIENTS, experiments, seconds: SECONDS, base: 30000 });
    const metrics = await (await fetch(`${url}/metrics`)).text();
    const rounds = Number(/^fwc_batch_size_count (\S+)$/m.exec(metrics)?.[1] ?? "0");
    // The whole gateway in step with the store (the listing of 10,000 experiments is not read).
    const status = spawnSync(bin, ["status", ...args], { encoding: "utf8", stdio: ["ignore", "ignore", "pipe"] });
    if (status.status !== 0) throw new Error(`status after the grants: ${status.status} ${status.stderr}`);
    return {
      n,
      p50: pct(seq.latencies, 50),
      p99: pct(seq.latencies, 99),
      rate: par.ok / par.seconds,
      answered: par.ok,
      failed: seq.failed + par.failed,
      rounds,
    };
  } finally {
    server.kill("SIGTERM");
    await new Promise((resolve) => server.on("exit", resolve));
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const lab = new Lab("bserve");
  const rows: Figures[] = [];
  try {
    lab.addNamespace("gw");
    for (const n of SIZES) rows.push(await measure(lab, n));
  } finally {
    lab.destroy();
  }
  const base = rows[0]!;
  console.log(
    `fwc serve, one grant at a time (${SEQUENTIAL} grants), and ${CLIENTS} concurrent clients for ${SECONDS} s:`,
  );
  for (const r of rows)
    console.log(
      `  ${String(r.n).padStart(6)} experiments: p50 ${r.p50.toFixed(1)} ms (${(r.p50 / base.p50).toFixed(2)}x), p99 ${r.p99.toFixed(1)} ms (${(r.p99 / base.p99).toFixed(2)}x); ${r.rate.toFixed(0)} grants/s (${(r.rate / base.rate).toFixed(2)}x), ${r.answered} grants in ${r.rounds} rounds; ${r.failed} failed`,
    );
  const last = rows[rows.length - 1]!;
  console.log(
    `targets beside ${last.n}: p50 <= 30 ms (${last.p50.toFixed(1)}), p99 <= 150 ms (${last.p99.toFixed(1)}), >= 300 grants/s (${last.rate.toFixed(0)}); no request failed (${last.failed})`,
  );
}

void main();
