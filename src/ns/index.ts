/** The NS front end's public face: evaluate an NS file into an Experiment plus diagnostics. */
import { DiagnosticBag } from "../diagnostics/diagnostic.js";
import { type SourceFile, span } from "../diagnostics/source.js";
import type { FrontOptions } from "./catalog.js";
import { DEFAULT_LIMITS, Interp, type Limits, SilentError } from "./interp.js";
import { Experiment } from "./model/experiment.js";
import { parseScript } from "./parser.js";
import { installTcl } from "./tcl/index.js";

export type { Catalog, FrontOptions } from "./catalog.js";
export type { Limits } from "./interp.js";
export { DEFAULT_LIMITS } from "./interp.js";
export { Experiment } from "./model/experiment.js";

export interface NsResult {
  file: SourceFile;
  experiment: Experiment;
  diagnostics: DiagnosticBag;
  /** What the file printed with `puts` (recorded, never printed by fwc). */
  output: string[];
}

const CONFLICT_RE = /^(<{7}|={7}|>{7})(?:[ \t].*)?$/gm;

export function evaluateNs(
  file: SourceFile,
  limits: Limits = DEFAULT_LIMITS,
  bag = new DiagnosticBag(),
  front: FrontOptions = {},
): NsResult {
  const it = new Interp(file, bag, limits);
  installTcl(it);
  const experiment = new Experiment(it, front);
  // Emulab's parse.tcl defines these before it reads the file: the experiment's project, group (the project's
  // own, as fwc knows no other) and name; without an experiment (its anonymous mode) the words PID, GID and EID.
  const [pid, eid] = front.experiment?.split("/") ?? ["PID", "EID"];
  it.setVar("GLOBALS::pid", pid ?? "PID");
  it.setVar("GLOBALS::gid", front.experiment === undefined ? "GID" : (pid ?? "GID"));
  it.setVar("GLOBALS::eid", eid ?? "EID");
  for (const m of file.text.matchAll(CONFLICT_RE)) {
    const start = m.index;
    bag.add(
      "FWC107",
      span(file, start, start + m[0].length),
      `git conflict marker \`${m[1]}\`: this file still holds an unresolved merge`,
      "keep one side of the conflict and delete the `<<<<<<<`, `=======` and `>>>>>>>` lines",
    );
  }
  // The markers are reported once above; evaluating them as commands would only add noise.
  for (const marker of ["<<<<<<<", "=======", ">>>>>>>"])
    it.commands.set(marker, () => {
      throw new SilentError("conflict marker");
    });
  let parsed: ReturnType<typeof parseScript>;
  try {
    parsed = parseScript(file.text, 0);
  } catch (e) {
    if (!(e instanceof RangeError)) throw e;
    bag.add(
      "FWC207",
      span(file, 0, 1),
      "brackets nested too deeply to parse",
      'this file nests `[`, `{` or `"` thousands of levels deep',
    );
    return { file, experiment, diagnostics: bag, output: it.output };
  }
  for (const p of parsed.problems) bag.add(p.code, span(file, p.start, p.end), p.message, p.help);
  it.runFile(parsed.script);
  const syntaxFailed = parsed.problems.some((p) => p.code !== "FWC106");
  // A file cut short by a syntax error or the step limit says nothing reliable about a missing `$ns run`.
  if (!syntaxFailed && !it.stepsExhausted) {
    const last = file.text.trimEnd().length;
    experiment.finish(it, span(file, Math.max(0, last - 1), last));
  }
  return { file, experiment, diagnostics: bag, output: it.output };
}
