/** Variables: set, unset, append, lappend, incr, global, upvar, array, info. */
import type { Interp } from "../interp.js";
import { formatList, parseNumber, quoteElement } from "../values.js";
import { concat } from "./lists.js";

export function installVars(it: Interp): void {
  const c = it.commands;

  c.set("set", (it, a) => {
    if (a.length === 2) return it.readVarName(a[1]!);
    if (a.length !== 3) throw it.wrongArgs("set varName ?newValue?");
    return it.setVar(a[1]!, a[2]!, true);
  });

  c.set("unset", (it, a) => {
    let i = 1;
    let complain = true;
    for (; i < a.length; i++) {
      if (a[i] === "-nocomplain") complain = false;
      else if (a[i] === "--") {
        i++;
        break;
      } else break;
    }
    for (; i < a.length; i++) it.unsetVar(a[i]!, complain);
    return "";
  });

  c.set("append", (it, a) => {
    if (a.length < 2) throw it.wrongArgs("append varName ?value ...?");
    let v = it.varExists(a[1]!) ? it.readVarName(a[1]!) : "";
    for (let i = 2; i < a.length; i++) v += a[i]!;
    return it.setVar(a[1]!, it.checkSize(v));
  });

  c.set("lappend", (it, a) => {
    if (a.length < 2) throw it.wrongArgs("lappend varName ?value ...?");
    let v = it.varExists(a[1]!) ? it.readVarName(a[1]!) : "";
    // Tcl checks that the old value is a list; a value without braces, quotes or backslashes always is.
    if (/[{}"\\]/.test(v)) v = formatList(it.list(v));
    for (let i = 2; i < a.length; i++) {
      const e = quoteElement(a[i]!, v.length === 0);
      v = v.length === 0 ? e : `${v} ${e}`;
    }
    return it.setVar(a[1]!, it.checkSize(v));
  });

  c.set("incr", (it, a) => {
    if (a.length < 2 || a.length > 3) throw it.wrongArgs("incr varName ?increment?");
    const by = a.length === 3 ? integer(it, a[2]!, 2) : 1n;
    const old = it.varExists(a[1]!) ? integer(it, it.readVarName(a[1]!), 1) : 0n;
    return it.setVar(a[1]!, (old + by).toString());
  });

  c.set("global", (it, a) => {
    if (it.level === 0) return "";
    for (const name of a.slice(1)) {
      const local = name.includes("::") ? name.slice(name.lastIndexOf("::") + 2) : name;
      it.link(0, name.replace(/^::/, ""), local);
    }
    return "";
  });

  c.set("upvar", (it, a) => {
    let i = 1;
    let level = it.level - 1;
    const lv = a.length % 2 === 0 && a[1] !== undefined ? it.parseLevel(a[1]) : null;
    if (lv !== null) {
      level = lv;
      i = 2;
    }
    if (a.length - i < 2 || (a.length - i) % 2 !== 0)
      throw it.wrongArgs("upvar ?level? otherVar localVar ?otherVar localVar ...?");
    if (level < 0) throw it.error("FWC205", `bad level "${a[1]}"`);
    for (; i < a.length; i += 2) it.link(level, a[i]!, a[i + 1]!);
    return "";
  });

  c.set("array", (it, a) => {
    const sub = a[1];
    const name = a[2];
    if (sub === undefined || name === undefined) throw it.wrongArgs("array subcommand arrayName ?arg ...?");
    const slot = it.arraySlot(name);
    const arr = slot?.arr;
    switch (sub) {
      case "exists":
        return arr !== undefined ? "1" : "0";
      case "size":
        return String(arr?.size ?? 0);
      case "names":
        return formatList([...(arr?.keys() ?? [])].filter((k) => a[3] === undefined || globMatch(a[3], k)));
      case "get": {
        const out: string[] = [];
        for (const [k, v] of arr ?? []) if (a[3] === undefined || globMatch(a[3], k)) out.push(k, v);
        return formatList(out);
      }
      case "set": {
        const items = it.list(a[3] ?? "", 3);
        if (items.length % 2 !== 0) throw it.error("FWC205", "list must have an even number of elements");
        if (slot?.value !== undefined) throw it.error("FWC212", `can't array set "${name}": variable isn't array`);
        if (items.length === 0 && !it.varExists(name)) {
          it.setVar(`${name}(\0)`, "");
          it.unsetVar(`${name}(\0)`, false);
        }
        for (let i = 0; i < items.length; i += 2) it.setVar(`${name}(${items[i]})`, items[i + 1]!);
        return "";
      }
      case "unset":
        if (a[3] === undefined) it.unsetVar(name, false);
        else for (const k of [...(arr?.keys() ?? [])]) if (globMatch(a[3], k)) it.unsetVar(`${name}(${k})`, false);
        return "";
      default:
        throw it.error("FWC214", `array ${sub} is not supported; fwc supports exists, size, names, get, set, unset`);
    }
  });

  // `namespace eval` as Emulab's files use it (`namespace eval TBCOMPAT { set elabinelab_maxpcs 4 }`), and the
  // subcommands that only ask about names.
  c.set("namespace", (it, a, cmd) => {
    const sub = a[1];
    switch (sub) {
      case "eval": {
        if (a.length < 4) throw it.wrongArgs("namespace eval name arg ?arg...?");
        const ns = it.makeNamespace(a[2]!);
        // More than one script argument: joined as `concat` joins them.
        const script = a.length === 4 ? a[3]! : concat(a.slice(3));
        return it.nested(() =>
          it.inNamespace(ns, () => (a.length === 4 ? it.evalBody(script, 3, cmd) : it.evalBody(script, -1, cmd))),
        );
      }
      case "current":
        if (a.length !== 2) throw it.wrongArgs("namespace current");
        return `::${it.ns}`;
      case "exists": {
        if (a.length !== 3) throw it.wrongArgs("namespace exists name");
        const n = it.qualify(a[2]!);
        return n === "" || it.namespaces.has(n.replace(/::$/, "")) ? "1" : "0";
      }
      case "tail": {
        if (a.length !== 3) throw it.wrongArgs("namespace tail string");
        const i = a[2]!.lastIndexOf("::");
        return i < 0 ? a[2]! : a[2]!.slice(i + 2);
      }
      case "qualifiers": {
        if (a.length !== 3) throw it.wrongArgs("namespace qualifiers string");
        const i = a[2]!.lastIndexOf("::");
        return i < 0 ? "" : a[2]!.slice(0, i).replace(/:+$/, "");
      }
      default:
        throw it.error(
          "FWC214",
          `namespace ${sub ?? ""} is not supported; fwc supports namespace eval, current, exists, tail and qualifiers`,
          "set the namespace's variables inside `namespace eval NAME { ... }`",
        );
    }
  });

  // `variable name ?value? ...`: inside `namespace eval`, the namespace's own variable (never the global of that
  // name); inside a proc, a link to the variable of the proc's namespace.
  c.set("variable", (it, a) => {
    if (a.length < 2) throw it.wrongArgs("variable ?name value...? name ?value?");
    for (let i = 1; i < a.length; i += 2) {
      const name = a[i]!;
      if (name.includes("(")) throw it.error("FWC205", `can't define "${name}": name refers to an element in an array`);
      const tail = name.includes("::") ? name.slice(name.lastIndexOf("::") + 2) : name;
      const full = it.qualify(name);
      if (it.level === 0) {
        if (i + 1 < a.length) it.setVar(`::${full}`, a[i + 1]!);
        else it.declare(full);
      } else {
        it.link(0, full, tail);
        if (i + 1 < a.length) it.setVar(tail, a[i + 1]!);
      }
    }
    return "";
  });

  c.set("info", (it, a) => {
    switch (a[1]) {
      case "exists":
        if (a.length !== 3) throw it.wrongArgs("info exists varName");
        return it.varExists(a[2]!) ? "1" : "0";
      case "level":
        return String(it.level);
      case "tclversion":
        return "8.6";
      case "patchlevel":
        return "8.6.13";
      default:
        throw it.error("FWC214", `info ${a[1] ?? ""} is not supported; fwc supports info exists, level, tclversion`);
    }
  });
}

export function integer(it: Interp, s: string, wordIndex?: number): bigint {
  const n = parseNumber(s);
  if (n === null || n.t !== "i") {
    const octal = /^\s*[+-]?0[0-9]+\s*$/.test(s) ? " (looks like invalid octal number)" : "";
    throw it.error("FWC205", `expected integer but got "${s}"${octal}`, undefined, it.wordSpan(wordIndex));
  }
  return n.v;
}

/**
 * Tcl's `string match` glob: * ? [chars] and backslash escapes. Greedy with one backtrack point for the last `*`,
 * so it runs in O(pattern x string) time whatever the pattern.
 */
export function globMatch(pattern: string, s: string, nocase = false): boolean {
  if (nocase) {
    pattern = pattern.toLowerCase();
    s = s.toLowerCase();
  }
  let p = 0;
  let i = 0;
  let starP = -1;
  let starI = 0;
  while (i < s.length) {
    if (pattern[p] === "*") {
      while (pattern[p] === "*") p++;
      starP = p;
      starI = i;
      continue;
    }
    const len = p < pattern.length ? matchOne(pattern, p, s[i]!) : 0;
    if (len > 0) {
      p += len;
      i++;
      continue;
    }
    if (starP < 0) return false;
    p = starP;
    i = ++starI;
  }
  while (pattern[p] === "*") p++;
  return p === pattern.length;
}

/** Length of the pattern element at p when it matches ch, else 0. */
function matchOne(pat: string, p: number, ch: string): number {
  const c = pat[p]!;
  if (c === "?") return 1;
  if (c === "[") {
    const close = pat.indexOf("]", p + 1);
    const set = close < 0 ? pat.slice(p + 1) : pat.slice(p + 1, close);
    let ok = false;
    for (let k = 0; k < set.length; k++) {
      if (set[k + 1] === "-" && k + 2 < set.length) {
        const lo = set[k]!;
        const hi = set[k + 2]!;
        if ((ch >= lo && ch <= hi) || (ch >= hi && ch <= lo)) ok = true;
        k += 2;
      } else if (set[k] === ch) ok = true;
    }
    return ok ? (close < 0 ? pat.length - p : close - p + 1) : 0;
  }
  if (c === "\\" && p + 1 < pat.length) return pat[p + 1] === ch ? 2 : 0;
  return c === ch ? 1 : 0;
}
