/**
 * The whole of fwc's tables against what the state says they hold: `fwc status` reports every difference (a
 * table, a chain, a rule, a set's definition, an element with or without a comment) and `fwc reconcile` (and the
 * recovery of an interrupted command) makes the tables exactly what the state says.
 *
 * Which experiment an element belongs to is read from the state (every experiment's applied elements, the
 * blocklist, the gateway's own), never from the element's comment: a comment is for people, and it is cut.
 * The rules and set definitions are compared with what this gateway's own nft prints for fwc's skeleton, loaded
 * into a scratch network namespace: no assumption about how one nft version prints a rule.
 */
import { spawnSync } from "node:child_process";
import {
  baseElements,
  diffElements,
  type Element,
  type ElementSet,
  FAMILIES,
  type Family,
  isEmptyDelta,
  renderDelta,
  renderTable,
  skeletonText,
} from "../backends/nftables/render.js";
import type { TestbedConfig } from "../testbed/config.js";
import { applyTransaction, type Gateway, NftError, normalizeKey, parseListing, run } from "./nft.js";

/** fwc's tables as nft lists them (null: the table is missing), and their elements. */
export interface Listing {
  tables: Record<Family, string | null>;
  elements: ElementSet;
}

export function listTables(gw: Gateway): Listing {
  const tables = {} as Record<Family, string | null>;
  for (const f of FAMILIES) {
    const r = run(gw, ["list", "table", f, "fwc"]);
    if (!r.ok && !/No such file or directory/.test(r.err))
      throw new NftError(`nft list table ${f} fwc failed: ${r.err.split("\n").slice(0, 2).join(" / ")}`);
    tables[f] = r.ok ? r.out : null;
  }
  return { tables, elements: parseListing(FAMILIES.map((f) => tables[f] ?? "").join("\n")) };
}

/** A listing without its elements: the table's skeleton (sets' definitions, chains, rules), line by line. */
export function skeletonLines(listing: string): string[] {
  const out: string[] = [];
  let inSet = false;
  let inElements = false;
  let quoted = false;
  for (const line of listing.split("\n")) {
    let rest = line;
    if (!inElements) {
      // Element lists are only looked for inside sets and maps: a rule's comment may say anything.
      if (/^\t(set|map) \S+ \{$/.test(line)) inSet = true;
      else if (line === "\t}") inSet = false;
      const at = inSet ? line.indexOf("elements = {") : -1;
      if (at < 0 || !/^\t\telements = \{/.test(line)) {
        if (line.trim() !== "") out.push(line.trimEnd());
        continue;
      }
      inElements = true;
      quoted = false;
      rest = line.slice(at + "elements = {".length);
    }
    for (const c of rest) {
      if (c === '"') quoted = !quoted;
      else if (c === "}" && !quoted) {
        inElements = false;
        break;
      }
    }
  }
  return out;
}

/**
 * How this gateway's nft lists fwc's skeleton for this testbed: the skeleton loaded into a scratch network
 * namespace (`unshare --net`), listed there. Null (with the reason) when no scratch namespace can be made.
 */
export function canonicalSkeleton(testbed: TestbedConfig): Record<Family, string[]> | { problem: string } {
  const script = `nft -f - && ${FAMILIES.map((f) => `nft list table ${f} fwc && echo '#fwc-end'`).join(" && ")}`;
  const r = spawnSync("unshare", ["--net", "sh", "-c", script], {
    input: skeletonText(testbed),
    encoding: "utf8",
    timeout: 60_000,
    maxBuffer: 1 << 26,
  });
  if (r.error !== undefined || r.status !== 0)
    return {
      problem: `cannot load fwc's skeleton into a scratch network namespace to compare rules: ${(r.error?.message ?? r.stderr).trim().split("\n")[0]}`,
    };
  const parts = r.stdout.split("#fwc-end\n");
  return Object.fromEntries(FAMILIES.map((f, i) => [f, skeletonLines(parts[i] ?? "")])) as Record<Family, string[]>;
}

/** The elements fwc's tables should hold, and who holds each (`set` + normalized key -> owner). */
export interface Desired {
  elements: ElementSet;
  owner: Map<string, string>;
}

const slot = (set: string, key: string) => `${set}\u0000${normalizeKey(key)}`;

/** Everything the state puts on the gateway: its own elements, the blocklist's, each experiment's. */
export function desiredElements(testbed: TestbedConfig, parts: { owner: string; elements: ElementSet }[]): Desired {
  const elements: ElementSet = {};
  const owner = new Map<string, string>();
  for (const p of [{ owner: "the gateway", elements: baseElements(testbed) }, ...parts])
    for (const [set, es] of Object.entries(p.elements)) {
      const list = elements[set] ?? [];
      elements[set] = list;
      for (const e of es) {
        list.push(e);
        owner.set(slot(set, e.key), p.owner);
      }
    }
  return { elements, owner };
}

/** One difference between the gateway and the state, for a person and for `status --json`. */
export interface TableDrift {
  /** The experiment (or "the blocklist", "the gateway") whose elements differ; null for rules and strays. */
  owner: string | null;
  kind: "table" | "rules" | "missing" | "unexpected";
  what: string;
}

const describe = (set: string, e: Element) => `${set} ${normalizeKey(e.key)}${e.comment ? ` "${e.comment}"` : ""}`;

/** Every difference between the listed tables and what the state wants. */
export function tableDrift(listing: Listing, want: Desired, canonical: Record<Family, string[]> | null): TableDrift[] {
  const out = rulesDrift(listing, canonical);
  const d = diffNormalized(listing.elements, want.elements);
  for (const [set, es] of Object.entries(d.add))
    for (const e of es)
      out.push({ owner: want.owner.get(slot(set, e.key)) ?? null, kind: "missing", what: describe(set, e) });
  for (const [set, es] of Object.entries(d.remove))
    for (const e of es)
      out.push({ owner: want.owner.get(slot(set, e.key)) ?? null, kind: "unexpected", what: describe(set, e) });
  return out;
}

/** The tables missing, and the rules that differ from fwc's (not compared when `canonical` is null). */
export function rulesDrift(listing: Listing, canonical: Record<Family, string[]> | null): TableDrift[] {
  const out: TableDrift[] = [];
  for (const f of FAMILIES) {
    const text = listing.tables[f];
    if (text === null) {
      out.push({ owner: null, kind: "table", what: `the gateway has no table ${f} fwc` });
      continue;
    }
    if (canonical === null) continue;
    const have = skeletonLines(text);
    const should = canonical[f];
    if (have.join("\n") !== should.join("\n")) {
      const i = have.findIndex((l, k) => l !== should[k]);
      const at = i < 0 ? Math.min(have.length, should.length) : i;
      // The chain or set the first difference is in.
      const head = should
        .slice(0, at + 1)
        .reverse()
        .map((l) => /^\t(chain|set|map) (\S+) \{$/.exec(l))
        .find((m) => m !== null);
      out.push({
        owner: null,
        kind: "rules",
        what: `table ${f} fwc${head ? `, ${head[1]} ${head[2]},` : ""} differs from what fwc writes: fwc writes ${JSON.stringify((should[at] ?? "(nothing)").trim())} where the gateway has ${JSON.stringify((have[at] ?? "(nothing)").trim())} (${have.length} lines, fwc writes ${should.length})`,
      });
    }
  }
  return out;
}

const normalized = (s: ElementSet): ElementSet =>
  Object.fromEntries(Object.entries(s).map(([n, es]) => [n, es.map((e) => ({ ...e, key: normalizeKey(e.key) }))]));

/** The delta from what nft lists to what fwc wants, comparing keys in one spelling. */
export function diffNormalized(listed: ElementSet, want: ElementSet): ReturnType<typeof diffElements> {
  const d = diffElements(normalized(listed), normalized(want));
  // Additions are written as fwc writes them.
  const byKey = new Map(
    Object.values(want)
      .flat()
      .map((e) => [`${normalizeKey(e.key)}\u0000${e.comment}`, e]),
  );
  for (const [n, es] of Object.entries(d.add)) d.add[n] = es.map((e) => byKey.get(`${e.key}\u0000${e.comment}`) ?? e);
  return d;
}

/**
 * Makes fwc's tables exactly what the state says: the whole tables in one transaction when one is missing or
 * its rules differ (or `whole`), else one element delta over every set (elements without a comment included).
 * Returns what was done; `dryRun` returns the transaction instead of applying it.
 */
export function syncTables(
  gw: Gateway,
  testbed: TestbedConfig,
  want: Desired,
  opts: { whole?: boolean; dryRun?: boolean; canonical?: Record<Family, string[]> | null } = {},
): { changed: number | "whole"; text: string } {
  const listing = listTables(gw);
  const canonical = opts.canonical === undefined ? canonicalOrNull(testbed) : opts.canonical;
  const rules = tableDrift(listing, { elements: {}, owner: new Map() }, canonical).filter(
    (d) => d.kind === "table" || d.kind === "rules",
  );
  // Rules that cannot be compared (no scratch namespace) are written again: the whole tables are always right.
  if (opts.whole === true || canonical === null || rules.length > 0) {
    // The base's elements are in `want` already.
    const text = renderTable(testbed, [want.elements], { withBase: false });
    if (opts.dryRun !== true) applyTransaction(gw, text);
    return { changed: "whole", text };
  }
  const delta = diffNormalized(listing.elements, want.elements);
  if (isEmptyDelta(delta)) return { changed: 0, text: "" };
  const text = renderDelta(delta, "reconcile");
  if (opts.dryRun !== true) applyTransaction(gw, text);
  return {
    changed: Object.values(delta.remove).flat().length + Object.values(delta.add).flat().length,
    text,
  };
}

/** The canonical skeleton, or null when it cannot be had (rules are then not compared). */
export function canonicalOrNull(testbed: TestbedConfig): Record<Family, string[]> | null {
  const c = canonicalSkeleton(testbed);
  return "problem" in c ? null : c;
}
