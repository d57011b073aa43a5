/** Lists: list, lindex, llength, lrange, concat, join, split, lsearch, lsort, linsert, lreplace, lreverse. */
import type { Interp } from "../interp.js";
import { formatList, parseNumber } from "../values.js";
import { globMatch, integer } from "./vars.js";

/** Tcl index: integer, end, end-N, end+N, N+M, N-M. */
export function index(it: Interp, s: string, length: number, wordIndex: number): number {
  const m = /^\s*(end|[+-]?\d+)(?:([+-])(\d+))?\s*$/.exec(s);
  if (m === null)
    throw it.error(
      "FWC205",
      `bad index "${s}": must be integer?[+-]integer? or end?[+-]integer?`,
      undefined,
      it.wordSpan(wordIndex),
    );
  const base = m[1] === "end" ? length - 1 : Number(integer(it, m[1]!, wordIndex));
  const off = m[3] === undefined ? 0 : Number(m[3]) * (m[2] === "-" ? -1 : 1);
  return base + off;
}

/** Tcl's `concat`: each argument trimmed of white space, the non-empty ones joined by one space. */
export function concat(args: string[]): string {
  return args
    .map((s) => s.replace(/^[ \t\n\r\v\f]+|[ \t\n\r\v\f]+$/g, ""))
    .filter((s) => s.length > 0)
    .join(" ");
}

export function installLists(it: Interp): void {
  const c = it.commands;

  c.set("list", (_it, a) => formatList(a.slice(1)));

  c.set("llength", (it, a) => {
    if (a.length !== 2) throw it.wrongArgs("llength list");
    return String(it.list(a[1]!, 1).length);
  });

  c.set("lindex", (it, a) => {
    if (a.length < 2) throw it.wrongArgs("lindex list ?index ...?");
    let v = a[1]!;
    const indices = a.length === 3 ? it.list(a[2]!, 2) : a.slice(2);
    if (a.length === 3 && indices.length === 0) return v;
    for (const ix of indices) {
      const items = it.list(v, 1);
      const i = index(it, ix, items.length, 2);
      if (i < 0 || i >= items.length) return "";
      v = items[i]!;
    }
    return v;
  });

  c.set("lrange", (it, a) => {
    if (a.length !== 4) throw it.wrongArgs("lrange list first last");
    const items = it.list(a[1]!, 1);
    const first = Math.max(0, index(it, a[2]!, items.length, 2));
    const last = Math.min(items.length - 1, index(it, a[3]!, items.length, 3));
    return first > last ? "" : formatList(items.slice(first, last + 1));
  });

  c.set("concat", (_it, a) => concat(a.slice(1)));

  c.set("join", (it, a) => {
    if (a.length < 2 || a.length > 3) throw it.wrongArgs("join list ?joinString?");
    return it.checkSize(it.list(a[1]!, 1).join(a[2] ?? " "));
  });

  c.set("split", (it, a) => {
    if (a.length < 2 || a.length > 3) throw it.wrongArgs("split string ?splitChars?");
    const s = a[1]!;
    const chars = a[2] ?? " \t\n\r";
    if (s.length === 0) return "";
    // Each character becomes an element: the list is about twice as long, and it is refused before it is built.
    if (s.length * 2 > it.limits.maxString) throw it.sizeError(s.length * 2);
    if (chars.length === 0) return formatList([...s]);
    const out: string[] = [];
    let cur = "";
    for (const ch of s) {
      if (chars.includes(ch)) {
        out.push(cur);
        cur = "";
      } else cur += ch;
    }
    out.push(cur);
    return formatList(out);
  });

  c.set("lsearch", (it, a) => {
    let i = 1;
    let mode: "glob" | "exact" = "glob";
    let all = false;
    let inline = false;
    for (; i < a.length - 2; i++) {
      const o = a[i]!;
      if (o === "-exact") mode = "exact";
      else if (o === "-glob") mode = "glob";
      else if (o === "-all") all = true;
      else if (o === "-inline") inline = true;
      else throw it.error("FWC214", `lsearch option "${o}" is not supported by fwc`);
    }
    if (a.length - i !== 2) throw it.wrongArgs("lsearch ?-exact|-glob? ?-all? ?-inline? list pattern");
    const items = it.list(a[i]!, i);
    const pat = a[i + 1]!;
    const hits: number[] = [];
    items.forEach((e, k) => {
      if ((all || hits.length === 0) && (mode === "exact" ? e === pat : globMatch(pat, e))) hits.push(k);
    });
    if (inline) return all ? formatList(hits.map((k) => items[k]!)) : (items[hits[0] ?? -1] ?? "");
    return all ? formatList(hits.map(String)) : String(hits[0] ?? -1);
  });

  c.set("lsort", (it, a) => {
    let mode: "ascii" | "integer" | "real" | "dictionary" = "ascii";
    let dir = 1;
    let unique = false;
    let i = 1;
    for (; i < a.length - 1; i++) {
      const o = a[i]!;
      if (o === "-ascii") mode = "ascii";
      else if (o === "-integer") mode = "integer";
      else if (o === "-real") mode = "real";
      else if (o === "-dictionary") mode = "dictionary";
      else if (o === "-increasing") dir = 1;
      else if (o === "-decreasing") dir = -1;
      else if (o === "-unique") unique = true;
      else throw it.error("FWC214", `lsort option "${o}" is not supported by fwc`);
    }
    if (i !== a.length - 1) throw it.wrongArgs("lsort ?options? list");
    const items = it.list(a[i]!, i);
    const key = (s: string): number => {
      const n = parseNumber(s);
      if (n === null || (mode === "integer" && n.t !== "i"))
        throw it.error("FWC205", `expected ${mode === "integer" ? "integer" : "floating-point number"} but got "${s}"`);
      return Number(n.v);
    };
    const cmp =
      mode === "integer" || mode === "real"
        ? (x: string, y: string) => key(x) - key(y)
        : mode === "dictionary"
          ? (x: string, y: string) =>
              x.localeCompare(y, "en", { numeric: true, sensitivity: "base" }) || (x < y ? -1 : x > y ? 1 : 0)
          : (x: string, y: string) => (x < y ? -1 : x > y ? 1 : 0);
    const sorted = [...items].sort((x, y) => dir * cmp(x, y));
    const out = unique ? sorted.filter((x, k) => k === sorted.length - 1 || cmp(x, sorted[k + 1]!) !== 0) : sorted;
    return formatList(out);
  });

  c.set("linsert", (it, a) => {
    if (a.length < 3) throw it.wrongArgs("linsert list index ?element ...?");
    const items = it.list(a[1]!, 1);
    let at = index(it, a[2]!, items.length + 1, 2);
    if (a[2]!.startsWith("end")) at = index(it, a[2]!, items.length, 2) + 1;
    at = Math.max(0, Math.min(items.length, at));
    items.splice(at, 0, ...a.slice(3));
    return formatList(items);
  });

  c.set("lreplace", (it, a) => {
    if (a.length < 4) throw it.wrongArgs("lreplace list first last ?element ...?");
    const items = [...it.list(a[1]!, 1)];
    const first = Math.max(0, index(it, a[2]!, items.length, 2));
    const last = index(it, a[3]!, items.length, 3);
    const count = Math.max(0, last - first + 1);
    items.splice(Math.min(first, items.length), count, ...a.slice(4));
    return formatList(items);
  });

  c.set("lreverse", (it, a) => {
    if (a.length !== 2) throw it.wrongArgs("lreverse list");
    return formatList([...it.list(a[1]!, 1)].reverse());
  });
}
