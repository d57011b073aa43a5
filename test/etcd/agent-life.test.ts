/**
 * The agent's own life with a real etcd: it ends on SIGTERM even when its link to etcd drops everything; one
 * gateway name is one agent (another host's agent under the same name is refused); the DNS agent keeps the
 * dns-writer key across its own restart (on its new lease), so that no second writer can take it meanwhile.
 */
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FWC, TESTBED_YAML } from "../kernel/deploy-helpers.js";
import { canRunKernelTests, Lab } from "../kernel/lab.js";
import { canRunEtcd, cuttableProxy, type Etcd, startAgent, startEtcd } from "./etcd-helpers.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!canRunKernelTests() || !canRunEtcd())("the agent's own life", () => {
  const lab = new Lab("etlife");
  const dir = mkdtempSync(join(tmpdir(), "fwc-etcd-life-"));
  let etcd: Etcd;
  const children: ChildProcess[] = [];

  const testbed = (name: string, endpoint: string, dns: "command" | "agent" = "command") =>
    writeFileSync(
      join(dir, name),
      `${TESTBED_YAML}store:\n  etcd:\n    endpoints: ["${endpoint}"]\n    prefix: /life/\n    dns: ${dns}\n`,
    );
  const agent = (file: string, gateway: string, ns: string, extra: string[] = []) => {
    const a = startAgent(FWC, dir, { testbed: join(dir, file), gateway, netns: lab.name(ns), extra });
    children.push(a.child);
    return a;
  };
  /** The key's lease (a 64-bit number: read as text, JSON.parse would round it). */
  const leaseOf = (key: string) => /"lease":(\d+)/.exec(etcd.ctl(["get", key, "-w", "json"]))?.[1];

  beforeAll(async () => {
    etcd = await startEtcd();
    for (const ns of ["gw1", "gw2", "gw3"]) lab.addNamespace(ns);
  }, 30_000);

  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    lab.destroy();
    await etcd?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("SIGTERM ends the agent within seconds even when its link to etcd drops everything", async () => {
    const proxy = await cuttableProxy(etcd.url);
    try {
      testbed("proxy.yaml", proxy.url);
      const a = agent("proxy.yaml", "cut", "gw1");
      await a.following();
      proxy.cut();
      await sleep(500);
      const t = Date.now();
      a.child.kill("SIGTERM");
      expect(await a.exited).toBe(0);
      expect(Date.now() - t).toBeLessThan(5000);
    } finally {
      proxy.close();
    }
  }, 30_000);

  it("an agent on another host already reporting under the name: refused, exit 1, its gateway untouched", async () => {
    testbed("direct.yaml", etcd.url);
    etcd.ctl([
      "put",
      "/life/gateways/twin",
      JSON.stringify({ gateway: "twin", revision: "1", at: "x", stale: false, host: "another-host", pid: 42 }),
    ]);
    const a = agent("direct.yaml", "twin", "gw2");
    expect(await a.exited).toBe(1);
    expect(a.log()).toContain("an agent on another-host (pid 42) reports as twin already");
    expect(lab.exec("gw2", ["nft", "list", "tables"])).not.toContain("fwc");
    etcd.ctl(["del", "/life/gateways/twin"]);
  }, 30_000);

  it("the DNS agent restarted at once keeps dns-writer, on its new lease; a second --dns agent is still refused", async () => {
    testbed("dns.yaml", etcd.url, "agent");
    const first = agent("dns.yaml", "dnsgw", "gw3", ["--dns"]);
    await first.following();
    const before = leaseOf("/life/dns-writer");
    first.child.kill("SIGKILL");
    await first.exited;
    const again = agent("dns.yaml", "dnsgw", "gw3", ["--dns"]);
    await again.following();
    const after = leaseOf("/life/dns-writer");
    expect(after).toBeDefined();
    expect(after).not.toBe(before);
    // The key is on the lease of the new agent's report.
    expect(after).toBe(leaseOf("/life/gateways/dnsgw"));
    // Past the old lease's end, the key is still held, and a second writer is refused.
    await sleep(4000);
    expect(etcd.ctl(["get", "/life/dns-writer", "--print-value-only"]).trim()).toBe("dnsgw");
    const second = agent("dns.yaml", "other", "gw1", ["--dns"]);
    expect(await second.exited).toBe(1);
    expect(second.log()).toContain("the agent of dnsgw writes DNS already");
    again.child.kill("SIGTERM");
    expect(await again.exited).toBe(0);
  }, 40_000);
});
