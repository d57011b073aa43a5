/**
 * compile, swapin and modify: the NS front end with zod, yaml, the planner and the backends, a bundle of its own
 * (dist/fwc-compile.cjs).
 */

import type { DeployContext } from "../deploy/lifecycle.js";
import { policyOf } from "../deploy/ns.js";
import type { SourceFile } from "../diagnostics/source.js";
import type { Limits } from "../ns/limits.js";
import { type DeployCommand, type DeployOptions, deployAction } from "./deploy.js";

export { compileAction } from "./compile.js";

export function deployWithNs(command: DeployCommand, file: string | undefined, opts: DeployOptions): Promise<number> {
  return deployAction(command, file, opts, {
    policyOf: (ctx: DeployContext, f: SourceFile, limits: Limits | undefined, experiment?: string) =>
      policyOf(ctx, f, limits, experiment),
  });
}
