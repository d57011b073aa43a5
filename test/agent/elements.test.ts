/**
 * What `fwc agent` lets through to nft from etcd: every element fwc itself writes (experiments of every kind of
 * grant, the blocklist), and nothing else: a name nft would look up, an address that does not exist, a network
 * with host bits set, a comment longer than nft takes, anything that would break out of the element's syntax.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { elementProblem } from "../../src/agent/agent.js";
import { experimentElements } from "../../src/backends/nftables/render.js";
import { blockElements } from "../../src/deploy/blocks.js";
import { DiagnosticBag } from "../../src/diagnostics/diagnostic.js";
import { SourceFile } from "../../src/diagnostics/source.js";
import { loadTestbed, type TestbedConfig } from "../../src/testbed/config.js";
import { planNs } from "../helpers.js";

const root = join(import.meta.dirname, "..", "..");
const testbed = loadTestbed(
  new SourceFile("t.yaml", readFileSync(join(root, "examples", "testbed.yaml"), "utf8")),
  new DiagnosticBag(),
) as TestbedConfig;

const elementsOf = (ns: string, nodes: object) =>
  experimentElements(testbed, planNs(ns, { experiment: "p/e", testbed, nodes: nodes as never, path: "x.ns" }).plan);

describe("the agent's check of elements from etcd", () => {
  it("takes every element fwc writes: the examples, bridge anti-spoofing, dedicated addresses, the blocklist", () => {
    for (const ex of ["web-lab", "grid-lab"]) {
      const els = elementsOf(
        readFileSync(join(root, "examples", `${ex}.ns`), "utf8"),
        JSON.parse(readFileSync(join(root, "examples", `${ex}.nodes.json`), "utf8")),
      );
      expect(Object.values(els).flat().length).toBeGreaterThan(3);
      expect(elementProblem(els)).toBeNull();
    }
    const bridged = elementsOf(
      [
        "set ns [new Simulator]",
        "source tb_compat.tcl",
        "set a [$ns node]",
        "set b [$ns node]",
        'tb-allow-external $a shared rdr "a/22 a/8000..8010/udp" nat "192.0.2.0/24,443 2001:db8::/32,53,udp"',
        'tb-allow-external $b shared rdr "b,80,tcp,from=203.0.113.0/24"',
        "$ns run",
      ].join("\n"),
      {
        a: { ipv4: "10.1.1.2", ipv6: "2620:0:e01::2", mac: "02:00:00:00:00:0a", port: "veth-a" },
        b: { ipv4: "10.1.1.3" },
      },
    );
    expect(Object.values(bridged).flat().length).toBeGreaterThan(6);
    expect(elementProblem(bridged)).toBeNull();
    const blocks = blockElements([
      { cidr: "203.0.113.0/24", reason: "x", by: "cli:root", at: "t" },
      { cidr: "2001:db8::/32", reason: "x", by: "cli:root", at: "t" },
      { cidr: "198.18.0.0/15", proto: "tcp+udp", port: 22, portEnd: 25, reason: "x", by: "cli:root", at: "t" },
      { cidr: "2001:db8:1::/48", proto: "udp", reason: "x", by: "cli:root", at: "t" },
    ]);
    expect(Object.values(blocks).flat().length).toBeGreaterThanOrEqual(4);
    expect(elementProblem(blocks)).toBeNull();
  });

  it("refuses what nft would refuse, look up, store differently, or read as more than one element", () => {
    const bad: [string, string][] = [
      ["10.1.1.300", "x"],
      ["localhost", "x"],
      ["10.1.2.3/8", "x"],
      ["10.1.1.2 : 10.1.1.3 : 10.1.1.4", "x"],
      ["10.1.1.2 . tcp . 70000", "x"],
      ["10.1.1.2 . icmp", "x"],
      ["10.1.1.2", "é".repeat(128)],
      ["10.1.1.2", 'x" ; add table inet pwned ; #'],
      ["10.1.1.2 } ; add table inet pwned ; add element inet fwc nodes4 { 10.1.1.3", "x"],
      ["10.1.1.2-2001:db8::1", "x"],
    ];
    for (const [key, comment] of bad)
      expect(elementProblem({ nodes4: [{ key, comment }] }), `${key} "${comment.slice(0, 20)}"`).not.toBeNull();
    expect(elementProblem({ "nodes4 { 1.2.3.4 }": [{ key: "10.1.1.2", comment: "x" }] })).not.toBeNull();
    expect(elementProblem({ nodes4: [{ key: "10.1.1.2", comment: "é".repeat(64) }] })).toBeNull();
  });
});
