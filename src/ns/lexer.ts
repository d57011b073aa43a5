import { createToken, type IToken, Lexer, type TokenType } from "chevrotain";

/*
 * Tcl's word syntax as chevrotain lexer modes:
 *   script  - top level: `]` is an ordinary character
 *   bracket - inside [...]: like script, but `]` ends the command substitution
 *   quote   - inside "...": white space and newlines are ordinary characters
 *   index   - inside $name(...): ends at `)`
 * Braced words are one token (Tcl does no substitution inside braces); their contents are lexed again only when a
 * command evaluates them as a script or expression.
 */

type Matched = IToken[];

const WS_OR_SEP = new Set(["WS", "Sep", "LBracket", "Comment", "Nbsp"]);

/** True when the next token starts a word: at the start, or after white space, a separator or `[`. */
function atWordStart(matched: Matched): boolean {
  const last = matched[matched.length - 1];
  // `{*}` (argument expansion) is followed directly by the word it expands.
  return (
    last === undefined ||
    WS_OR_SEP.has(last.tokenType.name) ||
    (last.tokenType.name === "Braced" && last.image === "{*}")
  );
}

/** True when the next token starts a command (where `#` opens a comment). */
function atCommandStart(matched: Matched): boolean {
  for (let i = matched.length - 1; i >= 0; i--) {
    const n = matched[i]!.tokenType.name;
    if (n === "WS" || n === "Nbsp") continue;
    return n === "Sep" || n === "LBracket" || n === "Comment";
  }
  return true;
}

function execResult(text: string, offset: number, end: number): RegExpExecArray {
  const r = [text.slice(offset, end)] as unknown as RegExpExecArray;
  r.index = offset;
  return r;
}

/** Offset just past the `}` that closes the `{` at `offset`, or -1 when the input ends first. */
export function scanBraces(text: string, offset: number): number {
  let depth = 0;
  for (let i = offset; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 92 /* \ */) {
      i++;
    } else if (c === 123 /* { */) {
      depth++;
    } else if (c === 125 /* } */) {
      depth--;
      if (depth === 0) return i + 1;
    }
  }
  return -1;
}

const Braced = createToken({
  name: "Braced",
  pattern: {
    exec: (text: string, offset: number, matched: Matched) => {
      if (text.charCodeAt(offset) !== 123 || !atWordStart(matched)) return null;
      const end = scanBraces(text, offset);
      return end < 0 ? null : execResult(text, offset, end);
    },
  },
  line_breaks: true,
  start_chars_hint: ["{"],
});

/** A `{` at a word start that is never closed: the rest of the input, so the parser can say where it began. */
const UnclosedBrace = createToken({
  name: "UnclosedBrace",
  pattern: {
    exec: (text: string, offset: number, matched: Matched) => {
      if (text.charCodeAt(offset) !== 123 || !atWordStart(matched)) return null;
      return execResult(text, offset, text.length);
    },
  },
  line_breaks: true,
  start_chars_hint: ["{"],
});

const Comment = createToken({
  name: "Comment",
  pattern: {
    exec: (text: string, offset: number, matched: Matched) => {
      if (text.charCodeAt(offset) !== 35 /* # */ || !atCommandStart(matched)) return null;
      let i = offset;
      // A comment ends at an unescaped newline; backslash-newline continues it, as in Tcl.
      while (i < text.length) {
        const c = text.charCodeAt(i);
        if (c === 92) i += 2;
        else if (c === 10) break;
        else i++;
      }
      return execResult(text, offset, Math.min(i, text.length));
    },
  },
  line_breaks: true,
  start_chars_hint: ["#"],
});

const QuoteOpen = createToken({
  name: "QuoteOpen",
  pattern: {
    exec: (text: string, offset: number, matched: Matched) =>
      text.charCodeAt(offset) === 34 && atWordStart(matched) ? execResult(text, offset, offset + 1) : null,
  },
  start_chars_hint: ['"'],
  push_mode: "quote",
});

const QuoteClose = createToken({ name: "QuoteClose", pattern: /"/, pop_mode: true });
const LBracket = createToken({ name: "LBracket", pattern: /\[/, push_mode: "bracket" });
const RBracket = createToken({ name: "RBracket", pattern: /]/, pop_mode: true });
const RParen = createToken({ name: "RParen", pattern: /\)/, pop_mode: true });

/** Backslash-newline plus following blanks: one space (a word separator outside quotes). */
const Continuation = createToken({ name: "Continuation", pattern: /\\\r?\n[ \t]*/, line_breaks: true });
const WS = createToken({ name: "WS", pattern: /[ \t\f\v\r]+/ });
const Nbsp = createToken({ name: "Nbsp", pattern: /\u00a0+/ });
const Sep = createToken({ name: "Sep", pattern: /[\n;]/, line_breaks: true });
const Escape = createToken({
  name: "Escape",
  pattern: /\\(?:x[0-9a-fA-F]{1,2}|u[0-9a-fA-F]{1,4}|U[0-9a-fA-F]{1,8}|[0-7]{1,3}|[^\n])/,
});
/** A lone backslash at the very end of the input. */
const TrailingBackslash = createToken({ name: "TrailingBackslash", pattern: /\\/ });

const VarBraced = createToken({ name: "VarBraced", pattern: /\$\{[^}]*\}/, line_breaks: true });
const VarArrayOpen = createToken({
  name: "VarArrayOpen",
  pattern: /\$(?:[A-Za-z0-9_]|::)+\(/,
  push_mode: "index",
});
const VarSimple = createToken({ name: "VarSimple", pattern: /\$(?:[A-Za-z0-9_]|::)+/ });
/** A `$` that starts no variable name is an ordinary character. */
const Dollar = createToken({ name: "Dollar", pattern: /\$/ });

// Positive character classes (not complements) so chevrotain can index tokens by first character.
// Text: anything but white space, `;`, `[`, `$`, `\` and U+00A0.
const Text = createToken({ name: "Text", pattern: /[\x00-\x08\x0e-\x1f!-#%-:<-Z\]-\x7f\x80-\x9f\u00a1-\uffff]+/ });
// BracketText: the same without `]`.
const BracketText = createToken({
  name: "BracketText",
  pattern: /[\x00-\x08\x0e-\x1f!-#%-:<-Z^-\x7f\x80-\x9f\u00a1-\uffff]+/,
});
// QuoteText: anything but `"`, `$`, `[`, `\`.
const QuoteText = createToken({ name: "QuoteText", pattern: /[\x00-!#%-Z\]-\uffff]+/, line_breaks: true });
// IndexText: anything but `)`, `$`, `[`, `\`.
const IndexText = createToken({ name: "IndexText", pattern: /[\x00-#%-(*-Z\]-\uffff]+/, line_breaks: true });

const vars = [VarBraced, VarArrayOpen, VarSimple, Dollar];
const wordStarts = [Braced, UnclosedBrace, QuoteOpen];

export const TOKENS = {
  Braced,
  UnclosedBrace,
  Comment,
  QuoteOpen,
  QuoteClose,
  LBracket,
  RBracket,
  RParen,
  Continuation,
  WS,
  Nbsp,
  Sep,
  Escape,
  TrailingBackslash,
  VarBraced,
  VarArrayOpen,
  VarSimple,
  Dollar,
  Text,
  BracketText,
  QuoteText,
  IndexText,
};

const modes: Record<string, TokenType[]> = {
  script: [Comment, ...wordStarts, Continuation, WS, Nbsp, Sep, LBracket, Escape, TrailingBackslash, ...vars, Text],
  bracket: [
    Comment,
    ...wordStarts,
    Continuation,
    WS,
    Nbsp,
    Sep,
    LBracket,
    RBracket,
    Escape,
    TrailingBackslash,
    ...vars,
    BracketText,
  ],
  quote: [QuoteClose, LBracket, Continuation, Escape, TrailingBackslash, ...vars, QuoteText],
  index: [RParen, LBracket, Continuation, Escape, TrailingBackslash, ...vars, IndexText],
};

export const allTokenTypes: TokenType[] = [...new Set(Object.values(modes).flat())];

export const tclLexer = new Lexer(
  { modes, defaultMode: "script" },
  {
    positionTracking: "onlyOffset",
    ensureOptimizations: true,
    skipValidations: true,
  },
);

/** Lexes a script that starts in bracket mode (the body of [...]) or script mode. */
export function lexScript(text: string): { tokens: IToken[]; modeStack: string[] } {
  const r = tclLexer.tokenize(text);
  // All characters are covered by some token in every mode, so lexing errors cannot happen; the mode stack at the
  // end tells the parser which construct was left open.
  return { tokens: r.tokens, modeStack: (r as unknown as { modes?: string[] }).modes ?? [] };
}
