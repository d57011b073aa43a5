/** The planner: endpoints on both sides of the gateway, DNS names, and the problems it reports. */
import { describe, expect, it } from "vitest";
import { resolveAccess } from "../../src/access/resolve.js";
import { endpointsJson, endpointsTable } from "../../src/backends/endpoints/endpoints.js";
import { DiagnosticBag } from "../../src/diagnostics/diagnostic.js";
import { SourceFile } from "../../src/diagnostics/source.js";
import { evaluateNs } from "../../src/ns/index.js";
import { type Allocations, emptyAllocations } from "../../src/plan/allocations.js";
import { planAccess } from "../../src/plan/plan.js";
import type { NodeAddresses, TestbedConfig } from "../../src/testbed/config.js";

const TESTBED: TestbedConfig = {
  domain: "testbed.example.net",
  gateway: {
    name: "gw.testbed.example.net",
    ipv4: "198.51.100.1",
    ipv6: "2001:db8:100::1",
    outside: "eth0",
    inside: ["eth1"],
  },
  ports: { from: 20000, to: 29999 },
  dedicated: "198.51.100.128/30",
};
const NODES: NodeAddresses = {
  node: { ipv4: "10.1.1.2" },
  web: { ipv4: "10.1.1.3", ipv6: "2620:0:e00::3" },
  othernode: { ipv4: "10.1.1.4", ipv6: "fe80::4" },
};

function plan(
  calls: string,
  opts: { nodes?: NodeAddresses; allocations?: Allocations; testbed?: TestbedConfig; exp?: string } = {},
) {
  const text = `set ns [new Simulator]\nsource tb_compat.tcl\nset node [$ns node]\nset web [$ns node]\nset othernode [$ns node]\n${calls}\n$ns run\n`;
  const file = new SourceFile("exp.ns", text);
  const bag = new DiagnosticBag();
  const policy = resolveAccess(evaluateNs(file, undefined, bag).experiment, file, bag);
  const r = planAccess(
    {
      policy,
      experiment: opts.exp ?? "proj/exp1",
      testbed: opts.testbed ?? TESTBED,
      nodes: opts.nodes ?? NODES,
      allocations: opts.allocations ?? emptyAllocations(),
      file,
    },
    bag,
  );
  const diags = bag
    .sorted()
    .map((d) => [d.code, file.position(d.span.start).line, file.position(d.span.start).col, d.message]);
  return { r, diags };
}

const DETER =
  'tb-allow-external $node shared nat "192.154.6.22/13/udp 192.154.6.21/25 128.32.112.228" rdr "22 web/80 othernode/13/udp"';

describe("planAccess", () => {
  it("gives every redirect a gateway port and every named node a CNAME", () => {
    const { r, diags } = plan(DETER);
    expect(diags).toEqual([]);
    const p = r!.plan;
    expect(
      p.inbound.map(
        (e) => `${e.external.address}:${e.external.port}/${e.proto} -> ${e.node}(${e.nodeAddress}):${e.port}`,
      ),
    ).toEqual([
      "198.51.100.1:20000/tcp -> node(10.1.1.2):22",
      "198.51.100.1:20001/tcp -> web(10.1.1.3):80",
      "198.51.100.1:20002/udp -> othernode(10.1.1.4):13",
    ]);
    expect(p.outbound.map((e) => `${e.host} ${e.proto} ${e.port}`)).toEqual([
      "192.154.6.22/32 udp 13",
      "192.154.6.21/32 tcp 25",
      "128.32.112.228/32 tcp 0",
    ]);
    expect(p.dns.map(({ name, type, target, ttl }) => ({ name, type, target, ttl }))).toEqual([
      { name: "node.exp1.proj.testbed.example.net.", type: "CNAME", target: "gw.testbed.example.net.", ttl: 300 },
      { name: "web.exp1.proj.testbed.example.net.", type: "CNAME", target: "gw.testbed.example.net.", ttl: 300 },
      {
        name: "othernode.exp1.proj.testbed.example.net.",
        type: "CNAME",
        target: "gw.testbed.example.net.",
        ttl: 300,
      },
    ]);
    expect(r!.allocations.experiments["proj/exp1"]!.ports.map((x) => x.port)).toEqual([20000, 20001, 20002]);
  });

  it("tcp+udp targets share one external port; identity ranges keep their ports", () => {
    const { r, diags } = plan('tb-allow-external $web shared rdr "web,53,tcp+udp web,25000..25010,tcp,identity"');
    expect(diags).toEqual([]);
    expect(
      r!.plan.inbound.map((e) => `${e.proto} ${e.external.port}..${e.external.portEnd} -> ${e.port}..${e.portEnd}`),
    ).toEqual(["tcp 20000..20000 -> 53..53", "udp 20000..20000 -> 53..53", "tcp 25000..25010 -> 25000..25010"]);
  });

  it("identity ports come from the pool only: the gateway's own ports (22, 53) are never handed out", () => {
    const own = plan('tb-allow-external $web shared rdr "web,22,tcp,identity web,53,tcp+udp,identity"');
    expect(own.r).toBeNull();
    expect(own.diags.map((d) => [d[0], d[1], d[2]])).toEqual([["FWC701", 6, 36]]);
    expect(own.diags[0]![3]).toContain("only ports of its pool 20000-29999");
    // 131,070 redirects used to be compiled; the limit refuses it before any port is looked at.
    const t = Date.now();
    const all = plan('tb-allow-external $web shared rdr "web,1..65535,tcp+udp,identity"');
    expect(Date.now() - t).toBeLessThan(2000);
    expect(all.diags.map((d) => d[0])).toEqual(["FWC710"]);
  });

  it("per-experiment limits: ports and dedicated addresses, reported at the grant that crosses them", () => {
    const many = plan('tb-allow-external $web shared rdr "web,1..1000 web,2000..2100"');
    expect(many.diags.map((d) => [d[0], d[1], d[2]])).toEqual([["FWC710", 6, 48]]);
    expect(many.diags[0]![3]).toContain("1101 or more external ports; the limit per experiment is 1024");
    const tight = { ...TESTBED, limits: { ports: 2, dedicated: 1 } };
    expect(plan('tb-allow-external $web shared rdr "web/80 web/81"', { testbed: tight }).diags).toEqual([]);
    expect(plan('tb-allow-external $web shared rdr "web/80 web/81 web/82"', { testbed: tight }).diags[0]![0]).toBe(
      "FWC710",
    );
    expect(plan("tb-allow-external $web\ntb-allow-external $node", { testbed: tight }).diags[0]![0]).toBe("FWC710");
  });

  it("elements are counted before anything expands them: ports times sources over the limit is refused at once", () => {
    const sources = Array.from({ length: 60 }, (_, i) => `from=203.0.${i}.2/32`).join(",");
    const t = Date.now();
    const { r, diags } = plan(`tb-allow-external $web shared rdr "web,1000..2022,tcp,${sources}"`);
    expect(Date.now() - t).toBeLessThan(2000);
    expect(r).toBeNull();
    expect(diags.map((d) => d[0])).toEqual(["FWC710"]);
    expect(diags[0]![3]).toContain("more than 20000 nftables elements");
  });

  it("a node address is one node's, and never the gateway's, the infrastructure's or the dedicated pool's", () => {
    const codes = (nodes: NodeAddresses, testbed = TESTBED) =>
      plan('tb-allow-external $web shared rdr "web/80"', { nodes, testbed }).diags.map((d) => [d[0], d[3]]);
    expect(codes({ ...NODES, node: { ipv4: "10.1.1.3" } })).toEqual([
      ["FWC711", "nodes node and web both have the address 10.1.1.3"],
    ]);
    expect(codes({ ...NODES, node: { ipv4: "198.51.100.1" } })[0]![1]).toContain("the gateway's own address");
    expect(codes({ ...NODES, node: { ipv4: "198.51.100.129" } })[0]![1]).toContain("dedicated public pool");
    const infra = { ...TESTBED, gateway: { ...TESTBED.gateway, infrastructure: ["10.1.1.0/28", "2620:0:e00::/120"] } };
    expect(codes(NODES, infra).map((d) => d[1])).toEqual([
      "node node's address 10.1.1.2 lies in the testbed's infrastructure 10.1.1.0/28 (gateway.infrastructure)",
      "node web's address 10.1.1.3 lies in the testbed's infrastructure 10.1.1.0/28 (gateway.infrastructure)",
      "node web's address 2620:0:e00::3 lies in the testbed's infrastructure 2620:0:e00::/120 (gateway.infrastructure)",
      "node othernode's address 10.1.1.4 lies in the testbed's infrastructure 10.1.1.0/28 (gateway.infrastructure)",
    ]);
  });

  it("stays stable across recompiles and leaves other experiments' ports alone", () => {
    const first = plan(DETER).r!;
    const other = plan('tb-allow-external $web shared rdr "22"', { allocations: first.allocations, exp: "proj/exp2" })
      .r!;
    expect(other.plan.inbound[0]!.external.port).toBe(20003);
    const again = plan(DETER, { allocations: other.allocations }).r!;
    expect(again.plan.inbound.map((e) => e.external.port)).toEqual([20000, 20001, 20002]);
  });

  it("legacy nodes get stable dedicated addresses until the pool is exhausted", () => {
    const { r } = plan("tb-allow-external $web\ntb-allow-external $node");
    expect(r!.plan.dedicated.map((d) => `${d.node} ${d.address}`)).toEqual([
      "web 198.51.100.129",
      "node 198.51.100.130",
    ]);
    const { diags } = plan("tb-allow-external $web\ntb-allow-external $node\ntb-allow-external $othernode");
    expect(diags.map((d) => d[0])).toEqual(["FWC702"]);
  });

  it("open6 needs a global IPv6 address; redirects need an IPv4 address", () => {
    const { r, diags } = plan('tb-allow-external $web shared open6 "22 othernode,80"');
    expect(r).toBeNull();
    expect(diags).toEqual([["FWC700", 6, 41, 'node "othernode"\'s IPv6 address fe80::4 is not a global address']]);
    const missing = plan('tb-allow-external $web shared rdr "othernode/22"', { nodes: { web: { ipv4: "10.1.1.3" } } });
    expect(missing.diags.map((d) => d[0])).toEqual(["FWC700"]);
  });

  it("reports an exhausted pool at the target that did not fit", () => {
    const { diags } = plan('tb-allow-external $web shared rdr "web,1000..1200"', {
      testbed: { ...TESTBED, ports: { from: 20000, to: 20099 } },
    });
    expect(diags.map((d) => [d[0], d[1], d[2]])).toEqual([["FWC701", 6, 36]]);
  });

  it("refuses an experiment name that cannot be a DNS zone", () => {
    expect(plan(DETER, { exp: "my_proj/exp" }).diags.map((d) => d[0])).toEqual(["FWC703"]);
  });

  it("lists endpoints as the documented JSON contract and as a table", () => {
    const { r } = plan(DETER);
    const json = endpointsJson(r!.plan);
    expect(json.inbound[1]).toEqual({
      node: "web",
      proto: "tcp",
      port: 80,
      external: { address: "198.51.100.1", port: 20001 },
      sources: [],
      origin: "nsfile",
      location: { file: "exp.ns", line: 6, column: 97 },
    });
    expect(json.outbound[2]).toMatchObject({ host: "128.32.112.228/32", proto: "tcp", port: 0, origin: "nsfile" });
    expect(endpointsTable(r!.plan)).toContain("198.51.100.1:20001/tcp -> web:80");
  });
});
