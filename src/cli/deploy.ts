/**
 * The lifecycle commands on the command line: `fwc swapin|modify|open|close|swapout|status|reconcile`
 * (docs/deploy.md). Every one takes --state DIR, --testbed FILE (default DIR/testbed.yaml), --netns NAME,
 * --dry-run and --json; problems are diagnostics, the exit code is 0 or 1 (2 for usage errors).
 */
import { join } from "node:path";
import type { DynamicRequest } from "../access/dynamic.js";
import type { AccessPolicy } from "../access/policy.js";
import { type BlockRequest, parseBlock } from "../deploy/blocks.js";
import * as cmd from "../deploy/commands.js";
import { claimsOf, type DeployContext } from "../deploy/lifecycle.js";
import type { DiagnosticCode } from "../diagnostics/codes.js";
import { DiagnosticBag } from "../diagnostics/diagnostic.js";
import { printable, renderText, summaryLine } from "../diagnostics/render.js";
import { SourceFile, span } from "../diagnostics/source.js";
import type { Limits } from "../ns/limits.js";
import { isExperimentName, StateError } from "../store/schema.js";
import { openReader } from "../store/sqlite.js";
import { LockError } from "../store/store.js";
import { testbedCatalog } from "../testbed/catalog.js";
import {
  DEFAULT_EXPERIMENT_LIMITS,
  loadConfig,
  loadNodeAddresses,
  loadTestbed,
  type NodeAddresses,
} from "../testbed/config.js";
import { readSource, TESTBED_MISSING } from "./input.js";
import { type LimitOptions, limitsFrom, useColor } from "./options.js";

export { checkConfigAction, initAction } from "./setup.js";

export interface DeployOptions extends LimitOptions {
  state?: string;
  testbed?: string;
  netns?: string;
  dryRun?: boolean;
  json?: boolean;
  wait?: number;
  /** open --for: the grants' lifetime in seconds. */
  for?: number;
  exp?: string;
  nodes?: string;
  rdr?: string;
  nat?: string;
  open6?: string;
  node?: string;
  all?: boolean;
  color?: string;
  reason?: string;
  proto?: string;
  port?: string;
}

export type DeployCommand =
  | "swapin"
  | "modify"
  | "open"
  | "close"
  | "swapout"
  | "status"
  | "env"
  | "reconcile"
  | "block"
  | "unblock"
  | "blocks";

function usage(message: string): number {
  // The message may quote an option's value: its control characters are shown, never sent to the terminal.
  process.stderr.write(`fwc: ${printable(message)}\n`);
  return 2;
}

/** How swapin and modify evaluate NS files (given by the bundle that has the front end). */
export interface NsSupport {
  policyOf: (
    ctx: DeployContext,
    file: SourceFile,
    limits: Limits | undefined,
    experiment?: string,
  ) => AccessPolicy | null;
}

export async function deployAction(
  command: DeployCommand,
  file: string | string[] | undefined,
  opts: DeployOptions,
  ns?: NsSupport,
): Promise<number> {
  if ((command === "swapin" || command === "modify") && ns === undefined)
    return usage(`${command} runs from the bundle with the NS front end`);
  const cidrs = Array.isArray(file) ? file : [];
  const needsExp = !["status", "reconcile", "block", "unblock", "blocks"].includes(command);
  if ((command === "block" || command === "unblock") && cidrs.length === 0)
    return usage(`${command} needs one or more networks (CIDR)`);
  if (opts.reason !== undefined && (opts.reason.length > 500 || /[\u0000-\u001f\u007f]/.test(opts.reason)))
    return usage("--reason is one line of at most 500 characters, without control characters");
  if (needsExp && opts.exp === undefined) return usage(`${command} needs --exp PID/EID`);
  if (opts.exp !== undefined && !isExperimentName(opts.exp))
    return usage(`--exp "${opts.exp}" is not PID/EID made of two DNS labels (letters, digits, inner hyphens)`);
  if (command === "swapin" && opts.nodes === undefined) return usage("swapin needs --nodes FILE (the node addresses)");
  const targets = opts.rdr !== undefined || opts.nat !== undefined || opts.open6 !== undefined;
  if (command === "open" && !targets && !opts.json)
    return usage("open needs --rdr, --nat or --open6 targets (or --json with g5kfw openings on standard input)");
  if (command === "close" && targets === (opts.all === true))
    return usage("close needs either targets (--rdr, --nat, --open6) or --all");
  const exp = opts.exp?.toLowerCase();

  const bag = new DiagnosticBag();
  const files = new Set<string>();
  const stateDir = opts.state ?? process.env.FWC_STATE ?? "/var/lib/fwc";
  const testbedPath = opts.testbed ?? join(stateDir, "testbed.yaml");
  files.add(testbedPath);
  const tbFile = readSource(testbedPath, bag, TESTBED_MISSING);
  const testbed = tbFile === null ? null : loadTestbed(tbFile, bag);
  // The catalog is for the NS file's checks: only swapin and modify read one.
  const catalog =
    testbed === null || (command !== "swapin" && command !== "modify")
      ? undefined
      : testbedCatalog(testbed, testbedPath, bag);
  const out: string[] = [];
  let ok = false;
  if (testbed !== null && catalog !== null && bag.errorCount === 0) {
    const ctx: DeployContext = {
      stateDir,
      testbed,
      ...(catalog !== undefined ? { catalog } : {}),
      gw: opts.netns === undefined ? {} : { netns: opts.netns },
      dryRun: opts.dryRun === true,
      waitMs: (opts.wait ?? 10) * 1000,
      bag,
      out,
      ...(process.env.FWC_FAILPOINT ? { failpoint: process.env.FWC_FAILPOINT } : {}),
      // A dry run with --json prints one JSON document (reconcile's dry run stays text: it is a repair).
      ...(opts.dryRun === true && opts.json === true && command !== "reconcile" ? { dryRunJson: [] } : {}),
    };
    const shown = { json: opts.json === true, color: useColor(opts.color, process.stdout) };
    const limits = limitsFrom(opts);
    const nodesOf = (path: string) => {
      files.add(path);
      const f = readSource(path, bag);
      return f === null ? null : loadNodeAddresses(f, bag);
    };
    const nsFile = () => {
      files.add(file as string);
      return readSource(file as string, bag);
    };
    const request = (): DynamicRequest => ({
      ...(opts.rdr !== undefined ? { rdr: opts.rdr } : {}),
      ...(opts.nat !== undefined ? { nat: opts.nat } : {}),
      ...(opts.open6 !== undefined ? { open6: opts.open6 } : {}),
      ...(opts.node !== undefined ? { node: opts.node } : {}),
    });
    switch (command) {
      case "swapin": {
        const f = nsFile();
        const nodes = nodesOf(opts.nodes!);
        const policy = f === null ? null : ns!.policyOf(ctx, f, limits, exp);
        if (f !== null && nodes !== null && policy !== null) ok = await cmd.swapin(ctx, exp!, f, policy, nodes, shown);
        break;
      }
      case "modify": {
        const f = nsFile();
        const nodes = opts.nodes === undefined ? null : nodesOf(opts.nodes);
        const policy = f === null ? null : ns!.policyOf(ctx, f, limits, exp);
        if (f !== null && policy !== null && (opts.nodes === undefined || nodes !== null))
          ok = await cmd.modify(ctx, exp!, f, policy, nodes, shown);
        break;
      }
      case "open": {
        let req = request();
        if (!targets) {
          // g5kfw's POST body (docs/deploy.md) on standard input.
          const f = readSource("-", bag);
          const parsed = f === null ? null : loadConfig(new SourceFile("(stdin)", f.text), cmd.G5kOpening, bag);
          if (parsed === null) break;
          // Read for the node names and addresses only; the change itself runs under the lock (cmd.open).
          let s: NodeAddresses | null;
          try {
            const reader = openReader(stateDir, claimsOf);
            try {
              s = reader.readExperiment(exp!)?.nodes ?? null;
            } finally {
              reader.close();
            }
          } catch (e) {
            if (!(e instanceof StateError || e instanceof LockError)) throw e;
            bag.add("FWC802", span(new SourceFile(stateDir, ""), 0, 0), e.message, "fix or remove the file");
            break;
          }
          if (s === null) {
            bag.add("FWC800", span(new SourceFile(exp!, ""), 0, 0), `${exp} is not swapped in on this gateway`);
            break;
          }
          const r = cmd.g5kRequest(parsed, s, { ...DEFAULT_EXPERIMENT_LIMITS, ...testbed.limits }.elements);
          if ("problem" in r) {
            bag.add(
              r.code ?? "FWC510",
              span(new SourceFile("(stdin)", ""), 0, 0),
              r.problem,
              "see docs/deploy.md (g5kfw openings)",
            );
            break;
          }
          req = r.request;
        }
        ok = await cmd.open(ctx, exp!, req, shown, opts.for === undefined ? undefined : { seconds: opts.for });
        break;
      }
      case "close":
        ok = await cmd.close(ctx, exp!, opts.all ? "all" : request(), shown);
        break;
      case "swapout":
        ok = await cmd.swapout(ctx, exp!, shown);
        break;
      case "status":
        ok = await cmd.status(ctx, exp, shown);
        break;
      case "env":
        ok = await cmd.env(ctx, exp!, opts.node, shown);
        break;
      case "reconcile":
        ok = await cmd.reconcile(ctx);
        break;
      case "blocks":
        ok = await cmd.listBlocks(ctx, shown);
        break;
      case "block":
      case "unblock": {
        const requests: BlockRequest[] = [];
        for (const c of cidrs) {
          const r = parseBlock(c, opts.proto, opts.port);
          if (r.ok) requests.push(r.block);
          else {
            // Each argument is its own small source: the report points into it.
            const text = r.arg === "cidr" ? c : r.arg === "proto" ? opts.proto! : opts.port!;
            const where = new SourceFile(r.arg === "cidr" ? `network ${requests.length + 1}` : `--${r.arg}`, text);
            bag.add(r.code as DiagnosticCode, span(where, r.at, r.at + r.length), r.message, r.help);
          }
        }
        if (bag.errorCount === 0)
          ok = await cmd.changeBlocks(ctx, command, requests, opts.reason ?? "", cmd.cliUser(), shown);
        break;
      }
    }
    if (ctx.dryRunJson !== undefined && ok)
      out.push(`${JSON.stringify({ dryRun: true, changes: ctx.dryRunJson }, null, 2)}\n`);
  }
  process.stdout.write(out.join(""));
  const diags = bag.sorted();
  const color = useColor(opts.color, process.stderr);
  if (diags.length > 0)
    process.stderr.write(
      // "in N files" only when the problems are in files (a gateway's, a store's or an experiment's are not).
      `${renderText(diags, { color })}${summaryLine(bag.errorCount, bag.warningCount, diags.some((d) => d.span.file.text.length > 0) ? Math.max(1, files.size) : undefined)}\n`,
    );
  return ok && bag.errorCount === 0 ? 0 : 1;
}
