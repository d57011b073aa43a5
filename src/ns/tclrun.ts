/** Runs plain Tcl (no NS model): the entry point of the differential tests against tclsh. */
import { DiagnosticBag } from "../diagnostics/diagnostic.js";
import { SourceFile } from "../diagnostics/source.js";
import { DEFAULT_LIMITS, Interp, type Limits } from "./interp.js";
import { parseScript } from "./parser.js";
import { installTcl } from "./tcl/index.js";

export interface TclRun {
  output: string;
  diagnostics: DiagnosticBag;
}

export function runTcl(text: string, path = "snippet.tcl", limits: Limits = DEFAULT_LIMITS): TclRun {
  const file = new SourceFile(path, text);
  const bag = new DiagnosticBag();
  const it = new Interp(file, bag, limits);
  installTcl(it);
  const parsed = parseScript(text, 0);
  for (const p of parsed.problems) bag.add(p.code, { file, start: p.start, end: p.end }, p.message, p.help);
  it.runFile(parsed.script);
  return { output: it.output.join(""), diagnostics: bag };
}
