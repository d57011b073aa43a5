#!/usr/bin/env -S node --max-semi-space-size=2 --stack-size=3900
import { createRequire } from "node:module";
import { join } from "node:path";
/**
 * fwc's command line. The #! line gives V8 a small young generation (a one-shot run's memory stays low) and a
 * 3.9 MB stack (within Linux's default 8 MB), so Tcl's 1,000 levels of nesting fit.
 * Exit codes: 0 ok, 1 the input has errors, 2 usage error, 3 internal error. */
import { Command, CommanderError, Option } from "commander";
import { DEFAULT_LIMITS } from "../ns/index.js";
import { checkAction } from "./check.js";
import { inspectAction } from "./inspect.js";
import { positiveInt } from "./options.js";
import { VERSION } from "./version.js";

function limitOptions(cmd: Command): Command {
  return cmd
    .option(
      "--max-steps <n>",
      `stop evaluating after this many Tcl commands (default: ${DEFAULT_LIMITS.maxSteps})`,
      positiveInt,
    )
    .option(
      "--max-depth <n>",
      `deepest nesting of procs, eval and [...] (default: ${DEFAULT_LIMITS.maxDepth})`,
      positiveInt,
    )
    .option(
      "--max-string <n>",
      `longest value allowed, in characters (default: ${DEFAULT_LIMITS.maxString})`,
      positiveInt,
    )
    .addOption(new Option("--color <when>", "colour the output").choices(["auto", "always", "never"]).default("auto"));
}

/**
 * The compile command with its planner, zod and yaml is a bundle of its own (dist/fwc-compile.cjs), loaded only
 * when it runs: in the main bundle it would cost every `fwc check` 20 ms and 6 MB of parsing at start-up.
 * Built by esbuild with FWC_SPLIT_BUNDLE defined; from the TypeScript output it is an ordinary import.
 */
async function loadCompile(): Promise<typeof import("./compile.js")> {
  if (process.env.FWC_SPLIT_BUNDLE === "1") return createRequire(__filename)(join(__dirname, "fwc-compile.cjs"));
  // A computed specifier, so that esbuild leaves the module out of the main bundle.
  const specifier = "./compile.js";
  return import(specifier);
}

export function buildProgram(exit: (code: number) => void): Command {
  const program = new Command("fwc")
    .description("Check Emulab/DETER NS files as the testbed evaluates them, and show what they build")
    .version(VERSION)
    .showHelpAfterError()
    .exitOverride();

  limitOptions(
    program
      .command("check")
      .description("evaluate NS files as Emulab does and report every problem with file:line:col")
      .argument("<file...>", "NS files (- reads standard input)")
      .addOption(new Option("--format <format>", "output format").choices(["text", "json", "sarif"]).default("text"))
      .option("--strict", "treat warnings as errors"),
  ).action((files: string[], opts) => exit(checkAction(files, opts)));

  limitOptions(
    program
      .command("inspect")
      .description("print the evaluated topology and tb-allow-external calls")
      .argument("<file>", "NS file")
      .option("--json", "print JSON (the documented contract)"),
  ).action((file: string, opts) => exit(inspectAction(file, opts)));

  limitOptions(
    program
      .command("compile")
      .description(
        "compile an NS file's external access: the AccessPolicy, endpoint listing, gateway ruleset or DNS records",
      )
      .argument("<file>", "NS file")
      .addOption(
        new Option(
          "--emit <kind>",
          "ir: the AccessPolicy; endpoints: the endpoint listing (JSON); table: the listing for people; nft: the gateway ruleset; nft-json: the same for nft -j -f; dns: the DNS records for $INCLUDE; zone: a complete zone; nsupdate: the DNS changes from the deployed state",
        )
          .choices(["ir", "endpoints", "table", "nft", "nft-json", "dns", "zone", "nsupdate"])
          .default("table"),
      )
      .option("--exp <pid/eid>", "the experiment (needed for every kind but ir)")
      .option("--testbed <file>", "testbed configuration, YAML")
      .option("--nodes <file>", "node addresses, JSON")
      .option("--state <dir>", "directory with the stored state (allocations.json, dns.json); read only")
      .option("-o, --output <file>", "write to this file instead of standard output"),
  ).action(async (file: string, opts) => exit(await (await loadCompile()).compileAction(file, opts)));

  return program;
}

async function main(): Promise<void> {
  // `fwc check ... | head` closes the pipe early: that is not an error worth a stack trace.
  for (const stream of [process.stdout, process.stderr])
    stream.on("error", (e: NodeJS.ErrnoException) => {
      if (e.code === "EPIPE") process.exit(process.exitCode ?? 0);
      throw e;
    });
  let code = 0;
  const program = buildProgram((c) => {
    code = c;
  });
  try {
    await program.parseAsync(process.argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      // help and version exit 0; every other commander error is a usage error.
      process.exitCode = e.exitCode === 0 ? 0 : 2;
      return;
    }
    const msg = e instanceof Error ? e.message : String(e);
    process.stderr.write(
      `fwc: internal error: ${msg}\nThis is a bug in fwc; please report it with the input that caused it.\n`,
    );
    if (process.env.FWC_DEBUG !== undefined && e instanceof Error) process.stderr.write(`${e.stack}\n`);
    process.exitCode = 3;
    return;
  }
  process.exitCode = code;
}

void main();
