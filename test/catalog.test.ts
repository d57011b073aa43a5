/**
 * The testbed catalog: with it, hardware types, OS images, storage classes and services are checked as Emulab
 * checks them against its database; without it, a note says what was not checked. The front end directly, then
 * the real binary (`fwc check --catalog`, `--testbed`, `compile`, `swapin`).
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DiagnosticBag } from "../src/diagnostics/diagnostic.js";
import { SourceFile } from "../src/diagnostics/source.js";
import { type Catalog, evaluateNs } from "../src/ns/index.js";
import { ns } from "./helpers.js";

const root = join(import.meta.dirname, "..");
const bin = join(root, "dist", "fwc.cjs");
const examples = join(root, "examples");

const CATALOG: Catalog = {
  from: "catalog.yaml",
  hardware: new Set(["pc3000", "d430", "pc"]),
  os: new Set(["UBUNTU22-64-STD", "FBSD83-STD", "emulab-ops/CENTOS8"]),
  storageClasses: new Set(["local", "SAN"]),
  services: new Set(["rc.progagent", "rc.linkdelay:boot:every"]),
};

function diags(body: string, catalog?: Catalog, noteUnchecked = true) {
  const bag = new DiagnosticBag();
  evaluateNs(new SourceFile("t.ns", ns(`set a [$ns node]\nset b [$ns node]\n${body}`)), undefined, bag, {
    noteUnchecked,
    ...(catalog !== undefined ? { catalog } : {}),
  });
  return bag.sorted().map((d) => ({ code: d.code, severity: d.severity, message: d.message, help: d.help }));
}

describe("the catalog in the front end", () => {
  it("what the catalog lists passes, with versions, URLs, parents and the file's own virtual types", () => {
    const ok = [
      "tb-set-hardware $a pc3000",
      "tb-set-hardware $b pc",
      "tb-set-node-os $a UBUNTU22-64-STD",
      "tb-set-node-os $b UBUNTU22-64-STD:3",
      "tb-set-node-os $b emulab-ops/CENTOS8",
      "tb-set-node-os $a https://images.example.net/my.ndz",
      "tb-set-node-os $a FBSD83-STD UBUNTU22-64-STD",
      "tb-set-node-loadlist $a UBUNTU22-64-STD,FBSD83-STD",
      "tb-make-soft-vtype slow {pc3000 d430}",
      "tb-set-hardware $a slow",
      "set bs [$ns blockstore]",
      "$bs set-class SAN",
      "tb-set-node-service rc.progagent -node a -enable 0",
      "tb-add-node-service-hook rc.linkdelay -script /proj/p/hook.sh",
    ];
    expect(diags(ok.join("\n"), CATALOG).filter((d) => d.code !== "FWC300")).toEqual([]);
  });

  it("what it does not list is Emulab's error, with a suggestion", () => {
    const bad: [string, string, string][] = [
      ["tb-set-hardware $a pc3001", "Invalid hardware type pc3001", "pc3000"],
      ["tb-set-node-os $a UBUNTU22-64-STDX", "Invalid osid UBUNTU22-64-STDX", "UBUNTU22-64-STD"],
      ["tb-set-node-os $a UBUNTU22-64-STD FBSD84", "Invalid osid FBSD84", "FBSD83-STD"],
      ["tb-set-node-os $a CENTOS8", "Invalid osid CENTOS8", "emulab-ops/CENTOS8"],
      ["tb-set-node-os $a FBSD-STD", "FBSD-STD is no longer supported", "catalog"],
      ["tb-set-node-loadlist $a UBUNTU22-64-STD,NOPE", "Invalid osid NOPE", "lists"],
      ["set bs [$ns blockstore]\n$bs set-class remote", "Invalid storage class remote", "local, SAN"],
      ["tb-add-node-service-hook rc.nope -script /proj/p/x.sh", "Invalid service rc.nope", "rc.progagent"],
      ["tb-add-node-service-hook rc.linkdelay -env load -script /proj/p/x.sh", "Invalid service rc.linkdelay", ""],
      ["tb-make-soft-vtype slow {pc3000}\ntb-set-hardware $a slower", "Invalid hardware type slower", "slow"],
    ];
    for (const [body, message, help] of bad) {
      const d = diags(body, CATALOG).filter((x) => x.code !== "FWC300");
      expect(
        d.map((x) => x.code),
        body,
      ).toEqual(["FWC317"]);
      expect(d[0]!.message, body).toContain(message);
      expect(d[0]!.help, body).toContain(help);
    }
  });

  it("without a catalog, one note per kind lists what was not checked, and nothing fails", () => {
    const d = diags(
      "tb-set-hardware $a pc3000\ntb-set-hardware $b d430\ntb-set-node-os $a X\nset bs [$ns blockstore]\n$bs set-class local\ntb-add-node-service-hook rc.x -script /proj/p/x",
    );
    const notes = d.filter((x) => x.code === "FWC318");
    expect(notes.map((x) => x.severity)).toEqual(["note", "note", "note", "note"]);
    expect(notes.map((x) => x.message)).toEqual([
      "hardware types not checked: pc3000, d430 (there is no testbed catalog)",
      "OS images not checked: X (there is no testbed catalog)",
      "storage classes not checked: local (there is no testbed catalog)",
      "services not checked: rc.x (there is no testbed catalog)",
    ]);
    expect(d.filter((x) => x.severity === "error")).toEqual([]);
    // A catalog without one of the lists says so; compile and swapin (no noteUnchecked) say nothing.
    const partial = diags("tb-set-node-os $a X", { from: "c.yaml", hardware: new Set(["pc"]) });
    expect(partial.map((x) => x.message)).toEqual(["OS images not checked: X (the catalog (c.yaml) has no os list)"]);
    expect(diags("tb-set-node-os $a X", undefined, false)).toEqual([]);
  });

  it("services are checked as Emulab checks them, catalog or not", () => {
    const bad: [string, string][] = [
      ["tb-add-node-service-hook rc.progagent", "you must define either a script or a scriptblob"],
      ["tb-set-node-service rc.progagent -script /proj/a -scriptblob 3", "cannot define both"],
      ["tb-add-node-service-hook rc.progagent -script http://x/y", "cannot be a URL"],
      ["tb-add-node-service-hook rc.progagent -script /tmp/y", "is not in an allowed directory"],
      ["tb-add-node-service-hook rc.progagent -bogus 1", "bad option '-bogus'"],
      // A name every JavaScript object has is no option either.
      ["tb-add-node-service-hook rc.progagent toString 1 -script /proj/p/x", "bad option 'toString'"],
      [
        "tb-set-node-service rc.progagent -node a -enable 0\ntb-set-node-service rc.progagent -node a -enable 1",
        "has already been controlled once for node a",
      ],
    ];
    for (const [body, message] of bad) {
      const d = diags(body).filter((x) => x.severity === "error");
      expect(
        d.map((x) => x.code),
        body,
      ).toEqual(["FWC312"]);
      expect(d[0]!.message, body).toContain(message);
    }
  });

  it("a swap-in's file sees its own project and experiment in GLOBALS", () => {
    const bag = new DiagnosticBag();
    const r = evaluateNs(
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Tcl's ${name}, not a template
      new SourceFile("t.ns", ns('puts "${GLOBALS::pid} ${GLOBALS::gid} ${GLOBALS::eid}"\nset a [$ns node]')),
      undefined,
      bag,
      { experiment: "proj/web" },
    );
    expect(r.output).toEqual(["proj proj web\n"]);
  });
});

describe("the catalog from the command line", () => {
  const dir = mkdtempSync(join(tmpdir(), "fwc-catalog-"));
  const run = (args: string[]) => {
    const r = spawnSync(bin, args, { encoding: "utf8", cwd: dir, timeout: 30_000 });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };
  writeFileSync(
    join(dir, "exp.ns"),
    ns("set a [$ns node]\ntb-set-hardware $a pc3001\ntb-set-node-os $a UBUNTU22-64-STD"),
  );
  writeFileSync(join(dir, "catalog.yaml"), "hardware: [pc3000]\nos: [UBUNTU22-64-STD]\n");

  it("fwc check without a catalog notes, exits 0, even with --strict; SARIF says note", () => {
    const r = run(["check", "--strict", "exp.ns"]);
    expect(r.code).toBe(0);
    expect(r.out).toContain("note[FWC318]: hardware types not checked: pc3001");
    expect(r.err).toBe("0 errors, 0 warnings in 1 file\n");
    const sarif = JSON.parse(run(["check", "--format", "sarif", "exp.ns"]).out);
    expect(sarif.runs[0].results.map((x: { level: string }) => x.level)).toEqual(["note", "note"]);
    expect(sarif.runs[0].tool.driver.rules[0].defaultConfiguration.level).toBe("note");
  });

  it("fwc check --catalog FILE and --testbed with catalog_file: refuse what is not listed", () => {
    const a = run(["check", "--catalog", "catalog.yaml", "exp.ns"]);
    expect(a.code).toBe(1);
    expect(a.out).toContain("exp.ns:4:20: error[FWC317]: [tb-set-hardware] Invalid hardware type pc3001");
    expect(a.out).toContain("did you mean `pc3000`?");
    mkdirSync(join(dir, "tb"), { recursive: true });
    const yaml = readFileSync(join(examples, "testbed.yaml"), "utf8").replace(/^catalog:[\s\S]*$/m, "");
    writeFileSync(join(dir, "tb", "testbed.yaml"), `${yaml}catalog_file: ../catalog.yaml\n`);
    const b = run(["check", "--testbed", "tb/testbed.yaml", "exp.ns"]);
    expect(b.code).toBe(1);
    expect(b.out).toContain("Invalid hardware type pc3001");
  });

  it("a broken catalog is reported at its line, and nothing is checked against half of it", () => {
    writeFileSync(join(dir, "bad.yaml"), "hardware: [pc3000]\nos: UBUNTU\nflavours: [x]\n");
    const r = run(["check", "--catalog", "bad.yaml", "exp.ns"]);
    expect(r.code).toBe(1);
    expect(r.out).toContain("bad.yaml:2:5: error[FWC601]: os:");
    expect(r.out).toContain("bad.yaml:3:1: error[FWC602]: flavours: unknown key");
    expect(r.out).not.toContain("exp.ns");
    const missing = run(["check", "--catalog", "nope.yaml", "exp.ns"]);
    expect(missing.code).toBe(1);
    expect(missing.out).toContain("FWC100");
    expect(run(["check", "--catalog", "catalog.yaml", "--testbed", "x.yaml", "exp.ns"]).code).toBe(2);
    writeFileSync(
      join(dir, "both.yaml"),
      `${readFileSync(join(examples, "testbed.yaml"), "utf8")}catalog_file: c.yaml\n`,
    );
    const both = run(["check", "--testbed", "both.yaml", "exp.ns"]);
    expect(both.code).toBe(1);
    expect(both.out).toContain("catalog_file: the catalog is already written under catalog:");
  });

  it("compile and swapin check the NS file against testbed.yaml's catalog", () => {
    const onExample = [
      "--exp",
      "p/e",
      "--testbed",
      join(examples, "testbed.yaml"),
      "--nodes",
      join(examples, "web-lab.nodes.json"),
    ];
    const c = run(["compile", "exp.ns", ...onExample]);
    expect(c.code).toBe(1);
    expect(c.err).toContain("error[FWC317]: [tb-set-hardware] Invalid hardware type pc3001");
    // The bundled example's own types and images are in the bundled catalog.
    const ok = run(["compile", join(examples, "web-lab.ns"), ...onExample]);
    expect([ok.code, ok.err]).toEqual([0, ""]);
    // swapin refuses the file before it touches the store or the gateway.
    const state = join(dir, "state");
    const s = run([
      "swapin",
      "exp.ns",
      "--exp",
      "p/e",
      "--state",
      state,
      "--testbed",
      join(examples, "testbed.yaml"),
      "--nodes",
      join(examples, "web-lab.nodes.json"),
      "--dry-run",
    ]);
    expect(s.code).toBe(1);
    expect(s.err + s.out).toContain("Invalid hardware type pc3001");
  });
});
