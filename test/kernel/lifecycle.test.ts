/**
 * The experiment's life on a real gateway, through the real `fwc` binary with --netns: swapin of two
 * experiments, open, close (cutting an established TCP connection), both swap-modify cases of CXA, swapout,
 * with real packets after every step, `fwc status` in step after every step, and a second experiment's
 * established connection flowing through all of it.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AuditEntry } from "../../src/deploy/audit.js";
import { FWC, fwcOn, gatewayArgs, TESTBED_YAML } from "./deploy-helpers.js";
import { canRunKernelTests, Lab } from "./lab.js";

const head = "set ns [new Simulator]\nsource tb_compat.tcl\nset web [$ns node]\nset db [$ns node]\n";
const E1 = `${head}tb-allow-external $web shared rdr "web/80" nat "192.154.6.21/25"\n$ns run\n`;
// No tb-allow-external call at all: CXA keeps the dynamic grants, and the file's own grants are gone.
const E1_NO_CALLS = `${head}$ns run\n`;
// A call (even one): the file overrules the dynamic grants.
const E1_CALLS = `${head}tb-allow-external $web shared rdr "web/8080"\n$ns run\n`;
const E2 =
  'set ns [new Simulator]\nsource tb_compat.tcl\nset x [$ns node]\ntb-allow-external $x shared rdr "x/22"\n$ns run\n';

interface Endpoints {
  inbound: { node: string; port: number; proto: string; external: { port: number } }[];
}

describe.skipIf(!canRunKernelTests())("the lifecycle on a real gateway", () => {
  const lab = new Lab("life");
  const dir = mkdtempSync(join(tmpdir(), "fwc-life-"));
  const state = join(dir, "state");
  const fwc = fwcOn(lab, dir, state);
  const ok = (args: string[]): Endpoints | null => {
    const r = fwc([...args, "--json"]);
    expect([r.code, r.err]).toEqual([0, ""]);
    return r.out.trim() === "" ? null : (JSON.parse(r.out) as Endpoints);
  };
  /** The experiment's endpoints as `fwc status --json` lists them. */
  const status = (exp: string): Endpoints => {
    const r = fwc(["status", "--exp", exp, "--json"]);
    expect([r.code, r.err]).toEqual([0, ""]);
    return (JSON.parse(r.out) as { experiments: Endpoints[] }).experiments[0]!;
  };
  const port = (e: Endpoints | null, node: string, internal: number) =>
    e!.inbound.find((x) => x.node === node && x.port === internal)!.external.port;
  const inStep = () => {
    const r = fwc(["status"]);
    expect([r.code, r.err]).toEqual([0, ""]);
    expect(r.out).toContain("The gateway is in step with the state.");
  };
  const file = (name: string, text: string) => {
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  };

  let x22: number;
  let s2: Awaited<ReturnType<Lab["session"]>>;

  beforeAll(async () => {
    writeFileSync(join(dir, "testbed.yaml"), TESTBED_YAML);
    writeFileSync(
      join(dir, "e1.json"),
      JSON.stringify({ web: { ipv4: "10.1.1.3", ipv6: "2620:0:e01::3" }, db: { ipv4: "10.1.1.4" } }),
    );
    writeFileSync(join(dir, "e2.json"), JSON.stringify({ x: { ipv4: "10.1.1.9" } }));
    for (const ns of ["inet", "gw", "web", "db", "x"]) lab.addNamespace(ns);
    lab.link("inet", "inet0", ["198.51.100.2/24", "192.154.6.21/32"], "gw", "eth0", ["198.51.100.1/24"]);
    lab.insideLan(
      ["10.1.1.1/24"],
      [
        ["web", ["10.1.1.3/24"]],
        ["db", ["10.1.1.4/24"]],
        ["x", ["10.1.1.9/24"]],
      ],
      "10.1.1.1",
    );
    lab.exec("gw", ["ip", "route", "add", "192.154.6.21/32", "via", "198.51.100.2"]);
    lab.exec("inet", ["ip", "route", "add", "10.1.1.0/24", "via", "198.51.100.1"]);
    lab.exec("gw", ["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
    await lab.listen("web", "tcp", "10.1.1.3", 80, "web:80");
    await lab.listen("web", "tcp", "10.1.1.3", 8080, "web:8080");
    await lab.echo("db", "10.1.1.4", 5432, "db:5432");
    await lab.echo("x", "10.1.1.9", 22, "x:22");
    await lab.listen("inet", "tcp", "192.154.6.21", 25, "inet:25");
  }, 60_000);

  afterAll(() => {
    lab.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  let web80: number;

  it("swapin: each experiment's grants reach exactly their nodes", async () => {
    const e1 = ok(["swapin", file("e1.ns", E1), "--exp", "proj/e1", "--nodes", join(dir, "e1.json")]);
    const e2 = ok(["swapin", file("e2.ns", E2), "--exp", "proj/e2", "--nodes", join(dir, "e2.json")]);
    web80 = port(e1, "web", 80);
    x22 = port(e2, "x", 22);
    expect(lab.send("inet", "tcp", "198.51.100.1", web80)).toBe("web:80 198.51.100.2");
    expect(lab.send("web", "tcp", "192.154.6.21", 25)).toBe("inet:25 198.51.100.1");
    expect(lab.send("x", "tcp", "192.154.6.21", 25)).toBe("TIMEOUT");
    expect(lab.send("inet", "tcp", "10.1.1.4", 5432)).toBe("TIMEOUT");
    s2 = await lab.session("inet", "198.51.100.1", x22);
    expect(await s2.ask("hello")).toBe("x:22 hello");
    inStep();
  });

  let db: number;
  let s1: Awaited<ReturnType<Lab["session"]>>;

  it("the endpoint tables of status and the changes are coloured on request only (--color, NO_COLOR)", () => {
    const always = fwc(["status", "--exp", "proj/e1", "--color", "always"]);
    expect(always.out).toContain("\u001b[1mExperiment proj/e1");
    // Not a terminal (a pipe), or NO_COLOR: plain text.
    const plain = fwc(["status", "--exp", "proj/e1"]).out;
    expect(plain).not.toContain("\u001b[");
    // This testbed names no DNS server: the names are listed as fwc's plan, not as published.
    expect(plain).toContain("DNS (not published: testbed.yaml names no dns.server)");
    expect(fwc(["status", "--exp", "proj/e1", "--color", "auto"], { NO_COLOR: "1" }).out).not.toContain("\u001b[");
    const opened = fwc(["open", "--exp", "proj/e1", "--nat", "192.154.6.21/25", "--color", "always"]);
    expect(opened.out).toContain("\u001b[1mInbound");
    expect(fwc(["close", "--exp", "proj/e1", "--nat", "192.154.6.21/25"]).code).toBe(0);
  });

  it("open: a dynamic grant reaches its node at once", async () => {
    const e1 = ok(["open", "--exp", "proj/e1", "--rdr", "db/5432"]);
    db = port(e1, "db", 5432);
    s1 = await lab.session("inet", "198.51.100.1", db);
    expect(await s1.ask("one")).toBe("db:5432 one");
    expect(await s2.ask("still")).toBe("x:22 still");
    inStep();
  });

  it("close: the grant is gone and its established TCP connection is cut", async () => {
    ok(["close", "--exp", "proj/e1", "--rdr", "db/5432"]);
    expect(await s1.ask("two")).toMatch(/^(CLOSED|TIMEOUT)$/);
    expect(lab.send("inet", "tcp", "198.51.100.1", db)).not.toMatch(/^db/);
    // The other experiment's connection never noticed.
    expect(await s2.ask("after close")).toBe("x:22 after close");
    expect(lab.send("inet", "tcp", "198.51.100.1", web80)).toBe("web:80 198.51.100.2");
    inStep();
  });

  it("modify with a file without tb-allow-external calls keeps the dynamic grants", async () => {
    const e1 = ok(["open", "--exp", "proj/e1", "--rdr", "db/5432"]);
    db = port(e1, "db", 5432);
    const m = ok(["modify", file("e1-nocalls.ns", E1_NO_CALLS), "--exp", "proj/e1"]);
    expect(m!.inbound.map((e) => `${e.node}:${e.port}`)).toEqual(["db:5432"]);
    const s = await lab.session("inet", "198.51.100.1", db);
    expect(await s.ask("kept")).toBe("db:5432 kept");
    s.end();
    // The file's own grants are gone: the redirect to web and the outbound grant.
    expect(lab.send("inet", "tcp", "198.51.100.1", web80)).not.toMatch(/^web/);
    expect(lab.send("web", "tcp", "192.154.6.21", 25)).toBe("TIMEOUT");
    expect(await s2.ask("during modify")).toBe("x:22 during modify");
    inStep();
  });

  it("modify with a file that has a call replaces the dynamic grants, and says which", async () => {
    // First the preview: a person sees the open grant go and the file's grant come, and nothing changes.
    const dry = fwc(["modify", file("e1-calls.ns", E1_CALLS), "--exp", "proj/e1", "--dry-run"]);
    expect(dry.code).toBe(0);
    const preview = dry.out.slice(0, dry.out.indexOf("# fwc: modify proj/e1 (dry run)"));
    expect(preview.replace(/:[0-9]+\/tcp -> web/, ":P/tcp -> web")).toBe(
      [
        "Preview of modify proj/e1 (dry run): 2 to add, 2 to remove, 2 unchanged",
        `- 198.51.100.1:${db}/tcp -> db:5432`,
        "- dns db.e1.proj.testbed.example.net. CNAME gw.testbed.example.net.",
        "+ 198.51.100.1:P/tcp -> web:8080",
        "+ dns web.e1.proj.testbed.example.net. CNAME gw.testbed.example.net.",
        "",
        "",
      ].join("\n"),
    );
    expect(dry.err).toContain("note[FWC834]: would replace 1 grant made with fwc open");
    // A node moved to another address is a change the preview shows (its grants lead elsewhere).
    writeFileSync(
      join(dir, "e1-moved.json"),
      JSON.stringify({ web: { ipv4: "10.1.1.3", ipv6: "2620:0:e01::3" }, db: { ipv4: "10.1.1.44" } }),
    );
    const moved = fwc([
      "modify",
      join(dir, "e1-calls.ns"),
      "--exp",
      "proj/e1",
      "--nodes",
      join(dir, "e1-moved.json"),
      "--dry-run",
    ]);
    expect(moved.code).toBe(0);
    expect(moved.out).toContain("\n- node db 10.1.1.4\n");
    expect(moved.out).toContain("\n+ node db 10.1.1.44\n");
    // A testbed changed under the experiment: planning its state again no longer gives what the gateway has, and
    // the preview says so rather than hide the move (the transaction shows it).
    writeFileSync(join(dir, "testbed-moved.yaml"), TESTBED_YAML.replace("ipv4: 198.51.100.1", "ipv4: 198.51.100.9"));
    const tb = spawnSync(
      FWC,
      [
        "modify",
        join(dir, "e1-calls.ns"),
        "--exp",
        "proj/e1",
        "--dry-run",
        "--state",
        state,
        "--netns",
        lab.name("gw"),
        "--testbed",
        join(dir, "testbed-moved.yaml"),
      ],
      { encoding: "utf8" },
    );
    expect(tb.status).toBe(0);
    expect(tb.stdout).toContain("! The experiment's state no longer plans to the rules it has on the gateway");
    expect(tb.stdout).toContain("198.51.100.9");
    const still = await lab.session("inet", "198.51.100.1", db);
    expect(await still.ask("dry")).toBe("db:5432 dry");
    still.end();
    const r = fwc(["modify", file("e1-calls.ns", E1_CALLS), "--exp", "proj/e1", "--json"]);
    expect(r.code).toBe(0);
    expect(r.err).toContain("note[FWC834]: replaced 1 grant made with fwc open");
    expect(r.err).toContain("db/5432");
    const m = JSON.parse(r.out) as Endpoints;
    expect(m!.inbound.map((e) => `${e.node}:${e.port}`)).toEqual(["web:8080"]);
    expect(lab.send("inet", "tcp", "198.51.100.1", port(m, "web", 8080))).toBe("web:8080 198.51.100.2");
    const s = await lab.session("inet", "198.51.100.1", db).catch(() => null);
    if (s !== null) expect(await s.ask("gone")).not.toBe("db:5432 gone");
    expect(await s2.ask("second modify")).toBe("x:22 second modify");
    inStep();
  });

  it("drift: status finds an element removed behind fwc's back, reconcile puts it back", () => {
    const p = port(status("proj/e1"), "web", 8080);
    lab.exec("gw", ["nft", "delete", "element", "inet", "fwc", "rdr4", `{ 198.51.100.1 . tcp . ${p} }`]);
    expect(lab.send("inet", "tcp", "198.51.100.1", p)).not.toMatch(/^web/);
    const s = fwc(["status"]);
    expect(s.code).toBe(1);
    expect(s.err).toContain("error[FWC810]: proj/e1: the gateway lacks 1 and has 0 unexpected element");
    const r = fwc(["reconcile"]);
    expect([r.code, r.out]).toEqual([0, "Changed 1 element to match the state (2 experiments).\n"]);
    expect(lab.send("inet", "tcp", "198.51.100.1", p)).toBe("web:8080 198.51.100.2");
    inStep();
  });

  it("two fwc at once on one gateway: they take turns, and both changes are there", async () => {
    const run = (args: string[]) =>
      new Promise<number | null>((resolve) => {
        const c = spawn(
          FWC,
          [...args, "--state", state, "--testbed", join(dir, "testbed.yaml"), "--netns", lab.name("gw")],
          {
            stdio: "ignore",
          },
        );
        c.on("exit", (code) => resolve(code));
      });
    const codes = await Promise.all([
      run(["open", "--exp", "proj/e1", "--nat", "192.154.6.21/25"]),
      run(["open", "--exp", "proj/e2", "--rdr", "x/2222"]),
    ]);
    expect(codes).toEqual([0, 0]);
    expect(lab.send("web", "tcp", "192.154.6.21", 25)).toBe("inet:25 198.51.100.1");
    expect(status("proj/e2").inbound.map((e) => e.port)).toEqual([22, 2222]);
    inStep();
  });

  it("g5kfw openings on standard input (--json), shown with --dry-run: nothing changes", () => {
    const r = spawnSync(FWC, ["open", "--exp", "proj/e1", "--json", "--dry-run", ...gatewayArgs(dir, state, lab)], {
      encoding: "utf8",
      input: JSON.stringify([{ addr: "web", port: "22 8000..8001", proto: "tcp" }]),
    });
    expect([r.status, r.stderr]).toEqual([0, ""]);
    // --json: the dry run is one JSON document, with the preview and the transaction.
    const [change] = (JSON.parse(r.stdout) as { changes: { endpoints: { add: string[] }; nft: string }[] }).changes;
    expect(change!.endpoints.add.filter((l) => l.startsWith("ipv6 "))).toEqual([
      "ipv6 [2620:0:e01::3] 22/tcp (web)",
      "ipv6 [2620:0:e01::3] 8000..8001/tcp (web)",
    ]);
    expect(change!.nft).toContain('add element inet fwc open6 { 2620:0:e01::3 . tcp . 22 comment "proj/e1 open 1:1"');
    expect(change!.nft).toContain("2620:0:e01::3 . tcp . 8000-8001");
    inStep();
  });

  it("open --for: the grant works until its time is up, then reconcile removes it", async () => {
    for (const bad of ["0s", "2x", "367d", "-5m", "1h30"]) {
      const r = fwc(["open", "--exp", "proj/e1", "--rdr", "web/9100", "--for", bad]);
      expect(r.code, bad).toBe(2);
      expect(r.err).toContain("expected a duration such as 90s");
    }
    await lab.listen("web", "tcp", "10.1.1.3", 9100, "web:9100");
    const before = Date.now();
    const e = ok(["open", "--exp", "proj/e1", "--rdr", "web/9100", "--for", "3s"]) as unknown as {
      inbound: { node: string; port: number; external: { port: number }; expires?: string; origin: string }[];
    };
    const g = e.inbound.find((x) => x.node === "web" && x.port === 9100)!;
    expect(g.origin).toBe("dynamic");
    const ends = Date.parse(g.expires!);
    expect(ends).toBeGreaterThanOrEqual(before + 3000);
    expect(ends).toBeLessThan(Date.now() + 3000 + 1000);
    expect(fwc(["status", "--exp", "proj/e1"]).out).toMatch(/-> web:9100 +until 20[0-9-]+ [0-9:]+Z/);
    expect(lab.send("inet", "tcp", "198.51.100.1", g.external.port)).toBe("web:9100 198.51.100.2");
    // Before its time, reconcile leaves it.
    expect(fwc(["reconcile"]).out).not.toContain("whose time was up");
    await new Promise((r) => setTimeout(r, Math.max(0, ends - Date.now()) + 200));
    const r = fwc(["reconcile"]);
    expect([r.code, r.err]).toEqual([0, ""]);
    expect(r.out).toContain("Removed 1 grant whose time was up.");
    expect(lab.send("inet", "tcp", "198.51.100.1", g.external.port)).not.toBe("web:9100 198.51.100.2");
    expect(status("proj/e1").inbound.some((x) => x.node === "web" && x.port === 9100)).toBe(false);
    inStep();
  });

  it("fwc env gives Globus the node's identity range and the gateway's name", () => {
    const none = fwc(["env", "--exp", "proj/e1"]);
    expect(none.code).toBe(1);
    expect(none.err).toContain("error[FWC835]: proj/e1 has no TCP identity range");
    ok(["open", "--exp", "proj/e1", "--rdr", "web,25000..25010,tcp,identity"]);
    const r = fwc(["env", "--exp", "proj/e1"]);
    expect([r.code, r.err]).toEqual([0, ""]);
    expect(r.out).toContain("export GLOBUS_TCP_PORT_RANGE=25000,25010\n");
    expect(r.out).toContain("export GLOBUS_HOSTNAME=gw.testbed.example.net\n");
    const j = JSON.parse(fwc(["env", "--exp", "proj/e1", "--node", "web", "--json"]).out);
    expect(j).toEqual({
      experiment: "proj/e1",
      node: "web",
      GLOBUS_TCP_PORT_RANGE: "25000,25010",
      GLOBUS_HOSTNAME: "gw.testbed.example.net",
    });
    expect(fwc(["env", "--exp", "proj/e1", "--node", "db"]).code).toBe(1);
  });

  it("swapout removes everything of the experiment, and only of it", async () => {
    // The preview of a swapout lists every endpoint as going, as JSON too; the dry run changes nothing.
    const before = status("proj/e1").inbound.length;
    const dry = fwc(["swapout", "--exp", "proj/e1", "--dry-run", "--json"]);
    expect([dry.code, dry.err]).toEqual([0, ""]);
    const change = (JSON.parse(dry.out) as { changes: { endpoints: { add: string[]; remove: string[] } }[] })
      .changes[0]!;
    expect(change.endpoints.add).toEqual([]);
    expect(change.endpoints.remove.filter((l) => / -> web:8080$/.test(l))).toHaveLength(1);
    expect(status("proj/e1").inbound.length).toBe(before);
    const r = fwc(["swapout", "--exp", "proj/e1", "--json"]);
    expect([r.code, r.err]).toEqual([0, ""]);
    // It says what went: the ports released, the DNS records and the grants removed.
    const said = JSON.parse(r.out);
    expect(said).toMatchObject({ experiment: "proj/e1", swappedOut: true });
    expect(said.releasedPorts.length).toBeGreaterThan(0);
    expect(typeof said.dnsRecords).toBe("number");
    for (const p of [web80, db]) expect(lab.send("inet", "tcp", "198.51.100.1", p)).not.toMatch(/^(web|db)/);
    // The gateway no longer translates for the node: a swapped-out node is no experiment's, and what other hosts
    // on the inside do is the operator's policy, not fwc's (docs/gateway.md).
    expect(lab.send("web", "tcp", "192.154.6.21", 25)).not.toBe("inet:25 198.51.100.1");
    expect(await s2.ask("after swapout")).toBe("x:22 after swapout");
    inStep();
    const listed = lab.exec("gw", ["nft", "list", "table", "inet", "fwc"]);
    expect(listed).not.toContain("proj/e1");
    expect(listed).toContain("proj/e2");
    expect(fwc(["status", "--exp", "proj/e1"]).code).toBe(1);
  });

  it("every change is one line of the audit log: when, who, command, experiment, what was added and removed", () => {
    const lines = readFileSync(join(state, "audit.jsonl"), "utf8").trimEnd().split("\n");
    const entries = lines.map((l) => JSON.parse(l) as AuditEntry);
    const who = `cli:${process.env.SUDO_USER || userInfo().username}`;
    for (const e of entries) {
      expect(Number.isNaN(Date.parse(e.time))).toBe(false);
      expect(e.who).toBe(who);
    }
    const commands = entries.map((e) => `${e.command} ${e.experiment}`);
    for (const c of [
      "swapin proj/e1",
      "swapin proj/e2",
      "open proj/e1",
      "close proj/e1",
      "modify proj/e1",
      "swapout proj/e1",
    ])
      expect(commands).toContain(c);
    // Dry runs change nothing, and are not in it.
    expect(entries.length).toBe(commands.length);
    const swapout = [...entries].reverse().find((e) => e.command === "swapout")!;
    expect(swapout.added).toEqual([]);
    expect(swapout.removed.some((x) => /^rdr4 198\.51\.100\.1 \. tcp \. [0-9]+ : 10\.1\.1\.3 \. [0-9]+$/.test(x))).toBe(
      true,
    );
    const swapin = entries.find((e) => e.command === "swapin" && e.experiment === "proj/e1")!;
    expect(swapin.removed).toEqual([]);
    expect(swapin.added.length).toBeGreaterThan(0);
  });
});
