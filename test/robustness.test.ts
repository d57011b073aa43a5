/**
 * Properties: random bytes and random mutations of valid NS files never crash or hang `fwc check`; every problem
 * is a diagnostic whose position lies inside the file.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { resolveAccess } from "../src/access/resolve.js";
import { DiagnosticBag } from "../src/diagnostics/diagnostic.js";
import { SourceFile } from "../src/diagnostics/source.js";
import { DEFAULT_LIMITS, evaluateNs } from "../src/ns/index.js";

// Small limits keep every run short; the limits themselves are what turns a runaway input into a diagnostic.
const LIMITS = { ...DEFAULT_LIMITS, maxSteps: 20_000, maxString: 1 << 16, maxDepth: 200 };

function checkText(text: string): void {
  const file = new SourceFile("fuzz.ns", text);
  const bag = new DiagnosticBag();
  const r = evaluateNs(file, LIMITS, bag);
  resolveAccess(r.experiment, file, bag);
  for (const d of bag.items) {
    expect(d.code).not.toBe("FWC900");
    expect(d.span.file).toBe(file);
    expect(d.span.start).toBeGreaterThanOrEqual(0);
    expect(d.span.end).toBeGreaterThanOrEqual(d.span.start);
    expect(d.span.end).toBeLessThanOrEqual(text.length);
    const p = file.position(d.span.start);
    expect(p.line).toBeGreaterThanOrEqual(1);
    expect(p.line).toBeLessThanOrEqual(file.lineCount);
    expect(p.col).toBeGreaterThanOrEqual(1);
    expect(d.message.length).toBeGreaterThan(0);
  }
}

const root = join(import.meta.dirname, "..");
const seeds = [
  ...readdirSync(join(root, "examples"))
    .filter((f) => f.endsWith(".ns"))
    .map((f) => readFileSync(join(root, "examples", f), "utf8")),
  ...readdirSync(join(root, "test", "fixtures", "tcl")).map((f) =>
    readFileSync(join(root, "test", "fixtures", "tcl", f), "utf8"),
  ),
];

const special = fc.constantFrom(
  'tb-allow-external $n shared nat "1.2.3.4/80 any,0,all" rdr "22 web/80 a,1..9,udp,from=::/0,identity" open6 "all"\n',
  "/",
  ",",
  "..",
  "{",
  "}",
  "[",
  "]",
  '"',
  "$",
  "\\",
  ";",
  "\n",
  " ",
  "#",
  "(",
  ")",
  "\u00a0",
  "{*}",
  "\\\n",
  "<<<<<<< x\n",
);
const insertion = fc.oneof(special, fc.string({ maxLength: 8 }), fc.string({ unit: "binary", maxLength: 4 }));

type Mutation = { kind: "delete" | "insert" | "duplicate"; at: number; len: number; text: string };
const mutation: fc.Arbitrary<Mutation> = fc.record({
  kind: fc.constantFrom("delete", "insert", "duplicate"),
  at: fc.nat(),
  len: fc.integer({ min: 1, max: 40 }),
  text: insertion,
});

function mutate(src: string, ms: Mutation[]): string {
  let s = src;
  for (const m of ms) {
    const at = s.length === 0 ? 0 : m.at % (s.length + 1);
    if (m.kind === "delete") s = s.slice(0, at) + s.slice(at + m.len);
    else if (m.kind === "insert") s = s.slice(0, at) + m.text + s.slice(at);
    else s = s.slice(0, at) + s.slice(at, at + m.len) + s.slice(at);
  }
  return s;
}

describe("fwc check never crashes or hangs", () => {
  it("on random bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => checkText(Buffer.from(bytes).toString("latin1"))),
      { numRuns: 300 },
    );
  });

  it("on random Tcl-ish text", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(special, fc.constantFrom("set", "proc", "expr", "if", "for", "while", "$ns", "node", "x", "1")),
          { maxLength: 60 },
        ),
        (parts) => checkText(parts.join("")),
      ),
      { numRuns: 300 },
    );
  });

  it("on random mutations of valid NS files and Tcl snippets", () => {
    expect(seeds.length).toBeGreaterThan(3);
    fc.assert(
      fc.property(fc.constantFrom(...seeds), fc.array(mutation, { minLength: 1, maxLength: 6 }), (src, ms) =>
        checkText(mutate(src, ms)),
      ),
      { numRuns: 400 },
    );
  });

  it("on pathological nesting", () => {
    for (const text of [
      "[".repeat(20_000),
      "{".repeat(20_000),
      `set x ${"[list ".repeat(5000)}`,
      `"${"[".repeat(3000)}`,
      "proc f {} {f}; f",
      "while 1 {}",
    ])
      checkText(text);
  });
});
