/**
 * Many fwc at once on one gateway. Every command either succeeds or is refused cleanly (they take turns on the
 * store's write lock), no gateway port is held twice, in the store or in the kernel, each redirect leads to the
 * node of the experiment the store gives its port to, and `fwc status` is in step afterwards:
 *   - rounds of 20 concurrent `fwc open` on 20 experiments (with a lock file that appeared empty before its
 *     owner was written in it, ports ended up held by two or three experiments);
 *   - 8 processes x 6 rounds of swapin, open, close and swapout mixed over 6 experiments;
 *   - a property: random batches of those commands, all started at once.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseListing } from "../../src/deploy/nft.js";
import { FWC, fwcOn, TESTBED_YAML } from "./deploy-helpers.js";
import { canRunKernelTests, Lab } from "./lab.js";

const EXPERIMENTS = 20;
const ROUNDS = 3;

interface Run {
  args: string[];
  code: number | null;
  err: string;
  ms: number;
}

describe.skipIf(!canRunKernelTests())("concurrent commands", () => {
  const lab = new Lab("conc");
  const dir = mkdtempSync(join(tmpdir(), "fwc-conc-"));
  const state = join(dir, "state");
  const fwc = fwcOn(lab, dir, state, ["--wait", "120"]);
  const args = (a: string[]) => [
    ...a,
    ...["--state", state, "--testbed", join(dir, "testbed.yaml"), "--netns", lab.name("gw"), "--wait", "120"],
  ];
  const run = (a: string[]) =>
    new Promise<Run>((resolve) => {
      const t = Date.now();
      const c = spawn(FWC, args(a), { stdio: ["ignore", "ignore", "pipe"] });
      let err = "";
      c.stderr!.on("data", (d: Buffer) => {
        err += String(d);
      });
      c.on("exit", (code) => resolve({ args: a, code, err, ms: Date.now() - t }));
    });
  const swapin = (i: number) => [
    "swapin",
    join(dir, `e${i}.ns`),
    "--exp",
    `p/e${i}`,
    "--nodes",
    join(dir, `n${i}.json`),
  ];

  /**
   * The store and the kernel agree and hold every port once: each experiment's ports in the store are its own,
   * the port rows are exactly the experiments' ports, and each redirect in the kernel goes to the node of the
   * experiment holding its port. Returns the number of ports held.
   */
  const consistent = (): number => {
    const db = new Database(join(state, "fwc.db"), { readonly: true });
    const held = new Map<number, string>();
    try {
      for (const r of db.prepare("SELECT name, state FROM experiments").all() as { name: string; state: string }[]) {
        const s = JSON.parse(r.state) as { allocations: { ports: { port: number; portEnd: number }[] } };
        for (const p of s.allocations.ports)
          for (let x = p.port; x <= p.portEnd; x++) {
            expect(held.get(x), `port ${x} of ${r.name}`).toBeUndefined();
            held.set(x, r.name);
          }
      }
      const rows = db.prepare("SELECT port, experiment FROM ports ORDER BY port").all() as {
        port: number;
        experiment: string;
      }[];
      expect(new Map(rows.map((r) => [r.port, r.experiment]))).toEqual(held);
    } finally {
      db.close();
    }
    const rdr4 = parseListing(lab.exec("gw", ["nft", "list", "table", "inet", "fwc"])).rdr4 ?? [];
    const seen = new Set<number>();
    for (const e of rdr4) {
      const m = /^198\.51\.100\.1 \. tcp \. ([0-9]+) : 10\.2\.([0-9]+)\.2 \. [0-9]+$/.exec(e.key);
      expect(m, e.key).not.toBeNull();
      const port = Number(m![1]);
      expect(seen.has(port), `port ${port} twice in the kernel`).toBe(false);
      seen.add(port);
      expect(held.get(port), e.key).toBe(`p/e${m![2]}`);
    }
    expect(seen.size).toBe(held.size);
    const s = fwc(["status"]);
    expect([s.code, s.err]).toEqual([0, ""]);
    return held.size;
  };

  /** A command that did not succeed was refused for what it asked, never for the store, the lock or nft. */
  const clean = (r: Run) => {
    if (r.code === 0) {
      expect(r.err, r.args.join(" ")).toBe("");
      return;
    }
    expect(r.code, `${r.args.join(" ")}\n${r.err}`).toBe(1);
    const codes = [...r.err.matchAll(/error\[(FWC[0-9]+)\]/g)].map((m) => m[1]);
    expect(codes.length, r.err).toBeGreaterThan(0);
    for (const c of codes) expect(["FWC800", "FWC801", "FWC806"], `${r.args.join(" ")}\n${r.err}`).toContain(c);
    expect(r.err).not.toMatch(/internal error|warning\[FWC808\]/);
  };

  beforeAll(() => {
    writeFileSync(join(dir, "testbed.yaml"), TESTBED_YAML);
    lab.addNamespace("gw");
    for (let i = 0; i < EXPERIMENTS; i++) {
      writeFileSync(
        join(dir, `e${i}.ns`),
        'set ns [new Simulator]\nsource tb_compat.tcl\nset a [$ns node]\ntb-allow-external $a shared rdr "a/22"\n$ns run\n',
      );
      writeFileSync(join(dir, `n${i}.json`), JSON.stringify({ a: { ipv4: `10.2.${i}.2` } }));
      const r = fwc(swapin(i));
      expect([r.code, r.err]).toEqual([0, ""]);
    }
  }, 60_000);

  afterAll(() => {
    lab.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it("rounds of 20 concurrent opens all succeed; no port is held twice; status is in step", async () => {
    const t0 = Date.now();
    let slowest = 0;
    for (let round = 1; round <= ROUNDS; round++) {
      const rs = await Promise.all(
        Array.from({ length: EXPERIMENTS }, (_, i) => run(["open", "--exp", `p/e${i}`, "--rdr", `a/${1000 + round}`])),
      );
      for (const r of rs) expect([r.code, r.err]).toEqual([0, ""]);
      slowest = Math.max(slowest, ...rs.map((r) => r.ms));
    }
    // For the record (the figures are in the closing note of the state-store issue): total and slowest command.
    console.log(`${EXPERIMENTS * ROUNDS} opens in ${ROUNDS} rounds: ${Date.now() - t0} ms, slowest ${slowest} ms`);
    expect(consistent()).toBe(EXPERIMENTS * (1 + ROUNDS));
  }, 120_000);

  // The mixed workloads run on experiments 0-5; the others keep their grants throughout.
  const POOL = 6;
  const command = (kind: number, exp: number, port: number): string[] =>
    kind === 0
      ? swapin(exp)
      : kind === 1
        ? ["open", "--exp", `p/e${exp}`, "--rdr", `a/${port}`]
        : kind === 2
          ? ["close", "--exp", `p/e${exp}`, "--rdr", `a/${port}`]
          : ["swapout", "--exp", `p/e${exp}`];

  it("8 processes x 6 rounds of swapin, open, close and swapout mixed: each succeeds or is refused cleanly", async () => {
    // A fixed pseudo-random sequence (the property below varies it).
    let seed = 20261127;
    const rand = (n: number) => {
      // mulberry32
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) % n;
    };
    const outcomes = { ok: 0, refused: 0 };
    for (let round = 0; round < 6; round++) {
      const rs = await Promise.all(Array.from({ length: 8 }, () => run(command(rand(4), rand(POOL), 2000 + rand(4)))));
      for (const r of rs) clean(r);
      outcomes.ok += rs.filter((r) => r.code === 0).length;
      outcomes.refused += rs.filter((r) => r.code !== 0).length;
    }
    console.log(`48 mixed commands: ${outcomes.ok} succeeded, ${outcomes.refused} refused cleanly`);
    expect(outcomes.ok).toBeGreaterThan(10);
    consistent();
  }, 180_000);

  it("property: any batch of those commands started at once leaves the store and the kernel consistent", async () => {
    const cmd = fc
      .tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: POOL - 1 }), fc.integer({ min: 0, max: 3 }))
      .map(([k, e, p]) => command(k, e, 2000 + p));
    await fc.assert(
      fc.asyncProperty(fc.array(cmd, { minLength: 4, maxLength: 10 }), async (cmds) => {
        const rs = await Promise.all(cmds.map(run));
        for (const r of rs) clean(r);
        consistent();
      }),
      { numRuns: 6, seed: 20261127 },
    );
  }, 240_000);
});
