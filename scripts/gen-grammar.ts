/** Writes grammar/tcl.ebnf and grammar/diagrams.html from the parser (see src/ns/grammar.ts). */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { buildProgram } from "../src/cli/main.js";
import { completion, manPage } from "../src/cli/manual.js";
import { VERSION } from "../src/cli/version.js";
import { diagnosticsMarkdown, tbCommandsMarkdown } from "../src/diagnostics/docs.js";
import { grammarDiagramsHtml, grammarEbnf } from "../src/ns/grammar.js";
import { TB_COMMANDS } from "../src/ns/model/tbcommands.js";

const root = join(import.meta.dirname, "..", "..");
writeFileSync(join(root, "grammar", "tcl.ebnf"), grammarEbnf());
writeFileSync(join(root, "grammar", "diagrams.html"), grammarDiagramsHtml());
writeFileSync(join(root, "docs", "diagnostics.md"), diagnosticsMarkdown());
writeFileSync(join(root, "docs", "tb-commands.md"), tbCommandsMarkdown(TB_COMMANDS));
// The man page and the shell completions, from the command definitions.
const program = buildProgram(() => {});
mkdirSync(join(root, "man"), { recursive: true });
mkdirSync(join(root, "completions"), { recursive: true });
writeFileSync(join(root, "man", "fwc.1"), manPage(program, VERSION));
for (const shell of ["bash", "zsh", "fish"] as const)
  writeFileSync(join(root, "completions", `fwc.${shell}`), completion(program, shell));
process.stdout.write(
  "wrote grammar/tcl.ebnf, grammar/diagrams.html, docs/diagnostics.md, docs/tb-commands.md, man/fwc.1, completions/\n",
);
