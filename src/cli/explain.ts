/** `fwc explain CODE`: the long explanation of a diagnostic code, from the same table docs/diagnostics.md is made of. */
import { CODES, type DiagnosticCode } from "../diagnostics/codes.js";
import { EXAMPLES } from "../diagnostics/examples.js";
import { didYouMean } from "../diagnostics/suggest.js";

/** A code as a person types it (FWC515, fwc515, 515) in the table's spelling. */
export const codeId = (code: string): string =>
  code
    .trim()
    .toUpperCase()
    .replace(/^([0-9]{3})$/, "FWC$1");

/** What `fwc check` prints for a file given as text (the NS front end, loaded only for an example). */
export type CheckText = (name: string, text: string) => string;

/** A file's lines, numbered, indented under a heading. */
const listing = (text: string) =>
  text
    .replace(/\n$/, "")
    .split("\n")
    .map((l, i) => `  ${String(i + 1).padStart(2)} | ${l}`)
    .join("\n");

/**
 * The explanation of `code` (FWC515, fwc515 or 515), or a message saying there is no such code. With `check`, a
 * code an NS file can cause also gets its example: the file, what fwc check says of it, and the file fixed.
 */
export function explain(code: string, check?: CheckText): { exitCode: number; stdout: string; stderr: string } {
  const id = codeId(code) as DiagnosticCode;
  const info = Object.hasOwn(CODES, id) ? CODES[id] : undefined;
  if (info === undefined) {
    const hint = didYouMean(id, Object.keys(CODES));
    return {
      exitCode: 2,
      stdout: "",
      stderr: `fwc explain: no diagnostic code "${code}"${hint ? ` (${hint})` : ""}; docs/diagnostics.md lists them all\n`,
    };
  }
  const family = Object.entries(FAMILIES).find(([p]) => id.startsWith(p))?.[1] ?? "";
  const severity =
    info.severity === "error"
      ? "an error: the file (or the command) is refused, exit 1"
      : info.severity === "warning"
        ? "a warning: accepted, but Emulab ignores or changes something; fwc check --strict fails on it"
        : "a note: information only, it never fails a command";
  const text = [
    `${id}: ${info.title}`,
    "",
    `Severity: ${severity}.`,
    family === "" ? "" : `Family: ${family}.`,
    "",
    wrap(info.explain, 100),
    "",
    ...example(id, check),
    `Reference: docs/diagnostics.md#${id.toLowerCase()}${family === "" ? "" : `; ${FAMILY_DOCS[id.slice(0, 4)] ?? ""}`}`.replace(
      /; $/,
      "",
    ),
    "",
  ].filter((l, i, all) => !(l === "" && all[i - 1] === ""));
  return { exitCode: 0, stdout: `${text.join("\n")}\n`, stderr: "" };
}

function example(id: DiagnosticCode, check?: CheckText): string[] {
  const ex = EXAMPLES[id];
  if (ex === undefined || check === undefined) return [];
  const said = check("exp.ns", ex.file)
    .replace(/\n+$/, "")
    .split("\n")
    .map((l) => `  ${l}`)
    .join("\n");
  return [
    "Example, exp.ns:",
    listing(ex.file),
    "",
    "fwc check exp.ns says:",
    said,
    "",
    "Fixed:",
    listing(ex.fixed),
    "",
  ];
}

const FAMILIES: Record<string, string> = {
  FWC1: "reading and syntax of the NS file",
  FWC2: "Tcl evaluation",
  FWC3: "the NS object model (Emulab's commands)",
  FWC4: "Emulab's naming rule",
  FWC5: "tb-allow-external targets",
  FWC6: "testbed configuration and node addresses",
  FWC7: "planning (ports, addresses, limits)",
  FWC8: "deploying (gateway, state, DNS, service, etcd)",
  FWC9: "fwc itself",
};

const FAMILY_DOCS: Record<string, string> = {
  FWC2: "docs/language.md",
  FWC3: "docs/language.md",
  FWC4: "docs/naming.md",
  FWC5: "docs/language.md (External access)",
  FWC6: "docs/gateway.md",
  FWC7: "docs/gateway.md",
  FWC8: "docs/deploy.md",
};

function wrap(s: string, width: number): string {
  const out: string[] = [];
  let line = "";
  for (const w of s.split(/\s+/)) {
    if (line !== "" && line.length + 1 + w.length > width) {
      out.push(line);
      line = w;
    } else line = line === "" ? w : `${line} ${w}`;
  }
  if (line !== "") out.push(line);
  return out.join("\n");
}
