/**
 * Many fwc at once on one gateway: 20 experiments, rounds of 20 concurrent `fwc open`, each a new grant. Every
 * command must succeed (they take turns on the state directory's lock), no gateway port may be held twice, in
 * the state or in the kernel, and `fwc status` must be in step afterwards. (With a lock file that appeared empty
 * before its owner was written in it, ports ended up held by two or three experiments.)
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseListing } from "../../src/deploy/nft.js";
import { FWC, fwcOn, TESTBED_YAML } from "./deploy-helpers.js";
import { canRunKernelTests, Lab } from "./lab.js";

const EXPERIMENTS = 20;
const ROUNDS = 3;

describe.skipIf(!canRunKernelTests())("concurrent commands", () => {
  const lab = new Lab("conc");
  const dir = mkdtempSync(join(tmpdir(), "fwc-conc-"));
  const state = join(dir, "state");
  const fwc = fwcOn(lab, dir, state, ["--wait", "120"]);
  const args = (a: string[]) => [
    ...a,
    ...["--state", state, "--testbed", join(dir, "testbed.yaml"), "--netns", lab.name("gw"), "--wait", "120"],
  ];

  beforeAll(() => {
    writeFileSync(join(dir, "testbed.yaml"), TESTBED_YAML);
    lab.addNamespace("gw");
    for (let i = 0; i < EXPERIMENTS; i++) {
      writeFileSync(
        join(dir, `e${i}.ns`),
        'set ns [new Simulator]\nsource tb_compat.tcl\nset a [$ns node]\ntb-allow-external $a shared rdr "a/22"\n$ns run\n',
      );
      writeFileSync(join(dir, `n${i}.json`), JSON.stringify({ a: { ipv4: `10.2.${i}.2` } }));
      const r = fwc(["swapin", join(dir, `e${i}.ns`), "--exp", `p/e${i}`, "--nodes", join(dir, `n${i}.json`)]);
      expect([r.code, r.err]).toEqual([0, ""]);
    }
  }, 60_000);

  afterAll(() => {
    lab.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it("rounds of 20 concurrent opens all succeed; no port is held twice; status is in step", async () => {
    const run = (a: string[]) =>
      new Promise<{ code: number | null; err: string; ms: number }>((resolve) => {
        const t = Date.now();
        const c = spawn(FWC, args(a), { stdio: ["ignore", "ignore", "pipe"] });
        let err = "";
        c.stderr!.on("data", (d: Buffer) => {
          err += String(d);
        });
        c.on("exit", (code) => resolve({ code, err, ms: Date.now() - t }));
      });
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

    // In the state: every port of every experiment once.
    const held = new Map<number, string>();
    for (const f of readdirSync(join(state, "experiments", "p"))) {
      const s = JSON.parse(readFileSync(join(state, "experiments", "p", f), "utf8")) as {
        experiment: string;
        allocations: { ports: { port: number; portEnd: number }[] };
      };
      for (const p of s.allocations.ports)
        for (let x = p.port; x <= p.portEnd; x++) {
          expect(held.get(x), `port ${x}`).toBeUndefined();
          held.set(x, s.experiment);
        }
    }
    expect(held.size).toBe(EXPERIMENTS * (1 + ROUNDS));
    // In the kernel: one redirect per port, each to the node of the experiment the state gives it to.
    const rdr4 = parseListing(lab.exec("gw", ["nft", "list", "table", "inet", "fwc"])).rdr4 ?? [];
    expect(rdr4).toHaveLength(EXPERIMENTS * (1 + ROUNDS));
    for (const e of rdr4) {
      const m = /^198\.51\.100\.1 \. tcp \. ([0-9]+) : 10\.2\.([0-9]+)\.2 \. [0-9]+$/.exec(e.key);
      expect(m, e.key).not.toBeNull();
      expect(held.get(Number(m![1]))).toBe(`p/e${m![2]}`);
    }
    const s = fwc(["status"]);
    expect([s.code, s.err]).toEqual([0, ""]);
  }, 120_000);
});
