/**
 * The examples of `fwc explain` (src/diagnostics/examples.ts) are true: each gives its code, and its fixed file
 * gives neither that code nor any error; the binary shows both, with the checker's own report.
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { resolveAccess } from "../src/access/resolve.js";
import { DiagnosticBag } from "../src/diagnostics/diagnostic.js";
import { EXAMPLES } from "../src/diagnostics/examples.js";
import { SourceFile } from "../src/diagnostics/source.js";
import { evaluateNs } from "../src/ns/index.js";

const codesOf = (text: string) => {
  const bag = new DiagnosticBag();
  const file = new SourceFile("exp.ns", text);
  const r = evaluateNs(file, undefined, bag, {});
  resolveAccess(r.experiment, file, bag);
  return bag.sorted().map((d) => `${d.severity}:${d.code}`);
};

describe("fwc explain's examples", () => {
  for (const [code, ex] of Object.entries(EXAMPLES))
    it(`${code}: the example gives it, the fixed file does not`, () => {
      expect(codesOf(ex!.file).map((c) => c.split(":")[1])).toContain(code);
      const fixed = codesOf(ex!.fixed);
      expect(
        fixed.filter((c) => c.endsWith(code) || c.startsWith("error:")),
        "the fixed file",
      ).toEqual([]);
    });

  it("the binary shows the example, what fwc check says of it, and the fix", () => {
    const r = spawnSync(join(import.meta.dirname, "..", "dist", "fwc.cjs"), ["explain", "FWC515"], {
      encoding: "utf8",
      env: { ...process.env, NO_COLOR: "1" },
    });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('tb-allow-external $web shared rdr "db/5432"');
    expect(r.stdout).toMatch(/exp\.ns:4:[0-9]+: error\[FWC515\]/);
    expect(r.stdout).toContain("set db [$ns node]");
  });
});
