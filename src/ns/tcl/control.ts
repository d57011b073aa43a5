/** Control flow and evaluation: if, for, foreach, while, break, continue, proc, return, catch, error, eval, expr,
 * uplevel, source, puts, and the commands fwc refuses because they reach outside the NS file. */
import type { Interp } from "../interp.js";
import { BREAK, BreakSignal, CONTINUE, ContinueSignal, ReturnSignal, SilentError, TclError } from "../interp.js";
import { formatList } from "../values.js";

/** Tcl commands that read files, run processes or use the network: a real NS evaluator must never run them. */
const REFUSED = [
  "exec",
  "open",
  "close",
  "socket",
  "file",
  "cd",
  "pwd",
  "glob",
  "exit",
  "load",
  "interp",
  "fconfigure",
  "fileevent",
  "fcopy",
  "flush",
  "gets",
  "read",
  "seek",
  "tell",
  "eof",
  "chan",
  "package",
  "vwait",
  "update",
  "after",
  "auto_load",
  "auto_execok",
  "encoding",
  "clock",
  "pid",
  "rename",
  "trace",
  "history",
  "zlib",
  "coroutine",
  "yield",
  "tailcall",
  "apply",
  "dict",
  "lmap",
  "try",
  "throw",
  "regexp",
  "regsub",
  "scan",
  "binary",
  "subst",
  "time",
  "lassign",
  "lset",
  "lrepeat",
  "switch",
  "case",
  "unknown",
];
const WHY: Record<string, string> = {
  switch: "use if/elseif/else",
  regexp: "use string match",
  regsub: "use string map",
};

export function installControl(it: Interp): void {
  const c = it.commands;

  for (const name of REFUSED) {
    c.set(name, (it) => {
      const io = ["exec", "open", "socket", "file", "cd", "pwd", "glob", "exit", "load", "gets", "read"].includes(name);
      if (io)
        throw it.error(
          "FWC210",
          `"${name}" is not allowed in NS files: fwc never touches files, processes or the network`,
          "remove it; describe the experiment with NS commands only",
          it.wordSpan(0),
        );
      throw it.error(
        "FWC214",
        `"${name}" is a Tcl command that fwc's NS evaluator does not support`,
        WHY[name] ?? "rewrite it with the commands listed in docs/language.md",
        it.wordSpan(0),
      );
    });
  }

  c.set("if", (it, a, cmd) => {
    let i = 1;
    for (;;) {
      if (i >= a.length)
        throw it.wrongArgs("if expr1 ?then? body1 elseif expr2 ?then? body2 elseif ... ?else? ?bodyN?");
      const condIndex = i;
      const cond = it.exprBool(a[i]!, condIndex, cmd);
      i++;
      if (a[i] === "then") i++;
      if (i >= a.length) throw it.error("FWC201", `wrong # args: no script following "${a[condIndex]}" argument`);
      if (cond) return it.evalBody(a[i]!, i, cmd);
      i++;
      if (i >= a.length) return "";
      if (a[i] === "elseif") {
        i++;
        continue;
      }
      if (a[i] === "else") {
        i++;
        if (i >= a.length) throw it.error("FWC201", 'wrong # args: no script following "else" argument');
      }
      if (i !== a.length - 1) throw it.error("FWC201", 'wrong # args: extra words after "else" clause in "if" command');
      return it.evalBody(a[i]!, i, cmd);
    }
  });

  c.set("while", (it, a, cmd) => {
    if (a.length !== 3) throw it.wrongArgs("while test command");
    while (it.exprBool(a[1]!, 1, cmd)) if (!it.loopBody(a[2]!, 2)) break;
    return "";
  });

  c.set("for", (it, a, cmd) => {
    if (a.length !== 5) throw it.wrongArgs("for start test next command");
    it.evalBody(a[1]!, 1, cmd);
    while (it.exprBool(a[2]!, 2, cmd)) {
      if (!it.loopBody(a[4]!, 4)) break;
      it.evalBody(a[3]!, 3, cmd);
    }
    return "";
  });

  c.set("foreach", (it, a, cmd) => {
    if (a.length < 4 || a.length % 2 !== 0) throw it.wrongArgs("foreach varList list ?varList list ...? command");
    const groups: { vars: string[]; items: string[] }[] = [];
    let rounds = 0;
    for (let i = 1; i < a.length - 1; i += 2) {
      const vars = it.list(a[i]!, i);
      if (vars.length === 0) throw it.error("FWC205", "foreach varlist is empty", undefined, it.wordSpan(i));
      const items = it.list(a[i + 1]!, i + 1);
      groups.push({ vars, items });
      rounds = Math.max(rounds, Math.ceil(items.length / vars.length));
    }
    const body = a[a.length - 1]!;
    for (let r = 0; r < rounds; r++) {
      for (const g of groups) {
        g.vars.forEach((v, k) => {
          it.setVar(v, g.items[r * g.vars.length + k] ?? "");
        });
      }
      if (!it.loopBody(body, a.length - 1)) break;
    }
    void cmd;
    return "";
  });

  c.set("break", (it, a) => {
    if (a.length !== 1) throw it.wrongArgs("break");
    throw BREAK;
  });
  c.set("continue", (it, a) => {
    if (a.length !== 1) throw it.wrongArgs("continue");
    throw CONTINUE;
  });

  c.set("proc", (it, a, cmd) => {
    if (a.length !== 4) throw it.wrongArgs("proc name args body");
    it.defineProc(a[1]!, a[2]!, a[3]!, cmd);
    return "";
  });

  c.set("return", (it, a) => {
    // return ?-code code? ?value?: only the plain form and -code ok/return are modelled.
    let i = 1;
    while (i + 1 < a.length && a[i]!.startsWith("-")) {
      if (a[i] === "-code" && !["ok", "0", "return", "2"].includes(a[i + 1]!))
        throw it.error("FWC214", `return -code ${a[i + 1]} is not supported by fwc`);
      i += 2;
    }
    throw new ReturnSignal(a[i] ?? "");
  });

  c.set("error", (it, a) => {
    if (a.length < 2 || a.length > 4) throw it.wrongArgs("error message ?errorInfo? ?errorCode?");
    throw it.error("FWC213", a[1]!, undefined, it.wordSpan(undefined));
  });

  c.set("catch", (it, a, cmd) => {
    if (a.length < 2 || a.length > 4) throw it.wrongArgs("catch script ?resultVarName? ?optionVarName?");
    let code = 0;
    let result: string;
    try {
      result = it.nested(() => it.evalBody(a[1]!, 1, cmd));
    } catch (e) {
      if (e instanceof TclError || e instanceof SilentError) {
        // Resource limits are not Tcl errors a script may recover from: let them stop the file.
        if (e instanceof TclError && ["FWC206", "FWC207", "FWC208", "FWC215", "FWC216"].includes(e.code)) throw e;
        code = 1;
        result = e.message;
      } else if (e instanceof ReturnSignal) {
        code = 2;
        result = e.value;
      } else if (e instanceof BreakSignal) {
        code = 3;
        result = "";
      } else if (e instanceof ContinueSignal) {
        code = 4;
        result = "";
      } else throw e;
    }
    if (a[2] !== undefined) it.setVar(a[2], result);
    if (a[3] !== undefined) it.setVar(a[3], formatList(["-code", String(code), "-level", "0"]));
    return String(code);
  });

  c.set("eval", (it, a, cmd) => {
    if (a.length < 2) throw it.wrongArgs("eval arg ?arg ...?");
    const text =
      a.length === 2
        ? a[1]!
        : a
            .slice(1)
            .map((s) => s.trim())
            .join(" ");
    return it.nested(() => it.evalBody(text, a.length === 2 ? 1 : -1, cmd));
  });

  c.set("uplevel", (it, a, cmd) => {
    let i = 1;
    let level = it.level - 1;
    const lv = a.length > 2 && a[1] !== undefined ? it.parseLevel(a[1]) : null;
    if (lv !== null) {
      level = lv;
      i = 2;
    }
    if (i >= a.length) throw it.wrongArgs("uplevel ?level? command ?arg ...?");
    if (level < 0) throw it.error("FWC205", `bad level "${a[1]}"`);
    const text = a.length - i === 1 ? a[i]! : a.slice(i).join(" ");
    const idx = a.length - i === 1 ? i : -1;
    return it.atLevel(level, () => it.nested(() => it.evalBody(text, idx, cmd)));
  });

  c.set("expr", (it, a, cmd) => {
    if (a.length < 2) throw it.wrongArgs("expr arg ?arg ...?");
    if (a.length === 2) return it.expr(a[1]!, 1, cmd);
    return it.expr(a.slice(1).join(" "), -1, cmd);
  });

  c.set("puts", (it, a) => {
    // puts ?-nonewline? ?channelId? string: recorded, never printed.
    let i = 1;
    let nl = true;
    if (a[i] === "-nonewline") {
      nl = false;
      i++;
    }
    if (a.length - i === 2) {
      const ch = a[i]!;
      if (ch !== "stdout" && ch !== "stderr")
        throw it.error("FWC210", `puts to channel "${ch}" is not allowed: fwc never writes files`);
      i++;
    }
    if (a.length - i !== 1) throw it.wrongArgs("puts ?-nonewline? ?channelId? string");
    it.output.push(a[i]! + (nl ? "\n" : ""));
    return "";
  });

  c.set("source", (it, a) => {
    if (a.length !== 2) throw it.wrongArgs("source fileName");
    const f = a[1]!;
    if (/(^|\/)tb_compat\.tcl$/.test(f)) return "";
    throw it.error(
      "FWC209",
      `cannot source "${f}": fwc reads only the NS file itself`,
      "only `source tb_compat.tcl` is built in; paste the other file's commands into the NS file",
      it.wordSpan(1),
    );
  });
}
