/** check and inspect: the NS front end, a bundle of its own (dist/fwc-front.cjs). */
export { checkAction, checkText } from "./check.js";
export { inspectAction } from "./inspect.js";
