/**
 * Property: for generated access requests, the rendered ruleset passes `nft -c` and loads in a fresh namespace,
 * and its JSON form (`nft -j -f`) loads to exactly what the text form with the same (split) DNAT maps loads to.
 */

import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderNftables, renderNftJson } from "../../src/backends/nftables/render.js";
import type { TestbedConfig } from "../../src/testbed/config.js";
import { planNs } from "../helpers.js";
import { canRunKernelTests, Lab } from "./lab.js";

const TESTBED: TestbedConfig = {
  domain: "t.example.net",
  gateway: {
    name: "gw.t.example.net",
    ipv4: "198.51.100.1",
    ipv6: "2001:db8:100::1",
    outside: "eth0",
    inside: ["eth1"],
  },
  ports: { from: 20000, to: 29999 },
  dedicated: "198.51.100.128/26",
};

const port = fc.integer({ min: 1, max: 65535 });
const ports = fc.oneof(
  port.map(String),
  fc.tuple(port, fc.integer({ min: 0, max: 20 })).map(([p, n]) => `${Math.min(p, 65515)}..${Math.min(p, 65515) + n}`),
);
const node = fc.constantFrom("a", "b", "c");
const host4 = fc
  .tuple(fc.integer({ min: 1, max: 223 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 8, max: 32 }))
  .map(([x, y, len]) => `${x}.${y}.7.9/${len}`);
// Nested networks and overlapping ranges: nft refuses overlapping interval elements, so these must be split.
const nested = fc
  .tuple(
    fc.constantFrom("1.2.3.4/32", "1.2.0.0/16", "1.0.0.0/8", "any"),
    fc.constantFrom("80", "80..90", "85..95", "0", "all"),
    fc.constantFrom("tcp", "udp"),
  )
  .map(([h, p, pr]) => (p === "all" ? `${h},all` : `${h},${p},${pr}`));
const nat = fc.oneof(
  nested,
  fc.tuple(host4, ports, fc.constantFrom("tcp", "udp", "tcp+udp")).map(([h, p, pr]) => `${h},${p},${pr}`),
  host4.map((h) => `${h},all`),
  fc.constantFrom("2620:0:e00::/48,53,udp", "192.154.6.22/13/udp", "128.32.112.228"),
);
const rdr = fc.oneof(
  fc
    .tuple(
      node,
      fc.constantFrom("100..110", "105..115", "100"),
      fc.constantFrom("192.0.2.0/24", "192.0.2.0/25", "192.0.2.7/32"),
    )
    .map(([n, p, src]) => `${n},${p},tcp,from=${src}`),
  fc
    .tuple(node, ports, fc.constantFrom("tcp", "udp", "tcp+udp"), fc.boolean())
    .map(([n, p, pr, src]) => `${n},${p},${pr}${src ? ",from=192.0.2.0/24" : ""}`),
  fc.tuple(node, port).map(([n, p]) => `${n}/${p}`),
);
const open6 = fc.oneof(
  fc.tuple(node, ports).map(([n, p]) => `${n},${p}`),
  node.map((n) => `${n},all`),
);

describe.skipIf(!canRunKernelTests())("generated rulesets load into the real nft", () => {
  const lab = new Lab("ruleprop");
  beforeAll(() => lab.addNamespace("nft"));
  afterAll(() => lab.destroy());

  it("for any mix of grants and experiments", () => {
    const file = join(tmpdir(), `${lab.prefix}-prop.nft`);
    const json = join(tmpdir(), `${lab.prefix}-prop.json`);
    fc.assert(
      fc.property(
        fc.uniqueArray(nat, { maxLength: 5 }),
        fc.uniqueArray(rdr, { maxLength: 5 }),
        fc.uniqueArray(open6, { maxLength: 3 }),
        fc.boolean(),
        (n, r, o, legacy) => {
          const calls = [
            `tb-allow-external $a shared${n.length ? ` nat "${n.join(" ")}"` : ""}${r.length ? ` rdr "${r.join(" ")}"` : ""}${o.length ? ` open6 "${o.join(" ")}"` : ""}`,
            legacy ? "tb-allow-external $c" : "",
          ].join("\n");
          const text = `set ns [new Simulator]\nsource tb_compat.tcl\nset a [$ns node]\nset b [$ns node]\nset c [$ns node]\n${calls}\n$ns run\n`;
          const nodes = {
            a: { ipv4: "10.1.1.2", ipv6: "2620:0:e01::2" },
            b: { ipv4: "10.1.1.3", ipv6: "2620:0:e01::3" },
            c: { ipv4: "10.1.1.4", ipv6: "2620:0:e01::4" },
          };
          const { plan } = planNs(text, { experiment: "p/e1", testbed: TESTBED, nodes });
          writeFileSync(file, renderNftables({ testbed: TESTBED, plans: [plan] }));
          lab.exec("nft", ["nft", "-c", "-f", file]);
          lab.exec("nft", ["nft", "-f", file]);
          expect(lab.exec("nft", ["nft", "list", "table", "inet", "fwc"])).toContain("chain forward");

          writeFileSync(file, renderNftables({ testbed: TESTBED, plans: [plan] }, { splitDnat: true }));
          lab.exec("nft", ["nft", "-f", file]);
          const fromText = lab.exec("nft", ["nft", "list", "table", "inet", "fwc"]);
          writeFileSync(json, renderNftJson({ testbed: TESTBED, plans: [plan] }));
          lab.exec("nft", ["nft", "-c", "-j", "-f", json]);
          lab.exec("nft", ["nft", "-j", "-f", json]);
          expect(lab.exec("nft", ["nft", "list", "table", "inet", "fwc"])).toBe(fromText);
        },
      ),
      { numRuns: 60 },
    );
  }, 120_000);
});
