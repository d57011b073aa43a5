/**
 * Every zone fwc emits passes BIND's own checker, `named-checkzone -k fail -i local`: the examples'
 * zones and fragments through the CLI, and zones of generated experiments, whose records named must read back
 * exactly as fwc wrote them.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { type DnsRecord, dnsSettings, infrastructureRecords } from "../../src/backends/dns/records.js";
import { renderZone } from "../../src/backends/dns/zone.js";
import type { TestbedConfig } from "../../src/testbed/config.js";
import { planNs } from "../helpers.js";

const root = join(import.meta.dirname, "..", "..");
const fwc = join(root, "dist", "fwc.cjs");
const examples = join(root, "examples");

function hasCheckzone(): boolean {
  try {
    execFileSync("named-checkzone", ["-v"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

const dir = mkdtempSync(join(tmpdir(), "fwc-zone-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** named-checkzone's verdict on a zone file, and its canonical dump of the zone's records. */
function checkzone(zone: string, text: string): { status: number | null; out: string; dump: string[] } {
  const file = join(dir, "zone.db");
  writeFileSync(file, text);
  const r = spawnSync("named-checkzone", ["-k", "fail", "-i", "local", "-D", "-o", "-", zone, file], {
    encoding: "utf8",
  });
  const dump = r.stdout
    .split("\n")
    .filter((l) => /\sIN\s+(CNAME|A|AAAA)\s/.test(l))
    .map((l) => l.split(/\s+/).join(" "));
  return { status: r.status, out: `${r.stdout}${r.stderr}`, dump };
}

const cli = (args: string[]) =>
  execFileSync(fwc, args, { encoding: "utf8", env: { ...process.env, SOURCE_DATE_EPOCH: "1795305600" } });

describe.skipIf(!hasCheckzone())("named-checkzone accepts every zone fwc emits", () => {
  const cases = [
    ["web-lab.ns", "proj/web", "web-lab.nodes.json"],
    ["grid-lab.ns", "proj/grid", "grid-lab.nodes.json"],
  ];

  it.each(cases)("--emit zone for %s", (ns, exp, nodes) => {
    const args = ["compile", join(examples, ns), "--exp", exp, "--testbed", join(examples, "testbed.yaml")];
    const zone = cli([...args, "--nodes", join(examples, nodes), "--emit", "zone"]);
    const r = checkzone("testbed.example.net", zone);
    expect([r.status, r.out]).toEqual([0, expect.stringContaining("loaded serial 2026112200")]);
  });

  it.each(cases)("--emit dns for %s, included in a zone", (ns, exp, nodes) => {
    const args = ["compile", join(examples, ns), "--exp", exp, "--testbed", join(examples, "testbed.yaml")];
    const fragment = cli([...args, "--nodes", join(examples, nodes), "--emit", "dns"]);
    writeFileSync(join(dir, "fragment.db"), fragment);
    const parent = [
      "$TTL 3600",
      "@ IN SOA ns1 hostmaster 1 3600 600 1209600 300",
      "@ IN NS ns1",
      "ns1 IN A 192.0.2.53",
      `$INCLUDE ${join(dir, "fragment.db")}`,
      "after-include IN A 192.0.2.54",
      "",
    ].join("\n");
    const r = checkzone("testbed.example.net", parent);
    expect([r.status, r.out]).toEqual([0, expect.stringContaining("OK")]);
    // The fragment sets no $TTL of its own: the parent's default still holds after the include.
    expect(r.dump).toContain("after-include.testbed.example.net. 3600 IN A 192.0.2.54");
    expect(r.dump.length).toBe(fragment.split("\n").filter((l) => /^[a-z0-9]/.test(l)).length + 2);
  });

  // Generated experiments: node names in any case, every way of getting a name, several experiments in one zone.
  // Prefixed: a node may not take the name of a Tcl command (Emulab renames nodes after their variables).
  const label = fc.stringMatching(/^[a-zA-Z][a-zA-Z0-9]{0,5}(-[a-zA-Z0-9]{1,4})?$/).map((l) => `Node${l}`);
  const grant = fc.constantFrom("none", "named", "target", "legacy", "open6", "open6+named");
  const experiment = fc.uniqueArray(fc.tuple(label, grant), {
    minLength: 1,
    maxLength: 6,
    selector: ([n]) => n.toLowerCase(),
  });
  const testbeds: TestbedConfig[] = [
    {
      domain: "testbed.example.net",
      gateway: { name: "gw.testbed.example.net", ipv4: "198.51.100.1", outside: "eth0", inside: ["eth1"] },
      ports: { from: 20000, to: 29999 },
      dedicated: "198.51.100.128/25",
    },
    {
      // Records in a parent zone, the gateway outside it, two name servers with addresses of their own.
      domain: "Exp.Testbed.example.net",
      gateway: {
        name: "gw.gateways.example.org",
        ipv4: "198.51.100.1",
        ipv6: "2620:0:e00::1",
        outside: "eth0",
        inside: ["eth1"],
      },
      ports: { from: 20000, to: 29999 },
      dedicated: "198.51.100.128/25",
      dns: {
        zone: "testbed.example.net",
        ttl: 60,
        nameservers: [
          { name: "ns1.testbed.example.net", ipv4: "192.0.2.53", ipv6: "2620:0:e00::53" },
          { name: "ns2.example.org" },
        ],
      },
    },
  ];

  it("for generated experiments, and named reads back exactly fwc's records", () => {
    fc.assert(
      fc.property(
        fc.array(experiment, { minLength: 1, maxLength: 3 }),
        fc.constantFrom(...testbeds),
        (exps, testbed) => {
          const settings = dnsSettings(testbed);
          let allocations: Parameters<typeof planNs>[1]["allocations"];
          const records: DnsRecord[] = [];
          exps.forEach((nodes, i) => {
            const names = nodes.map(([n]) => n);
            const lines = ["set ns [new Simulator]", "source tb_compat.tcl"];
            for (const n of names) lines.push(`set ${n} [$ns node]`);
            const first = names[0]!;
            const v = (n: string) => `\${${n}}`;
            for (const [n, g] of nodes) {
              if (g === "named") lines.push(`tb-allow-external ${v(n)} shared nat "192.0.2.1/53/udp"`);
              if (g === "target") lines.push(`tb-allow-external ${v(first)} shared rdr "${n}/80"`);
              if (g === "legacy") lines.push(`tb-allow-external ${v(n)}`);
              if (g === "open6") lines.push(`tb-allow-external ${v(first)} shared open6 "${n},22,tcp"`);
              if (g === "open6+named") lines.push(`tb-allow-external ${v(n)} shared open6 "${n},all"`);
            }
            lines.push("$ns run", "");
            const addrs = Object.fromEntries(
              names.map((n, j) => [n, { ipv4: `10.${i}.1.${j + 2}`, ipv6: `2620:0:e0${i}::${j + 2}` }]),
            );
            const r = planNs(lines.join("\n"), {
              experiment: `proj/e${i}`,
              testbed,
              nodes: addrs,
              ...(allocations ? { allocations } : {}),
            });
            allocations = r.allocations;
            records.push(...r.plan.dns);
          });
          const text = renderZone(settings, infrastructureRecords(testbed, settings), records, 2026112200);
          const r = checkzone(settings.zone, text);
          expect([r.status, r.out]).toEqual([0, expect.stringContaining("OK")]);
          const ours = records.map((x) => `${x.name} ${x.ttl} IN ${x.type} ${x.target}`);
          for (const line of ours) expect(r.dump).toContain(line);
          expect(r.dump.length).toBe(ours.length + infrastructureRecords(testbed, settings).length);
        },
      ),
      { numRuns: 80 },
    );
  });

  it("named-checkzone refuses what fwc's checks refuse: a CNAME beside other data", () => {
    // The oracle agrees with FWC706: the same name as a CNAME and an A record is not a zone.
    const text = [
      "$TTL 300",
      "testbed.example.net. IN SOA ns1.testbed.example.net. hostmaster.testbed.example.net. 1 3600 600 1209600 300",
      "testbed.example.net. IN NS ns1.testbed.example.net.",
      "ns1.testbed.example.net. IN A 192.0.2.53",
      "web.exp.proj.testbed.example.net. 300 IN CNAME gw.testbed.example.net.",
      "web.exp.proj.testbed.example.net. 300 IN A 192.0.2.1",
      "",
    ].join("\n");
    expect(checkzone("testbed.example.net", text).status).not.toBe(0);
  });
});
