/**
 * The operator's blocklist on a real gateway, through the real `fwc` binary with --netns: `fwc block`,
 * `unblock` and `blocks` with real TCP and UDP packets from two hosts of the Internet side, "bad" (the blocked
 * networks) and "good" (everyone else), to and from an experiment's nodes. A block drops new and established
 * flows in both directions, IPv4 and IPv6, before any grant; it leaves every other source alone; `unblock` gives
 * the grants back; a port block drops one service port only; hostile arguments change nothing.
 * Every test starts from an empty blocklist and an empty conntrack table, on the same experiment.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type FwcRun, fwcOn, nsText, TESTBED6_YAML } from "./deploy-helpers.js";
import { canRunKernelTests, Lab, lineReader } from "./lab.js";

// Besides the grants of the brief, an IPv6 outbound grant (2001:db8::/32 covers both bad and good): `any` is
// IPv4 only, and without it "web -> bad over IPv6 is dropped by the block" would prove nothing.
const E1 = nsText(
  ["web", "db"],
  'tb-allow-external $web shared rdr "web/80 web,53,udp" nat "any,0,tcp any,0,udp 2001:db8::/32,0,tcp" open6 "web,22,tcp"',
);

const GW = "198.51.100.1";
const BAD = "203.0.113.5";
const BAD6 = "2001:db8:bad::5";
const GOOD = "198.51.100.2";
const GOOD6 = "2001:db8:ffff::2";
const WEB6 = "2620:0:e01::3";
const BAD_NET = "203.0.113.0/24";
const BAD_NET6 = "2001:db8:bad::/48";
/** How long a probe waits for an answer: a dropped packet is a TIMEOUT after this. */
const WAIT = 700;

/**
 * Counters in the input hook of bad and web: what reached each end from the other (through the gateway). A
 * TIMEOUT alone would not tell a packet dropped on its way out from its answer dropped on the way back.
 */
const WATCH: Record<string, Record<string, string>> = {
  bad: { gw: `ip saddr ${GW}`, gw80: `ip saddr ${GW} tcp dport 80`, web6: `ip6 saddr ${WEB6}` },
  web: { bad: `ip saddr ${BAD}`, bad80: `ip saddr ${BAD} tcp dport 80`, bad6: `ip6 saddr ${BAD6}` },
};

/**
 * A small peer run with `node -e` inside a namespace:
 *   ask tcp|udp ADDR PORT TIMEOUT_MS   one connection (or datagram) that sends "probe" and prints the first answer
 *                                      line, or TIMEOUT, REFUSED, CLOSED
 *   echo udp ADDR PORT NAME            answers every datagram with "NAME <peer> <message>"
 *   session udp ADDR PORT              one UDP socket (one source port, one conntrack flow): prints "connected",
 *                                      sends each line of standard input as a datagram, prints each answer
 */
const PEER = String.raw`
const net = require("node:net");
const dgram = require("node:dgram");
const [mode, proto, addr, portText, arg] = process.argv.slice(1);
const port = Number(portText);
const family = addr.includes(":") ? "udp6" : "udp4";
if (mode === "ask") {
  const done = (text) => {
    console.log(text);
    process.exit(0);
  };
  setTimeout(() => done("TIMEOUT"), Number(arg));
  if (proto === "tcp") {
    let buf = "";
    const s = net.createConnection({ host: addr, port }, () => s.write("probe\n"));
    s.on("data", (d) => {
      buf += d;
      const i = buf.indexOf("\n");
      if (i >= 0) done(buf.slice(0, i));
    });
    s.on("end", () => done(buf.trim() || "CLOSED"));
    s.on("error", () => done(buf.trim() || "REFUSED"));
  } else {
    const s = dgram.createSocket(family);
    s.on("message", (m) => done(String(m).trim()));
    s.on("error", () => done("REFUSED"));
    s.send("probe", port, addr);
  }
} else if (mode === "echo") {
  const s = dgram.createSocket(family);
  s.on("message", (m, r) => s.send(arg + " " + r.address + " " + String(m).trim() + "\n", r.port, r.address));
  s.bind(port, addr, () => console.log("ready"));
} else if (mode === "session") {
  const s = dgram.createSocket(family);
  s.on("message", (m) => console.log(String(m).trim()));
  s.on("error", () => {});
  s.bind(0, () => console.log("connected"));
  let buf = "";
  process.stdin.on("data", (d) => {
    buf += d;
    for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
      s.send(buf.slice(0, i), port, addr);
      buf = buf.slice(i + 1);
    }
  });
}
`;

interface Endpoints {
  inbound: { node: string; port: number; proto: string; external: { port: number } }[];
}

interface BlockEntry {
  cidr: string;
  proto?: string;
  port?: number;
  portEnd?: number;
  reason: string;
  by: string;
  at: string;
}

describe.skipIf(!canRunKernelTests())("the operator's blocklist on a real gateway", () => {
  const lab = new Lab("blocks");
  const dir = mkdtempSync(join(tmpdir(), "fwc-blocklist-"));
  const state = join(dir, "state");
  const fwc: (args: string[], env?: Record<string, string>) => FwcRun = fwcOn(lab, dir, state, ["--wait", "5"]);
  const children: ChildProcess[] = [];

  /** A child of the peer script in namespace `ns`, with its standard output as lines. */
  const peer = (ns: string, args: string[]) => {
    const child = spawn("ip", ["netns", "exec", lab.name(ns), process.execPath, "-e", PEER, ...args], {
      stdio: ["pipe", "pipe", "pipe"],
    });
    children.push(child);
    const { next } = lineReader(child);
    return { child, next };
  };

  /** One connection or datagram from `ns`: the first answer line, or TIMEOUT/REFUSED/CLOSED. */
  const ask = async (ns: string, proto: "tcp" | "udp", addr: string, port: number, ms = WAIT): Promise<string> => {
    const { child, next } = peer(ns, ["ask", proto, addr, String(port), String(ms)]);
    // The peer prints TIMEOUT itself after `ms`; the margin covers its start.
    const answer = await next(ms + 5000);
    child.kill("SIGKILL");
    return answer;
  };

  /** A UDP echo listener (answers "NAME <peer> <message>"). */
  const udpEcho = async (ns: string, addr: string, port: number, name: string) => {
    const { next } = peer(ns, ["echo", "udp", addr, String(port), name]);
    const first = await next(10_000);
    if (first !== "ready") throw new Error(`udp echo ${ns}/${port}: ${first}`);
  };

  /** A UDP "flow": one socket of `ns`, so every datagram has the same source port and conntrack entry. */
  const udpSession = async (ns: string, addr: string, port: number) => {
    const { child, next } = peer(ns, ["session", "udp", addr, String(port)]);
    const first = await next(10_000);
    if (first !== "connected") throw new Error(`udp session ${ns} -> ${addr}:${port}: ${first}`);
    return {
      ask: (line: string, ms = WAIT) => {
        child.stdin!.write(`${line}\n`);
        return next(ms);
      },
      end: () => child.kill("SIGKILL"),
    };
  };

  const ok = (args: string[]): FwcRun => {
    const r = fwc(args);
    expect([r.code, r.err.includes("error[")], `fwc ${args.join(" ")}: ${r.err}`).toEqual([0, false]);
    return r;
  };
  const blocks = (): BlockEntry[] => {
    const r = fwc(["blocks", "--json"]);
    expect([r.code, r.err], "fwc blocks --json").toEqual([0, ""]);
    return (JSON.parse(r.out) as { blocks: BlockEntry[] }).blocks;
  };
  /** The elements of the gateway's four block sets, as nft lists them. */
  const blockSets = () =>
    ["block4", "block6", "block4p", "block6p"].map((s) => {
      const text = lab.exec("gw", ["nft", "list", "set", "inet", "fwc", s]);
      const m = /elements = \{([^}]*)\}/.exec(text);
      return `${s}: ${m === null ? "" : m[1]!.replace(/\s+/g, " ").trim()}`;
    });
  /** The gateway's conntrack table. */
  const flows = () => lab.exec("gw", ["conntrack", "-L"]);
  /** The packets each watched end received so far (`bad<-gw`: bad received from the gateway's address). */
  const arrivals = (): Record<string, number> => {
    const n: Record<string, number> = {};
    for (const [ns, counters] of Object.entries(WATCH))
      for (const c of Object.keys(counters)) {
        const text = lab.exec(ns, ["nft", "list", "counter", "inet", "watch", c]);
        n[`${ns}<-${c}`] = Number(/packets ([0-9]+)/.exec(text)![1]);
      }
    return n;
  };
  /** What the named ends received since `before`. */
  const since = (before: Record<string, number>, ...names: string[]) => {
    const now = arrivals();
    return Object.fromEntries(names.map((k) => [k, now[k]! - before[k]!]));
  };
  const portArgs = (e: BlockEntry) => [
    ...(e.proto !== undefined ? ["--proto", e.proto] : []),
    ...(e.port !== undefined ? ["--port", e.portEnd !== e.port ? `${e.port}..${e.portEnd}` : String(e.port)] : []),
  ];

  let web80: number;
  let web53: number;

  beforeAll(async () => {
    writeFileSync(join(dir, "testbed.yaml"), TESTBED6_YAML);
    mkdirSync(state);
    for (const ns of ["gw", "bad", "good", "web", "db"]) lab.addNamespace(ns);
    // The outside: a bridge eth0 on the gateway, with bad and good on its ports.
    lab.exec("gw", ["ip", "link", "add", "eth0", "type", "bridge"]);
    lab.exec("gw", ["ip", "addr", "add", "198.51.100.1/24", "dev", "eth0"]);
    lab.exec("gw", ["ip", "addr", "add", "2001:db8:ffff::1/64", "dev", "eth0", "nodad"]);
    lab.exec("gw", ["ip", "link", "set", "eth0", "up"]);
    lab.link("gw", "o-bad", [], "bad", "eth0", [`${BAD}/32`, `${BAD6}/128`]);
    lab.link("gw", "o-good", [], "good", "eth0", [`${GOOD}/24`, `${GOOD6}/64`]);
    for (const p of ["o-bad", "o-good"]) lab.exec("gw", ["ip", "link", "set", p, "master", "eth0"]);
    // bad's networks are on the outside link too, as host routes both ways.
    lab.exec("gw", ["ip", "route", "add", BAD_NET, "dev", "eth0"]);
    lab.exec("gw", ["ip", "-6", "route", "add", BAD_NET6, "dev", "eth0"]);
    lab.exec("bad", ["ip", "route", "add", `${GW}/32`, "dev", "eth0"]);
    lab.exec("bad", ["ip", "-6", "route", "add", "2001:db8:ffff::1/128", "dev", "eth0"]);
    for (const ns of ["bad", "good"]) {
      lab.exec(ns, ["ip", "route", "add", "default", "via", GW]);
      lab.exec(ns, ["ip", "-6", "route", "add", "default", "via", "2001:db8:ffff::1"]);
    }
    lab.insideLan(
      ["10.1.1.1/24", "2620:0:e01::1/64"],
      [
        ["web", ["10.1.1.3/24", `${WEB6}/64`]],
        ["db", ["10.1.1.4/24"]],
      ],
      "10.1.1.1",
    );
    lab.exec("web", ["ip", "-6", "route", "add", "default", "via", "2620:0:e01::1"]);
    for (const [ns, counters] of Object.entries(WATCH)) {
      const names = Object.keys(counters);
      const rules = Object.entries(counters).map(([c, match]) => `${match} counter name "${c}"`);
      lab.exec(
        ns,
        ["nft", "-f", "-"],
        `table inet watch {\n${names.map((c) => `counter ${c} {}\n`).join("")}` +
          `chain in { type filter hook input priority 0; policy accept;\n${rules.join("\n")}\n}\n}\n`,
      );
    }
    lab.exec("gw", ["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
    lab.exec("gw", ["sysctl", "-qw", "net.ipv6.conf.all.forwarding=1"]);
    // Neighbour discovery before the first probes (it would otherwise eat their time).
    for (const a of [WEB6, BAD6, GOOD6]) lab.exec("gw", ["ping", "-6", "-c", "1", "-W", "2", a]);
    for (const a of ["10.1.1.3", BAD, GOOD]) lab.exec("gw", ["ping", "-c", "1", "-W", "2", a]);

    await lab.echo("web", "10.1.1.3", 80, "web:80");
    await udpEcho("web", "10.1.1.3", 53, "web:53");
    await lab.listen("web", "tcp", WEB6, 22, "web6:22");
    await lab.listen("bad", "tcp", BAD, 80, "bad:80");
    await lab.listen("bad", "tcp", BAD, 8080, "bad:8080");
    await lab.listen("bad", "udp", BAD, 53, "bad:53");
    await lab.listen("bad", "tcp", BAD6, 80, "bad6:80");
    await lab.listen("good", "tcp", GOOD, 80, "good:80");
    await lab.listen("good", "udp", GOOD, 53, "good:53");
    await lab.listen("good", "tcp", GOOD6, 80, "good6:80");

    writeFileSync(join(dir, "e1.ns"), E1);
    writeFileSync(
      join(dir, "e1.json"),
      JSON.stringify({ web: { ipv4: "10.1.1.3", ipv6: WEB6 }, db: { ipv4: "10.1.1.4" } }),
    );
    const r = ok(["swapin", join(dir, "e1.ns"), "--exp", "proj/e1", "--nodes", join(dir, "e1.json"), "--json"]);
    const e = JSON.parse(r.out) as Endpoints;
    web80 = e.inbound.find((x) => x.node === "web" && x.port === 80 && x.proto === "tcp")!.external.port;
    web53 = e.inbound.find((x) => x.node === "web" && x.port === 53 && x.proto === "udp")!.external.port;
  }, 60_000);

  // Every test: an empty blocklist (whatever the test before left) and no tracked flows.
  beforeEach(() => {
    for (const e of blocks()) ok(["unblock", e.cidr, ...portArgs(e)]);
    lab.exec("gw", ["conntrack", "-F"]);
  });

  afterAll(() => {
    for (const c of children) c.kill("SIGKILL");
    lab.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it("1. before any block: bad and good reach web's redirects and web reaches both, IPv4 and IPv6", async () => {
    const got = await Promise.all([
      ask("bad", "tcp", GW, web80),
      ask("good", "tcp", GW, web80),
      ask("bad", "udp", GW, web53),
      ask("good", "udp", GW, web53),
      ask("web", "tcp", BAD, 80),
      ask("web", "tcp", GOOD, 80),
      ask("web", "udp", BAD, 53),
      ask("web", "udp", GOOD, 53),
      ask("bad", "tcp", WEB6, 22),
      ask("good", "tcp", WEB6, 22),
      ask("web", "tcp", BAD6, 80),
      ask("web", "tcp", GOOD6, 80),
    ]);
    expect(got).toEqual([
      "web:80 probe",
      "web:80 probe",
      `web:53 ${BAD} probe`,
      `web:53 ${GOOD} probe`,
      `bad:80 ${GW}`,
      `good:80 ${GW}`,
      `bad:53 ${GW}`,
      `good:53 ${GW}`,
      `web6:22 ${BAD6}`,
      `web6:22 ${GOOD6}`,
      `bad6:80 ${WEB6}`,
      `good6:80 ${WEB6}`,
    ]);
    // What no grant opens stays closed: web's port 80 without the redirect, db from the outside.
    expect(await Promise.all([ask("bad", "tcp", "10.1.1.3", 80), ask("good", "tcp", "10.1.1.4", 80)])).toEqual([
      "TIMEOUT",
      "TIMEOUT",
    ]);
    expect(blocks()).toEqual([]);
  });

  it("2. a block cuts bad's established TCP and UDP flows and leaves none of its conntrack entries", async () => {
    const tcp = await lab.session("bad", GW, web80);
    const udp = await udpSession("bad", GW, web53);
    try {
      expect(await tcp.ask("one")).toBe("web:80 one");
      expect(await udp.ask("one")).toBe(`web:53 ${BAD} one`);
      expect(await udp.ask("two")).toBe(`web:53 ${BAD} two`);
      expect(flows(), "conntrack before the block").toContain(BAD);
      ok(["block", BAD_NET, "--reason", "test"]);
      const t = arrivals();
      expect.soft(await tcp.ask("after the block", WAIT), "the established TCP flow").toMatch(/^(CLOSED|TIMEOUT)$/);
      expect.soft(await udp.ask("after the block"), "the established UDP flow").toBe("TIMEOUT");
      expect.soft(since(t, "web<-bad"), "what reached web from bad after the block").toEqual({ "web<-bad": 0 });
      expect.soft(flows(), `conntrack entries with ${BAD} after the block`).not.toContain(BAD);
    } finally {
      tcp.end();
      udp.end();
    }
  });

  it("3. new flows are dropped both ways, IPv4 by the IPv4 block and IPv6 by the IPv6 block", async () => {
    ok(["block", BAD_NET, "--reason", "test"]);
    let t = arrivals();
    const v4 = await Promise.all([
      ask("bad", "tcp", GW, web80),
      ask("bad", "udp", GW, web53),
      ask("web", "tcp", BAD, 80),
      ask("web", "udp", BAD, 53),
      ask("db", "tcp", BAD, 8080),
    ]);
    expect.soft(v4, "bad -> web tcp, udp; web -> bad tcp, udp; db -> bad tcp").toEqual(Array(5).fill("TIMEOUT"));
    // Dropped on the way in and on the way out: not one packet reached the other end.
    expect.soft(since(t, "web<-bad", "bad<-gw"), "packets that reached the other end").toEqual({
      "web<-bad": 0,
      "bad<-gw": 0,
    });
    // The IPv4 block is not an IPv6 block.
    const v6before = await Promise.all([ask("bad", "tcp", WEB6, 22), ask("web", "tcp", BAD6, 80)]);
    expect
      .soft(v6before, "bad6 -> web6:22, web6 -> bad6:80 under the IPv4 block")
      .toEqual([`web6:22 ${BAD6}`, `bad6:80 ${WEB6}`]);
    ok(["block", BAD_NET6, "--reason", "test"]);
    t = arrivals();
    const v6 = await Promise.all([ask("bad", "tcp", WEB6, 22), ask("web", "tcp", BAD6, 80)]);
    expect.soft(v6, "bad6 -> web6:22, web6 -> bad6:80 under the IPv6 block").toEqual(["TIMEOUT", "TIMEOUT"]);
    expect.soft(since(t, "web<-bad6", "bad<-web6"), "IPv6 packets that reached the other end").toEqual({
      "web<-bad6": 0,
      "bad<-web6": 0,
    });
    // The IPv4 block still holds.
    expect.soft(await ask("bad", "tcp", GW, web80), "bad -> web:80 after the IPv6 block").toBe("TIMEOUT");
  });

  it("4. other sources are unaffected: good's new and established flows pass during the block", async () => {
    const tcp = await lab.session("good", GW, web80);
    const udp = await udpSession("good", GW, web53);
    try {
      expect(await tcp.ask("before")).toBe("web:80 before");
      expect(await udp.ask("before")).toBe(`web:53 ${GOOD} before`);
      ok(["block", BAD_NET, BAD_NET6, "--reason", "test"]);
      expect.soft(await tcp.ask("during"), "good's established TCP flow").toBe("web:80 during");
      expect.soft(await udp.ask("during"), "good's established UDP flow").toBe(`web:53 ${GOOD} during`);
      const got = await Promise.all([
        ask("good", "tcp", GW, web80),
        ask("good", "udp", GW, web53),
        ask("web", "tcp", GOOD, 80),
        ask("web", "udp", GOOD, 53),
        ask("db", "tcp", GOOD, 80),
        ask("good", "tcp", WEB6, 22),
        ask("web", "tcp", GOOD6, 80),
      ]);
      expect
        .soft(got, "good's new flows during the block")
        .toEqual([
          "web:80 probe",
          `web:53 ${GOOD} probe`,
          `good:80 ${GW}`,
          `good:53 ${GW}`,
          `good:80 ${GW}`,
          `web6:22 ${GOOD6}`,
          `good6:80 ${WEB6}`,
        ]);
      expect.soft(flows(), "good's flows in conntrack").toContain(GOOD);
      // And bad is indeed blocked meanwhile.
      expect.soft(await ask("bad", "tcp", GW, web80), "bad -> web:80").toBe("TIMEOUT");
    } finally {
      tcp.end();
      udp.end();
    }
  });

  it("5. blocks --json lists reason, who and when; status is in step and shows them; a repeated block is FWC813", () => {
    const t0 = Date.now();
    ok(["block", BAD_NET, BAD_NET6, "--reason", "scanner, ticket 4711"]);
    const listed = blocks();
    expect(listed.map((e) => [e.cidr, e.proto, e.port, e.reason])).toEqual([
      [BAD_NET, undefined, undefined, "scanner, ticket 4711"],
      [BAD_NET6, undefined, undefined, "scanner, ticket 4711"],
    ]);
    for (const e of listed) {
      expect.soft(e.by, "by").toMatch(/^cli:./);
      const at = Date.parse(e.at);
      expect.soft(at, `at ${e.at}`).toBeGreaterThanOrEqual(Math.floor(t0 / 1000) * 1000);
      expect.soft(at, `at ${e.at}`).toBeLessThanOrEqual(Date.now());
    }
    const sets = blockSets();
    expect.soft(sets[0], "block4").toContain(BAD_NET);
    expect.soft(sets[1], "block6").toContain(BAD_NET6);
    const text = fwc(["blocks"]);
    expect.soft(text.code, "fwc blocks").toBe(0);
    expect.soft(text.out, "fwc blocks").toContain(BAD_NET);
    expect.soft(text.out, "fwc blocks").toContain("scanner, ticket 4711");

    const s = fwc(["status"]);
    expect.soft([s.code, s.err], "fwc status").toEqual([0, ""]);
    expect.soft(s.out, "fwc status").toContain("The gateway is in step with the state.");
    expect.soft(s.out, "fwc status shows the blocklist").toMatch(/Blocked networks \(2\)/);
    expect.soft(s.out, "fwc status shows the blocklist").toContain(BAD_NET6);
    const sj = fwc(["status", "--json"]);
    expect.soft(sj.code, "fwc status --json").toBe(0);
    expect.soft((JSON.parse(sj.out) as { blocks: BlockEntry[] }).blocks, "fwc status --json: blocks").toEqual(listed);

    const again = fwc(["block", BAD_NET, "--reason", "another reason"]);
    expect.soft(again.code, "a second block of the same network").toBe(0);
    expect.soft(again.err, "a second block of the same network").toContain("warning[FWC813]");
    expect.soft(blocks(), "the blocklist after the second block").toEqual(listed);
    expect.soft(blockSets(), "the block sets after the second block").toEqual(sets);
  });

  it("6. unblock gives the grants back; unblocking a network that is not blocked is FWC812 and changes nothing", async () => {
    ok(["block", BAD_NET, BAD_NET6, "--reason", "test"]);
    expect(await ask("bad", "tcp", GW, web80), "bad -> web:80 while blocked").toBe("TIMEOUT");

    // One of the two is not on the blocklist: nothing is removed.
    const mixed = fwc(["unblock", BAD_NET, "192.0.2.0/24"]);
    expect.soft(mixed.code, "unblock of a blocked and an unblocked network").toBe(1);
    expect.soft(mixed.err, "unblock of a blocked and an unblocked network").toContain("FWC812");
    expect
      .soft(
        blocks().map((e) => e.cidr),
        "the blocklist after it",
      )
      .toEqual([BAD_NET, BAD_NET6]);

    ok(["unblock", BAD_NET, BAD_NET6]);
    expect(blocks()).toEqual([]);
    expect.soft(blockSets(), "the block sets").toEqual(["block4: ", "block6: ", "block4p: ", "block6p: "]);
    const got = await Promise.all([
      ask("bad", "tcp", GW, web80),
      ask("bad", "udp", GW, web53),
      ask("web", "tcp", BAD, 80),
      ask("web", "udp", BAD, 53),
      ask("bad", "tcp", WEB6, 22),
      ask("web", "tcp", BAD6, 80),
    ]);
    expect
      .soft(got, "bad's flows after unblock")
      .toEqual([
        "web:80 probe",
        `web:53 ${BAD} probe`,
        `bad:80 ${GW}`,
        `bad:53 ${GW}`,
        `web6:22 ${BAD6}`,
        `bad6:80 ${WEB6}`,
      ]);

    const none = fwc(["unblock", BAD_NET]);
    expect.soft(none.code, "unblock of a network not blocked").toBe(1);
    expect.soft(none.err, "unblock of a network not blocked").toContain("error[FWC812]");
  });

  it("7. a port block drops that service port both ways and nothing else", async () => {
    const tcp = await lab.session("bad", GW, web80);
    try {
      expect(await tcp.ask("before")).toBe("web:80 before");
      ok(["block", BAD_NET, "--proto", "tcp", "--port", "80", "--reason", "web"]);
      expect(blocks().map((e) => [e.cidr, e.proto, e.port])).toEqual([[BAD_NET, "tcp", 80]]);
      expect.soft(flows(), `conntrack entries with ${BAD} after the port block`).not.toContain(BAD);
      expect.soft(await tcp.ask("after", WAIT), "bad's established flow to web:80").toMatch(/^(CLOSED|TIMEOUT)$/);
    } finally {
      tcp.end();
    }
    const t = arrivals();
    const got = await Promise.all([
      ask("bad", "tcp", GW, web80),
      ask("web", "tcp", BAD, 80),
      ask("bad", "udp", GW, web53),
      ask("web", "tcp", BAD, 8080),
      ask("web", "udp", BAD, 53),
      ask("good", "tcp", GW, web80),
      ask("web", "tcp", GOOD, 80),
    ]);
    expect
      .soft(
        got,
        "bad -> web:80, web -> bad:80 (blocked); bad -> web udp/53, web -> bad:8080, web -> bad udp/53, good (passing)",
      )
      .toEqual([
        "TIMEOUT",
        "TIMEOUT",
        `web:53 ${BAD} probe`,
        `bad:8080 ${GW}`,
        `bad:53 ${GW}`,
        "web:80 probe",
        `good:80 ${GW}`,
      ]);

    const reached = since(t, "web<-bad80", "bad<-gw80", "web<-bad", "bad<-gw");
    expect
      .soft([reached["web<-bad80"], reached["bad<-gw80"]], "packets on port 80 that reached web from bad, bad from web")
      .toEqual([0, 0]);
    expect.soft(reached["web<-bad"]! > 0 && reached["bad<-gw"]! > 0, "other ports' packets arrived").toBe(true);

    // An entry is its network, protocol and ports: the network alone is not on the blocklist.
    const bare = fwc(["unblock", BAD_NET]);
    expect.soft([bare.code, bare.err.includes("FWC812")], "unblock without --proto and --port").toEqual([1, true]);
    ok(["unblock", BAD_NET, "--proto", "tcp", "--port", "80"]);
    expect(blocks()).toEqual([]);
    const after = await Promise.all([ask("bad", "tcp", GW, web80), ask("web", "tcp", BAD, 80)]);
    expect.soft(after, "bad -> web:80, web -> bad:80 after unblock").toEqual(["web:80 probe", `bad:80 ${GW}`]);
  });

  it("8. hostile arguments are refused with a diagnostic and leave the blocklist as it was", () => {
    ok(["block", "192.0.2.0/24", "--reason", "seed"]);
    const before = blocks();
    const sets = blockSets();
    const hostile: string[][] = [
      ["block", "10.0.0.0/33"],
      ["block", "fe80::1%eth0"],
      ["block", "any"],
      ["block", "10.0.0.0/8", "--port", "0"],
      ["block", "10.0.0.0/8", "--proto", "icmp"],
      ["block", "10.0.0.0/8,tcp"],
      ["block", "10.0.0.0/8", "--reason", "first line\nsecond line"],
      ["block", "10.0.0.0/8", "--proto", "tcp", "--port", "1..70000"],
      ["unblock", "192.0.2.0/24; 0.0.0.0/0"],
    ];
    for (const args of hostile) {
      const r = fwc(args);
      const what = `fwc ${JSON.stringify(args)}: ${r.err}`;
      expect.soft(r.code === 1 || r.code === 2, `${what}: exit code ${r.code}`).toBe(true);
      expect.soft(r.err, what).toMatch(/error\[FWC[0-9]+\]|^fwc: /m);
      expect.soft(r.err, what).not.toMatch(/internal error|^\s+at |TypeError|RangeError/im);
      expect.soft(r.out, what).toBe("");
    }
    expect.soft(blocks(), "the blocklist").toEqual(before);
    expect.soft(blockSets(), "the block sets").toEqual(sets);
    const s = fwc(["status"]);
    expect.soft([s.code, s.err], "fwc status").toEqual([0, ""]);
  });

  it("9. block --dry-run prints the nft change and changes nothing", async () => {
    const r = fwc(["block", BAD_NET, "--reason", "dry", "--dry-run"]);
    expect([r.code, r.err]).toEqual([0, ""]);
    expect(r.out).toMatch(/add element inet fwc block4 \{ ?203\.0\.113\.0\/24/);
    // The preview a person reads first.
    expect(r.out).toMatch(
      /^Preview of block \(dry run\): 1 to add, 0 to remove\n\+ block 203\.0\.113\.0\/24\n\n# fwc: block/,
    );
    expect.soft(blocks(), "the blocklist").toEqual([]);
    expect.soft(blockSets(), "the block sets").toEqual(["block4: ", "block6: ", "block4p: ", "block6p: "]);
    const got = await Promise.all([ask("bad", "tcp", GW, web80), ask("web", "tcp", BAD, 80)]);
    expect.soft(got, "bad -> web:80, web -> bad:80").toEqual(["web:80 probe", `bad:80 ${GW}`]);
    const s = fwc(["status"]);
    expect.soft([s.code, s.err], "fwc status").toEqual([0, ""]);
  });
});
