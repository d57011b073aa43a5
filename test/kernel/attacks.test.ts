/**
 * Attacks on a real gateway, through the real `fwc` binary with --netns: each test plays one attack (from an
 * experimenter, a host on the inside network, or a slip of the operator) and asserts what a safe gateway does.
 * Every test starts from an empty gateway and a state directory of its own. Setup steps that any gateway must
 * accept use `expect`; what the attack must not achieve uses `expect.soft`, so a failing test lists every effect.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { FWC, type FwcRun, fwcOn, nsText, TESTBED6_YAML } from "./deploy-helpers.js";
import { canRunKernelTests, Lab } from "./lab.js";

const E1 = nsText(
  ["web", "db"],
  'tb-allow-external $web shared rdr "web/80" nat "192.154.6.21/25 2001:db8:ffff::2,0,tcp"',
);
const E2 = nsText(["x"], 'tb-allow-external $x shared nat "192.154.6.21,0,udp"');
const E3 = nsText(["z"]);
const WEB = { ipv4: "10.1.1.3", ipv6: "2620:0:e01::3" };
const DB = { ipv4: "10.1.1.4" };
const X = { ipv4: "10.1.1.9" };
const MAC = { web: "02:00:00:00:01:03", db: "02:00:00:00:01:04", x: "02:00:00:00:01:09", z: "02:00:00:00:01:0a" };
const GW = "198.51.100.1";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Endpoints {
  inbound: { node: string; port: number; proto: string; external: { port: number } }[];
}

describe.skipIf(!canRunKernelTests())("attacks on the gateway", () => {
  const lab = new Lab("attacks");
  const dir = mkdtempSync(join(tmpdir(), "fwc-attacks-"));
  let states = 0;
  let state = "";
  let fwc: (args: string[], env?: Record<string, string>) => FwcRun;

  /** Runs fwc on the gateway with standard input (g5kfw openings). */
  const fwcInput = (args: string[], input: string): FwcRun => {
    const r = spawnSync(
      FWC,
      [...args, "--state", state, "--testbed", join(dir, "testbed.yaml"), "--netns", lab.name("gw")],
      { encoding: "utf8", cwd: dir, input, timeout: 20_000 },
    );
    return { code: r.status, signal: r.signal, out: r.stdout, err: r.stderr };
  };

  /** Runs fwc for at most `ms` (its whole process group is killed then); how long it took. */
  const fwcBounded = (args: string[], ms: number) =>
    new Promise<{ code: number | null; err: string; ms: number; killed: boolean }>((resolve) => {
      const t0 = Date.now();
      const c = spawn(
        FWC,
        [...args, "--state", state, "--testbed", join(dir, "testbed.yaml"), "--netns", lab.name("gw")],
        { cwd: dir, detached: true, stdio: ["ignore", "ignore", "pipe"] },
      );
      let err = "";
      let killed = false;
      c.stderr!.on("data", (d: Buffer) => {
        err += String(d);
      });
      const t = setTimeout(() => {
        killed = true;
        process.kill(-c.pid!, "SIGKILL");
      }, ms);
      c.on("exit", (code) => {
        clearTimeout(t);
        resolve({ code, err, ms: Date.now() - t0, killed });
      });
    });

  const file = (name: string, text: string) => {
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  };
  const nodes = (name: string, n: object) => file(name, JSON.stringify(n));

  /** A command any gateway must accept (warnings allowed); its endpoints. */
  const ok = (args: string[]): Endpoints | null => {
    const r = fwc([...args, "--json"]);
    expect([r.code, r.err.includes("error[")], r.err).toEqual([0, false]);
    return r.out.trim() === "" ? null : (JSON.parse(r.out) as Endpoints);
  };
  const swapin = (exp: string, ns: string, n: object) => {
    const tag = exp.replace("/", "-");
    return ok(["swapin", file(`${tag}.ns`, ns), "--exp", exp, "--nodes", nodes(`${tag}.json`, n)]);
  };
  const port = (e: Endpoints | null, node: string, internal: number) =>
    e!.inbound.find((x) => x.node === node && x.port === internal)!.external.port;
  const status = () => fwc(["status"]);
  const table = () => lab.exec("gw", ["nft", "list", "table", "inet", "fwc"]);

  /** `fn` while namespace `ns` has the extra address `cidr` on eth0; the gateway forgets its neighbour after. */
  const withAddress = async <T>(ns: string, cidr: string, fn: () => Promise<T> | T): Promise<T> => {
    const v6 = cidr.includes(":");
    lab.exec(ns, ["ip", "addr", "add", cidr, "dev", "eth0", ...(v6 ? ["nodad"] : [])]);
    try {
      return await fn();
    } finally {
      lab.exec(ns, ["ip", "addr", "del", cidr, "dev", "eth0"]);
      try {
        lab.exec("gw", ["ip", "neigh", "del", cidr.split("/")[0]!, "dev", "eth1"]);
      } catch {
        // never resolved
      }
    }
  };

  let inet53: string[];

  beforeAll(async () => {
    writeFileSync(join(dir, "testbed.yaml"), TESTBED6_YAML);
    for (const ns of ["inet", "gw", "web", "db", "x", "z", "stranger"]) lab.addNamespace(ns);
    lab.link("inet", "inet0", ["198.51.100.2/24", "192.154.6.21/32", "2001:db8:ffff::2/64"], "gw", "eth0", [
      "198.51.100.1/24",
      "2001:db8:ffff::1/64",
    ]);
    lab.insideLan(
      ["10.1.1.1/24", "2620:0:e01::1/64"],
      [
        ["web", ["10.1.1.3/24", "2620:0:e01::3/64"]],
        ["db", ["10.1.1.4/24"]],
        ["x", ["10.1.1.9/24"]],
        ["z", ["10.1.1.10/24"]],
        ["stranger", ["10.1.1.50/24"]],
      ],
      "10.1.1.1",
    );
    for (const [ns, mac] of Object.entries({ ...MAC, stranger: "02:00:00:00:01:32" }))
      lab.exec(ns, ["ip", "link", "set", "eth0", "address", mac]);
    lab.exec("web", ["ip", "-6", "route", "add", "default", "via", "2620:0:e01::1"]);
    lab.exec("gw", ["ip", "route", "add", "192.154.6.21/32", "via", "198.51.100.2"]);
    lab.exec("inet", ["ip", "route", "add", "10.1.1.0/24", "via", GW]);
    lab.exec("inet", ["ip", "-6", "route", "add", "2620:0:e01::/64", "via", "2001:db8:ffff::1"]);
    lab.exec("gw", ["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
    lab.exec("gw", ["sysctl", "-qw", "net.ipv6.conf.all.forwarding=1"]);
    // Neighbour discovery before the first IPv6 probe (it would otherwise eat the probe's time).
    lab.exec("gw", ["ping", "-6", "-c", "1", "-W", "2", "2620:0:e01::3"]);
    lab.exec("gw", ["ping", "-6", "-c", "1", "-W", "2", "2001:db8:ffff::2"]);
    await lab.listen("web", "tcp", "10.1.1.3", 80, "web:80");
    await lab.listen("web", "tcp", "10.1.1.3", 22, "web:22");
    await lab.listen("web", "tcp", "2620:0:e01::3", 22, "web6:22");
    await lab.listen("db", "tcp", "10.1.1.4", 5432, "db:5432");
    await lab.listen("x", "tcp", "10.1.1.9", 22, "x:22");
    await lab.listen("z", "tcp", "10.1.1.10", 22, "z:22");
    await lab.listen("stranger", "tcp", "10.1.1.50", 22, "stranger:22");
    await lab.listen("inet", "tcp", "192.154.6.21", 25, "inet:25");
    await lab.listen("inet", "tcp", "2001:db8:ffff::2", 80, "inet6:80");
    inet53 = await lab.udpSink("inet", "192.154.6.21", 53, "inet:53");
  }, 60_000);

  // Every test: an empty gateway (no table, no tracked flows) and a state directory of its own.
  beforeEach(() => {
    state = join(dir, `state${states++}`);
    mkdirSync(state);
    fwc = fwcOn(lab, dir, state, ["--wait", "2"]);
    for (const cmd of [
      ["nft", "delete", "table", "inet", "fwc"],
      ["nft", "delete", "table", "bridge", "fwc"],
      ["conntrack", "-F"],
    ])
      try {
        lab.exec("gw", cmd);
      } catch {
        // no table yet, or nothing tracked
      }
  });

  afterAll(() => {
    lab.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  describe("1. identity redirects stay in the gateway's port pool", () => {
    const A = nsText(["web"]);

    it("an identity redirect of a port outside the pool (22, 53) is refused", () => {
      // Attack: take the gateway's own well-known ports (ssh, DNS) with `identity`.
      swapin("proj/a", A, { web: WEB });
      const r = fwc(["open", "--exp", "proj/a", "--rdr", "web,22,tcp,identity web,53,tcp+udp,identity"]);
      expect.soft(r.code, "exit code").toBe(1);
      expect.soft(r.err, "stderr").toContain("FWC701");
      expect.soft(lab.send("inet", "tcp", GW, 22), "inet -> gateway:22").not.toMatch(/^web/);
    });

    it("an identity redirect of every port is refused within seconds", async () => {
      // Attack: every port of the gateway, both protocols, in one grant.
      swapin("proj/a", A, { web: WEB });
      const r = await fwcBounded(["open", "--exp", "proj/a", "--rdr", "web,1..65535,tcp+udp,identity"], 5000);
      expect.soft({ code: r.code, killedAfter5s: r.killed }, r.err).toEqual({ code: 1, killedAfter5s: false });
      expect.soft(r.err, "stderr").toMatch(/FWC70[1]|FWC710/);
    });

    it("identity ports another experiment just released stay in quarantine", () => {
      // Attack: grab, with `identity`, the ports another experiment's users still connect to.
      swapin("proj/a", A, { web: WEB });
      swapin("proj/b", nsText(["b"], 'tb-allow-external $b shared rdr "b,20000..20004,tcp,identity"'), { b: X });
      ok(["swapout", "--exp", "proj/b"]);
      const r = fwc(["open", "--exp", "proj/a", "--rdr", "web,20000..20004,tcp,identity"]);
      expect.soft(r.code, "exit code").toBe(1);
      expect.soft(r.err, "stderr").toContain("FWC701");
    });
  });

  describe("2. default deny and anti-spoofing", () => {
    const e123 = () => {
      swapin("proj/e1", E1, { web: WEB, db: DB });
      swapin("proj/e2", E2, { x: X });
      swapin("proj/e3", E3, { z: { ipv4: "10.1.1.10" } });
      // The grants work for the nodes they are for.
      expect(lab.send("web", "tcp", "192.154.6.21", 25)).toBe(`inet:25 ${GW}`);
      expect(lab.send("x", "udp", "192.154.6.21", 53)).toBe(`inet:53 ${GW}`);
    };

    it("hosts outside every grant reach nothing and are reached by nothing", () => {
      // Attack: a host of no experiment, and a node of an experiment without grants, use the gateway.
      e123();
      expect.soft(lab.send("stranger", "tcp", "192.154.6.21", 25), "stranger -> inet tcp/25").toBe("TIMEOUT");
      expect.soft(lab.send("stranger", "udp", "192.154.6.21", 53), "stranger -> inet udp/53").toBe("TIMEOUT");
      expect.soft(lab.send("inet", "tcp", "10.1.1.50", 22), "inet -> stranger:22").toBe("TIMEOUT");
      expect.soft(lab.send("z", "tcp", "192.154.6.21", 25), "z (no grants) -> inet tcp/25").toBe("TIMEOUT");
      expect.soft(lab.send("z", "udp", "192.154.6.21", 53), "z (no grants) -> inet udp/53").toBe("TIMEOUT");
      expect.soft(lab.send("inet", "tcp", "10.1.1.10", 22), "inet -> z:22").toBe("TIMEOUT");
    });

    it("a node sending from an address it gave itself is dropped", async () => {
      // Attack: web adds 10.1.1.77 (no node's address) and talks to the Internet from it.
      e123();
      const got = await withAddress("web", "10.1.1.77/32", () =>
        lab.send("web", "tcp", "192.154.6.21", 25, "10.1.1.77"),
      );
      expect.soft(got, "web as 10.1.1.77 -> inet tcp/25").toBe("TIMEOUT");
    });

    it("a node sending as another experiment's node is dropped (nodes files with mac and port)", async () => {
      // Attack: web takes x's address 10.1.1.9 and uses x's grant (udp to 192.154.6.21) of another experiment.
      const r1 = fwc([
        "swapin",
        file("e1m.ns", E1),
        "--exp",
        "proj/e1",
        "--nodes",
        nodes("e1m.json", {
          web: { ...WEB, mac: MAC.web, port: "p-web" },
          db: { ...DB, mac: MAC.db, port: "p-db" },
        }),
      ]);
      const r2 = fwc([
        "swapin",
        file("e2m.ns", E2),
        "--exp",
        "proj/e2",
        "--nodes",
        nodes("e2m.json", { x: { ...X, mac: MAC.x, port: "p-x" } }),
      ]);
      // Today's fwc refuses the keys (FWC602): that is this test's failure then.
      expect.soft([r1.code, r1.err.includes("error[")], "swapin proj/e1 with mac and port").toEqual([0, false]);
      expect.soft([r2.code, r2.err.includes("error[")], "swapin proj/e2 with mac and port").toEqual([0, false]);
      // The sink's output is read only while the test waits (lab.send blocks): let earlier datagrams in first.
      await sleep(300);
      const before = inet53.length;
      await withAddress("web", "10.1.1.9/32", () => lab.send("web", "udp", "192.154.6.21", 53, "10.1.1.9"));
      await sleep(300);
      expect.soft(inet53.slice(before), "datagrams inet got from web posing as 10.1.1.9").toEqual([]);
      // x itself keeps its grant.
      expect.soft(lab.send("x", "udp", "192.154.6.21", 53), "x -> inet udp/53").toBe(`inet:53 ${GW}`);
    });

    it("an IPv6 address a node gave itself passes neither way", async () => {
      // Attack: web adds 2620:0:e01::99 (not in the nodes file) and uses it out and in.
      e123();
      const listed = lab.send("web", "tcp", "2001:db8:ffff::2", 80, "2620:0:e01::3", 3000);
      expect(listed, "the listed address has the grant").toBe("inet6:80 2620:0:e01::3");
      await withAddress("web", "2620:0:e01::99/64", async () => {
        const stop = await lab.listen("web", "tcp", "2620:0:e01::99", 22, "web99:22");
        try {
          try {
            // Neighbour discovery first, so that a probe that passes is not lost to it.
            lab.exec("gw", ["ping", "-6", "-c", "1", "-W", "2", "2620:0:e01::99"]);
          } catch {
            // a gateway that filters the unlisted address may keep it from answering: fine
          }
          expect
            .soft(lab.send("web", "tcp", "2001:db8:ffff::2", 80, "2620:0:e01::99", 1500), "web as ::99 -> inet")
            .toBe("TIMEOUT");
          expect
            .soft(lab.send("inet", "tcp", "2620:0:e01::99", 22, undefined, 1500), "inet -> web ::99")
            .toBe("TIMEOUT");
        } finally {
          stop();
        }
      });
    });
  });

  it("3. two experiments cannot hold the same node address", () => {
    // Attack: an experiment declares web's address as its own node's, then swaps out, taking web's elements along.
    const web80 = port(swapin("proj/e1", E1, { web: WEB, db: DB }), "web", 80);
    expect(lab.send("inet", "tcp", "10.1.1.3", 80), "inet -> web:80 untranslated").toBe("TIMEOUT");
    const dup = fwc([
      "swapin",
      file("e9.ns", nsText(["dup"], 'tb-allow-external $dup shared rdr "dup/80"')),
      "--exp",
      "proj/e9",
      "--nodes",
      nodes("e9.json", { dup: { ipv4: "10.1.1.3" } }),
    ]);
    expect.soft(dup.code, "swapin proj/e9 with web's address").toBe(1);
    expect.soft(dup.err, "stderr names the holder").toContain("proj/e1");
    const out = fwc(["swapout", "--exp", "proj/e9"]);
    expect.soft([out.code, out.err.includes("FWC800")], "swapout proj/e9").toEqual([1, true]);
    expect.soft(lab.send("inet", "tcp", GW, web80), "web's redirect").toBe("web:80 198.51.100.2");
    expect.soft(lab.send("web", "tcp", "192.154.6.21", 25), "web's outbound grant, translated").toBe(`inet:25 ${GW}`);
    expect.soft(lab.send("inet", "tcp", "10.1.1.3", 80), "inet -> web:80 untranslated").toBe("TIMEOUT");
    const s = status();
    expect.soft([s.code, s.err], "status").toEqual([0, ""]);
  });

  it("4. one experiment cannot take the whole port pool", () => {
    // Attack: one open takes every free port of the pool, and no other experiment can swap in with a redirect.
    swapin("proj/e1", nsText(["web", "db"], 'tb-allow-external $web shared rdr "web/80 db/5432"'), {
      web: WEB,
      db: DB,
    });
    const r = fwc(["open", "--exp", "proj/e1", "--rdr", "web,1..9998,tcp"]);
    expect.soft(r.code, "open of 9,998 ports").toBe(1);
    const next = fwc([
      "swapin",
      file("e2r.ns", nsText(["x"], 'tb-allow-external $x shared rdr "x/22"')),
      "--exp",
      "proj/e2",
      "--nodes",
      nodes("e2r.json", { x: X }),
    ]);
    expect.soft([next.code, next.err], "swapin of another experiment with one redirect").toEqual([0, ""]);
  });

  it("5. closing an `all` grant cuts a running ping", async () => {
    // Attack: keep ICMP flowing after the grant that allowed it is closed.
    swapin("proj/e1", E1, { web: WEB, db: DB });
    ok(["open", "--exp", "proj/e1", "--nat", "192.154.6.21,all"]);
    const ping = lab.ping("web", "192.154.6.21");
    try {
      for (let i = 0; i < 30 && ping.replies() < 3; i++) await sleep(100);
      expect(ping.replies(), "replies while the grant is open").toBeGreaterThanOrEqual(3);
      ok(["close", "--exp", "proj/e1", "--nat", "192.154.6.21,all"]);
      await sleep(1000);
      const after = ping.replies();
      await sleep(2000);
      expect.soft(ping.replies() - after, "replies 1 s to 3 s after close").toBe(0);
    } finally {
      ping.stop();
    }
  });

  describe("6. g5kfw openings", () => {
    it("a source list that smuggles in from=::/0 is refused", () => {
      // Attack: a src_addr of "2620:1::/32,from=::/0" opens the node to every IPv6 source.
      swapin("proj/e1", E1, { web: WEB, db: DB });
      expect(lab.send("inet", "tcp", "2620:0:e01::3", 22, undefined, 1500), "before").toBe("TIMEOUT");
      const r = fwcInput(
        ["open", "--exp", "proj/e1", "--json"],
        JSON.stringify([{ addr: "web", port: 22, proto: "tcp", src_addr: "2620:1::/32,from=::/0" }]),
      );
      expect.soft(r.code, "exit code").toBe(1);
      expect
        .soft(lab.send("inet", "tcp", "2620:0:e01::3", 22, undefined, 1500), "inet (outside 2620:1::/32) -> web6:22")
        .toBe("TIMEOUT");
    });

    it("an IPv4 source on an IPv6 opening is refused, not dropped", () => {
      // Attack (or slip): the restriction to 192.0.2.0/24 cannot apply to IPv6 and silently vanishes.
      swapin("proj/e1", E1, { web: WEB, db: DB });
      const r = fwcInput(
        ["open", "--exp", "proj/e1", "--json"],
        JSON.stringify([{ addr: "web", port: 23, proto: "tcp", src_addr: "192.0.2.0/24" }]),
      );
      expect.soft(r.code, "exit code").toBe(1);
    });
  });

  describe("7. drift that status does not see", () => {
    it("a redirect added by hand without a comment is found and removed", () => {
      // Attack: an element without an owner's comment redirects a gateway port to db:5432, which no grant opens.
      // (It points at a node: default deny drops traffic of hosts that are no experiment's node anyway.)
      swapin("proj/e1", E1, { web: WEB, db: DB });
      lab.exec("gw", [
        "nft",
        "add",
        "element",
        "inet",
        "fwc",
        "rdr4",
        "{ 198.51.100.1 . tcp . 29999 : 10.1.1.4 . 5432 }",
      ]);
      expect(lab.send("inet", "tcp", GW, 29999), "the hand-made redirect works").toBe("db:5432 198.51.100.2");
      const s = status();
      expect.soft([s.code, s.err.includes("FWC810")], "status after the hand edit").toEqual([1, true]);
      expect(fwc(["reconcile"]).code, "reconcile").toBe(0);
      expect.soft(lab.send("inet", "tcp", GW, 29999), "inet -> gateway:29999 after reconcile").not.toMatch(/^db:5432/);
      const s2 = status();
      expect.soft([s2.code, s2.err], "status after reconcile").toEqual([0, ""]);
    });

    it("a flushed forward chain is found and restored", () => {
      // Attack: `nft flush chain inet fwc forward` leaves every element in place and lets everything through.
      swapin("proj/e1", E1, { web: WEB, db: DB });
      expect(lab.send("inet", "tcp", "10.1.1.4", 5432), "inet -> db:5432 untranslated").toBe("TIMEOUT");
      lab.exec("gw", ["nft", "flush", "chain", "inet", "fwc", "forward"]);
      expect(lab.send("inet", "tcp", "10.1.1.4", 5432), "after the flush").toBe("db:5432 198.51.100.2");
      const s = status();
      expect.soft(s.code, "status after the flush").toBe(1);
      expect(fwc(["reconcile"]).code, "reconcile").toBe(0);
      expect.soft(lab.send("inet", "tcp", "10.1.1.4", 5432), "inet -> db:5432 after reconcile").toBe("TIMEOUT");
      const rules = lab
        .exec("gw", ["nft", "list", "chain", "inet", "fwc", "forward"])
        .split("\n")
        .map((l) => l.trim())
        .filter((l) => l !== "" && l !== "}" && !/^(table|chain|type) /.test(l));
      expect.soft(rules.length, "rules in the forward chain after reconcile").toBeGreaterThan(0);
    });
  });

  it("8. experiment names of 63 characters keep status and recovery working", () => {
    // Attack (or plain use): names so long that element comments are cut, so fwc no longer knows its elements.
    const exp = `p${"a".repeat(62)}/e${"b".repeat(62)}`;
    swapin(exp, E1, { web: WEB, db: DB });
    const s = status();
    expect.soft([s.code, s.err], "status after a clean swapin").toEqual([0, ""]);
    const killed = fwc(["open", "--exp", exp, "--rdr", "db/5432"], { FWC_FAILPOINT: "after-nft" });
    expect(killed.signal, "the open was killed after the nft change").toBe("SIGKILL");
    const m = /198\.51\.100\.1 \. tcp \. ([0-9]+)(?: comment "[^"]*")? : 10\.1\.1\.4 \. 5432/.exec(table());
    expect(m, "the killed open's redirect in the table").not.toBeNull();
    const p = Number(m![1]);
    expect(lab.send("inet", "tcp", GW, p), "the killed open's redirect before recovery").toBe("db:5432 198.51.100.2");
    // The next command (an unrelated one) rolls the unfinished open back.
    const next = fwc(["open", "--exp", exp, "--nat", "192.154.6.21/25"]);
    expect.soft(next.code, "the next command").toBe(0);
    expect.soft(lab.send("inet", "tcp", GW, p), "the killed open's redirect after recovery").not.toMatch(/^db/);
    const s2 = status();
    expect.soft([s2.code, s2.err], "status after recovery").toEqual([0, ""]);
  });

  it("9. an IPv6 zone id in a target is an error at the target, never nft text", () => {
    // Attack (or slip): "fe80::1%eth0" passes the address check and reaches the gateway's ruleset.
    swapin("proj/e2", E2, { x: X });
    const text = nsText(["web"], 'tb-allow-external $web shared nat "fe80::1%eth0,53"');
    const path = file("zone.ns", text);
    const lines = text.split("\n");
    const line = lines.findIndex((l) => l.includes("%")) + 1;
    const from = lines[line - 1]!.indexOf("fe80") + 1;
    const to = from + "fe80::1%eth0,53".length - 1;
    const c = spawnSync(FWC, ["check", "zone.ns"], { cwd: dir, encoding: "utf8", timeout: 20_000 });
    expect.soft(c.status, "fwc check exit code").toBe(1);
    // Diagnostics go to standard output, the summary to standard error.
    const said = c.stdout + c.stderr;
    const at = /zone\.ns:([0-9]+):([0-9]+): error\[FWC511\]/.exec(said);
    expect.soft(at, `an FWC511 error in: ${said}`).not.toBeNull();
    if (at !== null) {
      expect.soft(Number(at[1]), "its line").toBe(line);
      expect.soft(Number(at[2]), "its column").toBeGreaterThanOrEqual(from);
      expect.soft(Number(at[2]), "its column").toBeLessThanOrEqual(to);
    }
    const r = fwc(["swapin", path, "--exp", "proj/z", "--nodes", nodes("z.json", { web: WEB })]);
    expect.soft(r.code, "swapin exit code").toBe(1);
    expect.soft(r.err, "swapin refuses the target itself, not through nft").toContain("error[FWC511]");
    expect.soft(table(), "the table").not.toContain("%");
  });
});
