/**
 * Properties: random bytes and random mutations of valid NS files never crash or hang `fwc check`; every problem
 * is a diagnostic whose position lies inside the file. Programs that build big values (strings of millions of
 * characters, lists of them, arrays of lists) stay inside the memory and time budgets of the real binary.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
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

describe("fwc check stays inside its budgets on big values", () => {
  const FWC = join(import.meta.dirname, "..", "dist", "fwc.cjs");
  const dir = mkdtempSync(join(tmpdir(), "fwc-big-"));
  const size = fc.constantFrom(1000, 100_000, 1_000_000, 4_000_000, 16_000_000);
  const statement = fc.oneof(
    size.map((n) => `set s [string repeat a ${n}]`),
    size.map((n) => `set s [string repeat abc ${Math.floor(n / 3)}]`),
    fc.constant('set l [split $s ""]'),
    fc.constant("set l [list $l $l $l $s]"),
    fc.constant("lappend l $s $s"),
    fc.constant("append s $s $s"),
    fc.constant("set s [string reverse $s]"),
    fc.constant("set s [string toupper $s]"),
    fc.constant("set s [string map {a bb} $s]"),
    fc.constant("set s [string range $s 1 end]"),
    fc.constant('set s [join $l ""]'),
    fc.constant("set s [concat $s $l]"),
    fc.constant("set s [format %s%s $s $s]"),
    fc.constant("set n [llength $l]; set m [string length $s]"),
    fc.constant("foreach i {1 2 3 4 5 6} { set a($i) $s }"),
    fc.constant('foreach i {1 2 3 4 5 6} { set a($i) [split $s ""] }'),
    fc.constant("for {set i 0} {$i < 100} {incr i} { set s [string reverse $s] }"),
    fc.constant("for {set i 0} {$i < 50} {incr i} { lappend l [string repeat x 100000] }"),
  );

  it("random programs of big strings and lists end with a diagnostic or a result, never an abort", () => {
    let run = 0;
    fc.assert(
      fc.property(fc.array(statement, { minLength: 1, maxLength: 6 }), (stmts) => {
        const f = join(dir, `big${run++}.ns`);
        writeFileSync(f, `set s x\nset l {}\n${stmts.join("\n")}\n`);
        const t = Date.now();
        const r = spawnSync(process.execPath, [FWC, "check", f, "--max-seconds", "2"], {
          encoding: "utf8",
          timeout: 30_000,
        });
        const what = `${stmts.join("; ")}\n${r.stderr.slice(0, 2000)}`;
        expect(r.signal, what).toBeNull();
        expect([0, 1], what).toContain(r.status);
        expect(r.stderr, what).not.toMatch(/internal error|FWC900|FATAL|heap out of memory|\n {4}at /);
        // The 2 s deadline, with room for process start and a slow machine.
        expect(Date.now() - t, what).toBeLessThan(12_000);
      }),
      { numRuns: 30, seed: 1127 },
    );
  }, 400_000);
});
