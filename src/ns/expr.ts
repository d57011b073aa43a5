/** Tcl's `expr` language (8.6): a Pratt parser into a small tree, cached by text, and its evaluation. */
import { type Part, PartKind } from "./ast.js";
import { scanBraces, tclLexer } from "./lexer.js";
import { parseScript } from "./parser.js";
import {
  formatDouble,
  looksLikeBadOctal,
  parseBoolean,
  parseList,
  parseNumber,
  type TclNumber,
  ValueError,
} from "./values.js";

export type Value = TclNumber | { t: "s"; v: string };

/** A failure with Tcl's message; `at` is an offset into the expression text when known. */
export class ExprError extends Error {
  constructor(
    message: string,
    readonly syntax: boolean,
    readonly at: number | null = null,
    readonly limit = false,
  ) {
    super(message);
  }
}

type Node =
  | { k: "lit"; v: Value }
  | { k: "parts"; parts: Part[] }
  | { k: "un"; op: string; a: Node }
  | { k: "bin"; op: string; a: Node; b: Node; at: number }
  | { k: "tern"; c: Node; a: Node; b: Node }
  | { k: "fn"; name: string; args: Node[]; at: number };

export interface ExprHost {
  /** Substitutes the parts of a `$var`, `[cmd]` or `"..."` operand. */
  subst(parts: Part[]): string;
  rand(): number;
  srand(seed: bigint): number;
}

// Binary operator precedence, lowest first.
const BINARY: Record<string, number> = {
  "||": 1,
  "&&": 2,
  "|": 3,
  "^": 4,
  "&": 5,
  // Tcl's compiler gives eq, ne, in and ni the precedence of == and != (tclCompExpr.c), whatever expr(n) lists.
  in: 8,
  ni: 8,
  eq: 8,
  ne: 8,
  "==": 8,
  "!=": 8,
  "<": 9,
  ">": 9,
  "<=": 9,
  ">=": 9,
  "<<": 10,
  ">>": 10,
  "+": 11,
  "-": 11,
  "*": 12,
  "/": 12,
  "%": 12,
  "**": 13,
};

type Tok =
  | { t: "num"; v: Value; at: number }
  | { t: "op"; v: string; at: number }
  | { t: "word"; v: string; at: number }
  | { t: "parts"; parts: Part[]; at: number }
  | { t: "end"; at: number };

const NUM_RE = /0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|(?:[0-9]+\.[0-9]*|\.[0-9]+|[0-9]+)(?:[eE][+-]?[0-9]+)?/y;
const WORD_RE = /[A-Za-z_][A-Za-z0-9_:]*/y;
const OPS = [
  "**",
  "<<",
  ">>",
  "<=",
  ">=",
  "==",
  "!=",
  "&&",
  "||",
  "+",
  "-",
  "*",
  "/",
  "%",
  "<",
  ">",
  "&",
  "|",
  "^",
  "~",
  "!",
  "(",
  ")",
  ",",
  "?",
  ":",
];

/** The end offset of the `$...`, `[...]` or `"..."` construct starting at `i`, found with the Tcl lexer's modes. */
function constructEnd(text: string, i: number): number {
  const rest = text.slice(i);
  const toks = tclLexer.tokenize(rest).tokens;
  let depth = 0;
  for (const tok of toks) {
    const n = tok.tokenType.name;
    if (n === "QuoteOpen" || n === "LBracket" || n === "VarArrayOpen") depth++;
    else if (n === "QuoteClose" || n === "RBracket" || n === "RParen") depth--;
    if (depth === 0) return i + tok.startOffset + tok.image.length;
  }
  return -1;
}

function tokenize(text: string, base: number): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text[i]!;
    if (c === " " || c === "\t" || c === "\n" || c === "\r" || c === "\v" || c === "\f") {
      i++;
      continue;
    }
    if ((c >= "0" && c <= "9") || (c === "." && /[0-9]/.test(text[i + 1] ?? ""))) {
      NUM_RE.lastIndex = i;
      const m = NUM_RE.exec(text)!;
      const lit = m[0];
      const after = text[i + lit.length];
      if (after !== undefined && /[A-Za-z0-9_.]/.test(after)) {
        WORD_RE.lastIndex = i + lit.length;
        const tail = WORD_RE.exec(text)?.[0] ?? after;
        throw new ExprError(`invalid bareword "${lit}${tail}"`, true, i);
      }
      const num = parseNumber(lit);
      if (num === null) throw new ExprError(`invalid bareword "${lit}" (looks like an invalid octal number)`, true, i);
      // Kept as text: string operators see the literal as written (`017 eq 15` is false in Tcl).
      out.push({ t: "num", v: { t: "s", v: lit }, at: i });
      i += lit.length;
      continue;
    }
    if (c === "$" || c === "[" || c === '"') {
      const end = constructEnd(text, i);
      if (end < 0) {
        const what = c === "[" ? "missing close-bracket" : c === '"' ? "missing close-quote" : "missing )";
        throw new ExprError(what, true, i);
      }
      const word = parseScript(text.slice(i, end), base + i).script.commands[0]?.words[0];
      if (word === undefined || word.end - base !== end)
        throw new ExprError(`syntax error at "${text.slice(i, end)}"`, true, i);
      out.push({ t: "parts", parts: word.parts, at: i });
      i = end;
      continue;
    }
    if (c === "{") {
      const end = scanBraces(text, i);
      if (end < 0) throw new ExprError("missing close-brace", true, i);
      out.push({ t: "num", v: { t: "s", v: text.slice(i + 1, end - 1) }, at: i });
      i = end;
      continue;
    }
    WORD_RE.lastIndex = i;
    const w = WORD_RE.exec(text);
    if (w !== null) {
      out.push({ t: "word", v: w[0], at: i });
      i += w[0].length;
      continue;
    }
    const op = OPS.find((o) => text.startsWith(o, i));
    if (op === undefined) throw new ExprError(`invalid character "${c}"`, true, i);
    out.push({ t: "op", v: op, at: i });
    i += op.length;
  }
  out.push({ t: "end", at: n });
  return out;
}

class ExprParser {
  private p = 0;
  constructor(private readonly toks: Tok[]) {}

  private peek(): Tok {
    return this.toks[this.p]!;
  }
  private next(): Tok {
    return this.toks[this.p++]!;
  }
  private isOp(v: string): boolean {
    const t = this.peek();
    return t.t === "op" && t.v === v;
  }

  parseAll(): Node {
    if (this.peek().t === "end") throw new ExprError("empty expression", true, 0);
    const n = this.ternary();
    const t = this.peek();
    if (t.t !== "end") {
      if (t.t === "op" && t.v === ")") throw new ExprError("unbalanced close paren", true, t.at);
      throw new ExprError(`missing operator at ${describe(t)}`, true, t.at);
    }
    return n;
  }

  private ternary(): Node {
    const c = this.binary(1);
    if (!this.isOp("?")) return c;
    this.next();
    const a = this.ternary();
    if (!this.isOp(":")) throw new ExprError('missing ":" in ternary conditional', true, this.peek().at);
    this.next();
    const b = this.ternary();
    return { k: "tern", c, a, b };
  }

  private binaryOp(): string | null {
    const t = this.peek();
    if (t.t === "op" && BINARY[t.v] !== undefined) return t.v;
    if (t.t === "word" && (t.v === "eq" || t.v === "ne" || t.v === "in" || t.v === "ni")) return t.v;
    return null;
  }

  private binary(minPrec: number): Node {
    let left = this.unary();
    for (;;) {
      const op = this.binaryOp();
      if (op === null) return left;
      const prec = BINARY[op]!;
      if (prec < minPrec) return left;
      const at = this.next().at;
      // ** is right-associative; everything else left-associative.
      const right = op === "**" ? this.binary(prec) : this.binary(prec + 1);
      left = { k: "bin", op, a: left, b: right, at };
    }
  }

  private unary(): Node {
    const t = this.peek();
    if (t.t === "op" && (t.v === "-" || t.v === "+" || t.v === "~" || t.v === "!")) {
      this.next();
      return { k: "un", op: t.v, a: this.unary() };
    }
    return this.power();
  }

  private power(): Node {
    // Unary operators bind tighter than ** in Tcl: -2**2 is 4.
    return this.primary();
  }

  private primary(): Node {
    const t = this.next();
    switch (t.t) {
      case "num":
        return { k: "lit", v: t.v };
      case "parts":
        return { k: "parts", parts: t.parts };
      case "word": {
        if (this.isOp("(")) {
          this.next();
          const args: Node[] = [];
          if (!this.isOp(")")) {
            for (;;) {
              args.push(this.ternary());
              if (this.isOp(",")) {
                this.next();
                continue;
              }
              break;
            }
          }
          if (!this.isOp(")")) throw new ExprError("missing close parenthesis in function call", true, this.peek().at);
          this.next();
          return { k: "fn", name: t.v, args, at: t.at };
        }
        const lower = t.v.toLowerCase();
        if (lower === "inf" || lower === "infinity") return { k: "lit", v: { t: "d", v: Infinity } };
        if (lower === "nan") return { k: "lit", v: { t: "d", v: Number.NaN } };
        if (parseBoolean(t.v) !== null && parseNumber(t.v) === null) return { k: "lit", v: { t: "s", v: t.v } };
        throw new ExprError(`invalid bareword "${t.v}"`, true, t.at);
      }
      case "op":
        if (t.v === "(") {
          const n = this.ternary();
          if (!this.isOp(")")) throw new ExprError("unbalanced open paren", true, t.at);
          this.next();
          return n;
        }
        throw new ExprError(`missing operand at "${t.v}"`, true, t.at);
      case "end":
        throw new ExprError("missing operand", true, t.at);
    }
  }
}

function describe(t: Tok): string {
  switch (t.t) {
    case "num":
      return "a number";
    case "word":
      return `"${t.v}"`;
    case "op":
      return `"${t.v}"`;
    case "parts":
      return "a substitution";
    case "end":
      return "the end";
  }
}

const cache = new Map<string, Node>();

export type ExprNode = Node;

export function parseExpr(text: string, base: number): Node {
  const key = `${base}\0${text}`;
  const hit = cache.get(key);
  if (hit !== undefined) return hit;
  const node = new ExprParser(tokenize(text, base)).parseAll();
  if (cache.size > 2048) cache.clear();
  cache.set(key, node);
  return node;
}

// ---- evaluation ----

const MAX_BITS = 1_000_000;

function str(v: Value): string {
  if (v.t === "s") return v.v;
  if (v.t === "i") return v.v.toString();
  return formatDouble(v.v);
}

const NOT_A_NUMBER = "floating point value is Not a Number";

/** An operand of an operator: NaN is refused with Tcl's message. */
function num(v: Value, op: string): TclNumber {
  const n = anyNum(v, op);
  if (n.t === "d" && Number.isNaN(n.v))
    throw new ExprError(`can't use non-numeric floating-point value as operand of "${op}"`, false);
  return n;
}

/** An argument of a math function: NaN is refused with Tcl's message for functions. */
function arg(v: Value, fn: string): TclNumber {
  const n = anyNum(v, fn);
  if (n.t === "d" && Number.isNaN(n.v)) throw new ExprError(NOT_A_NUMBER, false);
  return n;
}

function anyNum(v: Value, op: string): TclNumber {
  if (v.t !== "s") return v;
  const n = parseNumber(v.v);
  if (n !== null) return n;
  if (looksLikeBadOctal(v.v)) throw new ExprError(`can't use invalid octal number as operand of "${op}"`, false);
  if (v.v.length > 0 && parseBoolean(v.v) !== null && op === "!") return { t: "i", v: parseBoolean(v.v) ? 1n : 0n };
  throw new ExprError(
    `can't use ${v.v.length === 0 ? "empty string" : "non-numeric string"} as operand of "${op}"`,
    false,
  );
}

function int(v: Value, op: string): bigint {
  const n = num(v, op);
  if (n.t === "d") throw new ExprError(`can't use floating-point value as operand of "${op}"`, false);
  return n.v;
}

function bool(v: Value): boolean {
  if (v.t === "i") return v.v !== 0n;
  if (v.t === "d") {
    if (Number.isNaN(v.v)) throw new ExprError(NOT_A_NUMBER, false);
    return v.v !== 0;
  }
  const n = parseNumber(v.v);
  if (n !== null && n.t === "d" && Number.isNaN(n.v)) throw new ExprError(NOT_A_NUMBER, false);
  const b = parseBoolean(v.v);
  if (b === null) throw new ExprError(`expected boolean value but got "${v.v}"`, false);
  return b;
}

const INEXACT = 1n << 53n;
let hugeConversions = 0;

function noteInexact(v: bigint): void {
  if (v > INEXACT || v < -INEXACT) hugeConversions++;
}

/** An integer as a double (rounded to nearest); counts integers a double cannot hold exactly. */
function dbl(n: TclNumber): number {
  if (n.t === "d") return n.v;
  noteInexact(n.v);
  return Number(n.v);
}

/**
 * How many integers beyond 2^53 (which no double holds exactly) were converted to or compared with doubles so
 * far. Tcl 8.6.13 treats some of them differently from exact IEEE rounding (`double(2**64)` is
 * 1.844674407370955e+19, one step below; `min(2**63-1, 2.0**63)` picks the double); the differential tests use
 * this count to know where tclsh's results cannot be compared digit for digit.
 */
export function hugeIntegerConversions(): number {
  return hugeConversions;
}

function checkDouble(x: number): Value {
  if (Number.isNaN(x)) throw new ExprError("domain error: argument not in valid range", false);
  return { t: "d", v: x };
}

function checkBits(x: bigint): bigint {
  const bits = x < 0n ? (-x).toString(16).length * 4 : x.toString(16).length * 4;
  if (bits > MAX_BITS) throw new ExprError("integer value too large for fwc's limit", false, null, true);
  return x;
}

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a < 0n !== b < 0n ? q - 1n : q;
}

function intPow(a: bigint, b: bigint): bigint {
  if (b < 0n) {
    if (a === 0n) throw new ExprError("exponentiation of zero by negative power", false);
    if (a === 1n) return 1n;
    if (a === -1n) return b % 2n === 0n ? 1n : -1n;
    return 0n;
  }
  if (a === 0n || a === 1n || b === 0n) return b === 0n ? 1n : a;
  if (a === -1n) return b % 2n === 0n ? 1n : -1n;
  const abs = a < 0n ? -a : a;
  if (abs.toString(2).length * Number(b > BigInt(MAX_BITS) ? BigInt(MAX_BITS) + 1n : b) > MAX_BITS)
    throw new ExprError("integer value too large for fwc's limit", false, null, true);
  return a ** b;
}

/** Sign of (d - i) computed exactly. */
function intVsDouble(d: number, i: bigint): number {
  noteInexact(i);
  const f = Math.floor(d);
  const bf = BigInt(f);
  if (bf !== i) return bf < i ? -1 : 1;
  return d > f ? 1 : 0;
}

function compare(a: Value, b: Value, op: string): number {
  const x = a.t === "s" ? parseNumber(a.v) : a;
  const y = b.t === "s" ? parseNumber(b.v) : b;
  if (x !== null && y !== null) {
    if (x.t === "i" && y.t === "i") return x.v < y.v ? -1 : x.v > y.v ? 1 : 0;
    // An integer and a double compare exactly, as Tcl does (2**63-1 is not equal to 2.0**63).
    if (x.t === "i" && y.t === "d" && Number.isFinite(y.v)) return -intVsDouble(y.v, x.v);
    if (x.t === "d" && y.t === "i" && Number.isFinite(x.v)) return intVsDouble(x.v, y.v);
    const p = dbl(x);
    const q = dbl(y);
    if (Number.isNaN(p) || Number.isNaN(q)) return Number.NaN;
    return p < q ? -1 : p > q ? 1 : 0;
  }
  void op;
  const s = str(a);
  const t = str(b);
  return s < t ? -1 : s > t ? 1 : 0;
}

function arith(op: string, a: Value, b: Value): Value {
  const x = num(a, op);
  const y = num(b, op);
  if (x.t === "i" && y.t === "i") {
    switch (op) {
      case "+":
        return { t: "i", v: checkBits(x.v + y.v) };
      case "-":
        return { t: "i", v: checkBits(x.v - y.v) };
      case "*":
        return { t: "i", v: checkBits(x.v * y.v) };
      case "/":
        if (y.v === 0n) throw new ExprError("divide by zero", false);
        return { t: "i", v: floorDiv(x.v, y.v) };
      case "%": {
        if (y.v === 0n) throw new ExprError("divide by zero", false);
        const r = x.v % y.v;
        return { t: "i", v: r !== 0n && r < 0n !== y.v < 0n ? r + y.v : r };
      }
      case "**":
        return { t: "i", v: intPow(x.v, y.v) };
    }
  }
  if (op === "%") throw new ExprError(`can't use floating-point value as operand of "%"`, false);
  const p = dbl(x);
  const q = dbl(y);
  switch (op) {
    case "+":
      return checkDouble(p + q);
    case "-":
      return checkDouble(p - q);
    case "*":
      return checkDouble(p * q);
    case "/":
      return checkDouble(p / q);
    default:
      return checkDouble(p ** q);
  }
}

function bits(op: string, a: Value, b: Value): Value {
  const x = int(a, op);
  const y = int(b, op);
  switch (op) {
    case "&":
      return { t: "i", v: x & y };
    case "|":
      return { t: "i", v: x | y };
    case "^":
      return { t: "i", v: x ^ y };
    case "<<":
      if (y < 0n) throw new ExprError("negative shift argument", false);
      if (x !== 0n && y > BigInt(MAX_BITS))
        throw new ExprError("integer value too large for fwc's limit", false, null, true);
      return { t: "i", v: checkBits(x << y) };
    default:
      if (y < 0n) throw new ExprError("negative shift argument", false);
      return { t: "i", v: y > 100_000_000n ? (x < 0n ? -1n : 0n) : x >> y };
  }
}

type MathFn = (args: Value[], host: ExprHost) => Value;

/** The double next to `d` towards +inf (dir 1) or -inf (dir -1). */
function nextDouble(d: number, dir: 1 | -1): number {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, d);
  let bits = view.getBigUint64(0);
  bits = d > 0 === dir > 0 ? bits + 1n : bits - 1n;
  view.setBigUint64(0, bits);
  return view.getFloat64(0);
}

/** floor/ceil: on integers Tcl rounds to the nearest double in that direction, not to the nearest double. */
function directed(n: TclNumber, dir: 1 | -1): Value {
  if (n.t === "d") return checkDouble(dir > 0 ? Math.ceil(n.v) : Math.floor(n.v));
  let d = dbl(n);
  if (Number.isFinite(d) && d !== 0) {
    const back = BigInt(d);
    if (dir < 0 && back > n.v) d = nextDouble(d, -1);
    else if (dir > 0 && back < n.v) d = nextDouble(d, 1);
  }
  return checkDouble(d);
}

function unaryDouble(f: (x: number) => number): [number, MathFn] {
  return [1, (a) => checkDouble(f(dbl(arg(a[0]!, "expr"))))];
}

function toWide(n: TclNumber): bigint {
  if (n.t === "i") return BigInt.asIntN(64, n.v);
  if (!Number.isFinite(n.v)) throw new ExprError("integer value too large to represent", false);
  return BigInt.asIntN(64, BigInt(Math.trunc(n.v)));
}

function entier(n: TclNumber): bigint {
  if (n.t === "i") return n.v;
  if (!Number.isFinite(n.v)) throw new ExprError("integer value too large to represent", false);
  return BigInt(Math.trunc(n.v));
}

const FUNCS: Record<string, [number, MathFn]> = {
  abs: [
    1,
    (a) => {
      const n = arg(a[0]!, "abs");
      return n.t === "i" ? { t: "i", v: n.v < 0n ? -n.v : n.v } : { t: "d", v: Math.abs(n.v) };
    },
  ],
  acos: unaryDouble(Math.acos),
  asin: unaryDouble(Math.asin),
  atan: unaryDouble(Math.atan),
  ceil: [1, (a) => directed(arg(a[0]!, "ceil"), 1)],
  cos: unaryDouble(Math.cos),
  cosh: unaryDouble(Math.cosh),
  exp: unaryDouble(Math.exp),
  floor: [1, (a) => directed(arg(a[0]!, "floor"), -1)],
  log: unaryDouble(Math.log),
  log10: unaryDouble(Math.log10),
  sin: unaryDouble(Math.sin),
  sinh: unaryDouble(Math.sinh),
  // sqrt of a negative number is NaN, not an error: Tcl reports it only where the NaN is used.
  // Its string form is "-NaN" (the C library's NaN has the sign bit set).
  sqrt: [
    1,
    (a) => {
      const r = Math.sqrt(dbl(arg(a[0]!, "sqrt")));
      return Number.isNaN(r) ? { t: "s", v: "-NaN" } : { t: "d", v: r };
    },
  ],
  tan: unaryDouble(Math.tan),
  tanh: unaryDouble(Math.tanh),
  double: unaryDouble((x) => x),
  atan2: [2, (a) => checkDouble(Math.atan2(dbl(arg(a[0]!, "atan2")), dbl(arg(a[1]!, "atan2"))))],
  hypot: [2, (a) => checkDouble(Math.hypot(dbl(arg(a[0]!, "hypot")), dbl(arg(a[1]!, "hypot"))))],
  pow: [2, (a) => checkDouble(dbl(arg(a[0]!, "pow")) ** dbl(arg(a[1]!, "pow")))],
  fmod: [2, (a) => checkDouble(dbl(arg(a[0]!, "fmod")) % dbl(arg(a[1]!, "fmod")))],
  int: [1, (a) => ({ t: "i", v: toWide(arg(a[0]!, "int")) })],
  wide: [1, (a) => ({ t: "i", v: toWide(arg(a[0]!, "wide")) })],
  entier: [1, (a) => ({ t: "i", v: entier(arg(a[0]!, "entier")) })],
  round: [
    1,
    (a) => {
      const n = arg(a[0]!, "round");
      if (n.t === "i") return n;
      if (!Number.isFinite(n.v)) throw new ExprError("integer value too large to represent", false);
      const r = n.v < 0 ? -Math.floor(-n.v + 0.5) : Math.floor(n.v + 0.5);
      return { t: "i", v: BigInt(r) };
    },
  ],
  bool: [1, (a) => ({ t: "i", v: bool(a[0]!) ? 1n : 0n })],
  isqrt: [
    1,
    (a) => {
      const n = arg(a[0]!, "isqrt");
      if (n.t === "d" && n.v < 0) throw new ExprError("square root of negative argument", false);
      if (n.t === "d" && !Number.isFinite(n.v)) throw new ExprError("integer value too large to represent", false);
      const v = n.t === "i" ? n.v : BigInt(Math.floor(n.v));
      if (v < 0n) throw new ExprError("square root of negative argument", false);
      if (v < 2n) return { t: "i", v };
      // Newton's method on integers: converges from above for any size.
      let x = v;
      let y = (x + 1n) / 2n;
      while (y < x) {
        x = y;
        y = (x + v / x) / 2n;
      }
      return { t: "i", v: x };
    },
  ],
  rand: [0, (_a, host) => ({ t: "d", v: host.rand() })],
  srand: [1, (a, host) => ({ t: "d", v: host.srand(entier(arg(a[0]!, "srand"))) })],
};

function minMax(name: "min" | "max", args: Value[]): Value {
  if (args.length === 0) throw new ExprError(`not enough arguments to math function "${name}"`, false);
  let best = args[0]!;
  let bestN = arg(best, name);
  for (const a of args.slice(1)) {
    const n = arg(a, name);
    const c = compare(n, bestN, name);
    if ((name === "max" && c > 0) || (name === "min" && c < 0)) {
      best = a;
      bestN = n;
    }
  }
  return bestN;
}

export function evalNode(n: Node, host: ExprHost): Value {
  switch (n.k) {
    case "lit":
      return n.v;
    case "parts":
      return { t: "s", v: host.subst(n.parts) };
    case "un": {
      const a = evalNode(n.a, host);
      switch (n.op) {
        case "-": {
          const x = num(a, "-");
          return x.t === "i" ? { t: "i", v: -x.v } : { t: "d", v: -x.v };
        }
        case "+":
          return num(a, "+");
        case "~":
          return { t: "i", v: ~int(a, "~") };
        default:
          if (a.t === "s" && parseNumber(a.v) === null && parseBoolean(a.v) === null)
            throw new ExprError(`can't use non-numeric string as operand of "!"`, false);
          if (a.t !== "s" || parseNumber(a.v) !== null) num(a, "!");
          return { t: "i", v: bool(a) ? 0n : 1n };
      }
    }
    case "tern":
      return bool(evalNode(n.c, host)) ? evalNode(n.a, host) : evalNode(n.b, host);
    case "fn": {
      const args = n.args.map((a) => evalNode(a, host));
      if (n.name === "min" || n.name === "max") return minMax(n.name, args);
      const f = FUNCS[n.name];
      if (f === undefined) throw new ExprError(`invalid command name "tcl::mathfunc::${n.name}"`, false, n.at);
      if (args.length < f[0]) throw new ExprError(`not enough arguments for math function "${n.name}"`, false, n.at);
      if (args.length > f[0]) throw new ExprError(`too many arguments for math function "${n.name}"`, false, n.at);
      return f[1](args, host);
    }
    case "bin": {
      const op = n.op;
      if (op === "&&") return { t: "i", v: bool(evalNode(n.a, host)) && bool(evalNode(n.b, host)) ? 1n : 0n };
      if (op === "||") return { t: "i", v: bool(evalNode(n.a, host)) || bool(evalNode(n.b, host)) ? 1n : 0n };
      const a = evalNode(n.a, host);
      const b = evalNode(n.b, host);
      switch (op) {
        case "+":
        case "-":
        case "*":
        case "/":
        case "%":
        case "**":
          return arith(op, a, b);
        case "&":
        case "|":
        case "^":
        case "<<":
        case ">>":
          return bits(op, a, b);
        case "eq":
          return { t: "i", v: str(a) === str(b) ? 1n : 0n };
        case "ne":
          return { t: "i", v: str(a) !== str(b) ? 1n : 0n };
        case "in":
        case "ni": {
          let items: string[];
          try {
            items = parseList(str(b));
          } catch (e) {
            if (e instanceof ValueError) throw new ExprError(e.message, false);
            throw e;
          }
          const found = items.includes(str(a));
          return { t: "i", v: found === (op === "in") ? 1n : 0n };
        }
        default: {
          const c = compare(a, b, op);
          let r: boolean;
          if (Number.isNaN(c)) r = op === "!=";
          else if (op === "<") r = c < 0;
          else if (op === ">") r = c > 0;
          else if (op === "<=") r = c <= 0;
          else if (op === ">=") r = c >= 0;
          else if (op === "==") r = c === 0;
          else r = c !== 0;
          return { t: "i", v: r ? 1n : 0n };
        }
      }
    }
  }
}

/** The string result of an expression, as `expr` returns it. */
export function valueString(v: Value): string {
  if (v.t === "d" && Number.isNaN(v.v)) throw new ExprError("domain error: argument not in valid range", false);
  if (v.t === "s") {
    // Tcl's expr returns a numeric-looking string result in its canonical form: {"017"} gives 15.
    const n = parseNumber(v.v);
    if (n !== null && n.t === "d" && Number.isNaN(n.v))
      throw new ExprError("domain error: argument not in valid range", false);
    if (n !== null) return n.t === "i" ? n.v.toString() : formatDouble(n.v);
  }
  return str(v);
}

export function valueBool(v: Value): boolean {
  return bool(v);
}

export { PartKind };
