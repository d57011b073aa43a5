/**
 * The commands that need zod, yaml, the planner and the backends, bundled apart (dist/fwc-compile.cjs) and
 * loaded only when one of them runs, so that `fwc check` does not parse them at start-up.
 */
export { compileAction } from "./compile.js";
export { deployAction } from "./deploy.js";
