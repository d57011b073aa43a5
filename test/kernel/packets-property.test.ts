/**
 * Property on a real kernel: for generated access requests, packets sampled from the policy pass or drop as the
 * policy says. Each run compiles, loads the ruleset into the gateway namespace (one transaction replacing the
 * table) and sends one granted inbound connection, one granted outbound connection, and two that nothing grants.
 */

import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderNftables } from "../../src/backends/nftables/render.js";
import type { TestbedConfig } from "../../src/testbed/config.js";
import { planNs } from "../helpers.js";
import { canRunKernelTests, Lab } from "./lab.js";

const TESTBED: TestbedConfig = {
  domain: "t.example.net",
  gateway: { name: "gw.t.example.net", ipv4: "198.51.100.1", outside: "eth0", inside: ["eth1"] },
  ports: { from: 20000, to: 29999 },
};
const NODES = { a: "10.1.1.2", b: "10.1.1.3", c: "10.1.1.4" } as const;
type Node = keyof typeof NODES;
const HOSTS = ["192.154.6.22", "128.32.112.228"] as const;

interface Rdr {
  node: Node;
  port: number;
  size: number;
  proto: "tcp" | "udp";
  restricted: boolean;
}
interface Nat {
  host: (typeof HOSTS)[number];
  port: number;
  proto: "tcp" | "udp";
}

const rdrArb: fc.Arbitrary<Rdr> = fc.record({
  node: fc.constantFrom<Node>("a", "b", "c"),
  port: fc.integer({ min: 2000, max: 2050 }),
  size: fc.integer({ min: 1, max: 3 }),
  proto: fc.constantFrom<"tcp" | "udp">("tcp", "udp"),
  restricted: fc.boolean(),
});
const natArb: fc.Arbitrary<Nat> = fc.record({
  host: fc.constantFrom(...HOSTS),
  port: fc.integer({ min: 3000, max: 3010 }),
  proto: fc.constantFrom<"tcp" | "udp">("tcp", "udp"),
});

describe.skipIf(!canRunKernelTests())("packets sampled from generated policies", () => {
  const lab = new Lab("packets");
  const file = join(tmpdir(), `${lab.prefix}-packets.nft`);

  beforeAll(() => {
    for (const ns of ["inet", "gw", "a", "b", "c"]) lab.addNamespace(ns);
    lab.link("inet", "inet0", ["198.51.100.2/24", ...HOSTS.map((h) => `${h}/32`), "192.0.2.7/32"], "gw", "eth0", [
      "198.51.100.1/24",
    ]);
    lab.insideLan(
      ["10.1.1.1/24"],
      Object.entries(NODES).map(([ns, a4]) => [ns, [`${a4}/24`]]),
      "10.1.1.1",
    );
    for (const net of ["192.154.6.0/24", "128.32.112.228/32", "192.0.2.0/24"])
      lab.exec("gw", ["ip", "route", "add", net, "via", "198.51.100.2"]);
    lab.exec("inet", ["ip", "route", "add", "10.1.1.0/24", "via", "198.51.100.1"]);
    lab.exec("gw", ["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
  }, 60_000);

  afterAll(() => lab.destroy());

  it("granted packets pass and others drop", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(rdrArb, { minLength: 1, maxLength: 4 }),
        fc.array(natArb, { minLength: 1, maxLength: 3 }),
        fc.nat(),
        async (rdrs, nats, pick) => {
          const rdrText = rdrs.map(
            (r) => `${r.node},${r.port}..${r.port + r.size - 1},${r.proto}${r.restricted ? ",from=192.0.2.0/24" : ""}`,
          );
          const natText = nats.map((n) => `${n.host},${n.port},${n.proto}`);
          const text = `set ns [new Simulator]\nsource tb_compat.tcl\nset a [$ns node]\nset b [$ns node]\nset c [$ns node]\ntb-allow-external $a shared nat "${natText.join(" ")}" rdr "${rdrText.join(" ")}"\n$ns run\n`;
          const nodes = Object.fromEntries(Object.entries(NODES).map(([n, a]) => [n, { ipv4: a }]));
          const { plan } = planNs(text, { experiment: "p/e", testbed: TESTBED, nodes });
          writeFileSync(file, renderNftables({ testbed: TESTBED, plans: [plan] }));
          lab.exec("gw", ["nft", "-f", file]);

          // One granted inbound packet: a port inside a sampled grant, from an allowed source.
          const e = plan.inbound[pick % plan.inbound.length]!;
          const offset = pick % (e.portEnd - e.port + 1);
          const stop = await lab.listen(
            e.node,
            e.proto,
            e.nodeAddress,
            e.port + offset,
            `${e.node}:${e.port + offset}`,
          );
          const from = e.sources.length > 0 ? "192.0.2.7" : "198.51.100.2";
          try {
            expect(lab.send("inet", e.proto, "198.51.100.1", e.external.port + offset, from)).toBe(
              `${e.node}:${e.port + offset} ${from}`,
            );
            // The same node and port reached directly, without the gateway's translation: dropped.
            expect(lab.send("inet", e.proto, e.nodeAddress, e.port + offset, undefined, 400)).toBe("TIMEOUT");
          } finally {
            stop();
          }

          // One granted outbound packet, and one to a port no grant names.
          const g = plan.outbound[pick % plan.outbound.length]!;
          const stopOut = await lab.listen(
            "inet",
            g.proto as "tcp" | "udp",
            g.host.replace(/\/32$/, ""),
            g.port,
            "inet",
          );
          const stopNone = await lab.listen("inet", "tcp", HOSTS[0], 3999, "inet");
          try {
            expect(lab.send("b", g.proto as "tcp" | "udp", g.host.replace(/\/32$/, ""), g.port)).toBe(
              "inet 198.51.100.1",
            );
            expect(lab.send("b", "tcp", HOSTS[0], 3999, undefined, 400)).toBe("TIMEOUT");
          } finally {
            stopOut();
            stopNone();
          }
        },
      ),
      { numRuns: 12 },
    );
  }, 180_000);
});
