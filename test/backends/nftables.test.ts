/** The nftables renderer's structure; test/kernel loads its output into the real nft and sends packets. */

import { describe, expect, it } from "vitest";
import { renderNftables } from "../../src/backends/nftables/render.js";
import type { TestbedConfig } from "../../src/testbed/config.js";
import { planNs } from "../helpers.js";

const TESTBED: TestbedConfig = {
  domain: "t.example.net",
  gateway: { name: "gw.t.example.net", ipv4: "198.51.100.1", outside: "eth0", inside: ["eth1"] },
  ports: { from: 20000, to: 29999 },
};

function render(calls: string): string {
  const text = `set ns [new Simulator]\nsource tb_compat.tcl\nset a [$ns node]\n${calls}\n$ns run\n`;
  const { plan } = planNs(text, {
    experiment: "p/e",
    testbed: TESTBED,
    nodes: { a: { ipv4: "10.1.1.2" } },
    path: "x.ns",
  });
  return renderNftables({ testbed: TESTBED, plans: [plan] });
}

const elements = (ruleset: string, set: string) => {
  const block = ruleset.slice(ruleset.indexOf(`set ${set} {`));
  const body = block.slice(0, block.indexOf("\t}"));
  return [...body.matchAll(/^\t\t\t(.*?) comment/gm)].map((m) => m[1]);
};

describe("renderNftables", () => {
  it("replaces only its own table, in one transaction", () => {
    const r = render('tb-allow-external $a shared rdr "22"');
    expect(r.split("\n").slice(2, 5)).toEqual(["table inet fwc {}", "delete table inet fwc", "table inet fwc {"]);
    expect(r).not.toMatch(/flush ruleset/);
  });

  it("splits overlapping grants into disjoint interval elements, losing nothing", () => {
    const r = render('tb-allow-external $a shared nat "1.2.3.4/32,80..90,tcp 1.2.3.4/32,85..95,tcp 1.2.0.0/16,80,tcp"');
    expect(elements(r, "out4")).toEqual([
      "10.1.1.2 . 1.2.0.0/16 . tcp . 80",
      "10.1.1.2 . 1.2.3.4/32 . tcp . 81-90",
      "10.1.1.2 . 1.2.3.4/32 . tcp . 91-95",
    ]);
  });

  it("comments every element with its experiment and source position", () => {
    const r = render('tb-allow-external $a shared rdr "22"');
    expect(r).toContain('198.51.100.1 . tcp . 20000 comment "p/e 4:34" : 10.1.1.2 . 22');
  });
});
