/**
 * DNS changes on a real BIND `named` (loopback, temporary directory, TSIG key): the nsupdate scripts fwc writes
 * for an experiment's creation, modification and deletion are applied with the real `nsupdate`, and every step
 * is checked with real queries. A conflicting CNAME, which the server ignores without an error, is found by
 * the query after the update and reported.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DnsRecord, dnsSettings, infrastructureRecords } from "../../src/backends/dns/records.js";
import { diffRecords, nextSerial, renderNsupdate, renderZone, zoneDigest } from "../../src/backends/dns/zone.js";
import { pushDns } from "../../src/deploy/dns.js";
import type { Allocations } from "../../src/plan/allocations.js";
import type { TestbedConfig } from "../../src/testbed/config.js";
import { planNs } from "../helpers.js";
import { canRunNamed, Named } from "./named.js";

const TESTBED: TestbedConfig = {
  domain: "testbed.example.net",
  gateway: {
    name: "gw.testbed.example.net",
    ipv4: "198.51.100.1",
    ipv6: "2620:0:e00::1",
    outside: "eth0",
    inside: ["eth1"],
  },
  ports: { from: 20000, to: 29999 },
  dedicated: "198.51.100.128/29",
  dns: { ttl: 60 },
};
const settings = dnsSettings(TESTBED);
const NODES = {
  web: { ipv4: "10.1.1.2" },
  db: { ipv4: "10.1.1.3" },
  worker: { ipv4: "10.1.1.4", ipv6: "2620:0:e01:0:0:0:0:4" },
  api: { ipv4: "10.1.1.5" },
  legacy: { ipv4: "10.1.1.6" },
};
const head = `set ns [new Simulator]
source tb_compat.tcl
foreach n {web db worker api legacy} { set $n [$ns node] }
`;
// Created: web by name, db by the legacy form (own address), worker by an IPv6 opening and by name.
const V1 = `${head}tb-allow-external $web shared rdr "web/80"
tb-allow-external $db
tb-allow-external $worker shared open6 "worker,22,tcp"
$ns run
`;
// Modified: db moves to the shared gateway (A -> CNAME), api is a new redirect target, worker is gone.
const V2 = `${head}tb-allow-external $web shared rdr "web/80 api/443"
tb-allow-external $db shared rdr "db/5432"
$ns run
`;

const name = (node: string) => `${node}.exp.proj.testbed.example.net.`;

describe.skipIf(!canRunNamed())("DNS updates on a real named", () => {
  let named: Named;
  let allocations: Allocations | undefined;
  const plan = (text: string, experiment = "proj/exp") => {
    const r = planNs(text, { experiment, testbed: TESTBED, nodes: NODES, ...(allocations ? { allocations } : {}) });
    allocations = r.allocations;
    return r.plan.dns;
  };
  const push = (deployed: DnsRecord[], wanted: DnsRecord[], key = named.keyFile) => {
    const changes = diffRecords(deployed, wanted);
    return pushDns(renderNsupdate(settings, "proj/exp", changes), changes, {
      address: "127.0.0.1",
      port: named.port,
      key,
    });
  };
  let v1: DnsRecord[];
  let v2: DnsRecord[];

  beforeAll(async () => {
    const infra = infrastructureRecords(TESTBED, settings);
    const zone = renderZone(settings, infra, [], nextSerial(undefined, zoneDigest(infra), new Date()));
    named = new Named(settings.zone, zone);
    await named.start();
    v1 = plan(V1);
    v2 = plan(V2);
  }, 20_000);
  afterAll(async () => await named?.stop());

  it("creates the experiment's names", async () => {
    expect(await named.query(name("web"), "CNAME")).toEqual([]);
    expect(await push([], v1)).toEqual({ ok: true, problems: [] });
    expect(await named.query(name("web"), "CNAME")).toEqual(["gw.testbed.example.net."]);
    expect(await named.query(name("db"), "A")).toEqual(["198.51.100.129"]);
    expect(await named.query(name("worker"), "A")).toEqual(["198.51.100.1"]);
    expect(await named.query(name("worker"), "AAAA")).toEqual(["2620:0:e01::4"]);
    expect(await named.query(name("worker"), "CNAME")).toEqual([]);
  });

  it("modifies them: a name changes kind, a new one appears, a removed one disappears", async () => {
    expect(await push(v1, v2)).toEqual({ ok: true, problems: [] });
    expect(await named.query(name("db"), "CNAME")).toEqual(["gw.testbed.example.net."]);
    expect(await named.query(name("api"), "CNAME")).toEqual(["gw.testbed.example.net."]);
    expect(await named.query(name("web"), "CNAME")).toEqual(["gw.testbed.example.net."]);
    expect(await named.query(name("worker"), "A")).toEqual([]);
    expect(await named.query(name("worker"), "AAAA")).toEqual([]);
  });

  it("refuses the whole update when DNS no longer holds what fwc deployed, and changes nothing", async () => {
    // fwc believes worker still has its records (it does not): the prerequisite fails.
    const stale = [...v2, ...v1.filter((r) => r.node === "worker")];
    const wanted = [...v2.filter((r) => r.node !== "api")];
    const r = await push(stale, wanted);
    expect(r.ok).toBe(false);
    expect(r.problems[0]).toMatch(/refused the update \(NXRRSET\).*nothing was changed/);
    expect(await named.query(name("api"), "CNAME")).toEqual(["gw.testbed.example.net."]);
  });

  it("an update signed with an unknown key changes nothing and says why", async () => {
    const r = await push(v2, [], named.wrongKeyFile);
    expect(r.ok).toBe(false);
    expect(r.problems[0]).toMatch(/refused the update \(NOTAUTH\): check the TSIG key/);
    expect(await named.query(name("web"), "CNAME")).toEqual(["gw.testbed.example.net."]);
  });

  it("deletes them at swap-out", async () => {
    expect(await push(v2, [])).toEqual({ ok: true, problems: [] });
    for (const n of ["web", "db", "api"]) expect(await named.query(name(n), "CNAME")).toEqual([]);
    expect(await named.query(name("db"), "A")).toEqual([]);
  });

  it("reports the CNAME that the server ignored because other data holds the name", async () => {
    named.nsupdate([`update add ${name("legacy")} 60 IN A 192.0.2.99`]);
    const wanted = plan(`${head}tb-allow-external $legacy shared rdr "legacy/22"\n$ns run\n`);
    expect(wanted.map((r) => `${r.name} ${r.type}`)).toEqual([`${name("legacy")} CNAME`]);
    const r = await push([], wanted);
    expect(r.ok).toBe(false);
    expect(r.problems).toHaveLength(1);
    expect(r.problems[0]).toContain(`${name("legacy")} should be a CNAME to gw.testbed.example.net.`);
    expect(r.problems[0]).toContain("kept its other records (192.0.2.99) and ignored the CNAME");
    // The server really did answer NOERROR and keep the A record.
    expect(await named.query(name("legacy"), "A")).toEqual(["192.0.2.99"]);
    expect(await named.query(name("legacy"), "CNAME")).toEqual([]);
  });
});
