/** Writes grammar/tcl.ebnf and grammar/diagrams.html from the parser (see src/ns/grammar.ts). */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { diagnosticsMarkdown, tbCommandsMarkdown } from "../src/diagnostics/docs.js";
import { grammarDiagramsHtml, grammarEbnf } from "../src/ns/grammar.js";
import { TB_COMMANDS } from "../src/ns/model/tbcommands.js";

const root = join(import.meta.dirname, "..", "..");
writeFileSync(join(root, "grammar", "tcl.ebnf"), grammarEbnf());
writeFileSync(join(root, "grammar", "diagrams.html"), grammarDiagramsHtml());
writeFileSync(join(root, "docs", "diagnostics.md"), diagnosticsMarkdown());
writeFileSync(join(root, "docs", "tb-commands.md"), tbCommandsMarkdown(TB_COMMANDS));
process.stdout.write("wrote grammar/tcl.ebnf, grammar/diagrams.html, docs/diagnostics.md, docs/tb-commands.md\n");
