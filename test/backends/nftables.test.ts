/** The nftables renderer's structure; test/kernel loads its output into the real nft and sends packets. */

import { describe, expect, it } from "vitest";
import { renderNftables, renderNftJson } from "../../src/backends/nftables/render.js";
import type { TestbedConfig } from "../../src/testbed/config.js";
import { planNs } from "../helpers.js";

const TESTBED: TestbedConfig = {
  domain: "t.example.net",
  gateway: { name: "gw.t.example.net", ipv4: "198.51.100.1", outside: "eth0", inside: ["eth1"] },
  ports: { from: 20000, to: 29999 },
};

function plan(calls: string) {
  const text = `set ns [new Simulator]\nsource tb_compat.tcl\nset a [$ns node]\n${calls}\n$ns run\n`;
  return planNs(text, { experiment: "p/e", testbed: TESTBED, nodes: { a: { ipv4: "10.1.1.2" } }, path: "x.ns" }).plan;
}

const render = (calls: string) => renderNftables({ testbed: TESTBED, plans: [plan(calls)] });

const elements = (ruleset: string, set: string) => {
  const block = ruleset.slice(ruleset.indexOf(`set ${set} {`));
  const body = block.slice(0, block.indexOf("\t}"));
  return [...body.matchAll(/^\t\t\t(.*?) comment/gm)].map((m) => m[1]);
};

describe("renderNftables", () => {
  it("replaces only its own table, in one transaction", () => {
    const r = render('tb-allow-external $a shared rdr "22"');
    expect(r.split("\n").slice(2, 7)).toEqual([
      "table inet fwc {}",
      "delete table inet fwc",
      "table bridge fwc {}",
      "delete table bridge fwc",
      "table inet fwc {",
    ]);
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

describe("renderNftJson", () => {
  const calls = 'tb-allow-external $a shared rdr "22 a,8000,tcp,from=192.0.2.0/24" nat "1.2.0.0/16,80..90,tcp"';
  const doc = JSON.parse(renderNftJson({ testbed: TESTBED, plans: [plan(calls)] })).nftables as Record<
    string,
    Record<string, Record<string, unknown>>
  >[];

  it("replaces only its own table, in one transaction", () => {
    expect(doc.slice(1, 6)).toEqual([
      { add: { table: { family: "inet", name: "fwc" } } },
      { delete: { table: { family: "inet", name: "fwc" } } },
      { add: { table: { family: "bridge", name: "fwc" } } },
      { delete: { table: { family: "bridge", name: "fwc" } } },
      { add: { table: { family: "inet", name: "fwc" } } },
    ]);
    expect(doc.every((c) => c.metainfo !== undefined || c.add !== undefined || c.delete?.table !== undefined)).toBe(
      true,
    );
  });

  it("splits each DNAT map into an address map and a port map of the same keys", () => {
    const map = (name: string) => doc.find((c) => c.add?.map?.name === name)?.add?.map;
    expect(map("rdr4")).toMatchObject({
      type: ["ipv4_addr", "inet_proto", "inet_service"],
      map: "ipv4_addr",
      elem: [[{ elem: { val: { concat: ["198.51.100.1", "tcp", 20000] }, comment: "p/e 4:34" } }, "10.1.1.2"]],
    });
    expect(map("rdr4port")).toMatchObject({
      map: "inet_service",
      elem: [[{ elem: { val: { concat: ["198.51.100.1", "tcp", 20000] }, comment: "p/e 4:34" } }, 22]],
    });
    expect(map("rdr4src")?.elem).toEqual([
      [
        {
          elem: {
            val: { concat: [{ prefix: { addr: "192.0.2.0", len: 24 } }, "198.51.100.1", "tcp", 20001] },
            comment: "p/e 4:37",
          },
        },
        "10.1.1.2",
      ],
    ]);
    const out4 = doc.find((c) => c.add?.set?.name === "out4")?.add?.set;
    expect(out4?.flags).toEqual(["interval"]);
    expect(JSON.stringify(out4?.elem)).toContain('{"range":[80,90]}');
  });

  it("writes the same rules as the text form with split maps", () => {
    const text = renderNftables({ testbed: TESTBED, plans: [plan(calls)] }, { splitDnat: true });
    expect(text).toContain(
      "dnat ip to ip daddr . meta l4proto . th dport map @rdr4 : ip daddr . meta l4proto . th dport map @rdr4port",
    );
    const rules = doc.filter((c) => c.add?.rule !== undefined);
    expect(rules.length).toBe(text.split("\n").filter((l) => /\b(accept|drop)$|\b[ds]nat ip to /.test(l)).length);
  });
});
