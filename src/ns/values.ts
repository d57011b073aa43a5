/** Tcl value semantics: lists, numbers, booleans and their string forms (Tcl 8.6). */

export class ValueError extends Error {}

const WS = new Set([" ", "\t", "\n", "\r", "\v", "\f"]);
export const isTclSpace = (c: string | undefined): boolean => c !== undefined && WS.has(c);

/** Backslash substitution as Tcl does it in bare and quoted list elements and `subst`. */
export function substBackslashes(s: string): string {
  if (s.indexOf("\\") < 0) return s;
  let out = "";
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c !== "\\") {
      out += c;
      continue;
    }
    const n = s[i + 1];
    if (n === undefined) {
      out += "\\";
      break;
    }
    i++;
    switch (n) {
      case "a":
        out += "\x07";
        break;
      case "b":
        out += "\b";
        break;
      case "f":
        out += "\f";
        break;
      case "n":
        out += "\n";
        break;
      case "r":
        out += "\r";
        break;
      case "t":
        out += "\t";
        break;
      case "v":
        out += "\v";
        break;
      case "\n": {
        while (s[i + 1] === " " || s[i + 1] === "\t") i++;
        out += " ";
        break;
      }
      case "x":
      case "u":
      case "U": {
        const max = n === "x" ? 2 : n === "u" ? 4 : 8;
        let j = i + 1;
        while (j < s.length && j - i - 1 < max && /[0-9a-fA-F]/.test(s[j]!)) j++;
        if (j === i + 1) out += n;
        else {
          const cp = Number.parseInt(s.slice(i + 1, j), 16);
          out += cp <= 0x10ffff ? String.fromCodePoint(cp) : n;
          i = j - 1;
        }
        break;
      }
      default:
        if (n >= "0" && n <= "7") {
          let j = i;
          while (j < s.length && j - i < 3 && s[j]! >= "0" && s[j]! <= "7") j++;
          out += String.fromCharCode(Number.parseInt(s.slice(i, j), 8) & 0xff);
          i = j - 1;
        } else out += n;
    }
  }
  return out;
}

const listCache = new Map<string, string[]>();

/** Splits a Tcl list into its elements; throws ValueError with Tcl's message when it is not a well-formed list. */
export function parseList(s: string): string[] {
  if (s.length === 0) return [];
  const cached = listCache.get(s);
  if (cached !== undefined) return cached;
  const out: string[] = [];
  const n = s.length;
  let i = 0;
  for (;;) {
    while (i < n && WS.has(s[i]!)) i++;
    if (i >= n) break;
    const c = s[i]!;
    if (c === "{") {
      let depth = 1;
      let j = i + 1;
      for (; j < n; j++) {
        const d = s[j]!;
        if (d === "\\") j++;
        else if (d === "{") depth++;
        else if (d === "}" && --depth === 0) break;
      }
      if (j >= n) throw new ValueError("unmatched open brace in list");
      out.push(s.slice(i + 1, j));
      i = j + 1;
      if (i < n && !WS.has(s[i]!))
        throw new ValueError(`list element in braces followed by "${trailing(s, i)}" instead of space`);
    } else if (c === '"') {
      let j = i + 1;
      for (; j < n; j++) {
        const d = s[j]!;
        if (d === "\\") j++;
        else if (d === '"') break;
      }
      if (j >= n) throw new ValueError("unmatched open quote in list");
      out.push(substBackslashes(s.slice(i + 1, j)));
      i = j + 1;
      if (i < n && !WS.has(s[i]!))
        throw new ValueError(`list element in quotes followed by "${trailing(s, i)}" instead of space`);
    } else {
      let j = i;
      let esc = false;
      for (; j < n; j++) {
        const d = s[j]!;
        if (d === "\\") {
          esc = true;
          j++;
        } else if (WS.has(d)) break;
      }
      const raw = s.slice(i, Math.min(j, n));
      out.push(esc ? substBackslashes(raw) : raw);
      i = j;
    }
  }
  if (listCache.size > 256) listCache.clear();
  if (s.length > 64) listCache.set(s, out);
  return out;
}

function trailing(s: string, i: number): string {
  let j = i;
  while (j < s.length && !WS.has(s[j]!)) j++;
  return s.slice(i, j);
}

const SPECIAL = /[\s{}[\]$;\\"]/;
/** Characters after which Tcl prefers braces to backslashes; a non-leading `"` or a `]` alone get backslashes. */
const PREFER_BRACE = /[\s{}[$;\\]/;

/** Quotes one element so that parseList gives it back (Tcl's list element formatting). */
export function quoteElement(e: string, first: boolean): string {
  if (e.length === 0) return "{}";
  const hash = first && e[0] === "#";
  if (!SPECIAL.test(e) && !hash) return e;
  if ((hash || e[0] === '"' || PREFER_BRACE.test(e)) && canBrace(e)) return `{${e}}`;
  let out = "";
  for (let i = 0; i < e.length; i++) {
    const c = e[i]!;
    switch (c) {
      case "\n":
        out += "\\n";
        break;
      case "\t":
        out += "\\t";
        break;
      case "\r":
        out += "\\r";
        break;
      case "\v":
        out += "\\v";
        break;
      case "\f":
        out += "\\f";
        break;
      case " ":
      case "{":
      case "}":
      case "[":
      case "]":
      case "$":
      case ";":
      case "\\":
      case '"':
        out += `\\${c}`;
        break;
      case "#":
        out += i === 0 && first ? "\\#" : "#";
        break;
      default:
        out += c;
    }
  }
  return out;
}

function canBrace(e: string): boolean {
  let depth = 0;
  for (let i = 0; i < e.length; i++) {
    const c = e[i];
    if (c === "\\") {
      if (i === e.length - 1) return false;
      i++;
    } else if (c === "{") depth++;
    else if (c === "}") {
      if (--depth < 0) return false;
    }
  }
  return depth === 0;
}

export function formatList(items: readonly string[]): string {
  let out = "";
  for (let i = 0; i < items.length; i++) {
    if (i > 0) out += " ";
    out += quoteElement(items[i]!, i === 0);
  }
  return out;
}

// ---- numbers ----

export type TclNumber = { t: "i"; v: bigint } | { t: "d"; v: number };

const INT_RE =
  /^\s*([+-]?)(?:0[xX]([0-9a-fA-F]+)|0[oO]([0-7]+)|0[bB]([01]+)|0[dD]([0-9]+)|(0[0-7]+)|([1-9][0-9]*|0))\s*$/;
const DBL_RE = /^\s*[+-]?(?:[0-9]+\.[0-9]*|\.[0-9]+|[0-9]+)(?:[eE][+-]?[0-9]+)?\s*$/;
const INF_RE = /^\s*([+-]?)(?:inf|infinity)\s*$/i;
const NAN_RE = /^\s*[+-]?nan\s*$/i;
const BAD_OCTAL_RE = /^\s*[+-]?0[0-9]+\s*$/;

const numCache = new Map<string, TclNumber | null>();

/** Parses a Tcl number (8.6 rules: a leading 0 means octal). Null when the string is not a number. */
const SMALL_INT = /^-?[1-9][0-9]{0,14}$|^0$/;

export function parseNumber(s: string): TclNumber | null {
  // The common case (loop counters, sizes) without the cache.
  if (s.length < 17 && SMALL_INT.test(s)) return { t: "i", v: BigInt(s) };
  const hit = numCache.get(s);
  if (hit !== undefined) return hit;
  const r = parseNumberUncached(s);
  if (numCache.size > 4096) numCache.clear();
  numCache.set(s, r);
  return r;
}

function parseNumberUncached(s: string): TclNumber | null {
  if (s.length === 0 || s.length > 4096) return null;
  const m = INT_RE.exec(s);
  if (m !== null) {
    const neg = m[1] === "-";
    let v: bigint;
    if (m[2] !== undefined) v = BigInt(`0x${m[2]}`);
    else if (m[3] !== undefined) v = BigInt(`0o${m[3]}`);
    else if (m[4] !== undefined) v = BigInt(`0b${m[4]}`);
    else if (m[5] !== undefined) v = BigInt(m[5]);
    else if (m[6] !== undefined) v = BigInt(`0o${m[6].slice(1)}`);
    else v = BigInt(m[7]!);
    return { t: "i", v: neg ? -v : v };
  }
  if (BAD_OCTAL_RE.test(s)) return null;
  if (DBL_RE.test(s)) return { t: "d", v: Number.parseFloat(s.trim()) };
  const inf = INF_RE.exec(s);
  if (inf !== null) return { t: "d", v: inf[1] === "-" ? -Infinity : Infinity };
  if (NAN_RE.test(s)) return { t: "d", v: Number.NaN };
  return null;
}

export const looksLikeBadOctal = (s: string): boolean => BAD_OCTAL_RE.test(s) && !INT_RE.test(s);

/** Tcl's string form of a double: shortest round-trip digits, exponent outside [1e-4, 1e17). */
export function formatDouble(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "Inf";
  if (v === -Infinity) return "-Inf";
  if (v === 0) return Object.is(v, -0) ? "-0.0" : "0.0";
  const exp = v.toExponential(); // shortest digits, e.g. "1.2345e+17"
  const ei = exp.indexOf("e");
  const mant = exp.slice(0, ei);
  const e = Number.parseInt(exp.slice(ei + 1), 10);
  if (e < -4 || e >= 17) return `${mant}e${e < 0 ? "-" : "+"}${Math.abs(e)}`;
  const s = String(v); // plain notation for 1e-4 <= |v| < 1e17, as Tcl prints it
  return s.includes(".") ? s : `${s}.0`;
}

export function formatNumber(n: TclNumber): string {
  return n.t === "i" ? n.v.toString() : formatDouble(n.v);
}

// ---- booleans ----

const BOOL_WORDS: [string, boolean][] = [
  ["true", true],
  ["yes", true],
  ["on", true],
  ["false", false],
  ["no", false],
  ["off", false],
];

/** Tcl's boolean parse: a number (nonzero is true) or a prefix of true/false/yes/no/on/off. Null if neither. */
export function parseBoolean(s: string): boolean | null {
  const n = parseNumber(s);
  if (n !== null) return n.t === "i" ? n.v !== 0n : n.v !== 0;
  const l = s.toLowerCase();
  if (l.length === 0) return null;
  let found: boolean | null = null;
  let matches = 0;
  for (const [w, b] of BOOL_WORDS) {
    if (w.startsWith(l)) {
      matches++;
      found = b;
    }
  }
  // "o" is a prefix of both on and off; Tcl rejects it.
  return matches === 1 || (matches > 1 && BOOL_WORDS.some(([w]) => w === l)) ? found : null;
}
