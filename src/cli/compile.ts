/**
 * `fwc compile FILE --emit ir|endpoints|table|svg|nft|nft-json|dns|zone|nsupdate`: the AccessPolicy, or with a
 * testbed, node addresses and the stored state, the plan's endpoint listing (JSON, a table, or the exposure
 * diagram as SVG), the gateway's ruleset or the DNS records (a fragment, a zone, or an nsupdate script from what
 * is deployed to what is wanted). Read-only: allocations are stored by the deploy step.
 */
import { existsSync, writeFileSync } from "node:fs";
import { resolveAccess } from "../access/resolve.js";
import type { DnsRecord } from "../backends/dns/records.js";
import { DiagnosticBag } from "../diagnostics/diagnostic.js";
import { renderText, summaryLine } from "../diagnostics/render.js";
import { SourceFile, span } from "../diagnostics/source.js";
import { type Catalog, evaluateNs } from "../ns/index.js";
import type { BlockEntry } from "../store/schema.js";
import type { TestbedConfig } from "../testbed/config.js";
import { osReason, readSource, TESTBED_MISSING } from "./input.js";
import { type LimitOptions, limitsFrom, useColor } from "./options.js";

export interface CompileOptions extends LimitOptions {
  emit?: "ir" | "endpoints" | "table" | "svg" | "nft" | "nft-json" | "dns" | "zone" | "nsupdate";
  exp?: string;
  testbed?: string;
  nodes?: string;
  state?: string;
  output?: string;
  color?: string;
}

export interface Outcome {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export async function runCompile(
  path: string,
  opts: CompileOptions,
  color = false,
  tableColor = false,
): Promise<Outcome> {
  // A file alone (no --exp, --testbed, --nodes, --emit) compiles to what it asks for, the access policy: the
  // gateway's forms need the testbed.
  const alone =
    opts.emit === undefined && opts.exp === undefined && opts.testbed === undefined && opts.nodes === undefined;
  const emit = opts.emit ?? (alone ? "ir" : "table");
  if (emit !== "ir") {
    const missing = (["exp", "testbed", "nodes"] as const).filter((k) => opts[k] === undefined).map((k) => `--${k}`);
    if (missing.length > 0)
      return { exitCode: 2, stdout: "", stderr: `fwc compile: --emit ${emit} needs ${missing.join(", ")}\n` };
  }
  const bag = new DiagnosticBag();
  const files = [path];
  let out = "";
  const file = readSource(path, bag);
  if (file !== null) {
    // The testbed's catalog checks what Emulab checks against its database (docs/catalog.md).
    // testbed.yaml is read once, here, for its catalog; its own problems are reported where the plan needs it
    // (below), after the NS file's, as before the catalog.
    let catalog: Catalog | undefined;
    let early: { testbed: TestbedConfig | null; problems: DiagnosticBag } | undefined;
    if (opts.testbed !== undefined && emit !== "ir") {
      const { loadTestbed } = await import("../testbed/config.js");
      const { testbedCatalog } = await import("../testbed/catalog.js");
      const problems = new DiagnosticBag();
      const tbFile = readSource(opts.testbed, problems, TESTBED_MISSING);
      early = { testbed: tbFile === null ? null : loadTestbed(tbFile, problems), problems };
      catalog = (early.testbed === null ? undefined : testbedCatalog(early.testbed, opts.testbed, bag)) ?? undefined;
    }
    const r = evaluateNs(file, limitsFrom(opts), bag, {
      ...(catalog !== undefined ? { catalog } : {}),
      ...(opts.exp !== undefined ? { experiment: opts.exp } : {}),
    });
    const policy = resolveAccess(r.experiment, file, bag);
    // zod and the planner are loaded only here: `fwc check` does not pay for them.
    const { AccessPolicy } = await import("../access/policy.js");
    const checked = AccessPolicy.parse(policy);
    if (emit === "ir") out = `${JSON.stringify(checked, null, 2)}\n`;
    else if (bag.errorCount === 0) {
      const { loadNodeAddresses } = await import("../testbed/config.js");
      const { emptyAllocations } = await import("../plan/allocations.js");
      const { planAccess } = await import("../plan/plan.js");
      const { endpointsJson, endpointsTable } = await import("../backends/endpoints/endpoints.js");
      for (const d of early!.problems.items) bag.add(d.code, d.span, d.message, d.help, d.related);
      const testbed = early!.testbed;
      const nodesFile = readSource(opts.nodes!, bag);
      files.push(opts.testbed!, opts.nodes!);
      const nodes = nodesFile === null ? null : loadNodeAddresses(nodesFile, bag);
      const { dnsSettings, infrastructureRecords } = await import("../backends/dns/records.js");
      const exp = opts.exp!;
      // The deploy commands' state directory (docs/deploy.md), read only: this experiment's ports and records,
      // everyone else's ports, addresses and names.
      let allocations = emptyAllocations();
      let deployedRecords: DnsRecord[] = [];
      let dnsExisting: { record: DnsRecord; owner: string }[] = [];
      let zoneState: { name: string; serial: number; digest: string } | undefined;
      let blocks: BlockEntry[] = [];
      if (opts.state !== undefined && !existsSync(opts.state)) {
        bag.add(
          "FWC802",
          span(new SourceFile(opts.state, ""), 0, 0),
          `the state directory ${opts.state} does not exist`,
          "give the state directory of the deploy commands (fwc swapin --state DIR), or leave --state out to compile as if nothing were deployed",
        );
      } else if (opts.state !== undefined) {
        const { StateError, isExperimentName } = await import("../store/schema.js");
        const { openReader } = await import("../store/sqlite.js");
        const { LockError } = await import("../store/store.js");
        const { allocationsFor, claimsOf } = await import("../deploy/lifecycle.js");
        let store: { close(): void } | null = null;
        try {
          const reader = openReader(opts.state, claimsOf);
          store = reader;
          const index = reader.readIndex();
          // A malformed --exp is the planner's to report (FWC703), not the state's.
          const prev = isExperimentName(exp) ? reader.readExperiment(exp) : null;
          allocations = allocationsFor(index, exp, prev);
          deployedRecords = prev?.applied.records ?? [];
          dnsExisting = reader
            .listExperiments()
            .filter((x) => x.experiment !== exp.toLowerCase())
            .flatMap((x) => x.applied.records.map((record) => ({ record, owner: `experiment ${x.experiment}` })));
          zoneState = index.zone;
          blocks = reader.readBlocks().entries;
        } catch (e) {
          if (!(e instanceof StateError || e instanceof LockError)) throw e;
          bag.add("FWC802", span(new SourceFile(opts.state, ""), 0, 0), e.message, "fix or remove the file");
        } finally {
          store?.close();
        }
      }
      if (testbed !== null && nodes !== null && bag.errorCount === 0) {
        const planned = planAccess(
          { policy: checked, experiment: exp, testbed, nodes, allocations, file, dnsExisting, nodesFile: nodesFile! },
          bag,
        );
        if (planned !== null) {
          const plan = planned.plan;
          if (emit === "nft" || emit === "nft-json") {
            const { renderNftables, renderNftJson } = await import("../backends/nftables/render.js");
            const input = { testbed, plans: [plan] };
            out = emit === "nft" ? renderNftables(input) : renderNftJson(input);
          } else if (emit === "dns" || emit === "zone" || emit === "nsupdate") {
            const z = await import("../backends/dns/zone.js");
            const settings = dnsSettings(testbed);
            if (emit === "dns") out = z.renderFragment(exp, settings.zone, plan.dns);
            else if (emit === "nsupdate")
              out = z.renderNsupdate(settings, exp, z.diffRecords(deployedRecords, plan.dns));
            else {
              const infra = infrastructureRecords(testbed, settings);
              const records = [...dnsExisting.map((x) => x.record), ...plan.dns];
              const digest = z.zoneDigest([...infra, ...records]);
              const deployed = zoneState?.name === settings.zone ? zoneState : undefined;
              out = z.renderZone(settings, infra, records, z.nextSerial(deployed, digest, now()));
            }
          } else if (emit === "svg") {
            // Graphviz (WebAssembly) is loaded only here, from node_modules: no bundle carries it.
            const { exposureSvg } = await import("../backends/diagram/diagram.js");
            out = await exposureSvg(endpointsJson(plan), { blocks, now: now() });
          } else if (emit === "endpoints") out = `${JSON.stringify(endpointsJson(plan), null, 2)}\n`;
          else out = endpointsTable(plan, tableColor && opts.output === undefined);
        }
      }
    }
  }
  const diags = bag.sorted();
  const stderr =
    renderText(diags, { color }) +
    (diags.length > 0 ? `${summaryLine(bag.errorCount, bag.warningCount, files.length)}\n` : "");
  // Output from inputs with errors is not something a gateway or an experiment page should get: none is written.
  if (bag.errorCount > 0) return { exitCode: 1, stdout: "", stderr };
  if (opts.output !== undefined) {
    try {
      writeFileSync(opts.output, out);
    } catch (e) {
      const bag = new DiagnosticBag();
      bag.add(
        "FWC112",
        span(new SourceFile(opts.output, ""), 0, 0),
        `cannot write ${opts.output}: ${osReason(e)}`,
        "check that the directory exists and can be written, and that there is space",
      );
      return { exitCode: 1, stdout: "", stderr: stderr + renderText(bag.items, { color }) };
    }
    return { exitCode: 0, stdout: "", stderr };
  }
  return { exitCode: 0, stdout: out, stderr };
}

/**
 * The time for SOA serials and the diagram's title and expiries: SOURCE_DATE_EPOCH (seconds) when set, for
 * reproducible output; else the clock.
 */
function now(): Date {
  const e = process.env.SOURCE_DATE_EPOCH;
  return e !== undefined && /^[0-9]+$/.test(e) ? new Date(Number(e) * 1000) : new Date();
}

export async function compileAction(path: string, opts: CompileOptions): Promise<number> {
  const r = await runCompile(path, opts, useColor(opts.color, process.stderr), useColor(opts.color, process.stdout));
  process.stdout.write(r.stdout);
  process.stderr.write(r.stderr);
  return r.exitCode;
}
