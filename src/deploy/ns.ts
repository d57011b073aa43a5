/** The NS file's static policy for swapin and modify (the only deploy code that needs the Tcl evaluator). */
import type { AccessPolicy } from "../access/policy.js";
import { resolveAccess } from "../access/resolve.js";
import type { SourceFile } from "../diagnostics/source.js";
import { evaluateNs } from "../ns/index.js";
import type { Limits } from "../ns/limits.js";
import type { DeployContext } from "./lifecycle.js";

/** Evaluates an NS file into its static policy; problems go to ctx.bag. */
export function policyOf(
  ctx: DeployContext,
  file: SourceFile,
  limits: Limits | undefined,
  experiment?: string,
): AccessPolicy | null {
  const before = ctx.bag.errorCount;
  const r = evaluateNs(file, limits, ctx.bag, {
    ...(ctx.catalog !== undefined ? { catalog: ctx.catalog } : {}),
    ...(experiment !== undefined ? { experiment } : {}),
  });
  const policy = resolveAccess(r.experiment, file, ctx.bag);
  return ctx.bag.errorCount > before ? null : policy;
}
