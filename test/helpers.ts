import { spawnSync } from "node:child_process";
import { expect } from "vitest";
import type { AccessPolicy } from "../src/access/policy.js";
import { resolveAccess } from "../src/access/resolve.js";
import { DiagnosticBag } from "../src/diagnostics/diagnostic.js";
import { SourceFile } from "../src/diagnostics/source.js";
import { DEFAULT_LIMITS, evaluateNs, type Limits } from "../src/ns/index.js";
import { inspectJson } from "../src/ns/inspect.js";
import { type Allocations, emptyAllocations } from "../src/plan/allocations.js";
import { type Plan, planAccess } from "../src/plan/plan.js";
import type { NodeAddresses, TestbedConfig } from "../src/testbed/config.js";

export interface Diag {
  code: string;
  severity: string;
  message: string;
  line: number;
  col: number;
  help: string | undefined;
}

export function evaluate(text: string, limits: Limits = DEFAULT_LIMITS, path = "test.ns") {
  const file = new SourceFile(path, text);
  const bag = new DiagnosticBag();
  const r = evaluateNs(file, limits, bag);
  const diags: Diag[] = bag.sorted().map((d) => {
    const p = d.span.file.position(d.span.start);
    return { code: d.code, severity: d.severity, message: d.message, line: p.line, col: p.col, help: d.help };
  });
  return { diags, topo: inspectJson(r.experiment), result: r };
}

export const errors = (text: string) => evaluate(text).diags.filter((d) => d.severity === "error");

/**
 * For each [body, message]: the NS file `ns(prefix + body)` has exactly one error, of `code`, whose message
 * contains `message`.
 */
export function expectOneError(code: string, cases: [string, string][], prefix = "set a [$ns node]\n"): void {
  for (const [body, message] of cases) {
    const e = errors(ns(`${prefix}${body}`));
    expect(
      e.map((d) => d.code),
      body,
    ).toEqual([code]);
    expect(e[0]!.message, body).toContain(message);
  }
}

/** An NS file with the usual boilerplate around `body`. */
export function ns(body: string): string {
  return `set ns [new Simulator]\nsource tb_compat.tcl\n${body}\n$ns run\n`;
}

export function tclsh(script: string): string {
  const r = spawnSync("tclsh", [], { input: script, encoding: "utf8", timeout: 20_000 });
  if (r.error) throw r.error;
  return r.stdout + r.stderr;
}

/** NS text to a Plan as `fwc compile` makes it (evaluate, resolve, plan); throws with the errors when there are any. */
export function planNs(
  text: string,
  opts: { experiment: string; testbed: TestbedConfig; nodes: NodeAddresses; allocations?: Allocations; path?: string },
): { plan: Plan; allocations: Allocations } {
  const file = new SourceFile(opts.path ?? `${opts.experiment.replace("/", "-")}.ns`, text);
  const bag = new DiagnosticBag();
  const policy = resolveAccess(evaluateNs(file, undefined, bag).experiment, file, bag);
  const r = planAccess(
    {
      policy,
      experiment: opts.experiment,
      testbed: opts.testbed,
      nodes: opts.nodes,
      allocations: opts.allocations ?? emptyAllocations(),
      file,
    },
    bag,
  );
  const errors = bag.items.filter((d) => d.severity === "error");
  if (r === null || errors.length > 0) throw new Error(errors.map((d) => `${d.code} ${d.message}`).join("; "));
  return r;
}

/** A policy with these nodes and no grants (what an NS file without tb-allow-external calls resolves to). */
export const emptyPolicy = (nodes: string[] = [], file = "x.ns"): AccessPolicy => ({
  version: 1,
  file,
  nodes,
  hasCalls: false,
  dedicated: [],
  outbound: [],
  inbound: [],
  open6: [],
  dns: [],
});
