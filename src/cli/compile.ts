/**
 * `fwc compile FILE --emit ir|endpoints|table|nft|nft-json`: the AccessPolicy, or with a testbed, node addresses
 * and the stored allocations, the plan's endpoint listing or the gateway's ruleset. Read-only: allocations are stored by the deploy step.
 */
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { resolveAccess } from "../access/resolve.js";
import { DiagnosticBag } from "../diagnostics/diagnostic.js";
import { renderText, summaryLine } from "../diagnostics/render.js";
import { evaluateNs } from "../ns/index.js";
import { readSource } from "./input.js";
import { type LimitOptions, limitsFrom, useColor } from "./options.js";

export interface CompileOptions extends LimitOptions {
  emit?: "ir" | "endpoints" | "table" | "nft" | "nft-json";
  exp?: string;
  testbed?: string;
  nodes?: string;
  state?: string;
  output?: string;
  color?: string;
}

export interface Outcome {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export async function runCompile(path: string, opts: CompileOptions, color = false): Promise<Outcome> {
  const emit = opts.emit ?? "table";
  if (emit !== "ir") {
    const missing = (["exp", "testbed", "nodes"] as const).filter((k) => opts[k] === undefined).map((k) => `--${k}`);
    if (missing.length > 0)
      return { exitCode: 2, stdout: "", stderr: `fwc compile: --emit ${emit} needs ${missing.join(", ")}\n` };
  }
  const bag = new DiagnosticBag();
  const files = [path];
  let out = "";
  const file = readSource(path, bag);
  if (file !== null) {
    const r = evaluateNs(file, limitsFrom(opts), bag);
    const policy = resolveAccess(r.experiment, file, bag);
    // zod and the planner are loaded only here: `fwc check` does not pay for them.
    const { AccessPolicy } = await import("../access/policy.js");
    const checked = AccessPolicy.parse(policy);
    if (emit === "ir") out = `${JSON.stringify(checked, null, 2)}\n`;
    else if (bag.errorCount === 0) {
      const { loadTestbed, loadNodeAddresses, loadConfig } = await import("../testbed/config.js");
      const { Allocations, emptyAllocations } = await import("../plan/allocations.js");
      const { planAccess } = await import("../plan/plan.js");
      const { endpointsJson, endpointsTable } = await import("../backends/endpoints/endpoints.js");
      const tbFile = readSource(opts.testbed!, bag);
      const nodesFile = readSource(opts.nodes!, bag);
      files.push(opts.testbed!, opts.nodes!);
      const testbed = tbFile === null ? null : loadTestbed(tbFile, bag);
      const nodes = nodesFile === null ? null : loadNodeAddresses(nodesFile, bag);
      let allocations = emptyAllocations();
      const stateFile = opts.state === undefined ? undefined : join(opts.state, "allocations.json");
      if (stateFile !== undefined && existsSync(stateFile)) {
        const sf = readSource(stateFile, bag);
        const loaded = sf === null ? null : loadConfig(sf, Allocations, bag);
        if (loaded !== null) allocations = loaded;
      }
      if (testbed !== null && nodes !== null && bag.errorCount === 0) {
        const planned = planAccess({ policy: checked, experiment: opts.exp!, testbed, nodes, allocations, file }, bag);
        if (planned !== null) {
          if (emit === "nft" || emit === "nft-json") {
            const { renderNftables, renderNftJson } = await import("../backends/nftables/render.js");
            const input = { testbed, plans: [planned.plan] };
            out = emit === "nft" ? renderNftables(input) : renderNftJson(input);
          } else if (emit === "endpoints") out = `${JSON.stringify(endpointsJson(planned.plan), null, 2)}\n`;
          else out = endpointsTable(planned.plan);
        }
      }
    }
  }
  const diags = bag.sorted();
  const stderr =
    renderText(diags, { color }) +
    (diags.length > 0 ? `${summaryLine(bag.errorCount, bag.warningCount, files.length)}\n` : "");
  // Output from inputs with errors is not something a gateway or an experiment page should get: none is written.
  if (bag.errorCount > 0) return { exitCode: 1, stdout: "", stderr };
  if (opts.output !== undefined) {
    writeFileSync(opts.output, out);
    return { exitCode: 0, stdout: "", stderr };
  }
  return { exitCode: 0, stdout: out, stderr };
}

export async function compileAction(path: string, opts: CompileOptions): Promise<number> {
  const r = await runCompile(path, opts, useColor(opts.color, process.stderr));
  process.stdout.write(r.stdout);
  process.stderr.write(r.stderr);
  return r.exitCode;
}
