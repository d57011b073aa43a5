/**
 * DNS follows the lifecycle (CXA): with a real named on loopback and the gateway in a namespace,
 * swapin publishes the names, open and close add and remove a redirect target's name, swapout removes all;
 * a DNS update the server does not apply (a conflicting CNAME) fails the command and rolls the gateway back;
 * a name changed behind fwc's back is found by status and written again by reconcile.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dnsSettings, infrastructureRecords } from "../../src/backends/dns/records.js";
import { renderZone } from "../../src/backends/dns/zone.js";
import { canRunNamed, Named } from "../dns/named.js";
import { fwcOn, TESTBED, TESTBED_YAML } from "./deploy-helpers.js";
import { canRunKernelTests, Lab } from "./lab.js";

const E1 = `set ns [new Simulator]
source tb_compat.tcl
set web [$ns node]
set db [$ns node]
set cache [$ns node]
tb-allow-external $web shared rdr "web/80"
$ns run
`;
const name = (n: string) => `${n}.e1.proj.testbed.example.net.`;

describe.skipIf(!canRunKernelTests() || !canRunNamed())("DNS through the lifecycle", () => {
  const lab = new Lab("lifedns");
  const dir = mkdtempSync(join(tmpdir(), "fwc-life-dns-"));
  let named: Named;
  const fwc = fwcOn(lab, dir, join(dir, "state"));
  const table = () => lab.exec("gw", ["nft", "list", "map", "inet", "fwc", "rdr4"]);

  beforeAll(async () => {
    const s = dnsSettings(TESTBED);
    named = new Named(s.zone, renderZone(s, infrastructureRecords(TESTBED, s), [], 2026112200));
    await named.start();
    writeFileSync(
      join(dir, "testbed.yaml"),
      `${TESTBED_YAML}dns:
  ttl: 60
  server: 127.0.0.1
  port: ${named.port}
  key: ${named.keyFile}
`,
    );
    writeFileSync(join(dir, "e1.ns"), E1);
    writeFileSync(
      join(dir, "e1.json"),
      JSON.stringify({ web: { ipv4: "10.1.1.3" }, db: { ipv4: "10.1.1.4" }, cache: { ipv4: "10.1.1.5" } }),
    );
    lab.addNamespace("gw");
  }, 30_000);

  afterAll(async () => {
    lab.destroy();
    await named?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("swapin publishes the names of the file", async () => {
    const r = fwc(["swapin", join(dir, "e1.ns"), "--exp", "proj/e1", "--nodes", join(dir, "e1.json")]);
    expect([r.code, r.err]).toEqual([0, ""]);
    expect(await named.query(name("web"), "CNAME")).toEqual(["gw.testbed.example.net."]);
    expect(await named.query(name("db"), "CNAME")).toEqual([]);
  });

  it("open adds a redirect target's name, close removes it", async () => {
    expect(fwc(["open", "--exp", "proj/e1", "--rdr", "db/5432"]).code).toBe(0);
    expect(await named.query(name("db"), "CNAME")).toEqual(["gw.testbed.example.net."]);
    expect(fwc(["close", "--exp", "proj/e1", "--rdr", "db/5432"]).code).toBe(0);
    expect(await named.query(name("db"), "CNAME")).toEqual([]);
    expect(await named.query(name("web"), "CNAME")).toEqual(["gw.testbed.example.net."]);
  });

  it("a DNS update the server silently skips fails the command, and the gateway is rolled back", async () => {
    named.nsupdate([`update add ${name("cache")} 60 IN A 192.0.2.99`]);
    const before = table();
    const r = fwc(["open", "--exp", "proj/e1", "--rdr", "cache/11211"]);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`error[FWC805]: ${name("cache")} should be a CNAME to gw.testbed.example.net.`);
    expect(table()).toBe(before);
    expect(await named.query(name("cache"), "A")).toEqual(["192.0.2.99"]);
    const s = fwc(["status"]);
    expect([s.code, s.err]).toEqual([0, ""]);
    expect(s.out).not.toContain("cache");
  });

  it("a name removed behind fwc's back: status finds it, reconcile writes it again", async () => {
    named.nsupdate([`update delete ${name("web")} IN CNAME`]);
    const s = fwc(["status"]);
    expect(s.code).toBe(1);
    expect(s.err).toContain(
      `error[FWC810]: proj/e1: ${name("web")} should be a CNAME to gw.testbed.example.net., but the server has no CNAME for it`,
    );
    // With a real name server out of step, status does not also claim that all is in step.
    expect(s.out).not.toContain("in step");
    expect(s.out).toContain("\nDNS\n");
    const r = fwc(["reconcile"]);
    expect([r.code, r.err]).toEqual([0, ""]);
    expect(r.out).toContain("Wrote the DNS names of 1 experiment again.");
    expect(await named.query(name("web"), "CNAME")).toEqual(["gw.testbed.example.net."]);
    expect(fwc(["status"]).code).toBe(0);
  });

  it("swapout removes every name", async () => {
    expect(fwc(["swapout", "--exp", "proj/e1"]).code).toBe(0);
    expect(await named.query(name("web"), "CNAME")).toEqual([]);
  });
});
