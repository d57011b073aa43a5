/**
 * The accepted Tcl syntax, generated from the chevrotain parser itself: EBNF text and railroad diagrams.
 * `npm run grammar` writes them to grammar/; a test fails when the committed files are stale.
 */
import { createSyntaxDiagramsCode } from "chevrotain";
import { TOKENS } from "./lexer.js";
import { grammarProductions } from "./parser.js";

/** How each lexical token is written in the EBNF (custom-pattern tokens have no regex to show). */
const TOKEN_TEXT: Record<string, string> = {
  Braced: '"{" balanced-text "}"  (* nested braces; backslash escapes the next character *)',
  UnclosedBrace: '"{" rest-of-input  (* a brace never closed: FWC101 *)',
  Comment: '"#" { any-character-but-newline | "\\\\" newline }  (* only where a command may start *)',
  QuoteOpen: "'\"'  (* only at the start of a word; enters the quote mode *)",
};

function tokenDefinitions(): string {
  const lines: string[] = [];
  for (const [name, tok] of Object.entries(TOKENS)) {
    const custom = TOKEN_TEXT[name];
    const pattern = tok.PATTERN;
    const text = custom ?? (pattern instanceof RegExp ? `/${pattern.source}/` : String(pattern));
    lines.push(`${name} = ${text} ;`);
  }
  return lines.join("\n");
}

/** The parts of chevrotain's serialized grammar that the EBNF needs. */
interface Gast {
  type: string;
  name?: string;
  definition?: Gast[];
}

function expr(d: Gast): string {
  const defs = d.definition ?? [];
  switch (d.type) {
    case "Terminal":
    case "NonTerminal":
      return d.name ?? "?";
    case "Alternative":
      return seq(defs);
    case "Alternation":
      return `( ${defs.map(expr).join(" | ")} )`;
    case "Option":
      return `[ ${seq(defs)} ]`;
    case "Repetition":
      return `{ ${seq(defs)} }`;
    case "RepetitionMandatory": {
      const s = seq(defs);
      return `${s.includes(" ") ? `( ${s} )` : s} , { ${s} }`;
    }
    default:
      return `(* ${d.type} *)`;
  }
}

function seq(defs: Gast[]): string {
  return defs.map(expr).join(" , ");
}

export function grammarEbnf(): string {
  const rules = (grammarProductions() as unknown as Gast[]).map((r) => `${r.name} = ${seq(r.definition ?? [])} ;`);
  return [
    "(* The Tcl syntax fwc accepts in NS files. GENERATED from src/ns/parser.ts and src/ns/lexer.ts by",
    "   `npm run grammar`; do not edit. ISO 14977 EBNF: `,` sequence, `|` choice, `[ ]` optional, `{ }` repeated. *)",
    "",
    "(* Syntax rules *)",
    ...rules,
    "",
    "(* Tokens. The lexer has four modes: script (top level), bracket (inside [ ]: `]` closes it), quote",
    '   (inside " ": blanks and newlines are text) and index (inside $name( ): `)` closes it).',
    "   Text, BracketText, QuoteText and IndexText are the plain characters of each mode. *)",
    tokenDefinitions(),
    "",
  ].join("\n");
}

export function grammarDiagramsHtml(): string {
  // chevrotain's page loads its railroad renderer from the chevrotain package on a CDN.
  return createSyntaxDiagramsCode(grammarProductions());
}
