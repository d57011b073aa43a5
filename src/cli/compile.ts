/** `fwc compile FILE --emit ir`: the AccessPolicy as JSON (the other outputs come with the gateway backends). */
import { writeFileSync } from "node:fs";
import { resolveAccess } from "../access/resolve.js";
import { DiagnosticBag } from "../diagnostics/diagnostic.js";
import { renderText, summaryLine } from "../diagnostics/render.js";
import { evaluateNs } from "../ns/index.js";
import { readSource } from "./input.js";
import { type LimitOptions, limitsFrom, useColor } from "./options.js";

export interface CompileOptions extends LimitOptions {
  emit: "ir";
  output?: string;
  color?: string;
}

export function runCompile(
  path: string,
  opts: CompileOptions,
  color = false,
): { exitCode: number; stdout: string; stderr: string } {
  const bag = new DiagnosticBag();
  const file = readSource(path, bag);
  let out = "";
  if (file !== null) {
    const r = evaluateNs(file, limitsFrom(opts), bag);
    const policy = resolveAccess(r.experiment, file, bag);
    out = `${JSON.stringify(policy, null, 2)}\n`;
  }
  const diags = bag.sorted();
  const stderr =
    renderText(diags, { color }) + (diags.length > 0 ? `${summaryLine(bag.errorCount, bag.warningCount, 1)}\n` : "");
  // A policy from a file with errors is not one a gateway should get: nothing is written.
  if (bag.errorCount > 0) return { exitCode: 1, stdout: "", stderr };
  if (opts.output !== undefined) {
    writeFileSync(opts.output, out);
    return { exitCode: 0, stdout: "", stderr };
  }
  return { exitCode: 0, stdout: out, stderr };
}

export function compileAction(path: string, opts: CompileOptions): number {
  const r = runCompile(path, opts, useColor(opts.color, process.stderr));
  process.stdout.write(r.stdout);
  process.stderr.write(r.stderr);
  return r.exitCode;
}
