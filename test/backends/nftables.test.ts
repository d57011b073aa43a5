/** The nftables renderer's structure; test/kernel loads its output into the real nft and sends packets. */

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { disjoint, renderNftables, renderNftJson } from "../../src/backends/nftables/render.js";
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

describe("disjoint interval elements", () => {
  // Networks of one /16 that nest (the /16, /24s inside it, /32s inside those), with random port ranges.
  const box = fc
    .tuple(fc.constantFrom(16, 24, 32), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 }))
    .chain(([len, c, d]) =>
      fc.tuple(fc.integer({ min: 1, max: 200 }), fc.integer({ min: 0, max: 50 })).map(([lo, w]) => ({
        cidr: len === 16 ? "10.1.0.0/16" : len === 24 ? `10.1.${c}.0/24` : `10.1.${c}.${d}/32`,
        lo,
        hi: lo + w,
      })),
    );
  const covers = (cidr: string, addr: string) => {
    const [net, len] = cidr.split("/");
    const parts = (a: string) => a.split(".").map(Number);
    const n = parts(net!);
    const x = parts(addr);
    return x.every((v, i) => (i + 1) * 8 > Number(len) || v === n[i]);
  };

  it("cover exactly the union of the boxes, and never overlap within a network (many boxes, one network too)", () => {
    fc.assert(
      fc.property(fc.array(box, { maxLength: 40 }), (boxes) => {
        const out = disjoint(
          boxes.map((b) => ({ ...b, group: "g", key: (h: string, p: string) => `${h} . ${p}`, comment: "c" })),
        );
        const pieces = out.map((e) => {
          const [h, p] = e.key.split(" . ");
          const [lo, hi] = p!.includes("-") ? p!.split("-").map(Number) : [Number(p), Number(p)];
          return { cidr: h!, lo: lo!, hi: hi! };
        });
        for (const addr of ["10.1.0.0", "10.1.1.1", "10.1.2.3", "10.1.3.0", "10.1.9.9"])
          for (let port = 1; port <= 251; port += 5) {
            const want = boxes.some((b) => covers(b.cidr, addr) && b.lo <= port && port <= b.hi);
            const hits = pieces.filter((x) => covers(x.cidr, addr) && x.lo <= port && port <= x.hi).length;
            expect(hits > 0).toBe(want);
            // Nested networks keep separate elements; a point is covered once per distinct network at most.
            expect(hits).toBeLessThanOrEqual(3);
          }
        for (const a of pieces)
          for (const b of pieces) if (a !== b && a.cidr === b.cidr) expect(a.hi < b.lo || b.hi < a.lo).toBe(true);
      }),
      { numRuns: 300 },
    );
    // 4,000 ranges of one network (a g5kfw opening of 4,000 ports) are no work.
    const t = Date.now();
    const many = Array.from({ length: 4000 }, (_, i) => ({
      group: "g",
      cidr: "2001:db8::3/128",
      lo: 30000 + 2 * i,
      hi: 30000 + 2 * i,
      key: (_h: string, p: string) => p,
      comment: "c",
    }));
    expect(disjoint(many)).toHaveLength(4000);
    expect(Date.now() - t).toBeLessThan(500);
  });
});
