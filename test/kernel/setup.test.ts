/**
 * fwc init and fwc check-config, through the real binary: the state directory and testbed.yaml that init writes
 * (loaded by the real tool, and put on a real gateway by reconcile), what it refuses (an existing file, a link in
 * its place, bad options, a gateway whose state was lost), and what check-config finds in a testbed.yaml and in
 * node addresses files.
 */
import { spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FWC } from "./deploy-helpers.js";
import { canRunKernelTests, Lab } from "./lab.js";

const root = join(import.meta.dirname, "..", "..");
const dir = mkdtempSync(join(tmpdir(), "fwc-setup-"));
const run = (args: string[]) => {
  const r = spawnSync(FWC, args, {
    encoding: "utf8",
    cwd: dir,
    timeout: 30_000,
    env: { ...process.env, NO_COLOR: "1" },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
};

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(!canRunKernelTests())("fwc init", () => {
  const lab = new Lab("init");
  const gw = ["--netns", lab.name("gw")];
  beforeAll(() => lab.addNamespace("gw"));
  afterAll(() => lab.destroy());

  it("makes the state directory (0700), a testbed.yaml (0600) that the real tool loads, and an empty store", () => {
    const st = join(dir, "a", "state");
    const r = run([
      "init",
      "--state",
      st,
      "--ipv4",
      "203.0.113.7",
      "--inside",
      "eth1,eth2",
      "--domain",
      "tb.example.org",
    ]);
    expect([r.code, r.err]).toEqual([0, ""]);
    expect(r.out).toContain(`Made ${st} (mode 0700), with an empty store ${join(st, "fwc.db")}`);
    expect(r.out).toContain(`fwc check-config --state ${st}`);
    expect(statSync(st).mode & 0o777).toBe(0o700);
    expect(statSync(join(st, "testbed.yaml")).mode & 0o777).toBe(0o600);
    expect(existsSync(join(st, "fwc.db"))).toBe(true);
    const text = readFileSync(join(st, "testbed.yaml"), "utf8");
    expect(text).toContain("ipv4: 203.0.113.7");
    expect(text).toContain("inside: [eth1, eth2]");
    expect(text).toContain("name: gw.tb.example.org");
    // Every key a testbed.yaml takes is there, written or commented out, so that the operator sees them all.
    for (const key of ["domain", "gateway", "ports", "quarantine", "limits", "dedicated", "dns", "store", "catalog"])
      expect(text, key).toMatch(new RegExp(`^#? ?${key}:`, "m"));
    const c = run(["check-config", "--state", st]);
    expect([c.code, c.err]).toEqual([0, ""]);
    expect(c.out).toContain(`${join(st, "testbed.yaml")}: valid.`);
    expect(c.out).toContain("gateway  gw.tb.example.org 203.0.113.7, outside eth0, inside eth1, eth2");
    // The real compiler takes it: the bundled example compiles against it.
    const ex = join(root, "examples");
    const k = run([
      "compile",
      join(ex, "web-lab.ns"),
      "--exp",
      "p/e",
      "--testbed",
      join(st, "testbed.yaml"),
      "--nodes",
      join(ex, "web-lab.nodes.json"),
      "--emit",
      "nft",
    ]);
    expect([k.code, k.err]).toEqual([0, ""]);
    expect(k.out).toContain("203.0.113.7");
    // A store is there: status answers, with nothing swapped in.
    const s = run(["status", "--state", st, "--json"]);
    expect(s.err).not.toContain("holds no store");
  });

  it("never overwrites a testbed.yaml, nor writes through a link in its place", () => {
    const st = join(dir, "b");
    mkdirSync(st);
    writeFileSync(join(st, "testbed.yaml"), "domain: mine\n");
    const r = run(["init", "--state", st, ...gw]);
    expect(r.code).toBe(1);
    expect(r.err).toContain("error[FWC836]");
    expect(r.err).toContain("fwc init does not overwrite a testbed configuration");
    expect(readFileSync(join(st, "testbed.yaml"), "utf8")).toBe("domain: mine\n");
    const victim = join(dir, "victim");
    writeFileSync(victim, "precious\n");
    const st2 = join(dir, "c");
    mkdirSync(st2);
    symlinkSync(victim, join(st2, "testbed.yaml"));
    expect(run(["init", "--state", st2, ...gw]).code).toBe(1);
    expect(readFileSync(victim, "utf8")).toBe("precious\n");
    // A dangling link too: O_EXCL would not follow it, and init does not try.
    const st3 = join(dir, "d");
    mkdirSync(st3);
    symlinkSync(join(dir, "nowhere"), join(st3, "testbed.yaml"));
    expect(run(["init", "--state", st3, ...gw]).code).toBe(1);
    expect(existsSync(join(dir, "nowhere"))).toBe(false);
  });

  it("never opens a store that is there (it may be a running gateway's), even without its testbed.yaml", () => {
    const st = join(dir, "b2");
    mkdirSync(st);
    writeFileSync(join(st, "fwc.db"), "");
    const r = run(["init", "--state", st, ...gw]);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`${st} holds a store already`);
    expect(existsSync(join(st, "testbed.yaml"))).toBe(false);
    expect(readFileSync(join(st, "fwc.db"), "utf8")).toBe("");
  });

  it("a gateway it cannot ask is refused: nothing is made on a guess", () => {
    const st = join(dir, "b3");
    const r = run(["init", "--state", st, "--netns", `${lab.name("gw")}-none`]);
    expect(r.code).toBe(1);
    expect(r.err).toContain("cannot ask the gateway whether it has fwc's tables");
    expect(existsSync(st)).toBe(false);
  });

  it("options that make a configuration every command would refuse are refused, naming the option", () => {
    const st = join(dir, "b4");
    const same = run(["init", "--state", st, "--outside", "eth0", "--inside", "eth1,eth0", ...gw]);
    expect(same.code).toBe(1);
    expect(same.err).toContain("--inside: error[FWC601]: gateway.inside lists eth0, which is gateway.outside");
    // Words YAML reads as other types are written as strings.
    const odd = run([
      "init",
      "--state",
      st,
      "--outside",
      "true",
      "--inside",
      "0x1f",
      "--domain",
      "null.example",
      ...gw,
    ]);
    expect([odd.code, odd.err]).toEqual([0, ""]);
    const text = readFileSync(join(st, "testbed.yaml"), "utf8");
    expect(text).toContain('outside: "true"');
    expect(text).toContain('inside: ["0x1f"]');
  });

  it("bad options are named, with what is wrong; nothing is made", () => {
    const st = join(dir, "e");
    const r = run([
      "init",
      "--state",
      st,
      "--ipv4",
      "999.1.1.1",
      "--ports",
      "5-3",
      "--outside",
      "eth0\nports: 1-2",
      "--domain",
      "a.b\nports: 1-2",
      ...gw,
    ]);
    expect(r.code).toBe(1);
    expect(r.err).toContain("--ipv4: error[FWC601]: must be an IPv4 address");
    expect(r.err).toContain("--ports: error[FWC601]: must be low-high");
    // A newline in a value is a value, not a second key of the file.
    expect(r.err).toContain("--outside: error[FWC601]: must be a network interface name");
    expect(r.err).toMatch(/--domain: error\[FWC601\]/);
    // The gateway's name defaults to gw.<domain>: its problem is --domain's, not an option never given.
    expect(r.err).not.toContain("--gateway-name");
    expect(r.err).not.toMatch(/internal error|at .*\.js:/);
    expect(existsSync(st)).toBe(false);
  });
});

describe("fwc check-config", () => {
  const tb = (name: string, text: string) => {
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  };
  const base =
    "domain: testbed.example.net\ngateway:\n  name: gw.testbed.example.net\n  ipv4: 198.51.100.1\n  outside: eth0\n  inside: [eth1]\n  infrastructure: [10.0.0.0/24]\nports: 20000-29999\n";

  it("finds what a swapin or a DNS push would trip on later, at its line", () => {
    const same = tb("same.yaml", base.replace("inside: [eth1]", "inside: [eth1, eth0]"));
    const r = run(["check-config", "--testbed", same]);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`${same}:6:18: error[FWC601]: gateway.inside lists eth0, which is gateway.outside`);
    expect(r.out).not.toContain("valid");
    // swapin refuses it too: its ruleset would take the Internet's traffic for spoofed nodes'.
    expect(
      run([
        "swapin",
        join(root, "examples", "web-lab.ns"),
        "--exp",
        "p/e",
        "--testbed",
        same,
        "--nodes",
        join(root, "examples", "web-lab.nodes.json"),
        "--state",
        join(dir, "sw"),
        "--dry-run",
      ]).err,
    ).toContain("gateway.inside lists eth0, which is gateway.outside");
    const bad = tb(
      "bad.yaml",
      `${base.replace("inside: [eth1]", "inside: [eth1, eth1]")}dns:\n  zone: other.example.org\n  server: 192.0.2.53\n  key: /nonexistent/tsig.key\n`,
    );
    const b = run(["check-config", "--testbed", bad]);
    expect(b.code).toBe(1);
    expect(b.err).toContain(
      "error[FWC708]: dns.zone other.example.org does not contain the domain testbed.example.net",
    );
    expect(b.err).toContain("dns.key: cannot read /nonexistent/tsig.key: no such file or directory (ENOENT)");
    expect(b.err).toContain(`${bad}:6:18: warning[FWC606]: gateway.inside lists eth1 twice`);
    // A key that is a device is not read (it could be /dev/zero).
    const dev = run([
      "check-config",
      "--testbed",
      tb("dev.yaml", `${base}dns:\n  server: 192.0.2.53\n  key: /dev/zero\n`),
    ]);
    expect(dev.err).toContain("dns.key: cannot read /dev/zero: it is not a regular file");
    const none = run(["check-config", "--testbed", tb("noserver.yaml", `${base}dns:\n  ttl: 300\n`)]);
    expect(none.code).toBe(0);
    expect(none.err).toContain("note[FWC607]: dns: has no server");
    const typo = run(["check-config", "--testbed", tb("typo.yaml", base.replace("ports:", "prots:"))]);
    expect(typo.code).toBe(1);
    expect(typo.err).toContain("error[FWC602]: prots: unknown key");
  });

  it("hostile files: a device, and a YAML alias bomb, are diagnostics, not a hang or an internal error", () => {
    const zero = run(["check-config", "--testbed", "/dev/zero"]);
    expect(zero.code).toBe(1);
    expect(zero.err).toContain("more than fwc reads");
    const bomb = tb(
      "bomb.yaml",
      `a: &a ["x","x","x","x","x","x","x","x","x"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n`,
    );
    const r = run(["check-config", "--testbed", bomb]);
    expect(r.code).toBe(1);
    expect(r.err).toContain("error[FWC600]");
    expect(r.err).not.toContain("internal error");
  });

  it("checks node addresses files against the testbed: shared, gateway and infrastructure addresses", () => {
    const t = tb("ok.yaml", base);
    writeFileSync(join(dir, "good.json"), JSON.stringify({ a: { ipv4: "10.1.1.2" }, b: { ipv4: "10.1.1.3" } }));
    writeFileSync(
      join(dir, "bad.json"),
      JSON.stringify({
        a: { ipv4: "10.1.1.2" },
        b: { ipv4: "10.1.1.2" },
        gw: { ipv4: "198.51.100.1" },
        s: { ipv4: "10.0.0.5" },
      }),
    );
    writeFileSync(join(dir, "form.json"), '{"a": {"ipv4": "10.1.1.2", "mac": "02:00:00:00:00:01"}}');
    const r = run([
      "check-config",
      "--testbed",
      t,
      "--nodes",
      join(dir, "good.json"),
      join(dir, "bad.json"),
      join(dir, "form.json"),
    ]);
    expect(r.code).toBe(1);
    expect(r.out).toContain(`${join(dir, "good.json")}: valid, 2 nodes.`);
    expect(r.out).toContain("store    embedded, in each command's --state directory");
    expect(r.err).toContain("nodes a and b both have the address 10.1.1.2");
    expect(r.err).toContain("node gw's address 198.51.100.1 is the gateway's own address");
    expect(r.err).toContain("lies in the testbed's infrastructure 10.0.0.0/24");
    expect(r.err).toContain("mac needs port");
    const j = run(["check-config", "--testbed", t, "--nodes", join(dir, "bad.json"), "--format", "json"]);
    const doc = JSON.parse(j.out);
    expect(j.code).toBe(1);
    expect(doc.summary.errors).toBe(3);
    expect(doc.diagnostics.every((d: { code: string }) => d.code === "FWC711")).toBe(true);
  });

  it("a missing testbed.yaml says how to make one", () => {
    const r = run(["check-config", "--state", join(dir, "none")]);
    expect(r.code).toBe(1);
    expect(r.err).toContain("write one into the state directory with fwc init --state DIR");
  });
});

describe.skipIf(!canRunKernelTests())("fwc init on a real gateway", () => {
  const lab = new Lab("inig");
  afterAll(() => lab.destroy());

  it("refuses a gateway that has fwc's tables but no state (the state was lost), and writes nothing", () => {
    lab.addNamespace("gw");
    const st = join(dir, "g");
    // A fresh init, then reconcile: fwc's tables are on the gateway.
    expect(run(["init", "--state", st, "--netns", lab.name("gw")]).code).toBe(0);
    const r = run(["reconcile", "--state", st, "--netns", lab.name("gw")]);
    expect([r.code, r.err]).toEqual([0, ""]);
    expect(lab.exec("gw", ["nft", "list", "tables"])).toContain("table inet fwc");
    // status without --netns looks at this machine's own tables (read only): it finds none, and its help says
    // that the gateway may be a namespace rather than send the operator to write tables in the wrong place.
    writeFileSync(join(dir, "lone.ns"), "set ns [new Simulator]\nsource tb_compat.tcl\nset a [$ns node]\n$ns run\n");
    writeFileSync(join(dir, "lone.json"), '{"a":{"ipv4":"10.9.9.2"}}');
    const sw = run([
      "swapin",
      join(dir, "lone.ns"),
      "--exp",
      "p/lone",
      "--nodes",
      join(dir, "lone.json"),
      "--state",
      st,
      "--netns",
      lab.name("gw"),
    ]);
    expect(sw.code).toBe(0);
    const host = spawnSync("nft", ["list", "tables"], { encoding: "utf8" }).stdout;
    if (!host.includes("table inet fwc")) {
      const s = run(["status", "--state", st]);
      expect(s.code).toBe(1);
      expect(s.err).toContain("if its gateway is a network namespace, give --netns NAME instead");
    }
    // Another directory on the same gateway: the gateway's state is not there.
    const other = join(dir, "h");
    const o = run(["init", "--state", other, "--netns", lab.name("gw")]);
    expect(o.code).toBe(1);
    expect(o.err).toContain("the gateway already has fwc's tables, and");
    expect(existsSync(join(other, "testbed.yaml"))).toBe(false);
    expect(existsSync(join(other, "fwc.db"))).toBe(false);
  });
});
