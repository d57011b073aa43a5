/**
 * DNS with the etcd store has exactly one writer, and every write is verified by query (a real named and a real
 * etcd on loopback, a gateway in a network namespace):
 *   - `dns: command`: the command pushes the names before it writes to etcd; a DNS update the server does not
 *     apply fails the command, and etcd is left as it was;
 *   - `dns: agent`: the one agent started with --dns writes them as it applies the changes; a second agent with
 *     --dns is refused and changes nothing; --dns against `dns: command` is a usage error.
 */
import { type ChildProcess, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dnsSettings, infrastructureRecords } from "../../src/backends/dns/records.js";
import { renderZone } from "../../src/backends/dns/zone.js";
import { canRunNamed, Named } from "../dns/named.js";
import { FWC, nsText, TESTBED, TESTBED_YAML } from "../kernel/deploy-helpers.js";
import { canRunKernelTests, Lab } from "../kernel/lab.js";
import { canRunEtcd, type Etcd, startAgent, startEtcd } from "./etcd-helpers.js";

const E1 = nsText(["web", "db"], 'tb-allow-external $web shared rdr "web/80"');
const name = (n: string, eid = "e1") => `${n}.${eid}.proj.testbed.example.net.`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!canRunKernelTests() || !canRunNamed() || !canRunEtcd())("DNS with the etcd store", () => {
  const lab = new Lab("etdns");
  const dir = mkdtempSync(join(tmpdir(), "fwc-etcd-dns-"));
  let named: Named;
  let etcd: Etcd;
  const children: ChildProcess[] = [];

  const testbed = (file: string, prefix: string, writer: "command" | "agent") =>
    writeFileSync(
      join(dir, file),
      `${TESTBED_YAML}dns:
  ttl: 60
  server: 127.0.0.1
  port: ${named.port}
  key: ${named.keyFile}
store:
  etcd:
    endpoints: ["${etcd.url}"]
    prefix: ${prefix}
    dns: ${writer}
`,
    );
  const fwc = (file: string, args: string[]) => {
    const r = spawnSync(FWC, [...args, "--testbed", join(dir, file), "--wait", "5"], {
      encoding: "utf8",
      cwd: dir,
      timeout: 60_000,
    });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };
  const agent = (file: string, gateway: string, ns: string, dns: boolean) => {
    const a = startAgent(FWC, dir, { testbed: join(dir, file), gateway, netns: ns, extra: dns ? ["--dns"] : [] });
    children.push(a.child);
    return a;
  };
  const until = async (f: () => Promise<boolean> | boolean, ms: number, what: string) => {
    const end = Date.now() + ms;
    while (!(await f())) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await sleep(50);
    }
  };

  beforeAll(async () => {
    const s = dnsSettings(TESTBED);
    named = new Named(s.zone, renderZone(s, infrastructureRecords(TESTBED, s), [], 2026112700));
    await named.start();
    etcd = await startEtcd();
    writeFileSync(join(dir, "e1.ns"), E1);
    writeFileSync(join(dir, "e1.json"), JSON.stringify({ web: { ipv4: "10.1.1.3" }, db: { ipv4: "10.1.1.4" } }));
    lab.addNamespace("gw");
    lab.addNamespace("gw2");
  }, 30_000);

  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    lab.destroy();
    await named?.stop();
    await etcd?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("dns: command — the command writes and verifies the names; one the server refuses leaves etcd as it was", async () => {
    testbed("cmd.yaml", "/dnscmd/", "command");
    const swapin = fwc("cmd.yaml", ["swapin", join(dir, "e1.ns"), "--exp", "proj/e1", "--nodes", join(dir, "e1.json")]);
    expect(swapin.code, swapin.err).toBe(0);
    // Written by the command itself, before it returned (no agent runs: the change is pending on the gateways).
    expect(swapin.err).toContain("FWC832");
    expect(await named.query(name("web"), "CNAME")).toEqual(["gw.testbed.example.net."]);
    expect(fwc("cmd.yaml", ["open", "--exp", "proj/e1", "--rdr", "db/5432"]).code).toBe(0);
    expect(await named.query(name("db"), "CNAME")).toEqual(["gw.testbed.example.net."]);
    expect(fwc("cmd.yaml", ["close", "--exp", "proj/e1", "--rdr", "db/5432"]).code).toBe(0);
    expect(await named.query(name("db"), "CNAME")).toEqual([]);
    // A name the server will not take (an A record where fwc adds a CNAME): refused, and nothing in etcd.
    named.nsupdate([`update add ${name("db")} 60 IN A 192.0.2.99`]);
    const generation = etcd.ctl(["get", "/dnscmd/generation", "--print-value-only"]).trim();
    const refused = fwc("cmd.yaml", ["open", "--exp", "proj/e1", "--rdr", "db/5432"]);
    expect(refused.code).toBe(1);
    expect(refused.err).toContain("FWC805");
    expect(etcd.ctl(["get", "/dnscmd/generation", "--print-value-only"]).trim()).toBe(generation);
    expect(fwc("cmd.yaml", ["status", "--exp", "proj/e1", "--json"]).out).not.toContain("5432");
  }, 60_000);

  it("dns: agent — the one agent with --dns writes the names; a second is refused; --dns needs dns: agent", async () => {
    testbed("agent.yaml", "/dnsagent/", "agent");
    testbed("cmd2.yaml", "/dnscmd2/", "command");
    const wrong = agent("cmd2.yaml", "gwx", lab.name("gw2"), true);
    expect(await wrong.exited).toBe(2);
    expect(wrong.log()).toContain("set `dns: agent` there");
    const writer = agent("agent.yaml", "gw1", lab.name("gw"), true);
    await writer.following();
    const second = agent("agent.yaml", "gw2", lab.name("gw2"), true);
    expect(await second.exited).toBe(1);
    expect(second.log()).toContain("the agent of gw1 writes DNS already");
    // The refused agent changed nothing on its gateway.
    expect(lab.exec("gw2", ["nft", "list", "tables"])).not.toContain("fwc");
    const swapin = fwc("agent.yaml", [
      "swapin",
      join(dir, "e1.ns"),
      "--exp",
      "proj/e2",
      "--nodes",
      join(dir, "e1.json"),
    ]);
    expect(swapin.code, swapin.err).toBe(0);
    await until(
      async () => (await named.query(name("web", "e2"), "CNAME")).length > 0,
      10_000,
      "the agent to publish the name",
    );
    expect(await named.query(name("web", "e2"), "CNAME")).toEqual(["gw.testbed.example.net."]);
    expect(fwc("agent.yaml", ["swapout", "--exp", "proj/e2"]).code).toBe(0);
    await until(async () => (await named.query(name("web", "e2"), "CNAME")).length === 0, 10_000, "the name gone");
    expect(writer.log()).not.toContain("FWC805");
    writer.child.kill("SIGTERM");
    expect(await writer.exited).toBe(0);
  }, 60_000);
});
