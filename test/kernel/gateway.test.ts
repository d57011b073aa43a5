/**
 * The generated ruleset on a real kernel: an Internet host, the gateway and the nodes of two experiments in
 * network namespaces, and real TCP and UDP packets. Each allocated port reaches exactly its node and port,
 * granted outbound traffic leaves with the gateway's (or the dedicated) address, everything else is dropped,
 * including what one experiment's grants would give another's nodes.
 */

import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderNftables, renderNftJson } from "../../src/backends/nftables/render.js";
import { type Allocations, emptyAllocations } from "../../src/plan/allocations.js";
import type { Plan } from "../../src/plan/plan.js";
import type { NodeAddresses, TestbedConfig } from "../../src/testbed/config.js";
import { planNs } from "../helpers.js";
import { canRunKernelTests, Lab } from "./lab.js";

const TESTBED: TestbedConfig = {
  domain: "testbed.example.net",
  gateway: { name: "gw.testbed.example.net", ipv4: "198.51.100.1", outside: "eth0", inside: ["eth1"] },
  ports: { from: 20000, to: 29999 },
  dedicated: "198.51.100.128/29",
};

const EXP1 = `set ns [new Simulator]
source tb_compat.tcl
set node [$ns node]
set web [$ns node]
set othernode [$ns node]
set db [$ns node]
tb-allow-external $node shared nat "192.154.6.22/13/udp 192.154.6.21/25 128.32.112.228" rdr "22 web/80 othernode/13/udp"
tb-allow-external $web shared rdr "web,8000,tcp,from=192.0.2.0/24"
tb-allow-external $db
$ns run
`;
const EXP2 = `set ns [new Simulator]
source tb_compat.tcl
set x [$ns node]
tb-allow-external $x shared rdr "22"
$ns run
`;
const NODES: Record<string, NodeAddresses> = {
  "proj/exp1": {
    node: { ipv4: "10.1.1.2" },
    web: { ipv4: "10.1.1.3" },
    othernode: { ipv4: "10.1.1.4" },
    db: { ipv4: "10.1.1.5" },
  },
  "proj/exp2": { x: { ipv4: "10.1.1.9" } },
};

function compile(exp: string, text: string, allocations: Allocations): { plan: Plan; allocations: Allocations } {
  return planNs(text, { experiment: exp, testbed: TESTBED, nodes: NODES[exp]!, allocations });
}

const port = (p: Plan, node: string, proto: string, internal: number) =>
  p.inbound.find((e) => e.node === node && e.proto === proto && e.port === internal)!.external.port;

// Both outputs carry the same rules: the nft text file and the JSON one (whose DNAT maps are split in two).
describe.skipIf(!canRunKernelTests()).each(["nft", "nft-json"])(
  "the ruleset (--emit %s) on a real kernel",
  (format) => {
    const lab = new Lab("gateway");
    let exp1: Plan;
    let exp2: Plan;

    beforeAll(async () => {
      const a = compile("proj/exp1", EXP1, emptyAllocations());
      const b = compile("proj/exp2", EXP2, a.allocations);
      exp1 = a.plan;
      exp2 = b.plan;
      for (const ns of ["inet", "gw", "node", "web", "othernode", "db", "x"]) lab.addNamespace(ns);
      lab.link(
        "inet",
        "inet0",
        ["198.51.100.2/24", "192.154.6.22/32", "192.154.6.21/32", "128.32.112.228/32", "192.0.2.7/32"],
        "gw",
        "eth0",
        ["198.51.100.1/24", "198.51.100.129/32"],
      );
      const addr: Record<string, string> = {
        node: "10.1.1.2",
        web: "10.1.1.3",
        othernode: "10.1.1.4",
        db: "10.1.1.5",
        x: "10.1.1.9",
      };
      lab.insideLan(
        ["10.1.1.1/24"],
        Object.entries(addr).map(([ns, a4]) => [ns, [`${a4}/24`]]),
        "10.1.1.1",
      );
      for (const net of ["192.154.6.0/24", "128.32.112.228/32", "192.0.2.0/24"])
        lab.exec("gw", ["ip", "route", "add", net, "via", "198.51.100.2"]);
      // The Internet host knows a route to the nodes' private network: the ruleset, not routing, must stop it.
      lab.exec("inet", ["ip", "route", "add", "10.1.1.0/24", "via", "198.51.100.1"]);
      lab.exec("gw", ["sysctl", "-qw", "net.ipv4.ip_forward=1"]);

      const input = { testbed: TESTBED, plans: [exp1, exp2] };
      const json = format === "nft-json";
      const file = join(tmpdir(), `${lab.prefix}.${json ? "json" : "nft"}`);
      writeFileSync(file, json ? renderNftJson(input) : renderNftables(input));
      const j = json ? ["-j"] : [];
      lab.exec("gw", ["nft", ...j, "-c", "-f", file]);
      lab.exec("gw", ["nft", ...j, "-f", file]);
      expect(lab.exec("gw", ["nft", "list", "table", "inet", "fwc"])).toContain(json ? "map rdr4port" : "map rdr4 ");

      await lab.listen("node", "tcp", "10.1.1.2", 22, "node:22");
      await lab.listen("web", "tcp", "10.1.1.3", 80, "web:80");
      await lab.listen("web", "tcp", "10.1.1.3", 8000, "web:8000");
      await lab.listen("othernode", "udp", "10.1.1.4", 13, "othernode:13");
      await lab.listen("db", "tcp", "10.1.1.5", 5432, "db:5432");
      await lab.listen("x", "tcp", "10.1.1.9", 22, "x:22");
      await lab.listen("inet", "udp", "192.154.6.22", 13, "inet:13");
      await lab.listen("inet", "tcp", "192.154.6.22", 14, "inet:14");
      await lab.listen("inet", "tcp", "192.154.6.21", 25, "inet:25");
      await lab.listen("inet", "tcp", "128.32.112.228", 4444, "inet:4444");
    }, 60_000);

    afterAll(() => lab.destroy());

    it("each gateway port reaches exactly its node and port, over TCP and UDP", () => {
      expect(lab.send("inet", "tcp", "198.51.100.1", port(exp1, "node", "tcp", 22))).toBe("node:22 198.51.100.2");
      expect(lab.send("inet", "tcp", "198.51.100.1", port(exp1, "web", "tcp", 80))).toBe("web:80 198.51.100.2");
      expect(lab.send("inet", "udp", "198.51.100.1", port(exp1, "othernode", "udp", 13))).toBe(
        "othernode:13 198.51.100.2",
      );
      expect(lab.send("inet", "tcp", "198.51.100.1", port(exp2, "x", "tcp", 22))).toBe("x:22 198.51.100.2");
    });

    it("nothing else from the Internet reaches a node", () => {
      expect(lab.send("inet", "tcp", "10.1.1.2", 22)).toBe("TIMEOUT");
      expect(lab.send("inet", "tcp", "10.1.1.3", 80)).toBe("TIMEOUT");
      // The TCP port of an UDP grant, and a port no one was given.
      expect(lab.send("inet", "tcp", "198.51.100.1", port(exp1, "othernode", "udp", 13))).not.toMatch(/^othernode/);
      expect(lab.send("inet", "tcp", "198.51.100.1", 29999)).not.toMatch(/:/);
    });

    it("granted outbound traffic leaves with the gateway's address; the rest is dropped", () => {
      expect(lab.send("node", "udp", "192.154.6.22", 13)).toBe("inet:13 198.51.100.1");
      expect(lab.send("web", "tcp", "192.154.6.21", 25)).toBe("inet:25 198.51.100.1");
      expect(lab.send("othernode", "tcp", "128.32.112.228", 4444)).toBe("inet:4444 198.51.100.1");
      expect(lab.send("node", "tcp", "192.154.6.22", 14)).toBe("TIMEOUT");
    });

    it("one experiment's grants give another experiment's nodes nothing", () => {
      expect(lab.send("x", "udp", "192.154.6.22", 13)).toBe("TIMEOUT");
      expect(lab.send("x", "tcp", "192.154.6.21", 25)).toBe("TIMEOUT");
    });

    it("a source-restricted grant admits only its sources", () => {
      const p = port(exp1, "web", "tcp", 8000);
      expect(lab.send("inet", "tcp", "198.51.100.1", p, "192.0.2.7")).toBe("web:8000 192.0.2.7");
      // Another source is not translated at all: the gateway's own stack refuses it, and the node never sees it.
      expect(lab.send("inet", "tcp", "198.51.100.1", p, "198.51.100.2")).toBe("REFUSED");
    });

    it("the legacy dedicated address reaches its node on the same port, and the node's traffic leaves from it", () => {
      expect(exp1.dedicated.map((d) => [d.node, d.address])).toEqual([["db", "198.51.100.129"]]);
      expect(lab.send("inet", "tcp", "198.51.100.129", 5432)).toBe("db:5432 198.51.100.2");
      expect(lab.send("db", "tcp", "192.154.6.21", 25)).toBe("inet:25 198.51.100.129");
    });
  },
);
