/** `fwc inspect FILE --json`: the evaluated topology and the tb-allow-external calls with positions. */
import { DiagnosticBag } from "../diagnostics/diagnostic.js";
import { diagnosticJson, renderText } from "../diagnostics/render.js";
import { evaluateNs } from "../ns/index.js";
import { inspectJson } from "../ns/inspect.js";
import { readSource } from "./input.js";
import { type LimitOptions, limitsFrom, useColor } from "./options.js";

export interface InspectOptions extends LimitOptions {
  json?: boolean;
  color?: string;
}

export function runInspect(
  path: string,
  opts: InspectOptions,
  color = false,
): { exitCode: number; stdout: string; stderr: string } {
  const bag = new DiagnosticBag();
  const file = readSource(path, bag);
  const result = file === null ? null : evaluateNs(file, limitsFrom(opts), bag);
  const diags = bag.sorted();
  const failed = bag.errorCount > 0;
  if (opts.json === true) {
    const topo = result === null ? null : inspectJson(result.experiment);
    const doc = {
      file: path,
      ok: !failed,
      ...(topo ?? { nodes: [], lans: [], links: [], external: [] }),
      diagnostics: diags.map(diagnosticJson),
    };
    return { exitCode: failed ? 1 : 0, stdout: `${JSON.stringify(doc, null, 2)}\n`, stderr: "" };
  }
  const lines: string[] = [];
  if (result !== null) {
    const t = inspectJson(result.experiment);
    lines.push(`nodes (${t.nodes.length}):`);
    for (const n of t.nodes)
      lines.push(`  ${n.name}${n.hardware ? ` hardware=${n.hardware}` : ""}${n.os ? ` os=${n.os}` : ""}`);
    lines.push(`links (${t.links.length}):`);
    for (const l of t.links)
      lines.push(`  ${l.name}: ${l.endpoints.join(" <-> ")} ${l.bandwidthKbps ?? "*"}kbps ${l.delayMs}ms ${l.queue}`);
    lines.push(`lans (${t.lans.length}):`);
    for (const l of t.lans)
      lines.push(`  ${l.name}: ${l.members.length} members ${l.bandwidthKbps ?? "*"}kbps ${l.delayMs}ms`);
    lines.push(`external (${t.external.length}):`);
    for (const e of t.external)
      lines.push(`  ${e.node} ${e.args.join(" | ")}  (${e.location.file}:${e.location.line}:${e.location.column})`);
  }
  return { exitCode: failed ? 1 : 0, stdout: `${lines.join("\n")}\n`, stderr: renderText(diags, { color }) };
}

export function inspectAction(path: string, opts: InspectOptions): number {
  const out = runInspect(path, opts, useColor(opts.color, process.stderr));
  process.stdout.write(out.stdout);
  process.stderr.write(out.stderr);
  return out.exitCode;
}
