/**
 * A safe evaluator for the Tcl that NS files use. It never touches files, processes or the network; step,
 * depth and string-size limits turn runaway scripts into diagnostics. Tcl errors travel as TclError exceptions
 * (as in Tcl, `catch` can stop them) and become diagnostics only when they reach the top level of the file.
 */
import type { DiagnosticCode } from "../diagnostics/codes.js";
import type { DiagnosticBag, Related } from "../diagnostics/diagnostic.js";
import { type SourceFile, type Span, span } from "../diagnostics/source.js";
import { didYouMean } from "../diagnostics/suggest.js";
import { type Command, type Part, PartKind, type Script, type Word } from "./ast.js";
import {
  ExprError,
  type ExprHost,
  type ExprNode,
  evalNode,
  parseExpr,
  type Value,
  valueBool,
  valueString,
} from "./expr.js";
import { DEFAULT_LIMITS, type Limits } from "./limits.js";
import { parseScript } from "./parser.js";
import { formatList, parseList, ValueError } from "./values.js";

export { DEFAULT_LIMITS, type Limits };

export class TclError {
  related: Related[] = [];
  constructor(
    readonly code: DiagnosticCode,
    readonly span: Span,
    /** Tcl's own message where Tcl has one (what `catch` returns). */
    readonly message: string,
    readonly help?: string,
  ) {}
}

/** An error already reported as a diagnostic: aborts the command without a second report. */
export class SilentError {
  constructor(readonly message: string) {}
}

export class BreakSignal {}
export class ContinueSignal {}
export class ReturnSignal {
  constructor(readonly value: string) {}
}
/** break and continue carry no data: one instance each is thrown every time. */
export const BREAK = new BreakSignal();
export const CONTINUE = new ContinueSignal();

export interface Slot {
  value: string | undefined;
  arr: Map<string, string> | undefined;
  global: boolean;
}

export interface Frame {
  vars: Map<string, Slot>;
  level: number;
  procName: string | null;
}

export interface Ctx {
  file: SourceFile;
  /** Set when the running script did not come from the file's text (a built string): report at this range. */
  anchor: [number, number] | null;
}

export type CommandFn = (it: Interp, args: string[], cmd: Command) => string;

interface Proc {
  name: string;
  /** The namespace it was defined in ("" for the global one): it runs there. */
  ns: string;
  params: { name: string; def: string | undefined }[];
  body: string;
  script: Script;
  ctx: Ctx;
  defined: Span;
}

/** Tcl takes any run of two or more colons as one separator: `a:::b` is `a::b`. */
export function normalizeColons(name: string): string {
  return name.replace(/::+/g, "::");
}

export class Interp {
  readonly commands = new Map<string, CommandFn>();
  readonly global: Frame = { vars: new Map(), level: 0, procName: null };
  frame: Frame = this.global;
  private readonly frames: Frame[] = [this.global];
  ctx: Ctx;
  cur: Command | null = null;
  steps = 0;
  depth = 0;
  readonly output: string[] = [];
  private readonly scriptCache = new Map<string, Script>();
  private randSeed = 1;
  private assignedNames: Set<string> | undefined;
  /**
   * The namespace a `namespace eval` runs in ("" outside). fwc keeps a namespace's variables among the globals,
   * by their qualified name without the leading `::` (`TBCOMPAT::elabinelab_maxpcs`).
   */
  ns = "";
  /** The namespaces that exist besides the global one. */
  readonly namespaces = new Set<string>(["GLOBALS"]);
  /** Called after every successful `set` of a whole value, for Emulab's object naming. */
  onSet: ((it: Interp, name: string, value: string, slot: Slot, cmd: Command) => string) | null = null;

  constructor(
    readonly file: SourceFile,
    readonly diags: DiagnosticBag,
    readonly limits: Limits = DEFAULT_LIMITS,
  ) {
    this.ctx = { file, anchor: null };
    this.deadline = performance.now() + limits.maxSeconds * 1000;
  }

  // ---- positions and errors ----

  spanOf(start: number, end: number): Span {
    const a = this.ctx.anchor;
    return a === null ? span(this.ctx.file, start, end) : span(this.ctx.file, a[0], a[1]);
  }

  /** The span of word `i` of the running command (the whole command when i is out of range). */
  wordSpan(i?: number, cmd: Command | null = this.cur): Span {
    if (cmd === null) return span(this.ctx.file, 0, 0);
    const w = i === undefined ? undefined : cmd.words[i];
    return w === undefined ? this.spanOf(cmd.start, cmd.end) : this.spanOf(w.start, w.end);
  }

  /**
   * Where word `i` of the running command holds `value` verbatim in the file (braced, quoted or bare, with no
   * substitution or escape changing the text), or null. Inside built scripts (`eval "..."`) always null.
   */
  verbatimStart(i: number, value: string): number | null {
    const w = this.cur?.words[i];
    if (w === undefined || w.lit !== value || this.ctx.anchor !== null) return null;
    const text = this.ctx.file.text;
    for (const start of [w.bodyStart, w.start + 1, w.start]) {
      if (start + value.length <= w.end && text.startsWith(value, start)) return start;
    }
    return null;
  }

  error(code: DiagnosticCode, message: string, help?: string, at?: Span): TclError {
    return new TclError(code, at ?? this.wordSpan(), message, help);
  }

  wrongArgs(usage: string): TclError {
    return this.error("FWC201", `wrong # args: should be "${usage}"`);
  }

  checkSize(s: string): string {
    if (s.length > this.limits.maxString) throw this.sizeError(s.length);
    return s;
  }

  /** The error for a value of `length` characters over the limit (before or after it is built). */
  sizeError(length: number): TclError {
    return this.error(
      "FWC208",
      `value of ${length} characters exceeds the limit of ${this.limits.maxString}`,
      "look for an `append` or `string repeat` that never stops; raise the limit with --max-string if the file really needs it",
    );
  }

  // ---- evaluation ----

  /** Evaluates the top level of a file: every command that fails becomes a diagnostic and evaluation goes on. */
  runFile(script: Script): void {
    for (const cmd of script.commands) {
      try {
        this.evalCommand(cmd);
      } catch (e) {
        if (e instanceof ReturnSignal) return;
        this.report(e, cmd);
        // Out of steps: nothing after this can run.
        if (this.stepsExhausted) return;
      }
    }
  }

  get stepsExhausted(): boolean {
    return this.halted || this.steps > this.limits.maxSteps;
  }

  report(e: unknown, cmd: Command): void {
    if (e instanceof TclError) {
      this.diags.add(e.code, e.span, e.message, e.help, e.related);
    } else if (e instanceof SilentError) {
      // already reported
    } else if (e instanceof BreakSignal || e instanceof ContinueSignal) {
      const what = e instanceof BreakSignal ? "break" : "continue";
      this.diags.add("FWC211", this.wordSpan(undefined, cmd), `invoked "${what}" outside of a loop`);
    } else if (e instanceof ValueError) {
      this.diags.add("FWC205", this.wordSpan(undefined, cmd), e.message);
    } else if (e instanceof RangeError && /call stack/.test(e.message)) {
      this.diags.add(
        "FWC207",
        this.wordSpan(undefined, cmd),
        "nesting too deep: the evaluator ran out of stack",
        "look for endless recursion or deeply nested brackets",
      );
    } else {
      const msg = e instanceof Error ? e.message : String(e);
      this.diags.add(
        "FWC900",
        this.wordSpan(undefined, cmd),
        `internal error: ${msg}`,
        "please report this file to the fwc developers",
      );
    }
  }

  evalScript(script: Script): string {
    let result = "";
    const cmds = script.commands;
    for (let i = 0; i < cmds.length; i++) result = this.evalCommand(cmds[i]!);
    return result;
  }

  /** When the evaluation must stop (performance.now() milliseconds). */
  private readonly deadline: number;

  /**
   * The wall-clock and memory budgets, looked at every 256 steps (the clock) and 4,096 steps (the heap): a step
   * that works on huge values is charged by their size, so the checks come often enough there too.
   */
  private budget(at: Span): void {
    if ((this.steps & 255) !== 0 && !this.charged) return;
    this.charged = false;
    if (performance.now() > this.deadline) {
      this.halted = true;
      throw this.error(
        "FWC215",
        `evaluation stopped after ${this.limits.maxSeconds} s (${this.steps} commands)`,
        "look for work on huge values or a loop that does too much; raise the limit with --max-seconds if the file really needs it",
        at,
      );
    }
    if ((this.steps & 4095) === 0 || this.lastHeapCheck + 4096 <= this.steps) {
      this.lastHeapCheck = this.steps;
      const used = process.memoryUsage().heapUsed;
      if (used > this.limits.maxMemoryMb * 1024 * 1024) {
        this.halted = true;
        throw this.error(
          "FWC216",
          `evaluation stopped: it holds ${Math.round(used / 1024 / 1024)} MB, more than the limit of ${this.limits.maxMemoryMb} MB`,
          "look for huge lists or strings kept in variables; raise the limit with --max-memory if the file really needs it",
          at,
        );
      }
    }
  }

  /** Set when the time or memory budget ran out: nothing more is evaluated. */
  private halted = false;

  private charged = false;
  private lastHeapCheck = 0;

  /** Charges `n` steps of work done inside one command (each event of a long event string), with the checks. */
  tick(n: number, at: Span): void {
    this.steps += n;
    this.charged = true;
    this.budget(at);
    if (this.steps > this.limits.maxSteps)
      throw this.error(
        "FWC206",
        `evaluation stopped after ${this.limits.maxSteps} commands`,
        "this looks like an endless loop; raise the limit with --max-steps if the file really needs it",
        at,
      );
  }

  /** Charges a command by the size of what it built: one step per 64 Ki characters, and a budget check. */
  private charge(result: string): void {
    if (result.length < 65536) return;
    this.steps += result.length >>> 16;
    this.charged = true;
  }

  evalCommand(cmd: Command): string {
    this.budget(this.wordSpan(undefined, cmd));
    if (++this.steps > this.limits.maxSteps) {
      throw this.error(
        "FWC206",
        `evaluation stopped after ${this.limits.maxSteps} commands`,
        "this looks like an endless loop; raise the limit with --max-steps if the file really needs it",
        this.wordSpan(undefined, cmd),
      );
    }
    const words = cmd.words;
    let args: string[] = new Array(words.length);
    let expanded = false;
    for (let i = 0; i < words.length; i++) {
      const w = words[i]!;
      args[i] = w.lit ?? this.substParts(w.parts);
      if (w.expand === true) expanded = true;
    }
    if (expanded) args = this.expandArgs(cmd, args);
    const saved = this.cur;
    this.cur = cmd;
    try {
      const r = this.invoke(args, cmd);
      // No command hands on a value over the size limit, whatever built it.
      if (r.length > this.limits.maxString) this.checkSize(r);
      this.charge(r);
      return r;
    } finally {
      this.cur = saved;
    }
  }

  private expandArgs(cmd: Command, args: string[]): string[] {
    const out: string[] = [];
    cmd.words.forEach((w, i) => {
      if (w.expand === true) out.push(...this.list(args[i]!, i));
      else out.push(args[i]!);
    });
    return out;
  }

  invoke(args: string[], cmd: Command): string {
    const name = args[0];
    if (name === undefined) return "";
    const fn =
      (this.ns !== "" ? this.commands.get(`${this.ns}::${name}`) : undefined) ??
      this.commands.get(name) ??
      (name.startsWith("::") ? this.commands.get(name.slice(2)) : undefined);
    if (fn !== undefined) return fn(this, args, cmd);
    const names = [...this.commands.keys()];
    const candidates = names.length < 2000 ? names : names.filter((n) => !n.includes("-") || n.startsWith("tb-"));
    throw this.error(
      "FWC200",
      `invalid command name "${name}"`,
      didYouMean(name, candidates) ??
        "Emulab stops on unknown commands (`Unknown: ...`); check the spelling or define it with `proc`",
      this.wordSpan(0, cmd),
    );
  }

  substParts(parts: Part[]): string {
    if (parts.length === 1) return this.substPart(parts[0]!);
    let s = "";
    for (let i = 0; i < parts.length; i++) s += this.substPart(parts[i]!);
    return s.length > this.limits.maxString ? this.checkSize(s) : s;
  }

  private substPart(p: Part): string {
    switch (p.k) {
      case PartKind.Text:
        return p.v;
      case PartKind.Var:
        return this.readVar(p.name, p.index === null ? null : this.substParts(p.index), p.start, p.end);
      case PartKind.Cmd:
        // Inline rather than through nested(): this runs for every [...] and a closure per call shows in profiles.
        this.enterLevel();
        try {
          return this.evalScript(p.script);
        } finally {
          this.depth--;
        }
    }
  }

  /** One level deeper (a proc call, [...], eval, catch); the caller decrements `depth` when it leaves. */
  private enterLevel(): void {
    if (++this.depth > this.limits.maxDepth) {
      this.depth--;
      throw this.error(
        "FWC207",
        `nesting deeper than ${this.limits.maxDepth} levels`,
        "look for a proc that calls itself without stopping",
      );
    }
  }

  nested<T>(f: () => T): T {
    this.enterLevel();
    try {
      return f();
    } finally {
      this.depth--;
    }
  }

  /** Parses a value used as a script (a loop body, a proc body, `eval`). Braced literals keep their positions. */
  scriptFor(text: string, wordIndex: number, cmd: Command | null = this.cur): { script: Script; ctx: Ctx } {
    const w: Word | undefined = cmd?.words[wordIndex];
    if (w?.braced && w.lit === text && this.ctx.anchor === null) {
      // A braced literal always parses the same way: the syntax tree is kept on the word itself.
      w.body ??= this.parseChecked(text, w.bodyStart, null);
      return { script: w.body, ctx: this.ctx };
    }
    const anchorSpan = this.wordSpan(wordIndex, cmd);
    const anchor: [number, number] = this.ctx.anchor ?? [anchorSpan.start, anchorSpan.end];
    const key = `\0${text}`;
    let script = this.scriptCache.get(key);
    if (script === undefined) {
      script = this.parseChecked(text, 0, anchor);
      if (this.scriptCache.size > 4096) this.scriptCache.clear();
      this.scriptCache.set(key, script);
    }
    return { script, ctx: { file: this.ctx.file, anchor } };
  }

  private parseChecked(text: string, base: number, anchor: [number, number] | null): Script {
    let parsed: ReturnType<typeof parseScript>;
    try {
      parsed = parseScript(text, base);
    } catch (e) {
      if (e instanceof RangeError) throw this.error("FWC207", "brackets nested too deeply to parse");
      throw e;
    }
    let fatal = false;
    for (const p of parsed.problems) {
      const sp = anchor === null ? span(this.ctx.file, p.start, p.end) : span(this.ctx.file, anchor[0], anchor[1]);
      this.diags.add(p.code, sp, p.message, p.help);
      if (p.code !== "FWC106") fatal = true;
    }
    if (fatal) throw new SilentError("syntax error");
    return parsed.script;
  }

  evalBody(text: string, wordIndex: number, cmd: Command | null = this.cur): string {
    const w = cmd?.words[wordIndex];
    // Fast path for a loop or proc body already parsed: no allocation per iteration.
    if (w?.body !== undefined && w.lit === text && this.ctx.anchor === null) return this.evalScript(w.body);
    const { script, ctx } = this.scriptFor(text, wordIndex, cmd);
    if (ctx === this.ctx) return this.evalScript(script);
    const saved = this.ctx;
    this.ctx = ctx;
    try {
      return this.evalScript(script);
    } finally {
      this.ctx = saved;
    }
  }

  // ---- expressions ----

  private readonly exprHost: ExprHost = {
    subst: (parts) => this.substParts(parts),
    rand: () => {
      // Tcl's Park-Miller generator with a fixed seed: NS files evaluate the same way every time.
      this.randSeed = (this.randSeed * 16807) % 2147483647;
      return this.randSeed / 2147483647;
    },
    srand: (seed) => {
      this.randSeed = Number(BigInt.asUintN(31, seed)) || 1;
      return this.exprHost.rand();
    },
  };

  exprValue(text: string, wordIndex: number, cmd: Command | null = this.cur): Value {
    return this.exprEval(text, wordIndex, cmd).value;
  }

  private exprEval(text: string, wordIndex: number, cmd: Command | null): { value: Value; node: ExprNode } {
    const w = cmd?.words[wordIndex];
    const literal = w?.braced === true && w.lit === text && this.ctx.anchor === null;
    const base = literal ? w.bodyStart : 0;
    try {
      let node: ExprNode;
      if (literal) {
        // A braced expression always parses the same way: the tree is kept on the word itself.
        w.expr ??= parseExpr(text, base);
        node = w.expr as ExprNode;
      } else node = parseExpr(text, -1);
      return { value: evalNode(node, this.exprHost), node };
    } catch (e) {
      if (e instanceof ExprError) {
        let at = this.wordSpan(wordIndex, cmd);
        if (literal && e.at !== null) at = span(this.ctx.file, base + e.at, base + e.at + 1);
        if (e.limit) throw this.error("FWC208", e.message, undefined, at);
        if (e.syntax)
          throw this.error(
            "FWC203",
            `invalid expression: ${e.message}`,
            "write the expression in braces: expr {$a + 1}",
            at,
          );
        throw this.error("FWC204", e.message, undefined, at);
      }
      throw e;
    }
  }

  expr(text: string, wordIndex: number, cmd: Command | null = this.cur): string {
    const { value } = this.exprEval(text, wordIndex, cmd);
    try {
      return valueString(value);
    } catch (e) {
      if (e instanceof ExprError) throw this.error("FWC204", e.message, undefined, this.wordSpan(wordIndex, cmd));
      throw e;
    }
  }

  exprBool(text: string, wordIndex: number, cmd: Command | null = this.cur): boolean {
    const v = this.exprValue(text, wordIndex, cmd);
    try {
      return valueBool(v);
    } catch (e) {
      if (e instanceof ExprError) throw this.error("FWC204", e.message, undefined, this.wordSpan(wordIndex, cmd));
      throw e;
    }
  }

  // ---- values ----

  list(s: string, wordIndex?: number): string[] {
    try {
      return parseList(s);
    } catch (e) {
      if (e instanceof ValueError) throw this.error("FWC205", e.message, undefined, this.wordSpan(wordIndex));
      throw e;
    }
  }

  // ---- variables ----

  private static splitName(name: string): [string, string | null] {
    const open = name.indexOf("(");
    if (open > 0 && name.endsWith(")")) return [name.slice(0, open), name.slice(open + 1, -1)];
    return [name, null];
  }

  private lookup(name: string, create: boolean): Slot | undefined {
    let frame = this.frame;
    if (name.includes(":::")) name = normalizeColons(name);
    if (name.includes("::")) {
      // A qualified name (`GLOBALS::pid`) is a namespace's variable, never a proc's local: from a proc of the
      // global namespace, Tcl finds it from there. fwc keeps namespace variables among the globals, by their
      // qualified name.
      frame = this.global;
      const absolute = name.startsWith("::");
      if (absolute) name = name.slice(2);
      else if (this.ns !== "") {
        const inner = `${this.ns}::${name}`;
        if (this.namespaces.has(inner.slice(0, inner.lastIndexOf("::")))) name = inner;
      }
      const parent = name.lastIndexOf("::");
      if (create && parent > 0 && !this.namespaces.has(name.slice(0, parent)))
        throw this.error(
          "FWC202",
          `can't set "${absolute ? "::" : ""}${name}": parent namespace doesn't exist`,
          `create it first with \`namespace eval ${name.slice(0, parent)} {}\`, or check the spelling`,
        );
    } else if (this.ns !== "" && frame === this.global) {
      // Inside `namespace eval`, Tcl 8 looks a plain name up in the namespace, then among the globals, and
      // creates it in the namespace.
      const inner = `${this.ns}::${name}`;
      const own = frame.vars.get(inner);
      // A namespace variable declared with `variable` (even without a value) is the namespace's own.
      if (own !== undefined) return own;
      const g = frame.vars.get(name);
      if (g !== undefined && (g.value !== undefined || g.arr !== undefined)) return g;
      name = inner;
    }
    let slot = frame.vars.get(name);
    if (slot === undefined && create) {
      slot = { value: undefined, arr: undefined, global: frame === this.global };
      frame.vars.set(name, slot);
    }
    return slot;
  }

  /** Reads `name` or `name(index)`; start/end locate the reference for the report. */
  readVar(name: string, index: string | null, start?: number, end?: number): string {
    const slot = this.lookup(name, false);
    if (index === null) {
      if (slot?.value !== undefined) return slot.value;
    } else {
      const v = slot?.arr?.get(index);
      if (v !== undefined) return v;
    }
    // Not found: work out the report (kept off the path of every successful read).
    const at = start === undefined ? this.wordSpan() : this.spanOf(start, end ?? start + 1);
    const shown = index === null ? name : `${name}(${index})`;
    if (index === null) {
      if (slot?.arr !== undefined)
        throw this.error("FWC212", `can't read "${shown}": variable is array`, undefined, at);
    } else {
      if (slot?.arr !== undefined) {
        const v = slot.arr.get(index);
        if (v !== undefined) return v;
        throw this.noSuchVariable(name, `can't read "${shown}": no such element in array`, at);
      }
      if (slot?.value !== undefined)
        throw this.error("FWC212", `can't read "${shown}": variable isn't array`, undefined, at);
    }
    throw this.noSuchVariable(name, `can't read "${shown}": no such variable`, at);
  }

  private noSuchVariable(name: string, message: string, at: Span): TclError | SilentError {
    // After an earlier error, a variable the file assigns somewhere was most likely left unset by that error:
    // reporting it again would only repeat the first problem.
    if (this.diags.errorCount > 0 && this.fileAssigns(name)) return new SilentError(message);
    const candidates = [...this.frame.vars.keys()];
    const help =
      name === "ns" && !this.commands.has("ns")
        ? "start the file with `set ns [new Simulator]`"
        : (didYouMean(name, candidates) ?? "set it before this line");
    return this.error("FWC202", message, help, at);
  }

  private fileAssigns(name: string): boolean {
    if (this.assignedNames === undefined) {
      this.assignedNames = new Set();
      const re = /\b(?:set|append|lappend|incr|global|foreach|upvar|variable)\s+\{?([A-Za-z0-9_:]+)/g;
      for (const m of this.file.text.matchAll(re)) this.assignedNames.add(m[1]!);
      for (const m of this.file.text.matchAll(/\bforeach\s+\{([^}]*)\}/g))
        for (const v of m[1]!.split(/\s+/)) this.assignedNames.add(v);
    }
    return this.assignedNames.has(name);
  }

  readVarName(fullName: string): string {
    const [n, i] = Interp.splitName(fullName);
    return this.readVar(n, i);
  }

  varExists(fullName: string): boolean {
    const [n, i] = Interp.splitName(fullName);
    const slot = this.lookup(n, false);
    if (slot === undefined) return false;
    if (i === null) return slot.value !== undefined || slot.arr !== undefined;
    return slot.arr?.has(i) ?? false;
  }

  /** Sets `name` or `name(index)` and returns the value stored (Emulab's naming may change it). */
  setVar(fullName: string, value: string, notify = false): string {
    const [n, i] = Interp.splitName(fullName);
    const slot = this.lookup(n, true)!;
    if (i === null) {
      if (slot.arr !== undefined) throw this.error("FWC212", `can't set "${fullName}": variable is array`);
      slot.value = value;
    } else {
      if (slot.value !== undefined) throw this.error("FWC212", `can't set "${fullName}": variable isn't array`);
      slot.arr ??= new Map();
      slot.arr.set(i, value);
    }
    if (notify && this.onSet !== null && this.cur !== null) {
      const renamed = this.onSet(this, fullName, value, slot, this.cur);
      if (renamed !== value) {
        if (i === null) slot.value = renamed;
        else slot.arr!.set(i, renamed);
        return renamed;
      }
    }
    return value;
  }

  unsetVar(fullName: string, complain: boolean): void {
    const [n, i] = Interp.splitName(fullName);
    const slot = this.lookup(n, false);
    const exists =
      slot !== undefined && (i === null ? slot.value !== undefined || slot.arr !== undefined : slot.arr?.has(i));
    if (!exists) {
      if (complain) throw this.error("FWC202", `can't unset "${fullName}": no such variable`);
      return;
    }
    if (i === null) {
      slot!.value = undefined;
      slot!.arr = undefined;
    } else slot!.arr!.delete(i);
  }

  arraySlot(name: string): Slot | undefined {
    return this.lookup(name, false);
  }

  /** Makes local `local` an alias of `other` in the frame `level` levels up (or absolute with "#N"). */
  link(level: number, other: string, local: string): void {
    const target = this.frames[level];
    if (target === undefined) throw this.error("FWC205", `bad level "${level}"`);
    if (other.includes("(")) throw this.error("FWC214", "upvar to an array element is not supported by fwc");
    let slot = target.vars.get(other);
    if (slot === undefined) {
      slot = { value: undefined, arr: undefined, global: target === this.global };
      target.vars.set(other, slot);
    }
    if (this.frame === target && local === other) return;
    this.frame.vars.set(local, slot);
  }

  get level(): number {
    return this.frame.level;
  }

  // ---- procs ----

  defineProc(name: string, paramList: string, body: string, cmd: Command): void {
    const params = this.list(paramList, 2).map((p) => {
      const parts = this.list(p, 2);
      if (parts.length === 0 || parts.length > 2)
        throw this.error("FWC205", `too many fields in argument specifier "${p}"`, undefined, this.wordSpan(2));
      return { name: parts[0]!, def: parts[1] };
    });
    const { script, ctx } = this.scriptFor(body, 3, cmd);
    // A proc defined inside `namespace eval` belongs to the namespace, and runs there.
    const full = this.qualify(name);
    const parent = full.lastIndexOf("::");
    const ns = parent > 0 ? full.slice(0, parent) : "";
    if (ns !== "" && !this.namespaces.has(ns))
      throw this.error(
        "FWC205",
        `can't create procedure "${name}": unknown namespace`,
        `create it first with \`namespace eval ${ns} {}\``,
        this.wordSpan(1, cmd),
      );
    const proc: Proc = { name, ns, params, body, script, ctx, defined: this.wordSpan(1, cmd) };
    this.commands.set(full, (it, args, call) => it.callProc(proc, args, call));
  }

  private callProc(p: Proc, args: string[], call: Command): string {
    const frame: Frame = { vars: new Map(), level: this.frames.length, procName: p.name };
    const n = args.length - 1;
    const ps = p.params;
    const variadic = ps.length > 0 && ps[ps.length - 1]!.name === "args";
    const fixed = variadic ? ps.length - 1 : ps.length;
    const required = ps.slice(0, fixed).filter((q) => q.def === undefined).length;
    if (n < required || (!variadic && n > fixed)) {
      const usage = [
        p.name,
        ...ps.map((q, i) =>
          i === ps.length - 1 && variadic ? "?arg ...?" : q.def === undefined ? q.name : `?${q.name}?`,
        ),
      ];
      throw this.wrongArgs(usage.join(" "));
    }
    for (let i = 0; i < fixed; i++) {
      const q = ps[i]!;
      const v = i < n ? args[i + 1]! : q.def!;
      frame.vars.set(q.name, { value: v, arr: undefined, global: false });
    }
    if (variadic) {
      const rest = args.slice(fixed + 1);
      frame.vars.set("args", { value: formatList(rest), arr: undefined, global: false });
    }
    const savedFrame = this.frame;
    const savedCtx = this.ctx;
    const savedNs = this.ns;
    this.frames.push(frame);
    this.frame = frame;
    this.ctx = p.ctx;
    this.ns = p.ns;
    try {
      return this.nested(() => this.evalScript(p.script));
    } catch (e) {
      if (e instanceof ReturnSignal) return e.value;
      if (e instanceof BreakSignal || e instanceof ContinueSignal) {
        const what = e instanceof BreakSignal ? "break" : "continue";
        throw this.error("FWC211", `invoked "${what}" outside of a loop`, undefined, this.wordSpan(undefined, call));
      }
      if (e instanceof TclError && e.related.length < 3) {
        e.related.push({
          message: `in proc "${p.name}" called here`,
          span: savedCtx.anchor ? this.spanOfCtx(savedCtx, call) : span(savedCtx.file, call.start, call.end),
        });
      }
      throw e;
    } finally {
      this.frames.pop();
      this.frame = savedFrame;
      this.ctx = savedCtx;
      this.ns = savedNs;
    }
  }

  private spanOfCtx(ctx: Ctx, cmd: Command): Span {
    return ctx.anchor === null ? span(ctx.file, cmd.start, cmd.end) : span(ctx.file, ctx.anchor[0], ctx.anchor[1]);
  }

  /** Runs `f` in the frame `level` (absolute), for uplevel. */
  atLevel<T>(level: number, f: () => T): T {
    const target = this.frames[level];
    if (target === undefined) throw this.error("FWC205", `bad level "${level}"`);
    const saved = this.frame;
    this.frame = target;
    try {
      return f();
    } finally {
      this.frame = saved;
    }
  }

  /** Parses a level argument of upvar/uplevel ("1", "#0"); null when the word is not a level. */
  parseLevel(s: string): number | null {
    if (/^#\d+$/.test(s)) return Number(s.slice(1));
    if (/^\d+$/.test(s)) return this.frame.level - Number(s);
    return null;
  }

  // ---- namespaces ----

  /** The full name (no leading `::`, colons normalised) that `name` denotes from the current namespace. */
  qualify(name: string): string {
    const plain = normalizeColons(name);
    return plain.startsWith("::") ? plain.slice(2) : this.ns !== "" ? `${this.ns}::${plain}` : plain;
  }

  /** The namespace `name` names from where the file is now ("A", "::A", "B" inside A), created with its parents. */
  makeNamespace(name: string): string {
    const full = this.qualify(name).replace(/::$/, "");
    if (full === "") return "";
    // Every parent is kept by its full name: a hostile name of thousands of parts would cost their square.
    if (full.length > Interp.MAX_NAMESPACE)
      throw this.error(
        "FWC205",
        `namespace name of ${full.length} characters: fwc takes at most ${Interp.MAX_NAMESPACE}`,
        "use a shorter namespace name",
      );
    for (let i = full.indexOf("::"); i > 0; i = full.indexOf("::", i + 2)) this.namespaces.add(full.slice(0, i));
    this.namespaces.add(full);
    return full;
  }

  static readonly MAX_NAMESPACE = 1000;

  /** `variable name` without a value: the variable exists in its namespace, still without a value. */
  declare(full: string): void {
    if (!this.global.vars.has(full)) this.global.vars.set(full, { value: undefined, arr: undefined, global: true });
  }

  /** Runs `f` with `ns` as the current namespace (`namespace eval`). */
  inNamespace<T>(ns: string, f: () => T): T {
    const saved = this.ns;
    this.ns = ns;
    try {
      return f();
    } finally {
      this.ns = saved;
    }
  }

  // ---- loops ----

  /** Runs a loop body; returns false when the loop must stop (break). */
  loopBody(text: string, wordIndex: number): boolean {
    this.budget(this.wordSpan(0));
    if (++this.steps > this.limits.maxSteps) {
      throw this.error(
        "FWC206",
        `evaluation stopped after ${this.limits.maxSteps} commands`,
        "this looks like an endless loop; raise the limit with --max-steps if the file really needs it",
        this.wordSpan(0),
      );
    }
    try {
      this.evalBody(text, wordIndex);
    } catch (e) {
      if (e instanceof BreakSignal) return false;
      if (e instanceof ContinueSignal) return true;
      throw e;
    }
    return true;
  }
}
