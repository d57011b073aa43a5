#!/usr/bin/env -S node --max-semi-space-size=2 --stack-size=3900
/**
 * dist/fwc.cjs: starts fwc. The #! line gives V8 a small young generation (a one-shot run's memory stays low)
 * and a 3.9 MB stack (within Linux's default 8 MB), so Tcl's 1,000 levels of nesting fit. The command line
 * itself (dist/fwc-main.cjs) and each command's bundle are loaded with V8's code cache (codecache.ts).
 */
import { join } from "node:path";
import { requireCached } from "./codecache.js";

void (requireCached(join(__dirname, "fwc-main.cjs")) as typeof import("./main.js")).main();
