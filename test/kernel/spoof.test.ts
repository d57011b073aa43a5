/**
 * Spoofing and evasion on a real gateway, through the real `fwc` binary with --netns: hand-made Ethernet frames
 * (test/kernel/rawframe.py) from the nodes' bridge ports, forged sources from the Internet, open6 sources and
 * ICMPv6, a rule hidden from status behind a comment, and a blocked dedicated address. Each test plays one
 * attack and asserts what a safe gateway does; each has a control showing that the attack's packets are real
 * (they arrive when nothing stops them), so a pass means the gateway stopped them. Setup steps that any
 * gateway must accept use `expect`; what the attack must not achieve uses `expect.soft`.
 *
 * One lab for the whole file: proj/a (web) and proj/b (x) stay swapped in; a test closes what it opens.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FwcRun, fwcOn, nsText } from "./deploy-helpers.js";
import { canRunKernelTests, Lab } from "./lab.js";

// Beside this file; from the compiled copy (dist/test/kernel) it is found in the source tree, as lab.ts does.
const RAWFRAME = existsSync(join(import.meta.dirname, "rawframe.py"))
  ? join(import.meta.dirname, "rawframe.py")
  : join(import.meta.dirname, "..", "..", "..", "test", "kernel", "rawframe.py");

const TESTBED = `domain: testbed.example.net
gateway:
  name: gw.testbed.example.net
  ipv4: 198.51.100.1
  ipv6: 2001:db8:ffff::1
  outside: eth0
  inside: [eth1]
  infrastructure: [10.0.0.0/24, 2001:db8:1::/64]
ports: 20000-29999
dedicated: 198.51.100.128/25
`;

const MAC = { web: "02:00:00:00:01:03", x: "02:00:00:00:01:09", str: "02:00:00:00:01:32", c: "02:00:00:00:01:14" };
const WEB = { ipv4: "10.1.1.3", ipv6: "2620:0:e01::3", mac: MAC.web, port: "p-web" };
const X = { ipv4: "10.1.1.9", mac: MAC.x, port: "p-x" };
const C = { ipv4: "10.1.1.20", mac: MAC.c, port: "p-c" };
const GW = "198.51.100.1";
const INET = "198.51.100.2";
const INET6 = "2001:db8:ffff::2";
const HOST = "192.154.6.21";
const WEB6 = "2620:0:e01::3";
/** Forged sources on the Internet host: an infrastructure address, and one outside the open6 grant's network. */
const FAKE_INFRA6 = "2001:db8:1::5";
const OTHER6 = "2001:db8:77::5";
/** How long a probe waits for an answer: a dropped packet is a TIMEOUT after this. */
const WAIT = 700;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Endpoints {
  inbound: { node: string; port: number; proto: string; external: { port: number } }[];
  dedicated: { node: string; address: string }[];
}

describe.skipIf(!canRunKernelTests())("spoofing and evasion on the gateway", () => {
  const lab = new Lab("spoof");
  const dir = mkdtempSync(join(tmpdir(), "fwc-spoof-"));
  const state = join(dir, "state");
  const fwc: (args: string[], env?: Record<string, string>) => FwcRun = fwcOn(lab, dir, state, ["--wait", "2"]);

  const file = (name: string, text: string) => {
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  };
  /** A command any gateway must accept (warnings allowed); its JSON output. */
  const ok = (args: string[]): Endpoints | null => {
    const r = fwc([...args, "--json"]);
    expect([r.code, r.err.includes("error[")], `fwc ${args.join(" ")}: ${r.err}`).toEqual([0, false]);
    return r.out.trim() === "" ? null : (JSON.parse(r.out) as Endpoints);
  };
  const swapin = (exp: string, ns: string, nodes: object) => {
    const tag = exp.replace("/", "-");
    const path = file(`${tag}.json`, JSON.stringify(nodes));
    return ok(["swapin", file(`${tag}.ns`, ns), "--exp", exp, "--nodes", path])!;
  };

  /** The MAC address of `dev` in namespace `ns`. */
  const macOf = (ns: string, dev: string) =>
    (JSON.parse(lab.exec(ns, ["ip", "-j", "link", "show", dev])) as { address: string }[])[0]!.address;

  /** One hand-made frame (or `count`) from `ns`'s eth0: `what` is rawframe.py's udp, arp or ether arguments. */
  const rawframe = (ns: string, o: { src: string; dst: string; vlan0?: number; count?: number }, ...what: string[]) =>
    lab.exec(ns, [
      "python3",
      RAWFRAME,
      "eth0",
      "--src-mac",
      o.src,
      "--dst-mac",
      o.dst,
      "--vlan0",
      String(o.vlan0 ?? 0),
      "--count",
      String(o.count ?? 1),
      ...what,
    ]);

  /** `fn` while namespace `ns` has the extra address `cidr` on eth0. */
  const withAddress = async <T>(ns: string, cidr: string, fn: () => Promise<T> | T): Promise<T> => {
    lab.exec(ns, ["ip", "addr", "add", cidr, "dev", "eth0", ...(cidr.includes(":") ? ["nodad"] : [])]);
    try {
      return await fn();
    } finally {
      lab.exec(ns, ["ip", "addr", "del", cidr, "dev", "eth0"]);
    }
  };

  /** Packets web received (input hook) from the forged IPv6 sources, counted whether or not web answered. */
  const arrivedAtWeb = (counter: "infra" | "other") =>
    Number(/packets ([0-9]+)/.exec(lab.exec("web", ["nft", "list", "counter", "inet", "watch", counter]))![1]);

  /** inet reaches the gateway's own address from `src`: the gateway routes replies to that source back to inet. */
  const routedBack = (src: string) => {
    lab.exec("inet", ["ping", "-6", "-n", "-c", "1", "-W", "1", "-I", src, "2001:db8:ffff::1"]);
    return true;
  };

  let gwMac: string;
  let x22: number;
  let hostSink: string[];
  let gwSink: string[];

  beforeAll(async () => {
    writeFileSync(join(dir, "testbed.yaml"), TESTBED);
    mkdirSync(state);
    for (const ns of ["inet", "gw", "web", "x", "str", "c"]) lab.addNamespace(ns);
    lab.link("inet", "eth0", [`${INET}/24`, `${HOST}/32`, `${INET6}/64`], "gw", "eth0", [
      `${GW}/24`,
      "2001:db8:ffff::1/64",
    ]);
    lab.insideLan(
      ["10.1.1.1/24", "2620:0:e01::1/64"],
      [
        ["web", ["10.1.1.3/24", `${WEB6}/64`]],
        ["x", ["10.1.1.9/24"]],
        ["str", ["10.1.1.50/24"]],
        ["c", ["10.1.1.20/24"]],
      ],
      "10.1.1.1",
    );
    for (const [ns, mac] of Object.entries(MAC)) lab.exec(ns, ["ip", "link", "set", "eth0", "address", mac]);
    lab.exec("web", ["ip", "-6", "route", "add", "default", "via", "2620:0:e01::1"]);
    lab.exec("gw", ["ip", "route", "add", `${HOST}/32`, "via", INET]);
    // Replies to the forged sources find their way back to inet: a gateway that let them through is seen to.
    lab.exec("gw", ["ip", "-6", "route", "add", "2001:db8:1::/64", "via", INET6]);
    lab.exec("gw", ["ip", "-6", "route", "add", "2001:db8:77::/64", "via", INET6]);
    // The Internet host routes the nodes' network (an untranslated packet would be answered), the dedicated
    // pool and the nodes' IPv6 network to the gateway.
    lab.exec("inet", ["ip", "route", "add", "10.1.1.0/24", "via", GW]);
    lab.exec("inet", ["ip", "route", "add", "198.51.100.128/25", "via", GW]);
    lab.exec("inet", ["ip", "-6", "route", "add", "2620:0:e01::/64", "via", "2001:db8:ffff::1"]);
    lab.exec("gw", ["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
    lab.exec("gw", ["sysctl", "-qw", "net.ipv6.conf.all.forwarding=1"]);
    // An ARP reply may change a neighbour entry at once (not only a second after its last change): a forged
    // reply that got through would show.
    for (const dev of ["eth0", "eth1"]) lab.exec("gw", ["sysctl", "-qw", `net.ipv4.neigh.${dev}.locktime=0`]);
    lab.exec(
      "web",
      ["nft", "-f", "-"],
      `table inet watch {
  counter infra {}
  counter other {}
  chain in { type filter hook input priority 0; policy accept;
    ip6 saddr ${FAKE_INFRA6} counter name "infra"
    ip6 saddr ${OTHER6} counter name "other"
  }
}
`,
    );
    // Neighbour discovery before the first IPv6 probes (it would otherwise eat the probe's time).
    lab.exec("gw", ["ping", "-6", "-c", "1", "-W", "2", WEB6]);
    lab.exec("gw", ["ping", "-6", "-c", "1", "-W", "2", INET6]);
    gwMac = macOf("gw", "eth1");

    await lab.listen("web", "tcp", "10.1.1.3", 80, "web:80");
    await lab.listen("web", "tcp", WEB6, 22, "web6:22");
    await lab.listen("web", "udp", WEB6, 53, "web6:53");
    await lab.listen("x", "tcp", "10.1.1.9", 22, "x:22");
    await lab.listen("c", "tcp", "10.1.1.20", 22, "c:22");
    await lab.listen("inet", "tcp", HOST, 25, "inet:25");
    hostSink = await lab.udpSink("inet", HOST, 53, "inet:53");
    gwSink = await lab.udpSink("gw", GW, 9999, "gw:9999");

    swapin("proj/a", nsText(["web"], 'tb-allow-external $web shared rdr "web/80" nat "192.154.6.21,25,tcp"'), {
      web: WEB,
    });
    const b = swapin("proj/b", nsText(["x"], 'tb-allow-external $x shared rdr "x/22" nat "192.154.6.21,53,udp"'), {
      x: X,
    });
    x22 = b.inbound.find((e) => e.node === "x" && e.port === 22)!.external.port;
    // The grants work for the nodes they are for.
    expect(lab.send("inet", "tcp", GW, x22), "inet -> x's redirect").toBe(`x:22 ${INET}`);
    expect(lab.send("web", "tcp", HOST, 25), "web -> inet tcp/25").toBe(`inet:25 ${GW}`);
  }, 60_000);

  afterAll(() => {
    lab.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it("1. a datagram with another node's address, inside VLAN-0 tags, does not leave", async () => {
    // Attack: web sends as x (10.1.1.9) to use x's grant (udp to 192.154.6.21:53), in a frame with one or two
    // priority tags (VLAN id 0): the bridge table's checks see a VLAN frame, the gateway strips the tags.
    expect(lab.send("x", "udp", HOST, 53), "x's own datagram, through the probe").toBe(`inet:53 ${GW}`);
    // Controls: the script's datagram is well formed (x's own, untagged, arrives translated), and this kernel
    // reads a datagram inside one or two VLAN-0 tags as untagged (inet to the gateway's own address).
    rawframe("x", { src: MAC.x, dst: gwMac }, "udp", X.ipv4, HOST, "40001", "53", "x-raw");
    for (const n of [1, 2])
      rawframe(
        "inet",
        { src: macOf("inet", "eth0"), dst: macOf("gw", "eth0"), vlan0: n },
        "udp",
        INET,
        GW,
        "40002",
        "9999",
        `tagged${n}`,
      );
    await sleep(300);
    expect(hostSink, "x's hand-made datagram arrived, translated").toContain(`${GW} x-raw`);
    expect(gwSink, "VLAN-0 tagged datagrams reach the gateway's stack").toEqual(
      expect.arrayContaining([`${INET} tagged1`, `${INET} tagged2`]),
    );

    for (const n of [0, 1, 2])
      rawframe("web", { src: MAC.web, dst: gwMac, vlan0: n }, "udp", X.ipv4, HOST, "40003", "53", `web-as-x-vlan${n}`);
    await sleep(300);
    expect
      .soft(
        hostSink.filter((s) => s.includes("web-as-x")),
        "datagrams inet got from web posing as x",
      )
      .toEqual([]);
    expect.soft(lab.send("x", "udp", HOST, 53), "x's own grant still works").toBe(`inet:53 ${GW}`);
  });

  it("2. a forged ARP reply inside a VLAN-0 tag does not take x's address", async () => {
    // Attack: web says "10.1.1.9 is at web's MAC" to the gateway, which would then send x's traffic to web.
    expect(lab.send("inet", "tcp", GW, x22), "x's redirect").toBe(`x:22 ${INET}`);
    const neigh = () => lab.exec("gw", ["ip", "neigh", "show", X.ipv4, "dev", "eth1"]);
    expect(neigh(), "the gateway's entry for x before").toContain(MAC.x);
    // Control: a forged reply inside a VLAN-0 tag, from inet about an address of the outside link that the
    // gateway has an entry for, changes that entry.
    lab.exec("gw", [
      "ip",
      "neigh",
      "replace",
      "198.51.100.77",
      "lladdr",
      "02:00:00:00:02:01",
      "dev",
      "eth0",
      "nud",
      "stale",
    ]);
    try {
      rawframe(
        "inet",
        { src: macOf("inet", "eth0"), dst: macOf("gw", "eth0"), vlan0: 1 },
        "arp",
        "198.51.100.77",
        "02:00:00:00:02:77",
        GW,
        macOf("gw", "eth0"),
      );
      await sleep(200);
      expect(
        lab.exec("gw", ["ip", "neigh", "show", "198.51.100.77", "dev", "eth0"]),
        "a tagged ARP reply changes a neighbour entry",
      ).toContain("02:00:00:00:02:77");
    } finally {
      lab.exec("gw", ["ip", "neigh", "del", "198.51.100.77", "dev", "eth0"]);
    }

    for (const n of [1, 0]) {
      rawframe("web", { src: MAC.web, dst: gwMac, vlan0: n }, "arp", X.ipv4, MAC.web, "10.1.1.1", gwMac);
      await sleep(200);
      expect
        .soft(neigh(), `the gateway's entry for x after the forged reply with ${n} VLAN-0 tag(s)`)
        .not.toContain(MAC.web);
    }
    expect.soft(lab.send("inet", "tcp", GW, x22), "x's redirect after the forged replies").toBe(`x:22 ${INET}`);
  });

  it("3. a host on the inside network cannot take x's MAC address on its bridge port", () => {
    // Attack: the stranger sends frames with x's MAC as source; the bridge would learn it on p-str and send x's
    // traffic there.
    const fdb = () => lab.exec("gw", ["bridge", "fdb", "show", "br", "eth1"]);
    // Control: a MAC address no node holds, from the same port, is learnt there.
    rawframe("str", { src: "02:00:00:00:01:77", dst: gwMac }, "ether", "0x88b5", "control");
    expect(fdb(), "an unbound MAC from p-str is learnt").toMatch(/02:00:00:00:01:77 dev p-str /);
    lab.exec("gw", ["bridge", "fdb", "del", "02:00:00:00:01:77", "dev", "p-str", "master"]);

    for (const n of [0, 1]) rawframe("str", { src: MAC.x, dst: gwMac, vlan0: n, count: 3 }, "ether", "0x88b5");
    expect.soft(fdb(), "the bridge's forwarding database").not.toMatch(/02:00:00:00:01:09 dev p-str /);
    expect.soft(lab.send("inet", "tcp", GW, x22), "x's redirect").toBe(`x:22 ${INET}`);
  });

  it("4. an Internet host with an infrastructure source address reaches no node", async () => {
    // Attack: inet forges a source inside gateway.infrastructure (exempt from default deny) and connects to web.
    await withAddress("inet", `${FAKE_INFRA6}/128`, () => {
      expect(routedBack(FAKE_INFRA6), "the gateway answers the forged source").toBe(true);
      const before = arrivedAtWeb("infra");
      expect
        .soft(lab.send("inet", "tcp", WEB6, 22, FAKE_INFRA6, WAIT), "inet as infrastructure -> web6:22")
        .toBe("TIMEOUT");
      // Control: with an open6 grant, a normal source reaches web (bound to it: with two addresses, inet may
      // pick either); the forged one still does not.
      ok(["open", "--exp", "proj/a", "--open6", "web,22,tcp"]);
      try {
        expect(lab.send("inet", "tcp", WEB6, 22, INET6, 1500), "inet -> web6:22 through the grant").toBe(
          `web6:22 ${INET6}`,
        );
        expect
          .soft(lab.send("inet", "tcp", WEB6, 22, FAKE_INFRA6, WAIT), "inet as infrastructure -> web6:22, granted")
          .toBe("TIMEOUT");
      } finally {
        ok(["close", "--exp", "proj/a", "--open6", "web,22,tcp"]);
      }
      expect.soft(arrivedAtWeb("infra") - before, "packets web got from the forged source").toBe(0);
    });
  });

  it("5. open6 `all` with from= admits its network and nothing else", async () => {
    ok(["open", "--exp", "proj/a", "--open6", "web,all,from=2001:db8:ffff::/64"]);
    try {
      expect.soft(lab.send("inet", "tcp", WEB6, 22, undefined, 1500), "inet -> web6 tcp/22").toBe(`web6:22 ${INET6}`);
      expect.soft(lab.send("inet", "udp", WEB6, 53, undefined, 1500), "inet -> web6 udp/53").toBe(`web6:53 ${INET6}`);
      await withAddress("inet", `${OTHER6}/128`, () => {
        expect(routedBack(OTHER6), "the gateway answers the other source").toBe(true);
        const before = arrivedAtWeb("other");
        expect.soft(lab.send("inet", "tcp", WEB6, 22, OTHER6, WAIT), "2001:db8:77::5 -> web6 tcp/22").toBe("TIMEOUT");
        expect.soft(lab.send("inet", "udp", WEB6, 53, OTHER6, WAIT), "2001:db8:77::5 -> web6 udp/53").toBe("TIMEOUT");
        expect.soft(arrivedAtWeb("other") - before, "packets web got from 2001:db8:77::5").toBe(0);
      });
    } finally {
      ok(["close", "--exp", "proj/a", "--open6", "web,all,from=2001:db8:ffff::/64"]);
    }
    expect.soft(lab.send("inet", "tcp", WEB6, 22, undefined, WAIT), "inet -> web6 tcp/22 after close").toBe("TIMEOUT");
  });

  it("6. closing an open6 grant cuts a running IPv6 ping", async () => {
    // Attack: keep ICMPv6 flowing to the node after the grant that allowed it is closed.
    ok(["open", "--exp", "proj/a", "--open6", "web,22,tcp"]);
    let open = true;
    const ping = lab.ping("inet", WEB6);
    try {
      for (let i = 0; i < 30 && ping.replies() < 3; i++) await sleep(100);
      expect(ping.replies(), "replies while the grant is open").toBeGreaterThanOrEqual(3);
      ok(["close", "--exp", "proj/a", "--open6", "web,22,tcp"]);
      open = false;
      await sleep(1000);
      const after = ping.replies();
      await sleep(2000);
      expect.soft(ping.replies() - after, "replies 1 s to 3 s after close").toBe(0);
    } finally {
      ping.stop();
      if (open) fwc(["close", "--exp", "proj/a", "--open6", "web,22,tcp"]);
    }
  });

  it("7. a rule hidden behind a comment that looks like an element list is found and removed", () => {
    // Attack (or slip): a rule that accepts everything from the inside, commented "elements = {}".
    const hidden = () =>
      /comment "elements = \{\}" # handle ([0-9]+)/.exec(
        lab.exec("gw", ["nft", "-a", "list", "chain", "inet", "fwc", "forward"]),
      )?.[1];
    expect(lab.send("str", "tcp", HOST, 25), "stranger -> inet tcp/25 before").toBe("TIMEOUT");
    lab.exec("gw", [
      "nft",
      "insert",
      "rule",
      "inet",
      "fwc",
      "forward",
      "iifname",
      "eth1",
      "accept",
      "comment",
      '"elements = {}"',
    ]);
    try {
      expect(hidden(), "the rule is in the chain").toBeDefined();
      expect(lab.send("str", "tcp", HOST, 25), "stranger -> inet tcp/25 with the rule").toBe(`inet:25 10.1.1.50`);
      const s = fwc(["status"]);
      expect.soft([s.code, s.err.includes("FWC810")], `status with the rule: ${s.err}`).toEqual([1, true]);
      const r = fwc(["reconcile"]);
      expect.soft(r.code, `reconcile: ${r.err}`).toBe(0);
      expect.soft(hidden(), "the rule after reconcile").toBeUndefined();
      expect.soft(lab.send("str", "tcp", HOST, 25), "stranger -> inet tcp/25 after reconcile").toBe("TIMEOUT");
      const s2 = fwc(["status"]);
      expect.soft([s2.code, s2.err], "status after reconcile").toEqual([0, ""]);
    } finally {
      const h = hidden();
      if (h !== undefined) lab.exec("gw", ["nft", "delete", "rule", "inet", "fwc", "forward", "handle", h]);
    }
  });

  it("8. a blocked dedicated address passes nothing until it is unblocked", () => {
    const c = swapin("proj/c", nsText(["c"], "tb-allow-external $c"), { c: C });
    const ded = c.dedicated.find((d) => d.node === "c")?.address;
    expect(ded, `c's dedicated address in ${JSON.stringify(c.dedicated)}`).toMatch(/^198\.51\.100\./);
    let blocked = false;
    try {
      expect(lab.send("inet", "tcp", ded!, 22), "inet -> c:22 through the dedicated address").toBe(`c:22 ${INET}`);
      ok(["block", ded!, "--reason", "spoof test"]);
      blocked = true;
      expect.soft(lab.send("inet", "tcp", ded!, 22, undefined, WAIT), "after block").toBe("TIMEOUT");
      ok(["unblock", ded!]);
      blocked = false;
      expect.soft(lab.send("inet", "tcp", ded!, 22), "after unblock").toBe(`c:22 ${INET}`);
    } finally {
      if (blocked) fwc(["unblock", ded!]);
      fwc(["swapout", "--exp", "proj/c"]);
    }
  });
});
