/**
 * A state directory of the old layout (JSON files) on a real gateway: readers and dry runs leave it as it is,
 * and the first change command moves it into the store for real, so that the gateway and the store stay in
 * step (a change run on a copy in memory emptied the gateway of an experiment the directory still had).
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseListing } from "../../src/deploy/nft.js";
import { fwcOn, TESTBED_YAML } from "./deploy-helpers.js";
import { canRunKernelTests, Lab } from "./lab.js";

describe.skipIf(!canRunKernelTests())("upgrading a state directory of the old layout", () => {
  const lab = new Lab("migr");
  const dir = mkdtempSync(join(tmpdir(), "fwc-migr-"));
  const made = join(dir, "made");
  const old = join(dir, "old");
  const rdr = () => parseListing(lab.exec("gw", ["nft", "list", "table", "inet", "fwc"])).rdr4 ?? [];

  beforeAll(() => {
    writeFileSync(join(dir, "testbed.yaml"), TESTBED_YAML);
    writeFileSync(
      join(dir, "e1.ns"),
      'set ns [new Simulator]\nsource tb_compat.tcl\nset web [$ns node]\ntb-allow-external $web shared rdr "web/80"\n$ns run\n',
    );
    writeFileSync(join(dir, "e1.json"), JSON.stringify({ web: { ipv4: "10.1.1.3" } }));
    lab.addNamespace("gw");
    // The gateway as an old fwc left it: e1's rules, and e1's record in experiments/proj/e1.json.
    const r = fwcOn(
      lab,
      dir,
      made,
    )(["swapin", join(dir, "e1.ns"), "--exp", "proj/e1", "--nodes", join(dir, "e1.json")]);
    expect([r.code, r.err]).toEqual([0, ""]);
    const db = new Database(join(made, "fwc.db"), { readonly: true });
    const record = db.prepare("SELECT state FROM experiments WHERE name = 'proj/e1'").pluck().get() as string;
    db.close();
    mkdirSync(join(old, "experiments", "proj"), { recursive: true });
    writeFileSync(join(old, "experiments", "proj", "e1.json"), record);
    rmSync(made, { recursive: true, force: true });
    expect(rdr()).toHaveLength(1);
  }, 60_000);

  afterAll(() => {
    lab.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  const fwc = (args: string[]) => fwcOn(lab, dir, old)(args);

  it("status and a dry run read the old files and leave them as they are", () => {
    const s = fwc(["status"]);
    expect([s.code, s.err]).toEqual([0, ""]);
    expect(s.out).toContain("1 experiment on the gateway");
    const d = fwc(["open", "--exp", "proj/e1", "--rdr", "web/22", "--dry-run"]);
    expect([d.code, d.err]).toEqual([0, ""]);
    expect(d.out).toContain("add element inet fwc rdr4");
    expect(readdirSync(old)).toEqual(["experiments"]);
  });

  it("the first change command migrates for real: a swapout removes the experiment from the store and the gateway", () => {
    const r = fwc(["swapout", "--exp", "proj/e1"]);
    expect([r.code, r.err]).toEqual([0, ""]);
    expect(rdr()).toHaveLength(0);
    expect(existsSync(join(old, "fwc.db"))).toBe(true);
    expect(readdirSync(old).some((f) => f.startsWith("pre-store-"))).toBe(true);
    const s = fwc(["status"]);
    expect([s.code, s.err]).toEqual([0, ""]);
    expect(s.out).toContain("0 experiments on the gateway");
  });
});
