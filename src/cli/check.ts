/** `fwc check FILE...`: evaluate NS files as Emulab would and report every problem found. */

import { pathToFileURL } from "node:url";
import { resolveAccess } from "../access/resolve.js";
import { DiagnosticBag } from "../diagnostics/diagnostic.js";
import { renderJson, renderSarif, renderText, summaryLine } from "../diagnostics/render.js";
import { SourceFile } from "../diagnostics/source.js";
import { type Catalog, evaluateNs } from "../ns/index.js";
import { installedDoc, readSource } from "./input.js";
import { type LimitOptions, limitsFrom, useColor } from "./options.js";
import { VERSION } from "./version.js";

export interface CheckOptions extends LimitOptions {
  format: "text" | "json" | "sarif";
  strict?: boolean;
  color?: string;
  /** The testbed catalog, a file of its own. */
  catalog?: string;
  /** testbed.yaml, for its catalog. */
  testbed?: string;
  /** The name standard input is reported under. */
  stdinFilename?: string;
}

/**
 * Where SARIF's rules point for help: $FWC_DOCS_URL (the URL of docs/diagnostics.md, for results uploaded to a
 * web page such as code scanning), else the diagnostics.md installed beside this fwc, as a file: URL. A value
 * that is no absolute http(s) or file URL is refused ("bad").
 */
export function docsUrl(env = process.env.FWC_DOCS_URL): string | undefined | "bad" {
  if (env !== undefined && env !== "") {
    let u: URL;
    try {
      u = new URL(env);
    } catch {
      return "bad";
    }
    return ["http:", "https:", "file:"].includes(u.protocol) && u.hash === "" && !/\s/.test(env) ? u.href : "bad";
  }
  const local = installedDoc("diagnostics.md");
  return local === undefined ? undefined : pathToFileURL(local).href;
}

export interface CheckOutcome {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export function runCheck(
  files: string[],
  opts: CheckOptions,
  color = false,
  catalog?: Catalog,
  docs?: string,
): CheckOutcome {
  const limits = limitsFrom(opts);
  const all = [];
  let notShown = 0;
  let errors = 0;
  let warnings = 0;
  for (const path of files) {
    const bag = new DiagnosticBag();
    const read = readSource(path, bag);
    const file =
      read !== null && path === "-" && opts.stdinFilename !== undefined
        ? new SourceFile(opts.stdinFilename, read.text)
        : read;
    if (file !== null) {
      const r = evaluateNs(file, limits, bag, { noteUnchecked: true, ...(catalog !== undefined ? { catalog } : {}) });
      resolveAccess(r.experiment, file, bag);
    }
    all.push(...bag.sorted());
    notShown += bag.droppedCount;
    errors += bag.errorCount;
    warnings += bag.warningCount;
  }
  const failed = errors > 0 || (opts.strict === true && warnings > 0);
  let stdout: string;
  let stderr = "";
  const shown = opts.stdinFilename === undefined ? files : files.map((f) => (f === "-" ? opts.stdinFilename! : f));
  if (opts.format === "json") stdout = renderJson(all, shown, { errors, warnings, notShown });
  else if (opts.format === "sarif") stdout = renderSarif(all, VERSION, docs);
  else {
    stdout = renderText(all, { color });
    stderr = `${summaryLine(errors, warnings, files.length)}${notShown > 0 ? ` (${notShown} more not shown: at most ${DiagnosticBag.LIMIT} are reported per file)` : ""}\n`;
  }
  return { exitCode: failed ? 1 : 0, stdout, stderr };
}

/**
 * The catalog of --catalog, or of --testbed's testbed.yaml; undefined without either. A catalog that cannot be
 * read is a failure of its own (the files are not checked against half a catalog).
 */
async function catalogFor(opts: CheckOptions): Promise<{ catalog?: Catalog; failed?: CheckOutcome }> {
  if (opts.catalog === undefined && opts.testbed === undefined) return {};
  const bag = new DiagnosticBag();
  const { loadCatalog, testbedCatalog } = await import("../testbed/catalog.js");
  let catalog: Catalog | null | undefined = null;
  const path = opts.catalog ?? opts.testbed!;
  const f = readSource(path, bag);
  if (f !== null && opts.catalog !== undefined) catalog = loadCatalog(f, bag);
  else if (f !== null) {
    const { loadTestbed } = await import("../testbed/config.js");
    const tb = loadTestbed(f, bag);
    catalog = tb === null ? null : testbedCatalog(tb, path, bag);
  }
  if (catalog !== null && bag.errorCount === 0) return catalog === undefined ? {} : { catalog };
  const color = useColor(opts.color, process.stdout);
  const diags = bag.sorted();
  const stdout =
    opts.format === "json"
      ? renderJson(diags, [path], { errors: bag.errorCount, warnings: bag.warningCount, notShown: 0 })
      : opts.format === "sarif"
        ? renderSarif(diags, VERSION, docsUrl() as string | undefined)
        : renderText(diags, { color });
  const stderr = opts.format === "text" ? `${summaryLine(bag.errorCount, bag.warningCount, 1)}\n` : "";
  return { failed: { exitCode: 1, stdout, stderr } };
}

export async function checkAction(files: string[], opts: CheckOptions): Promise<number> {
  if (opts.catalog !== undefined && opts.testbed !== undefined) {
    process.stderr.write("fwc check: give --catalog or --testbed, not both\n");
    return 2;
  }
  const docs = opts.format === "sarif" ? docsUrl() : undefined;
  if (docs === "bad") {
    process.stderr.write(
      "fwc check: FWC_DOCS_URL must be the absolute http(s) or file URL of docs/diagnostics.md, without a #fragment\n",
    );
    return 2;
  }
  const c = await catalogFor(opts);
  const out = c.failed ?? runCheck(files, opts, useColor(opts.color, process.stdout), c.catalog, docs);
  process.stdout.write(out.stdout);
  process.stderr.write(out.stderr);
  return out.exitCode;
}

/** What `fwc check` prints for a file given as text (fwc explain's examples): its diagnostics. */
export function checkText(name: string, text: string, color = false): string {
  const bag = new DiagnosticBag();
  const file = new SourceFile(name, text);
  const r = evaluateNs(file, undefined, bag, {});
  resolveAccess(r.experiment, file, bag);
  return renderText(bag.sorted(), { color });
}
