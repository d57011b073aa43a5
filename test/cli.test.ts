/** The real `fwc` binary (built JavaScript): exit codes, formats and the inspect JSON contract. */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { emptyPolicy } from "./helpers.js";

const root = join(import.meta.dirname, "..");

const bin = join(root, "dist", "fwc.cjs");
let dir: string;

function fwc(args: string[], input?: string) {
  // Run as users do: the executable itself, so the V8 options of its #! line apply.
  const r = spawnSync(bin, args, { encoding: "utf8", input, timeout: 30_000, cwd: dir });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

beforeAll(() => {
  if (!existsSync(bin))
    throw new Error("dist/ is missing: run `npm run build` (npm test does it) before the CLI tests");
  dir = mkdtempSync(join(tmpdir(), "fwc-cli-"));
  writeFileSync(
    join(dir, "good.ns"),
    "set ns [new Simulator]\nsource tb_compat.tcl\nset a [$ns node]\nset b [$ns node]\nset l [$ns duplex-link $a $b 100Mb 0ms DropTail]\n$a frob\n$ns run\n",
  );
  writeFileSync(
    join(dir, "bad.ns"),
    "set ns [new Simulator]\nsource tb_compat.tcl\nset a [$ns node]\ntb-set-node-oss $a X\n$ns run\n",
  );
});

describe("fwc check", () => {
  it("exits 0 on a clean file (warnings allowed), 1 with --strict", () => {
    const r = fwc(["check", "good.ns"]);
    expect(r.code).toBe(0);
    expect(r.out).toContain("good.ns:6:4: warning[FWC300]");
    expect(r.err).toBe("0 errors, 1 warning in 1 file\n");
    expect(fwc(["check", "--strict", "good.ns"]).code).toBe(1);
  });

  it("exits 1 on errors and prints file:line:col, a code frame and help", () => {
    const r = fwc(["check", "bad.ns", "--color", "never"]);
    expect(r.code).toBe(1);
    expect(r.out).toBe(
      [
        'bad.ns:4:1: error[FWC200]: invalid command name "tb-set-node-oss"',
        "  |",
        "4 | tb-set-node-oss $a X",
        "  | ^^^^^^^^^^^^^^^",
        "  = help: did you mean `tb-set-node-os`, `tb-set-node-id`, `tb-set-node-rpms`?",
        "",
      ].join("\n"),
    );
  });

  it("exits 2 on usage errors", () => {
    expect(fwc(["check"]).code).toBe(2);
    expect(fwc(["check", "--format", "xml", "good.ns"]).code).toBe(2);
    expect(fwc(["bogus"]).code).toBe(2);
  });

  it("reports a missing file as a diagnostic, not a stack trace", () => {
    const r = fwc(["check", "nope.ns"]);
    expect(r.code).toBe(1);
    // No text to point at: no line, no column, no code frame.
    expect(r.out).toContain("nope.ns: error[FWC100]: cannot read nope.ns: no such file");
    expect(r.out).not.toContain(" | ");
    expect(r.out + r.err).not.toMatch(/at .*\.js:\d+/);
  });

  it("checks several files in one run and reads standard input as -", () => {
    const r = fwc(["check", "good.ns", "bad.ns", "-"], "set x [\n");
    expect(r.code).toBe(1);
    expect(r.err).toBe("2 errors, 1 warning in 3 files\n");
    expect(r.out).toContain("-:1:7: error[FWC103]");
  });

  it("--format json lists every diagnostic with positions", () => {
    const r = fwc(["check", "--format", "json", "bad.ns"]);
    const doc = JSON.parse(r.out);
    expect(doc.summary).toEqual({ errors: 1, warnings: 0, notShown: 0 });
    expect(doc.diagnostics[0]).toMatchObject({
      code: "FWC200",
      severity: "error",
      file: "bad.ns",
      line: 4,
      column: 1,
      endLine: 4,
      endColumn: 16,
    });
  });

  it("--format sarif is SARIF 2.1.0 with rules and regions", () => {
    const r = fwc(["check", "--format", "sarif", "bad.ns", "good.ns"]);
    const log = JSON.parse(r.out);
    expect(log.version).toBe("2.1.0");
    const run = log.runs[0];
    expect(run.tool.driver.name).toBe("fwc");
    expect(run.tool.driver.rules.map((x: { id: string }) => x.id)).toEqual(["FWC200", "FWC300"]);
    expect(run.results[0]).toMatchObject({
      ruleId: "FWC200",
      level: "error",
      locations: [
        {
          physicalLocation: {
            artifactLocation: { uri: "bad.ns" },
            region: { startLine: 4, startColumn: 1, endColumn: 16 },
          },
        },
      ],
    });
    // Each rule links to its section of docs/diagnostics.md: the copy beside this fwc, as a file: URL ...
    const docs = join(root, "docs", "diagnostics.md");
    const rule = run.tool.driver.rules[0];
    expect(rule.helpUri).toBe(`${pathToFileURL(docs).href}#fwc200`);
    expect(readFileSync(docs, "utf8")).toContain('<a id="fwc200"></a>FWC200');
    expect(rule.help.text).toContain("fwc explain FWC200");
    // ... or where FWC_DOCS_URL says (a web page for code scanning); a value that is no URL is a usage error.
    const env = (v: string) =>
      spawnSync(bin, ["check", "--format", "sarif", "bad.ns"], {
        encoding: "utf8",
        cwd: dir,
        env: { ...process.env, FWC_DOCS_URL: v },
      });
    const web = JSON.parse(env("https://fwc.example.org/docs/diagnostics.md").stdout);
    expect(web.runs[0].tool.driver.rules[0].helpUri).toBe("https://fwc.example.org/docs/diagnostics.md#fwc200");
    for (const bad of ["docs/diagnostics.md", "javascript:alert(1)", "https://x.example/d.md#top"]) {
      const b = env(bad);
      expect([b.status, b.stdout], bad).toEqual([2, ""]);
      expect(b.stderr).toContain("FWC_DOCS_URL must be the absolute http(s) or file URL");
    }
  });
});

describe("fwc check on deep recursion", () => {
  it("follows Tcl's nesting of 1,000 levels (the binary runs with a larger stack)", () => {
    writeFileSync(
      join(dir, "deep.ns"),
      "proc f {n} { if {$n > 0} { f [expr {$n - 1}] } }\nf 950\nset ns [new Simulator]\nsource tb_compat.tcl\n$ns run\n",
    );
    expect(fwc(["check", "deep.ns"])).toMatchObject({ code: 0 });
    writeFileSync(join(dir, "deeper.ns"), "proc f {n} { f [expr {$n + 1}] }\nf 0\n");
    const r = fwc(["check", "deeper.ns"]);
    expect(r.code).toBe(1);
    expect(r.out).toContain("error[FWC207]: nesting deeper than 1000 levels");
  });
});

describe("fwc check on many errors", () => {
  it("caps the report per file and says how many were left out; a closed pipe is not an error", () => {
    const lines = Array.from({ length: 300 }, (_, i) => `tb-bogus-${i} x`).join("\n");
    writeFileSync(join(dir, "many.ns"), `set ns [new Simulator]\nsource tb_compat.tcl\n${lines}\n$ns run\n`);
    const r = fwc(["check", "many.ns"]);
    expect(r.code).toBe(1);
    expect(r.err).toBe("300 errors, 0 warnings in 1 file (100 more not shown: at most 200 are reported per file)\n");
    const piped = spawnSync("bash", ["-c", `"${process.execPath}" "${bin}" check many.ns | head -c 10`], {
      cwd: dir,
      encoding: "utf8",
    });
    expect(piped.stdout).toBe("many.ns:3:");
    expect(piped.stderr).not.toMatch(/EPIPE|at .*\.js/);
  });
});

describe("fwc compile --emit ir", () => {
  it("prints the AccessPolicy, valid against its schema", async () => {
    const { AccessPolicy } = await import("../src/access/policy.js");
    writeFileSync(
      join(dir, "cxa.ns"),
      'set ns [new Simulator]\nsource tb_compat.tcl\nset web [$ns node]\ntb-allow-external $web shared nat "128.32.112.228/80" rdr "22"\n$ns run\n',
    );
    const r = fwc(["compile", "cxa.ns", "--emit", "ir"]);
    expect(r.code).toBe(0);
    const policy = AccessPolicy.parse(JSON.parse(r.out));
    expect(policy.outbound).toMatchObject([{ host: "128.32.112.228/32", proto: "tcp", port: 80 }]);
    expect(policy.inbound).toMatchObject([{ node: "web", proto: "tcp", port: 22 }]);
  });

  it("writes nothing and exits 1 when the file has errors", () => {
    writeFileSync(
      join(dir, "cxa-bad.ns"),
      'set ns [new Simulator]\nsource tb_compat.tcl\nset web [$ns node]\ntb-allow-external $web shared rdr "22/icmp"\n$ns run\n',
    );
    const r = fwc(["compile", "cxa-bad.ns", "--emit", "ir"]);
    expect(r.code).toBe(1);
    expect(r.out).toBe("");
    expect(r.err).toContain("cxa-bad.ns:4:39: error[FWC513]");
  });
});

describe("fwc compile --emit endpoints|table", () => {
  const examples = join(root, "examples");
  const args = [
    "--exp",
    "demo/weblab",
    "--testbed",
    join(examples, "testbed.yaml"),
    "--nodes",
    join(examples, "web-lab.nodes.json"),
  ];

  it("lists the example's endpoints as JSON and as a table", () => {
    const json = fwc(["compile", join(examples, "web-lab.ns"), "--emit", "endpoints", ...args]);
    expect(json.code).toBe(0);
    const doc = JSON.parse(json.out);
    expect(doc.experiment).toBe("demo/weblab");
    expect(
      doc.inbound.map(
        (e: { external: { port: number }; node: string; port: number }) => `${e.external.port}->${e.node}:${e.port}`,
      ),
    ).toEqual(["20000->web:22", "20001->web:80"]);
    const table = fwc(["compile", join(examples, "web-lab.ns"), ...args]);
    expect(table.out).toContain("198.51.100.1:20001/tcp -> web:80");
  });

  it.each([
    ["nft", "web-lab.nft", "table inet fwc {", []],
    ["nft-json", "web-lab.json", '{"nftables":[', ["-j"]],
  ])("--emit %s writes a ruleset the real nft accepts", (emit, name, start, flags) => {
    const r = fwc(["compile", join(examples, "web-lab.ns"), "--emit", emit, ...args]);
    expect(r.code).toBe(0);
    expect(r.out).toContain(start);
    writeFileSync(join(dir, name), r.out);
    const ns = `fwccli${process.pid}`;
    const check = spawnSync(
      "bash",
      [
        "-c",
        `ip netns add ${ns} && ip netns exec ${ns} nft ${flags.join(" ")} -c -f ${name}; s=$?; ip netns del ${ns}; exit $s`,
      ],
      { cwd: dir, encoding: "utf8" },
    );
    if (process.getuid?.() === 0) expect([check.status, check.stderr]).toEqual([0, ""]);
  });

  it("--emit svg draws the exposure diagram, with the blocklist of --state DIR", () => {
    const env = { ...process.env, SOURCE_DATE_EPOCH: "1795305600" }; // 2026-11-22
    const run = (more: string[]) =>
      spawnSync(bin, ["compile", join(examples, "web-lab.ns"), "--emit", "svg", ...args, ...more], {
        encoding: "utf8",
        cwd: dir,
        env,
      });
    const r = run([]);
    expect([r.status, r.stderr]).toEqual([0, ""]);
    expect(r.stdout).toMatch(/^<\?xml [\s\S]*<svg [\s\S]*<\/svg>\n$/);
    for (const text of ["Exposure of demo/weblab", "at 2026&#45;11&#45;22 00:00Z", "198.51.100.1:20000", ">web<"])
      expect(r.stdout).toContain(text);
    expect(r.stdout).toContain("128.32.112.228");
    expect(r.stdout).not.toMatch(/<script|href=|<!DOCTYPE/);
    // The operator's blocklist, read from the state directory (here one of the old layout).
    const state = join(dir, "svg-state");
    mkdirSync(state, { recursive: true });
    const entry = {
      cidr: "203.0.113.0/24",
      reason: "scanning <us> & others",
      by: "cli:ops",
      at: "2026-11-20T09:30:00Z",
    };
    writeFileSync(join(state, "blocks.json"), JSON.stringify({ version: 1, entries: [entry] }));
    const blocked = run(["--state", state, "-o", "exposure.svg"]);
    expect([blocked.status, blocked.stdout, blocked.stderr]).toEqual([0, "", ""]);
    const svg = readFileSync(join(dir, "exposure.svg"), "utf8");
    expect(svg).toContain("203.0.113.0/24");
    expect(svg).toContain("scanning &lt;us&gt; &amp; others");
    // Graphviz is not in the command line's bundle: only `--emit svg` loads it.
    expect(readFileSync(join(root, "dist", "fwc-main.cjs"), "utf8")).not.toMatch(/viz-js|graphviz/i);
  });

  it("--emit dns, zone and nsupdate follow the state directory of --state DIR", () => {
    const ns = join(examples, "web-lab.ns");
    const env = { SOURCE_DATE_EPOCH: "1795305600" }; // 2026-11-22
    const run = (emit: string, state?: string) =>
      spawnSync(bin, ["compile", ns, "--emit", emit, ...args, ...(state ? ["--state", state] : [])], {
        encoding: "utf8",
        cwd: dir,
        env: { ...process.env, ...env },
      });
    const cname = "web.weblab.demo.testbed.example.net. 300 IN CNAME gw.testbed.example.net.";
    expect(run("dns").stdout).toContain(cname);
    expect(run("zone").stdout).toMatch(
      / IN SOA gw\.testbed\.example\.net\. hostmaster\.testbed\.example\.net\. 2026112200 /,
    );
    expect(run("nsupdate").stdout).toContain(
      `prereq nxrrset web.weblab.demo.testbed.example.net. IN CNAME\nupdate add ${cname}`,
    );

    // Deployed (the deploy commands' state directory): an older record for web, yesterday's zone serial.
    const state = join(dir, "state");
    mkdirSync(join(state, "experiments", "demo"), { recursive: true });
    const deployed = { name: "web.weblab.demo.testbed.example.net.", type: "A", target: "198.51.100.130", ttl: 300 };
    const policy = emptyPolicy();
    const experiment = {
      version: 1,
      experiment: "demo/weblab",
      file: "x.ns",
      policy,
      dynamic: { outbound: [], inbound: [], open6: [], dns: [] },
      nodes: {},
      allocations: { ports: [], dedicated: [] },
      applied: { elements: {}, records: [deployed] },
      updated: "2026-11-21T00:00:00Z",
    };
    writeFileSync(join(state, "experiments", "demo", "weblab.json"), JSON.stringify(experiment));
    const index = (zone: object) =>
      writeFileSync(
        join(state, "index.json"),
        JSON.stringify({ version: 1, base: null, ports: [], dedicated: {}, released: [], zone }),
      );
    index({ name: "testbed.example.net.", serial: 2026112105, digest: "old" });
    expect(
      run("nsupdate", state)
        .stdout.split("\n")
        .filter((l) => /^(prereq|update)/.test(l)),
    ).toEqual([
      "prereq yxrrset web.weblab.demo.testbed.example.net. IN A 198.51.100.130",
      "prereq nxrrset web.weblab.demo.testbed.example.net. IN CNAME",
      "update delete web.weblab.demo.testbed.example.net. IN A",
      `update add ${cname}`,
    ]);
    const zone = run("zone", state).stdout;
    expect(zone).toContain(" 2026112200 ");
    index({ name: "testbed.example.net.", serial: 2026112207, digest: "old" });
    expect(run("zone", state).stdout).toContain(" 2026112208 ");

    // A state file that is not one: the file and what is wrong with it, and nothing written.
    writeFileSync(join(state, "experiments", "demo", "weblab.json"), JSON.stringify({ ...experiment, version: 2 }));
    const bad = run("zone", state);
    expect(bad.status).toBe(1);
    expect(bad.stdout).toBe("");
    expect(bad.stderr).toMatch(/error\[FWC802\]: \S+\/experiments\/demo\/weblab\.json: version: /);
  });

  it("needs the testbed inputs (usage error) and reports configuration problems with positions", () => {
    expect(fwc(["compile", join(examples, "web-lab.ns"), "--emit", "endpoints"]).code).toBe(2);
    writeFileSync(
      join(dir, "tb.yaml"),
      "domain: testbed.example.net\ngateway:\n  name: gw.example.net\n  ipv4: 1.2.3\n  outside: eth0\n  inside: [eth1]\nports: 20000-29999\n",
    );
    const r = fwc([
      "compile",
      join(examples, "web-lab.ns"),
      "--exp",
      "demo/weblab",
      "--testbed",
      "tb.yaml",
      "--nodes",
      join(examples, "web-lab.nodes.json"),
    ]);
    expect(r.code).toBe(1);
    expect(r.out).toBe("");
    expect(r.err).toContain("tb.yaml:4:9: error[FWC601]: gateway.ipv4: must be an IPv4 address");
  });
});

describe("fwc inspect --json", () => {
  it("prints nodes, lans, links and external calls", () => {
    const r = fwc(["inspect", "good.ns", "--json"]);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.out);
    expect(doc.nodes.map((n: { name: string }) => n.name)).toEqual(["a", "b"]);
    expect(doc.links).toMatchObject([{ name: "l", endpoints: ["a", "b"], bandwidthKbps: 100000, delayMs: 0 }]);
    expect(doc.lans).toEqual([]);
    expect(doc.external).toEqual([]);
  });

  it("exits 1 and still prints JSON with the diagnostics when the file has errors", () => {
    const r = fwc(["inspect", "bad.ns", "--json"]);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.out).diagnostics[0].code).toBe("FWC200");
  });
});

describe("rough edges a new user meets (issue 15)", () => {
  const dir = mkdtempSync(join(tmpdir(), "fwc-ux-"));
  const run = (args: string[], input?: string) => {
    const r = spawnSync(bin, args, { encoding: "utf8", input, cwd: dir, timeout: 30_000 });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };
  const exampleArgs = ["--testbed", join(root, "examples", "testbed.yaml")];

  it("control characters in an option's value, a message or a file name never reach the terminal raw", () => {
    const u = run(["status", "--exp", "p/f\u001b[31m"]);
    expect(u.code).toBe(2);
    expect(u.err).toContain("p/f\u241b[31m");
    expect(u.err).not.toContain("\u001b");
    const name = "e\u001b]0;owned\u0007.ns";
    writeFileSync(join(dir, name), "x\n");
    const c = run(["check", name]);
    expect(c.code).toBe(1);
    expect(c.out).toContain("e\u241b]0;owned\u2407.ns:1:1: error[FWC200]");
    expect(c.out + c.err).not.toMatch(/[\u0007\u001b]/);
  });

  it("control characters of a file are shown as pictures in the code frame, never sent to the terminal", () => {
    writeFileSync(
      join(dir, "ctl.ns"),
      "set ns [new Simulator]\nsource tb_compat.tcl\nset a [$ns node]\ntb-set-node-oss $a \u001b[31mRED\u0007\n$ns run\n",
    );
    const r = run(["check", "ctl.ns"]);
    expect(r.out).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f]/);
    expect(r.out).toContain("␛[31mRED␇");
  });

  it("the help line stands under the frame's bar, also with two-digit line numbers", () => {
    writeFileSync(join(dir, "ten.ns"), `${"\n".repeat(9)}set x [\n`);
    const lines = run(["check", "ten.ns"]).out.split("\n");
    const bar = lines.find((l) => l.startsWith("10 |"))!.indexOf("|");
    const help = lines.find((l) => l.includes("= help"))!;
    expect(help.indexOf("=")).toBe(bar);
  });

  it("an empty or missing testbed.yaml says what to do", () => {
    writeFileSync(join(dir, "empty.yaml"), "");
    writeFileSync(join(dir, "one.ns"), "set ns [new Simulator]\nsource tb_compat.tcl\nset a [$ns node]\n$ns run\n");
    writeFileSync(join(dir, "one.json"), '{"a":{"ipv4":"10.1.1.2"}}');
    const e = run(["compile", "one.ns", "--exp", "p/e", "--testbed", "empty.yaml", "--nodes", "one.json"]);
    expect(e.code).toBe(1);
    expect(e.err).toContain("empty.yaml: error[FWC603]: empty.yaml is empty");
    expect(e.err).toContain("fwc init --state DIR writes a commented one");
    expect(e.err).not.toContain("undefined");
    const m = run(["swapout", "--exp", "p/e", "--state", join(dir, "st")]);
    expect(m.code).toBe(1);
    expect(m.err).toContain("testbed.yaml: error[FWC100]");
    expect(m.err).toContain("--testbed FILE, or write one into the state directory with fwc init --state DIR");
  });

  it("gateway ports follow the order the targets are written", () => {
    writeFileSync(
      join(dir, "ord.ns"),
      'set ns [new Simulator]\nsource tb_compat.tcl\nset web [$ns node]\ntb-allow-external $web shared rdr "8080 9 100 22"\n$ns run\n',
    );
    writeFileSync(join(dir, "ord.json"), '{"web":{"ipv4":"10.1.1.4"}}');
    const r = run(["compile", "ord.ns", "--exp", "p/e", ...exampleArgs, "--nodes", "ord.json"]);
    expect(r.out.match(/:2000\d\/tcp -> web:\d+/g)).toEqual([
      ":20000/tcp -> web:8080",
      ":20001/tcp -> web:9",
      ":20002/tcp -> web:100",
      ":20003/tcp -> web:22",
    ]);
  });

  it("swapout says what it released, in text and JSON; a second one says there is nothing to swap out", () => {
    const st = join(dir, "so");
    const args = ["--exp", "p/e", "--state", st, ...exampleArgs];
    expect(run(["swapin", "ord.ns", ...args, "--nodes", "ord.json", "--dry-run"]).code).toBe(0);
    // A dry run changes nothing: swap in for real in a state of its own, off any gateway, is not possible here,
    // so the dry-run swapout of an experiment never swapped in shows the second case.
    const again = run(["swapout", ...args]);
    expect(again.code).toBe(1);
    expect(again.err).toContain("there is nothing to swap out");
    expect(again.err).not.toContain("fwc swapin FILE");
    // The problem is the experiment's, in no file: the summary does not count the files that were read.
    expect(again.err).toMatch(/\n1 error, 0 warnings\n$/);
  });

  it("dry-run headers, plurals and help texts read as English", () => {
    const st = join(dir, "dr");
    const dryRun = [
      "swapin",
      "ord.ns",
      "--exp",
      "p/e",
      "--state",
      st,
      ...exampleArgs,
      "--nodes",
      "ord.json",
      "--dry-run",
    ];
    const r = run(dryRun);
    expect(r.out).toContain("# fwc: swapin p/e (dry run).");
    // The preview comes first: one line per endpoint, in the order of the gateway ports.
    expect(r.out.slice(0, r.out.indexOf("# fwc:"))).toBe(
      [
        "Preview of swapin p/e (dry run): 6 to add, 0 to remove",
        "+ 198.51.100.1:20000/tcp -> web:8080",
        "+ 198.51.100.1:20001/tcp -> web:9",
        "+ 198.51.100.1:20002/tcp -> web:100",
        "+ 198.51.100.1:20003/tcp -> web:22",
        "+ dns web.e.p.testbed.example.net. CNAME gw.testbed.example.net.",
        "+ node web 10.1.1.4",
        "",
        "",
      ].join("\n"),
    );
    // With --json, one document: the preview's lines, the transaction and the DNS update.
    const j = run([...dryRun, "--json"]);
    expect(j.code).toBe(0);
    const doc = JSON.parse(j.out);
    expect(doc).toMatchObject({
      dryRun: true,
      changes: [{ command: "swapin", experiment: "p/e", endpoints: { remove: [] } }],
    });
    expect(doc.changes[0].endpoints.add[0]).toBe("198.51.100.1:20000/tcp -> web:8080");
    expect(doc.changes[0].nft).toContain("# fwc: swapin p/e (dry run).");
    expect(run(["status", "--help"]).out).not.toContain("--dry-run");
    expect(run(["swapin", "--help"]).out).toContain("the experiment (required)");
    writeFileSync(
      join(dir, "port.ns"),
      'set ns [new Simulator]\nsource tb_compat.tcl\nset a [$ns node]\ntb-allow-external $a shared rdr "70000"\n$ns run\n',
    );
    const p = run(["check", "port.ns"]);
    expect(p.out).toContain("a port is 1 to 65535");
  });
});

describe("the second round of issue 15's rough edges", () => {
  const dir = mkdtempSync(join(tmpdir(), "fwc-ux2-"));
  const run = (args: string[], input?: string) => {
    const r = spawnSync(bin, args, { encoding: "utf8", input, cwd: dir, timeout: 30_000 });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };
  const tb = join(root, "examples", "testbed.yaml");

  it("fwc explain gives a code's explanation, its severity and where to read more", () => {
    const r = run(["explain", "fwc515"]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^FWC515: unknown node\n/);
    expect(r.out).toContain("Severity: an error");
    expect(r.out).toContain("docs/diagnostics.md#fwc515");
    expect(run(["explain", "318"]).out).toContain("Severity: a note");
    const bad = run(["explain", "FWC9999"]);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('no diagnostic code "FWC9999"');
  });

  it("check - --stdin-filename NAME reports standard input under NAME, in text, JSON and SARIF", () => {
    const text = run(["check", "-", "--stdin-filename", "exp/web.ns"], "set x [\n");
    expect(text.out).toContain("exp/web.ns:1:7: error[FWC103]");
    const json = JSON.parse(run(["check", "-", "--stdin-filename", "exp/web.ns", "--format", "json"], "set x [\n").out);
    expect(json.files).toEqual(["exp/web.ns"]);
    expect(json.diagnostics[0].file).toBe("exp/web.ns");
    const sarif = JSON.parse(
      run(["check", "-", "--stdin-filename", "exp/web.ns", "--format", "sarif"], "set x [\n").out,
    );
    expect(sarif.runs[0].results[0].locations[0].physicalLocation.artifactLocation.uri).toBe("exp/web.ns");
  });

  it("compile of a file alone gives its access policy; --state that does not exist is an error", () => {
    const r = run(["compile", join(root, "examples", "web-lab.ns")]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out).nodes).toContain("web");
    const s = run([
      "compile",
      join(root, "examples", "web-lab.ns"),
      "--exp",
      "p/e",
      "--testbed",
      tb,
      "--nodes",
      join(root, "examples", "web-lab.nodes.json"),
      "--state",
      join(dir, "nonexistent"),
    ]);
    expect(s.code).toBe(1);
    expect(s.err).toContain("error[FWC802]: the state directory");
    expect(s.err).toContain("does not exist");
  });

  it("a misspelled node in the node addresses file is pointed out", () => {
    writeFileSync(
      join(dir, "typo.ns"),
      'set ns [new Simulator]\nsource tb_compat.tcl\nset othernode [$ns node]\ntb-allow-external $othernode shared rdr "22"\n$ns run\n',
    );
    writeFileSync(join(dir, "typo.json"), '{"othernod":{"ipv4":"10.1.1.4"}}');
    const r = run(["compile", "typo.ns", "--exp", "p/e", "--testbed", tb, "--nodes", "typo.json"]);
    expect(r.code).toBe(1);
    expect(r.err).toContain("the node addresses file has `othernod`, which is no node of the experiment");
  });
});

describe("the endpoint table (issue 15)", () => {
  const dir = mkdtempSync(join(tmpdir(), "fwc-table-"));
  const args = [
    "--exp",
    "p/e",
    "--testbed",
    join(root, "examples", "testbed.yaml"),
    "--nodes",
    join(root, "examples", "web-lab.nodes.json"),
  ];
  const run = (extra: string[], env: Record<string, string> = {}) => {
    const r = spawnSync(bin, ["compile", join(root, "examples", "web-lab.ns"), ...args, ...extra], {
      encoding: "utf8",
      cwd: dir,
      timeout: 30_000,
      env: { ...process.env, ...env },
    });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };

  it("rows are in gateway-port order, with where each grant comes from and how to reach ssh and the web", () => {
    const r = run([]);
    expect(r.code).toBe(0);
    const rows = r.out.split("\n").filter((l) => l.includes(" -> "));
    const ext = rows.map((l) => Number(/:(\d+)\/tcp ->/.exec(l)![1]));
    expect(ext).toEqual([...ext].sort((a, b) => a - b));
    const ssh = rows.find((l) => l.includes("-> web:22"))!;
    expect(ssh).toContain("(examples/web-lab.ns:27)".replace("examples/", `${join(root, "examples")}/`));
    expect(ssh).toMatch(/ssh -p \d+ USER@gw\.testbed\.example\.net/);
    expect(rows.find((l) => l.includes("-> web:80"))).toMatch(/http:\/\/gw\.testbed\.example\.net:\d+\//);
  });

  it("colour only on request or a terminal, never with NO_COLOR or into a pipe", () => {
    expect(run([]).out).not.toContain("\u001b[");
    expect(run(["--color", "always"]).out).toContain("\u001b[1mInbound");
    expect(run(["--color", "auto"], { NO_COLOR: "1" }).out).not.toContain("\u001b[");
  });
});

describe("the README's first command", () => {
  it("runs the main job on the bundled example: check, then the table, the ruleset and the zone", () => {
    const readme = readFileSync(join(root, "README.md"), "utf8");
    const line = readme.split("\n").find((l) => l.startsWith("npm ci && npm run build && "))!;
    // npm ci and the build are what the test run itself has done; the rest runs as written, from the repository.
    const job = line.slice("npm ci && npm run build && ".length);
    const r = spawnSync("bash", ["-c", job], { cwd: root, encoding: "utf8", timeout: 60_000 });
    expect([r.status, r.stderr]).toEqual([0, "0 errors, 0 warnings in 1 file\n"]);
    expect(r.stdout).toContain("Inbound: connect to the gateway address and port on the left");
    expect(r.stdout).toContain("table inet fwc {");
    expect(r.stdout).toContain("$ORIGIN testbed.example.net.");
  });
});
