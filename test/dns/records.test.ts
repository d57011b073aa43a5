/**
 * The experiment's DNS records and the DNS checks of docs/dns.md, each with its code and position; the outputs
 * (fragment, zone, nsupdate script) by their shape. test/dns/zone-check.test.ts loads every zone into
 * named-checkzone, test/dns/named.test.ts applies the scripts to a real named.
 */
import { describe, expect, it } from "vitest";
import { resolveAccess } from "../../src/access/resolve.js";
import { type DnsRecord, dnsSettings } from "../../src/backends/dns/records.js";
import { diffRecords, nextSerial, renderFragment, renderNsupdate } from "../../src/backends/dns/zone.js";
import { DiagnosticBag } from "../../src/diagnostics/diagnostic.js";
import { SourceFile } from "../../src/diagnostics/source.js";
import { evaluateNs } from "../../src/ns/index.js";
import { emptyAllocations } from "../../src/plan/allocations.js";
import { planAccess } from "../../src/plan/plan.js";
import { loadTestbed, type TestbedConfig } from "../../src/testbed/config.js";

const TESTBED: TestbedConfig = {
  domain: "Testbed.Example.net",
  gateway: {
    name: "GW.testbed.example.net",
    ipv4: "198.51.100.1",
    ipv6: "2620:0:e00::1",
    outside: "eth0",
    inside: ["eth1"],
  },
  ports: { from: 20000, to: 29999 },
  dedicated: "198.51.100.128/29",
};

function plan(body: string, opts: { testbed?: TestbedConfig; exp?: string; existing?: DnsRecord[] } = {}) {
  const text = `set ns [new Simulator]\nsource tb_compat.tcl\n${body}\n$ns run\n`;
  const file = new SourceFile("exp.ns", text);
  const bag = new DiagnosticBag();
  const policy = resolveAccess(evaluateNs(file, undefined, bag).experiment, file, bag);
  const names = [...text.matchAll(/set (\S+) \[\$ns node\]/g)].map((m) => m[1]!);
  const nodes = Object.fromEntries(
    names.map((n, i) => [n, { ipv4: `10.1.1.${i + 2}`, ipv6: `2620:0:e01::${(i + 2).toString(16)}` }]),
  );
  const r =
    bag.errorCount > 0
      ? null
      : planAccess(
          {
            policy,
            experiment: opts.exp ?? "Proj/Exp",
            testbed: opts.testbed ?? TESTBED,
            nodes,
            allocations: emptyAllocations(),
            file,
            dnsExisting: (opts.existing ?? []).map((record) => ({ record, owner: "experiment proj/other" })),
          },
          bag,
        );
  const diags = bag.sorted().map((d) => {
    const p = file.position(d.span.start);
    return { code: d.code, line: p.line, col: p.col, message: d.message };
  });
  return { dns: r?.plan.dns ?? [], diags };
}

const rr = (records: DnsRecord[]) => records.map((r) => `${r.name} ${r.ttl} ${r.type} ${r.target}`);

describe("the experiment's records", () => {
  it("a CNAME to the gateway for named nodes and redirect targets; lowercase, absolute", () => {
    const { dns, diags } = plan(
      'set Web [$ns node]\nset db [$ns node]\nset idle [$ns node]\ntb-allow-external $Web shared rdr "db/5432"',
    );
    expect(diags).toEqual([]);
    expect(rr(dns)).toEqual([
      "web.exp.proj.testbed.example.net. 300 CNAME gw.testbed.example.net.",
      "db.exp.proj.testbed.example.net. 300 CNAME gw.testbed.example.net.",
    ]);
  });

  it("own addresses instead where a node has them: dedicated IPv4, IPv6 openings", () => {
    const { dns, diags } = plan(
      [
        "set old [$ns node]",
        "set v6 [$ns node]",
        "set both [$ns node]",
        "tb-allow-external $old",
        'tb-allow-external $both shared open6 "v6,22,tcp both,80,tcp"',
      ].join("\n"),
    );
    expect(diags).toEqual([]);
    expect(rr(dns)).toEqual([
      "old.exp.proj.testbed.example.net. 300 A 198.51.100.129",
      // Named in a call and opened over IPv6: the gateway's IPv4 address beside its own IPv6 address.
      "both.exp.proj.testbed.example.net. 300 A 198.51.100.1",
      "both.exp.proj.testbed.example.net. 300 AAAA 2620:0:e01::4",
      "v6.exp.proj.testbed.example.net. 300 AAAA 2620:0:e01::3",
    ]);
  });

  it("no record for a node whose grants are all gone", () => {
    const { dns } = plan('set a [$ns node]\nset b [$ns node]\ntb-allow-external $a shared nat "192.0.2.1/53/udp"');
    expect(dns.map((r) => r.node)).toEqual(["a"]);
  });
});

describe("DNS checks, with code and position", () => {
  it("FWC523: a node name that cannot be a DNS label (Emulab's FWC400/FWC403 catch the other cases)", () => {
    const { diags } = plan('set web- [$ns node]\ntb-allow-external [set web-] shared rdr "22"');
    expect(diags.map((d) => [d.code, d.line, d.col])).toEqual([["FWC523", 4, 1]]);
    expect(diags[0]!.message).toBe('node "web-" needs a DNS name, but a DNS label cannot start or end with a hyphen');
    const emulab = plan(`set web_1 [$ns node]\nset n${"x".repeat(63)} [$ns node]`);
    expect(emulab.diags.map((d) => [d.code, d.line, d.col])).toEqual([
      ["FWC400", 3, 5],
      ["FWC403", 4, 5],
    ]);
  });

  it("FWC525: names equal except for case, at the second with the first as related", () => {
    const { diags } = plan('set Web [$ns node]\nset web [$ns node]\ntb-allow-external $Web shared rdr "web/80"');
    expect(diags.map((d) => [d.code, d.line, d.col])).toEqual([["FWC525", 5, 36]]);
    expect(diags[0]!.message).toBe('nodes "Web" and "web" would get the same DNS name (web): DNS ignores case');
  });

  it("FWC705: a name longer than 253 characters", () => {
    const long = `${"d".repeat(60)}.${"e".repeat(60)}.${"f".repeat(60)}.example.net`;
    const { diags } = plan(`set ${"n".repeat(60)} [$ns node]\ntb-allow-external $${"n".repeat(60)} shared rdr "22"`, {
      testbed: { ...TESTBED, domain: long },
    });
    expect(diags.map((d) => [d.code, d.line, d.col])).toEqual([["FWC705", 4, 1]]);
    expect(diags[0]!.message).toMatch(
      /^the DNS name n{60}\.exp\.proj\.d{60}\.\S+ is 264 characters long; DNS allows 253$/,
    );
  });

  it("FWC706: a name taken by the gateway, a name server or another experiment", () => {
    const gw = plan('set gw [$ns node]\ntb-allow-external $gw shared rdr "22"', {
      testbed: { ...TESTBED, gateway: { ...TESTBED.gateway, name: "gw.exp.proj.testbed.example.net" } },
    });
    expect(gw.diags.map((d) => [d.code, d.line, d.col])).toEqual([["FWC706", 4, 1]]);
    expect(gw.diags[0]!.message).toBe(
      "gw.exp.proj.testbed.example.net. CNAME collides with the testbed's A record of the same name",
    );
    const other = plan('set web [$ns node]\nset db [$ns node]\ntb-allow-external $web shared rdr "db/22"', {
      existing: [{ name: "db.exp.proj.testbed.example.net.", type: "A", target: "192.0.2.1", ttl: 60 }],
    });
    expect(other.diags.map((d) => [d.code, d.line, d.col])).toEqual([["FWC706", 5, 36]]);
    expect(other.diags[0]!.message).toContain("experiment proj/other's A record");
  });

  it("FWC707: a CNAME at the zone apex", () => {
    const { diags } = plan('set web [$ns node]\ntb-allow-external $web shared rdr "22"', {
      testbed: { ...TESTBED, dns: { zone: "web.exp.proj.testbed.example.net" } },
    });
    expect(diags.map((d) => [d.code, d.line, d.col])).toEqual([["FWC707", 4, 1]]);
  });

  it("FWC708: a name outside the zone", () => {
    const { diags } = plan('set web [$ns node]\ntb-allow-external $web shared rdr "22"', {
      testbed: { ...TESTBED, dns: { zone: "other.example.org" } },
    });
    expect(diags.map((d) => [d.code, d.line, d.col])).toEqual([["FWC708", 4, 1]]);
    expect(diags[0]!.message).toBe("web.exp.proj.testbed.example.net. is outside the zone other.example.org.");
  });

  const yaml = (dns: string) =>
    `domain: testbed.example.net\ngateway:\n  name: gw.testbed.example.net\n  ipv4: 198.51.100.1\n  outside: eth0\n  inside: [eth1]\nports: 20000-29999\ndns:\n${dns}`;
  const config = (text: string) => {
    const file = new SourceFile("testbed.yaml", text);
    const bag = new DiagnosticBag();
    const cfg = loadTestbed(file, bag);
    return {
      cfg,
      diags: bag.sorted().map((d) => {
        const p = file.position(d.span.start);
        return [d.code, d.severity, p.line, p.col, d.message] as const;
      }),
    };
  };

  it("FWC604: a TTL or SOA timer outside 0..2147483647, at its value", () => {
    expect(config(yaml("  ttl: 2147483648\n")).diags).toEqual([
      ["FWC604", "error", 9, 8, "dns.ttl: must be between 0 and 2147483647 seconds (RFC 2181)"],
    ]);
    expect(config(yaml("  ttl: 60\n  minimum: -1\n")).diags.map((d) => [d[0], d[2], d[3]])).toEqual([
      ["FWC604", 10, 12],
    ]);
  });

  it("FWC605: an unusual TTL is a warning, and the configuration still loads", () => {
    const { cfg, diags } = config(yaml("  ttl: 5\n"));
    expect(cfg?.dns?.ttl).toBe(5);
    expect(diags.map((d) => [d[0], d[1], d[2], d[3]])).toEqual([["FWC605", "warning", 9, 8]]);
  });

  it("FWC601: the gateway's name must be a name, since it is the CNAME target", () => {
    const { diags } = config(yaml("  ttl: 60\n").replace("name: gw.testbed.example.net", "name: 198.51.100.1"));
    expect(diags.map((d) => [d[0], d[2], d[3]])).toEqual([["FWC601", 3, 9]]);
  });
});

describe("outputs", () => {
  const settings = dnsSettings({ ...TESTBED, dns: { server: "127.0.0.1", key: "/etc/fwc/tsig.key" } });
  const rec = (name: string, type: DnsRecord["type"], target: string): DnsRecord => ({
    name: `${name}.exp.proj.testbed.example.net.`,
    type,
    target,
    ttl: 300,
  });

  it("the fragment has no SOA, NS or $TTL and explicit TTLs", () => {
    const text = renderFragment("proj/exp", settings.zone, [rec("web", "CNAME", "gw.testbed.example.net.")]);
    const data = text.split("\n").filter((l) => !l.startsWith(";"));
    expect(data.join("\n")).not.toMatch(/SOA|\sNS\s|\$TTL/);
    expect(text.split("\n").filter((l) => l !== "" && !l.startsWith(";"))).toEqual([
      "web.exp.proj.testbed.example.net. 300 IN CNAME gw.testbed.example.net.",
    ]);
  });

  it("the serial is max(deployed + 1, YYYYMMDD00), and changes only with the content", () => {
    const day = new Date("2026-11-22T15:00:00Z");
    expect(nextSerial(undefined, "d1", day)).toBe(2026112200);
    expect(nextSerial({ serial: 2026112200, digest: "d1" }, "d1", day)).toBe(2026112200);
    expect(nextSerial({ serial: 2026112200, digest: "d1" }, "d2", day)).toBe(2026112201);
    expect(nextSerial({ serial: 2026010105, digest: "d1" }, "d2", day)).toBe(2026112200);
    expect(nextSerial({ serial: 2026112299, digest: "d1" }, "d2", day)).toBe(2026112300);
  });

  it("the nsupdate script: prerequisites for what is deployed, deletions before additions, no secret", () => {
    const deployed = [rec("db", "A", "198.51.100.129"), rec("web", "CNAME", "gw.testbed.example.net.")];
    const wanted = [rec("db", "CNAME", "gw.testbed.example.net."), rec("web", "CNAME", "gw.testbed.example.net.")];
    const script = renderNsupdate(settings, "proj/exp", diffRecords(deployed, wanted));
    expect(script.split("\n").filter((l) => l !== "" && !l.startsWith(";"))).toEqual([
      "server 127.0.0.1 53",
      "zone testbed.example.net.",
      "prereq yxrrset db.exp.proj.testbed.example.net. IN A 198.51.100.129",
      "prereq nxrrset db.exp.proj.testbed.example.net. IN CNAME",
      "update delete db.exp.proj.testbed.example.net. IN A",
      "update add db.exp.proj.testbed.example.net. 300 IN CNAME gw.testbed.example.net.",
      "send",
    ]);
    expect(script).toContain("nsupdate -k /etc/fwc/tsig.key");
    expect(renderNsupdate(settings, "proj/exp", diffRecords(wanted, wanted))).not.toMatch(/^send/m);
  });
});
