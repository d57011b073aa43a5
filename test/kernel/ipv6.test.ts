/**
 * IPv6 on a real kernel: open6 grants reach a node's global address directly (no translation), on exactly the
 * granted protocols and ports; outbound IPv6 grants leave from the node's own address; nothing else passes.
 */

import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderNftables } from "../../src/backends/nftables/render.js";
import type { TestbedConfig } from "../../src/testbed/config.js";
import { planNs } from "../helpers.js";
import { canRunKernelTests, Lab } from "./lab.js";

const TESTBED: TestbedConfig = {
  domain: "testbed.example.net",
  gateway: {
    name: "gw.testbed.example.net",
    ipv4: "198.51.100.1",
    ipv6: "2620:0:e00::1",
    outside: "eth0",
    inside: ["eth1"],
  },
  ports: { from: 20000, to: 29999 },
};
const EXP = `set ns [new Simulator]
source tb_compat.tcl
set web [$ns node]
set db [$ns node]
tb-allow-external $web shared open6 "web,22,tcp web,53,udp" nat "2620:0:e00::/48,80,tcp"
$ns run
`;

describe.skipIf(!canRunKernelTests())("IPv6 grants on a real kernel", () => {
  const lab = new Lab("ipv6");

  beforeAll(async () => {
    const nodes = { web: { ipv4: "10.1.1.3", ipv6: "2620:0:e01::3" }, db: { ipv4: "10.1.1.4", ipv6: "2620:0:e01::4" } };
    const r = planNs(EXP, { experiment: "proj/v6", testbed: TESTBED, nodes });

    for (const ns of ["inet", "gw", "web", "db"]) lab.addNamespace(ns);
    lab.link("inet", "inet0", ["198.51.100.2/24", "2620:0:e00::10/64"], "gw", "eth0", [
      "198.51.100.1/24",
      "2620:0:e00::1/64",
    ]);
    lab.insideLan(
      ["2620:0:e01::1/64", "10.1.1.1/24"],
      [
        ["web", ["2620:0:e01::3/64", "10.1.1.3/24"]],
        ["db", ["2620:0:e01::4/64", "10.1.1.4/24"]],
      ],
      "2620:0:e01::1",
    );
    lab.exec("inet", ["ip", "-6", "route", "add", "2620:0:e01::/64", "via", "2620:0:e00::1"]);
    lab.exec("gw", ["sysctl", "-qw", "net.ipv6.conf.all.forwarding=1"]);

    const path = join(tmpdir(), `${lab.prefix}-v6.nft`);
    writeFileSync(path, renderNftables({ testbed: TESTBED, plans: [r!.plan] }));
    lab.exec("gw", ["nft", "-f", path]);

    await lab.listen("web", "tcp", "2620:0:e01::3", 22, "web:22");
    await lab.listen("web", "tcp", "2620:0:e01::3", 23, "web:23");
    await lab.listen("web", "udp", "2620:0:e01::3", 53, "web:53");
    await lab.listen("db", "tcp", "2620:0:e01::4", 22, "db:22");
    await lab.listen("inet", "tcp", "2620:0:e00::10", 80, "inet:80");
    await lab.listen("inet", "tcp", "2620:0:e00::10", 81, "inet:81");
  }, 60_000);

  afterAll(() => lab.destroy());

  it("an open6 grant reaches the node's own address on exactly its protocol and port", () => {
    // The first packet to the node waits for neighbour discovery through the bridge (TCP resends its SYN after
    // a second), so the first contact gets a longer timeout; the drops below are checked after it.
    expect(lab.send("inet", "tcp", "2620:0:e01::3", 22, undefined, 3000)).toBe("web:22 2620:0:e00::10");
    expect(lab.send("inet", "udp", "2620:0:e01::3", 53)).toBe("web:53 2620:0:e00::10");
    expect(lab.send("inet", "tcp", "2620:0:e01::3", 23)).toBe("TIMEOUT");
    expect(lab.send("inet", "tcp", "2620:0:e01::4", 22)).toBe("TIMEOUT");
  });

  it("an outbound IPv6 grant leaves from the node's own address; other ports are dropped", () => {
    expect(lab.send("web", "tcp", "2620:0:e00::10", 80)).toBe("inet:80 2620:0:e01::3");
    expect(lab.send("web", "tcp", "2620:0:e00::10", 81)).toBe("TIMEOUT");
  });
});
