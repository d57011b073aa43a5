import { EmbeddedActionsParser, type IToken, type TokenType } from "chevrotain";
import type { DiagnosticCode } from "../diagnostics/codes.js";
import { type Command, type Part, PartKind, type Script, type Word } from "./ast.js";
import { allTokenTypes, lexScript, TOKENS as T } from "./lexer.js";

export interface SyntaxProblem {
  code: DiagnosticCode;
  start: number;
  end: number;
  message: string;
  help: string;
}

/** Decodes one Tcl backslash sequence (the token image, including the backslash). */
export function decodeEscape(image: string): string {
  const c = image[1];
  switch (c) {
    case "a":
      return "\x07";
    case "b":
      return "\b";
    case "f":
      return "\f";
    case "n":
      return "\n";
    case "r":
      return "\r";
    case "t":
      return "\t";
    case "v":
      return "\v";
    case "x":
      return String.fromCharCode(Number.parseInt(image.slice(2), 16));
    case "u":
    case "U": {
      const cp = Number.parseInt(image.slice(2), 16);
      return cp <= 0x10ffff ? String.fromCodePoint(cp) : image.slice(1);
    }
    case undefined:
      return "\\";
    default:
      if (c >= "0" && c <= "7") return String.fromCharCode(Number.parseInt(image.slice(1), 8) & 0xff);
      return image.slice(1);
  }
}

/** The value of a braced word: contents verbatim except backslash-newline-blanks, which become one space. */
export function bracedValue(image: string): string {
  const inner = image.slice(1, -1);
  return inner.indexOf("\\\n") < 0 && inner.indexOf("\\\r\n") < 0 ? inner : inner.replace(/\\\r?\n[ \t]*/g, " ");
}

const WORD_START = new Set<TokenType>([
  T.Braced,
  T.UnclosedBrace,
  T.QuoteOpen,
  T.Text,
  T.BracketText,
  T.Escape,
  T.TrailingBackslash,
  T.Dollar,
  T.VarSimple,
  T.VarBraced,
  T.VarArrayOpen,
  T.LBracket,
]);

type Open = { kind: "quote" | "bracket" | "paren"; start: number };

class TclParser extends EmbeddedActionsParser {
  base = 0;
  problems: SyntaxProblem[] = [];
  opens: Open[] = [];

  constructor() {
    super(allTokenTypes, { recoveryEnabled: false, skipValidations: true, maxLookahead: 1 });
    this.performSelfAnalysis();
  }

  private at(tok: IToken): number {
    return this.base + tok.startOffset;
  }
  private endOf(tok: IToken): number {
    return this.base + tok.startOffset + tok.image.length;
  }
  private problem(code: DiagnosticCode, start: number, end: number, message: string, help: string): void {
    this.problems.push({ code, start, end, message, help });
  }

  /** script := { separator | blank | comment | command } */
  script = this.RULE("script", (): Script => {
    const commands: Command[] = [];
    this.MANY(() => {
      this.OR([
        { ALT: () => this.CONSUME(T.Sep) },
        { ALT: () => this.CONSUME(T.Comment) },
        { ALT: () => this.SUBRULE(this.blank) },
        { ALT: () => commands.push(this.SUBRULE(this.command)) },
      ]);
    });
    return { commands };
  });

  /** blank := white space | backslash-newline | U+00A0 (an error, then treated as a space) */
  blank = this.RULE("blank", () => {
    this.OR([
      { ALT: () => this.CONSUME(T.WS) },
      { ALT: () => this.CONSUME(T.Continuation) },
      {
        ALT: () => {
          const t = this.CONSUME(T.Nbsp);
          this.ACTION(() =>
            this.problem(
              "FWC106",
              this.at(t),
              this.endOf(t),
              "non-breaking space (U+00A0) between words: Tcl does not treat it as white space, so the words around it run together",
              "replace it with an ordinary space (it usually comes from copying a wiki page)",
            ),
          );
        },
      },
    ]);
  });

  /** command := word { blank+ [word] } */
  command = this.RULE("command", (): Command => {
    const words: Word[] = [this.SUBRULE(this.word)];
    this.MANY(() => {
      this.AT_LEAST_ONE(() => this.SUBRULE(this.blank));
      this.OPTION(() => words.push(this.SUBRULE2(this.word)));
    });
    return this.ACTION(() => ({ start: words[0]!.start, end: words[words.length - 1]!.end, words }));
  });

  /** word := braced-word | quoted-word | bare-word */
  word = this.RULE("word", (): Word => {
    return this.OR([
      { ALT: () => this.SUBRULE(this.bracedWord) },
      { ALT: () => this.SUBRULE(this.quotedWord) },
      { ALT: () => this.SUBRULE(this.bareWord) },
    ]);
  });

  /** braced-word := "{" verbatim "}" (an unclosed brace is reported, not thrown) */
  bracedWord = this.RULE("bracedWord", (): Word => {
    const t = this.OR([{ ALT: () => this.CONSUME(T.Braced) }, { ALT: () => this.CONSUME(T.UnclosedBrace) }]);
    let expanded: Word | undefined;
    let extra: { start: number; end: number; parts: Part[] } | null = null;
    this.OR2([
      {
        // `{*}word`: argument expansion (Tcl 8.5+).
        GATE: () => t.image === "{*}" && WORD_START.has(this.LA(1).tokenType),
        ALT: () => {
          expanded = this.SUBRULE(this.word);
        },
      },
      {
        ALT: () => {
          extra = this.SUBRULE(this.trailingParts);
        },
      },
    ]);
    return this.ACTION(() => {
      const start = this.at(t);
      if (expanded !== undefined) return { ...expanded, start, expand: true };
      if (t.tokenType === T.UnclosedBrace) {
        this.problem(
          "FWC101",
          start,
          start + 1,
          "missing close-brace: this `{` is never closed",
          "add the matching `}`; braces inside comments and strings count too, so check those",
        );
        return { start, end: this.endOf(t), parts: [], lit: "", bodyStart: start + 1, braced: true };
      }
      if (extra !== null) {
        this.problem(
          "FWC104",
          extra.start,
          extra.end,
          "extra characters after close-brace",
          "put a space after the `}`, or quote the whole word",
        );
      }
      const v = bracedValue(t.image);
      return {
        start,
        end: this.endOf(t),
        parts: [{ k: PartKind.Text, v }],
        lit: v,
        bodyStart: start + 1,
        braced: true,
      };
    });
  });

  /** quoted-word := '"' { text | escape | variable | command-substitution } '"' */
  quotedWord = this.RULE("quotedWord", (): Word => {
    const open = this.CONSUME(T.QuoteOpen);
    this.ACTION(() => this.opens.push({ kind: "quote", start: this.at(open) }));
    const parts: Part[] = [];
    this.MANY(() => {
      this.OR([
        { ALT: () => parts.push({ k: PartKind.Text, v: this.CONSUME(T.QuoteText).image }) },
        { ALT: () => parts.push(this.SUBRULE(this.escape)) },
        { ALT: () => parts.push(this.SUBRULE(this.variable)) },
        { ALT: () => parts.push(this.SUBRULE(this.commandSubst)) },
      ]);
    });
    const close = this.CONSUME(T.QuoteClose);
    const extra = this.SUBRULE(this.trailingParts);
    return this.ACTION(() => {
      this.opens.pop();
      if (extra !== null) {
        this.problem(
          "FWC105",
          extra.start,
          extra.end,
          "extra characters after close-quote",
          'put a space after the closing `"`, or escape the quote as `\\"`',
        );
        parts.push(...extra.parts);
      }
      return makeWord(this.at(open), extra?.end ?? this.endOf(close), parts);
    });
  });

  /** Characters glued to a closing brace or quote: an error in Tcl, parsed so the report can point at them. */
  trailingParts = this.RULE("trailingParts", (): { start: number; end: number; parts: Part[] } | null => {
    const parts: Part[] = [];
    let first: IToken | undefined;
    let last: IToken | undefined;
    this.MANY(() => {
      const p = this.SUBRULE(this.barePart);
      this.ACTION(() => {
        first ??= this.LA(0);
        last = this.LA(0);
        parts.push(p);
      });
    });
    return this.ACTION(() => {
      if (first === undefined || last === undefined || parts.length === 0) return null;
      const start = partStart(parts[0]!, this.at(first));
      return { start, end: this.endOf(last), parts };
    });
  });

  /** bare-word := { text | escape | variable | command-substitution }+ */
  bareWord = this.RULE("bareWord", (): Word => {
    const parts: Part[] = [];
    const startTok = this.LA(1);
    this.AT_LEAST_ONE(() => parts.push(this.SUBRULE(this.barePart)));
    return this.ACTION(() => makeWord(this.at(startTok), this.endOf(this.LA(0)), parts));
  });

  barePart = this.RULE("barePart", (): Part => {
    return this.OR([
      { ALT: () => ({ k: PartKind.Text, v: this.CONSUME(T.Text).image }) },
      { ALT: () => ({ k: PartKind.Text, v: this.CONSUME(T.BracketText).image }) },
      { ALT: () => this.SUBRULE(this.escape) },
      { ALT: () => this.SUBRULE(this.variable) },
      { ALT: () => this.SUBRULE(this.commandSubst) },
    ]);
  });

  escape = this.RULE("escape", (): Part => {
    return this.OR([
      { ALT: () => ({ k: PartKind.Text, v: decodeEscape(this.CONSUME(T.Escape).image) }) },
      { ALT: () => ({ k: PartKind.Text, v: fixed(this.CONSUME(T.TrailingBackslash), "\\") }) },
      { ALT: () => ({ k: PartKind.Text, v: fixed(this.CONSUME(T.Continuation), " ") }) },
      { ALT: () => ({ k: PartKind.Text, v: fixed(this.CONSUME(T.Dollar), "$") }) },
    ]);
  });

  /** variable := "$" name | "${" chars "}" | "$" name "(" { index-part } ")" */
  variable = this.RULE("variable", (): Part => {
    return this.OR([
      {
        ALT: () => {
          const t = this.CONSUME(T.VarSimple);
          return { k: PartKind.Var, name: t.image.slice(1), index: null, start: this.at(t), end: this.endOf(t) };
        },
      },
      {
        ALT: () => {
          const t = this.CONSUME(T.VarBraced);
          return { k: PartKind.Var, name: t.image.slice(2, -1), index: null, start: this.at(t), end: this.endOf(t) };
        },
      },
      {
        ALT: () => {
          const t = this.CONSUME(T.VarArrayOpen);
          this.ACTION(() => this.opens.push({ kind: "paren", start: this.at(t) }));
          const index: Part[] = [];
          this.MANY(() => {
            this.OR2([
              { ALT: () => index.push({ k: PartKind.Text, v: this.CONSUME(T.IndexText).image }) },
              { ALT: () => index.push(this.SUBRULE(this.escape)) },
              { ALT: () => index.push(this.SUBRULE(this.variable)) },
              { ALT: () => index.push(this.SUBRULE(this.commandSubst)) },
            ]);
          });
          const close = this.CONSUME(T.RParen);
          return this.ACTION(() => {
            this.opens.pop();
            return { k: PartKind.Var, name: t.image.slice(1, -1), index, start: this.at(t), end: this.endOf(close) };
          });
        },
      },
    ]);
  });

  /** command-substitution := "[" script "]" */
  commandSubst = this.RULE("commandSubst", (): Part => {
    const open = this.CONSUME(T.LBracket);
    this.ACTION(() => this.opens.push({ kind: "bracket", start: this.at(open) }));
    const script = this.SUBRULE(this.script);
    const close = this.CONSUME(T.RBracket);
    return this.ACTION(() => {
      this.opens.pop();
      return { k: PartKind.Cmd, script, start: this.at(open), end: this.endOf(close) };
    });
  });
}

/** A token whose value does not depend on its image. */
function fixed(_tok: IToken, value: string): string {
  return value;
}

function partStart(p: Part, fallback: number): number {
  return p.k === PartKind.Text ? fallback : p.start;
}

function makeWord(start: number, end: number, parts: Part[]): Word {
  // Merge adjacent text so evaluation concatenates less; a word of pure text has a literal value.
  const merged: Part[] = [];
  for (const p of parts) {
    const prev = merged[merged.length - 1];
    if (p.k === PartKind.Text && prev !== undefined && prev.k === PartKind.Text) {
      merged[merged.length - 1] = { k: PartKind.Text, v: prev.v + p.v };
    } else merged.push(p);
  }
  let lit: string | null = null;
  if (merged.length === 0) lit = "";
  else if (merged.length === 1 && merged[0]!.k === PartKind.Text) lit = merged[0]!.v;
  return { start, end, parts: merged, lit, bodyStart: start, braced: false };
}

const parser = new TclParser();

export interface ParseResult {
  script: Script;
  problems: SyntaxProblem[];
}

const OPEN_MESSAGES: Record<Open["kind"], [DiagnosticCode, string, string]> = {
  quote: [
    "FWC102",
    'missing close-quote: this `"` is never closed',
    'add the closing `"`; a quoted word may span lines, so look for a stray `"` further down',
  ],
  bracket: ["FWC103", "missing close-bracket: this `[` is never closed", "add the matching `]`"],
  paren: ["FWC108", "missing close-paren in this array reference", "add the `)` that ends the array index"],
};

/** Parses `text`, whose first character is at absolute offset `base` of its file. Never throws. */
export function parseScript(text: string, base = 0): ParseResult {
  const { tokens } = lexScript(text);
  parser.base = base;
  parser.problems = [];
  parser.opens = [];
  parser.input = tokens;
  const script = parser.script();
  const problems = parser.problems;
  if (parser.errors.length > 0) {
    const open = parser.opens[parser.opens.length - 1];
    if (open !== undefined) {
      const [code, message, help] = OPEN_MESSAGES[open.kind];
      problems.push({ code, start: open.start, end: open.start + 1, message, help });
    } else {
      const tok = parser.errors[0]!.token;
      const at = Number.isNaN(tok.startOffset) ? base + text.length : base + tok.startOffset;
      problems.push({
        code: "FWC109",
        start: at,
        end: at + Math.max(1, tok.image.length),
        message: `unexpected ${tokenDescription(tok.tokenType)}`,
        help: "check the brackets and quotes before this point",
      });
    }
    return { script: commandsBefore(text, base, problems[problems.length - 1]!.start), problems };
  }
  // Tcl parses and runs one command at a time: the commands before a syntax error run, the rest do not.
  let firstFatal = Number.POSITIVE_INFINITY;
  for (const p of problems) if (p.code !== "FWC106") firstFatal = Math.min(firstFatal, p.start);
  const commands = script?.commands ?? [];
  if (firstFatal === Number.POSITIVE_INFINITY) return { script: { commands }, problems };
  return { script: { commands: commands.filter((c) => c.end <= firstFatal) }, problems };
}

/**
 * The commands that end before the line holding an unclosed construct: Tcl runs those before it fails, so their
 * own errors are reported too. Empty when that prefix does not parse either.
 */
function commandsBefore(text: string, base: number, at: number): Script {
  const cut = text.lastIndexOf("\n", at - base - 1) + 1;
  if (cut <= 0) return { commands: [] };
  const saved = { problems: parser.problems, opens: parser.opens };
  const prefix = text.slice(0, cut);
  parser.problems = [];
  parser.opens = [];
  parser.input = lexScript(prefix).tokens;
  const script = parser.script();
  const ok = parser.errors.length === 0;
  parser.problems = saved.problems;
  parser.opens = saved.opens;
  return ok && script !== undefined ? script : { commands: [] };
}

function tokenDescription(t: TokenType): string {
  return t.name === "EOF" ? "end of input" : `\`${t.name}\``;
}

export const grammarProductions = () => parser.getSerializedGastProductions();
