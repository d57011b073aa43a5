import type { Interp } from "../interp.js";
import { installControl } from "./control.js";
import { installFormat } from "./format.js";
import { installLists } from "./lists.js";
import { installStrings } from "./strings.js";
import { installVars } from "./vars.js";

/** Installs every Tcl command the evaluator supports (docs/language.md lists them). */
export function installTcl(it: Interp): void {
  installVars(it);
  installControl(it);
  installLists(it);
  installStrings(it);
  installFormat(it);
}
