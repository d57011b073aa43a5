/**
 * Whoever can write under the prefix in etcd decides what the gateways pass, but a value that fwc did not write
 * must never reach nft as anything but data: an agent refuses it with its key (FWC833), keeps the experiment's
 * rules (and the blocklist) as it had them, and goes on applying the good changes. A real etcd, a real agent,
 * a gateway in a network namespace.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FWC, nsText, TESTBED_YAML } from "../kernel/deploy-helpers.js";
import { canRunKernelTests, Lab } from "../kernel/lab.js";
import { canRunEtcd, type Etcd, startEtcd } from "./etcd-helpers.js";

const NS = nsText(["web"], 'tb-allow-external $web shared rdr "web/80"');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!canRunKernelTests() || !canRunEtcd())("hostile values in etcd", () => {
  const lab = new Lab("ethost");
  const dir = mkdtempSync(join(tmpdir(), "fwc-etcd-hostile-"));
  let etcd: Etcd;
  let agent: ChildProcess;
  let log = "";
  const fwc = (args: string[]) =>
    spawnSync(FWC, [...args, "--testbed", join(dir, "testbed.yaml"), "--wait", "5"], { encoding: "utf8" });
  const ruleset = () => lab.exec("gw", ["nft", "list", "ruleset"]);
  const revision = () => {
    try {
      return BigInt(JSON.parse(readFileSync(join(dir, "gw.status"), "utf8")).revision);
    } catch {
      return 0n;
    }
  };
  /** Puts a raw value and waits until the agent has gone past its revision (applied or refused it). */
  const put = async (key: string, value: string) => {
    etcd.ctl(["put", `/h/${key}`, value]);
    const rev = BigInt(JSON.parse(etcd.ctl(["get", `/h/${key}`, "-w", "json"])).header.revision);
    const end = Date.now() + 10_000;
    while (revision() < rev && !log.includes(key)) {
      if (Date.now() > end) throw new Error(`the agent did not take ${key}:\n${log}`);
      await sleep(50);
    }
    await sleep(200);
  };

  beforeAll(async () => {
    etcd = await startEtcd();
    writeFileSync(
      join(dir, "testbed.yaml"),
      `${TESTBED_YAML}store:\n  etcd:\n    endpoints: ["${etcd.url}"]\n    prefix: /h/\n`,
    );
    writeFileSync(join(dir, "e.ns"), NS);
    writeFileSync(join(dir, "e.json"), JSON.stringify({ web: { ipv4: "10.1.1.3" } }));
    lab.addNamespace("gw");
    agent = spawn(
      FWC,
      [
        "agent",
        "--gateway",
        "gw",
        "--testbed",
        join(dir, "testbed.yaml"),
        "--netns",
        lab.name("gw"),
        "--status-file",
        join(dir, "gw.status"),
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    agent.stderr!.on("data", (d: Buffer) => {
      log += String(d);
    });
    for (let i = 0; i < 200 && revision() === 0n; i++) await sleep(50);
    const r = fwc(["swapin", join(dir, "e.ns"), "--exp", "proj/e", "--nodes", join(dir, "e.json")]);
    expect(r.status, r.stderr).toBe(0);
  }, 30_000);

  afterAll(() => {
    agent?.kill("SIGKILL");
    lab.destroy();
    void etcd?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const good = () => JSON.parse(etcd.ctl(["get", "/h/experiments/proj/e", "--print-value-only"]));

  it("an element, comment or set name that would carry nft commands is refused; the rules stay", async () => {
    const before = ruleset();
    expect(before).toContain("10.1.1.3");
    const attacks = [
      (r: { applied: { elements: Record<string, unknown> } }) => {
        r.applied.elements.nodes4 = [
          { key: "10.9.9.9 } ; add table inet pwned ; add element inet fwc nodes4 { 10.9.9.8", comment: "x" },
        ];
      },
      (r: { applied: { elements: Record<string, unknown> } }) => {
        r.applied.elements.nodes4 = [{ key: "10.9.9.9", comment: 'x" ; add table inet pwned ; #' }];
      },
      (r: { applied: { elements: Record<string, unknown> } }) => {
        r.applied.elements["nodes4 { 10.9.9.9 } ; add table inet pwned ; add element inet fwc nodes4"] = [
          { key: "10.9.9.9", comment: "x" },
        ];
      },
    ];
    for (const attack of attacks) {
      const r = good();
      attack(r);
      await put("experiments/proj/e", JSON.stringify(r));
      expect(log).toContain("FWC833");
      expect(ruleset()).not.toContain("pwned");
      expect(ruleset()).not.toContain("10.9.9.");
      expect(ruleset()).toContain("10.1.1.3");
    }
    expect(agent.exitCode).toBeNull();
  }, 60_000);

  it("a blocklist that is not one fwc wrote is refused; the blocklist stays; the agent lives", async () => {
    for (const cidr of [
      "203.0.113.0/24 } ; add table inet pwned ; add element inet fwc block4 { 192.0.2.0/24",
      "not-a-network",
      "300.1.1.1/8",
    ]) {
      log = "";
      await put(
        "blocks",
        JSON.stringify({
          version: 1,
          entries: [{ cidr, reason: "x", by: "cli:root", at: "2026-11-27T00:00:00Z" }],
        }),
      );
      expect(log).toContain("FWC833");
      expect(ruleset()).not.toContain("pwned");
      expect(agent.exitCode).toBeNull();
    }
    // A command refuses the damaged key with its name (nothing changed); once the operator removes it, a good
    // change is applied again.
    const refused = fwc(["block", "192.0.2.0/24", "--reason", "test"]);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain('FWC802]: etcd key /h/blocks: "300.1.1.1/8" is not a blocklist entry fwc writes');
    etcd.ctl(["del", "/h/blocks"]);
    log = "";
    const b = fwc(["block", "192.0.2.0/24", "--reason", "test"]);
    expect(b.status, b.stderr).toBe(0);
    expect(ruleset()).toContain("192.0.2.0/24");
  }, 60_000);

  it("fwc's tables deleted by hand: the next change's delta cannot apply, and the agent writes them whole", async () => {
    lab.exec("gw", ["nft", "delete", "table", "inet", "fwc"]);
    log = "";
    const r = fwc(["open", "--exp", "proj/e", "--rdr", "web/8080"]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toBe("");
    // (the agent's log reaches this process once its event loop runs again)
    for (let i = 0; i < 100 && !log.includes("applied revision"); i++) await sleep(50);
    expect(log).toMatch(/the delta did not apply .*\n.*wrote the tables whole/);
    const rules = ruleset();
    expect(rules).toContain("table inet fwc");
    expect(rules).toContain("10.1.1.3 . 8080");
    expect(rules).toContain("192.0.2.0/24");
  }, 30_000);

  it("a record that passes the checks but that nft refuses: that experiment is left out, every other change goes on", async () => {
    const bad = good();
    bad.experiment = "proj/bad";
    bad.nodes = {};
    bad.allocations = { ports: [], dedicated: [] };
    // Every value is well formed, but a plain address set does not take a concatenation: nft refuses it.
    bad.applied.elements = { nodes4: [{ key: "10.1.1.9 . tcp", comment: "proj/bad x" }] };
    log = "";
    await put("experiments/proj/bad", JSON.stringify(bad));
    for (let i = 0; i < 100 && !log.includes("nft refuses the rules of proj/bad"); i++) await sleep(50);
    expect(log).toContain("FWC833 nft refuses the rules of proj/bad");
    // The good experiment's next change reaches the kernel and is reported (the command is done, not pending).
    const r = fwc(["open", "--exp", "proj/e", "--rdr", "web/9090"]);
    expect([r.status, r.stderr]).toEqual([0, ""]);
    expect(ruleset()).toContain("10.1.1.3 . 9090");
    expect(ruleset()).not.toContain("10.1.1.9");
    etcd.ctl(["del", "/h/experiments/proj/bad"]);
  }, 30_000);

  it("a copy of a record under a longer key, a port range that would not fit in memory, a report that is not one: refused", async () => {
    const copy = good();
    log = "";
    await put("experiments/aa/experiments/proj/e", JSON.stringify(copy));
    expect(log).toContain("FWC833 /h/experiments/aa/experiments/proj/e");
    etcd.ctl(["del", "/h/experiments/aa/experiments/proj/e"]);
    const huge = good();
    huge.experiment = "proj/huge";
    huge.nodes = {};
    huge.allocations.ports = [{ key: "tcp web 1-2000000000", port: 1, portEnd: 2_000_000_000 }];
    etcd.ctl(["put", "/h/experiments/proj/huge", JSON.stringify(huge)]);
    const st = fwc(["status"]);
    expect(st.status).toBe(1);
    expect(st.stderr).toMatch(/FWC802\]: etcd key \/h\/experiments\/proj\/huge: allocations\.ports\.0\.portEnd/);
    etcd.ctl(["del", "/h/experiments/proj/huge"]);
    etcd.ctl([
      "put",
      "/h/gateways/evil",
      JSON.stringify({ gateway: "evil", revision: "abc", at: "x", stale: false, host: "h", pid: 1 }),
    ]);
    const st2 = fwc(["status"]);
    expect(st2.stderr).not.toContain("internal error");
    expect(st2.stderr).toContain("FWC833");
    etcd.ctl(["del", "/h/gateways/evil"]);
  }, 30_000);
});
