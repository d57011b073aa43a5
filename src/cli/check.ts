/** `fwc check FILE...`: evaluate NS files as Emulab would and report every problem found. */

import { resolveAccess } from "../access/resolve.js";
import { DiagnosticBag } from "../diagnostics/diagnostic.js";
import { renderJson, renderSarif, renderText, summaryLine } from "../diagnostics/render.js";
import { evaluateNs } from "../ns/index.js";
import { readSource } from "./input.js";
import { type LimitOptions, limitsFrom, useColor } from "./options.js";
import { VERSION } from "./version.js";

export interface CheckOptions extends LimitOptions {
  format: "text" | "json" | "sarif";
  strict?: boolean;
  color?: string;
}

export interface CheckOutcome {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export function runCheck(files: string[], opts: CheckOptions, color = false): CheckOutcome {
  const limits = limitsFrom(opts);
  const all = [];
  let notShown = 0;
  let errors = 0;
  let warnings = 0;
  for (const path of files) {
    const bag = new DiagnosticBag();
    const file = readSource(path, bag);
    if (file !== null) {
      const r = evaluateNs(file, limits, bag);
      resolveAccess(r.experiment, file, bag);
    }
    all.push(...bag.sorted());
    notShown += bag.droppedCount;
    errors += bag.errorCount;
    warnings += bag.warningCount;
  }
  const failed = errors > 0 || (opts.strict === true && warnings > 0);
  let stdout: string;
  let stderr = "";
  if (opts.format === "json") stdout = renderJson(all, files, { errors, warnings, notShown });
  else if (opts.format === "sarif") stdout = renderSarif(all, VERSION);
  else {
    stdout = renderText(all, { color });
    stderr = `${summaryLine(errors, warnings, files.length)}${notShown > 0 ? ` (${notShown} more not shown: at most ${DiagnosticBag.LIMIT} are reported per file)` : ""}\n`;
  }
  return { exitCode: failed ? 1 : 0, stdout, stderr };
}

export function checkAction(files: string[], opts: CheckOptions): number {
  const out = runCheck(files, opts, useColor(opts.color, process.stdout));
  process.stdout.write(out.stdout);
  process.stderr.write(out.stderr);
  return out.exitCode;
}
