/**
 * zod's configuration, imported (for its effect) by every module that defines schemas, before it defines them.
 * fwc uses the tree-shakable `zod/mini` build with English messages: it loads in about 1 ms where the classic
 * build takes 10 ms, which matters to one-shot commands such as `fwc open` (docs/benchmarks.md). A command
 * parses each document once, so the compiled fast path (jit) would cost more to build than it saves.
 */
import * as z from "zod/mini";
import en from "zod/v4/locales/en.js";

z.config({ ...en(), jitless: true });
