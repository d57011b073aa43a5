/** Generated files are up to date with the code that generates them (`npm run grammar` rewrites them). */
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { buildProgram } from "../src/cli/main.js";
import { completion, manPage } from "../src/cli/manual.js";
import { VERSION } from "../src/cli/version.js";
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

describe("the man page and the shell completions", () => {
  const program = buildProgram(() => {});

  it("man/fwc.1 and completions/ match the command definitions", () => {
    expect(read("man/fwc.1"), STALE).toBe(manPage(program, VERSION));
    for (const shell of ["bash", "zsh", "fish"] as const)
      expect(read(`completions/fwc.${shell}`), STALE).toBe(completion(program, shell));
    // Every command is in both.
    for (const c of program.commands.filter((c) => c.name() !== "help")) {
      expect(read("man/fwc.1")).toContain(`\\fB${c.name()}\\fR`);
      expect(read("completions/fwc.bash")).toContain(c.name());
    }
  });

  it("the man page renders without a warning", () => {
    const r = spawnSync("groff", ["-man", "-ww", "-z", join(root, "man", "fwc.1")], { encoding: "utf8" });
    if (r.error === undefined) expect([r.status, r.stderr]).toEqual([0, ""]);
  });

  it("bash completes commands, options and the values of options with choices", () => {
    const ask = (words: string[]) =>
      spawnSync(
        "bash",
        [
          "-c",
          `source ${join(root, "completions", "fwc.bash")}; COMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")}); COMP_CWORD=${words.length - 1}; _fwc; printf '%s\\n' "\${COMPREPLY[@]}"`,
        ],
        { encoding: "utf8", cwd: root },
      ).stdout.split("\n");
    expect(ask(["fwc", "ch"])).toContain("check");
    expect(ask(["fwc", "check", "--for"])).toContain("--format");
    expect(ask(["fwc", "check", "--format", ""])).toEqual(expect.arrayContaining(["text", "json", "sarif"]));
    expect(ask(["fwc", "compile", "x", "--emit", "n"])).toEqual(
      expect.arrayContaining(["nft", "nft-json", "nsupdate"]),
    );
    expect(spawnSync("bash", ["-n", join(root, "completions", "fwc.bash")]).status).toBe(0);
  });

  it("fwc completion SHELL prints the same scripts", () => {
    const bin = join(root, "dist", "fwc.cjs");
    for (const shell of ["bash", "zsh", "fish"])
      expect(spawnSync(bin, ["completion", shell], { encoding: "utf8" }).stdout).toBe(read(`completions/fwc.${shell}`));
    expect(spawnSync(bin, ["completion", "tcsh"], { encoding: "utf8" }).status).toBe(2);
  });
});
