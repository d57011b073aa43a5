/** Generated files are up to date with the code that generates them (`npm run grammar` rewrites them). */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CODES } from "../src/diagnostics/codes.js";
import { diagnosticsMarkdown, tbCommandsMarkdown } from "../src/diagnostics/docs.js";
import { grammarDiagramsHtml, grammarEbnf } from "../src/ns/grammar.js";
import { TOKENS } from "../src/ns/lexer.js";
import { TB_COMMANDS } from "../src/ns/model/tbcommands.js";

const root = join(import.meta.dirname, "..");
const read = (p: string) => readFileSync(join(root, p), "utf8");
const STALE = "stale: run `npm run grammar` and commit the result";

describe("generated files", () => {
  it("grammar/tcl.ebnf matches the parser", () => {
    expect(read("grammar/tcl.ebnf"), STALE).toBe(grammarEbnf());
  });

  it("grammar/diagrams.html matches the parser", () => {
    expect(read("grammar/diagrams.html"), STALE).toBe(grammarDiagramsHtml());
  });

  it("docs/diagnostics.md matches the code table", () => {
    expect(read("docs/diagnostics.md"), STALE).toBe(diagnosticsMarkdown());
  });

  it("docs/tb-commands.md matches the command table", () => {
    expect(read("docs/tb-commands.md"), STALE).toBe(tbCommandsMarkdown(TB_COMMANDS));
  });

  it("the EBNF names every rule and every token", () => {
    const ebnf = grammarEbnf();
    for (const rule of [
      "script",
      "command",
      "word",
      "bracedWord",
      "quotedWord",
      "bareWord",
      "variable",
      "commandSubst",
    ])
      expect(ebnf).toMatch(new RegExp(`^${rule} = `, "m"));
    for (const tok of Object.keys(TOKENS)) expect(ebnf).toMatch(new RegExp(`^${tok} = `, "m"));
  });

  it("every code the sources emit is documented, and every documented code is emitted", () => {
    const src = readdirSync(join(root, "src"), { recursive: true })
      .map(String)
      .filter((f) => f.endsWith(".ts") && !f.endsWith("codes.ts") && !f.endsWith("docs.ts"))
      .map((f) => read(join("src", f)))
      .join("\n");
    const used = new Set(src.match(/FWC\d{3}/g));
    expect([...used].filter((c) => !(c in CODES))).toEqual([]);
    expect(Object.keys(CODES).filter((c) => !used.has(c))).toEqual([]);
  });
});
