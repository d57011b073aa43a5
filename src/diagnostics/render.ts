/** Diagnostics as text (with code frames), JSON and SARIF 2.1.0. */
import { CODES } from "./codes.js";
import type { Diagnostic } from "./diagnostic.js";
import type { Span } from "./source.js";

export interface Style {
  color: boolean;
}

const ESC = "\u001b[";
function paint(on: boolean, code: string, s: string): string {
  return on ? `${ESC}${code}m${s}${ESC}0m` : s;
}

function pos(s: Span): { line: number; col: number; endLine: number; endCol: number } {
  const a = s.file.position(s.start);
  const b = s.file.position(Math.max(s.start, s.end));
  return { line: a.line, col: a.col, endLine: b.line, endCol: b.col };
}

/** The widest part of a line a code frame shows: a longer line is cut to a window around the span. */
export const FRAME_WIDTH = 160;

/** A code frame: the lines of the span with a gutter and carets under the span (first line only when long). */
export function codeFrame(s: Span, style: Style, label = ""): string {
  const { line, col, endLine, endCol } = pos(s);
  const width = String(endLine + 1).length;
  const gutter = (n: string) => paint(style.color, "36", `${n.padStart(width)} |`);
  const out: string[] = [gutter("")];
  const full = printable(s.file.lineText(line).replace(/\t/g, " "));
  const fullEnd = endLine === line ? Math.max(endCol, col + 1) : full.length + 1;
  // A window of the line around the span's start, marked with ... where it is cut.
  const from = full.length <= FRAME_WIDTH ? 0 : Math.max(0, Math.min(col - 1 - 40, full.length - FRAME_WIDTH));
  const to = Math.min(full.length, from + FRAME_WIDTH);
  const head = from > 0 ? "..." : "";
  const text = `${head}${full.slice(from, to)}${to < full.length ? "..." : ""}`;
  out.push(`${gutter(String(line))} ${text}`);
  const startCol = col - from + head.length;
  const caretEnd = Math.min(fullEnd - from + head.length, head.length + (to - from) + 1);
  const carets = " ".repeat(startCol - 1) + "^".repeat(Math.max(1, caretEnd - startCol));
  out.push(`${gutter("")} ${paint(style.color, "1;31", carets)}${label ? ` ${label}` : ""}`);
  if (endLine > line) out.push(`${gutter("")} ${paint(style.color, "2", `... (continues to line ${endLine})`)}`);
  return out.join("\n");
}

/**
 * A line of a file as a code frame shows it: control characters (an escape sequence that would recolour or
 * clear the terminal, a bell) become their one-character pictures (␛, ␇), so the carets still line up.
 */
export function printable(line: string): string {
  return line.replace(/[\x00-\x1f\x7f-\x9f]/g, (c) => {
    const n = c.charCodeAt(0);
    return n < 0x20 ? String.fromCharCode(0x2400 + n) : n === 0x7f ? "\u2421" : "\ufffd";
  });
}

/** Width of the line-number gutter of a span's code frame. */
function gutterWidth(s: Span): number {
  return String(pos(s).endLine + 1).length;
}

/**
 * A message's further lines, indented: a message can quote hostile input, and a line of it must never start
 * where a diagnostic of its own would (`file:1:1: error[...]`).
 */
/** A message or help text for the terminal: its own lines indented, and a file's control characters as pictures. */
const indented = (s: string): string => s.split("\n").map(printable).join("\n    ");

export function renderText(diags: readonly Diagnostic[], style: Style): string {
  const parts: string[] = [];
  for (const d of diags) {
    const { line, col } = pos(d.span);
    const sev =
      d.severity === "error"
        ? paint(style.color, "1;31", "error")
        : d.severity === "warning"
          ? paint(style.color, "1;33", "warning")
          : paint(style.color, "1;36", "note");
    // A diagnostic about no text of a file (it could not be read, is empty, or is not a file at all: the
    // gateway, the DNS server) has no position and no code frame.
    const framed = d.span.file.text.length > 0;
    const path = printable(d.span.file.path);
    const where = framed ? `${path}:${line}:${col}:` : `${path}:`;
    const head = `${paint(style.color, "1", where)} ${sev}[${d.code}]: ${paint(style.color, "1", indented(d.message))}`;
    const lines = framed ? [head, codeFrame(d.span, style)] : [head];
    // The `=` lines start under the frame's `|`.
    const pad = " ".repeat(framed ? gutterWidth(d.span) + 1 : 2);
    if (d.help !== undefined) lines.push(`${pad}= ${paint(style.color, "1;32", "help")}: ${indented(d.help)}`);
    for (const r of d.related ?? []) {
      const p = pos(r.span);
      const hasText = r.span.file.text.length > 0;
      lines.push(`${pad}= note: ${indented(r.message)} (${r.span.file.path}${hasText ? `:${p.line}:${p.col}` : ""})`);
      if (hasText) lines.push(codeFrame(r.span, style));
    }
    parts.push(lines.join("\n"));
  }
  return parts.length === 0 ? "" : `${parts.join("\n\n")}\n`;
}

/** "1 error", "3 errors": a count and its noun, for every message fwc prints. */
export const plural = (n: number, noun: string, nouns = `${noun}s`): string => `${n} ${n === 1 ? noun : nouns}`;

/** "1 error, 2 warnings in 3 files"; without `files`, about no file (the gateway, the store, an experiment). */
export function summaryLine(errors: number, warnings: number, files?: number): string {
  return `${plural(errors, "error")}, ${plural(warnings, "warning")}${files === undefined ? "" : ` in ${plural(files, "file")}`}`;
}

export function diagnosticJson(d: Diagnostic) {
  const p = pos(d.span);
  return {
    code: d.code,
    severity: d.severity,
    message: d.message,
    help: d.help ?? null,
    file: d.span.file.path,
    line: p.line,
    column: p.col,
    endLine: p.endLine,
    endColumn: p.endCol,
    related: (d.related ?? []).map((r) => {
      const q = pos(r.span);
      return {
        message: r.message,
        file: r.span.file.path,
        line: q.line,
        column: q.col,
        endLine: q.endLine,
        endColumn: q.endCol,
      };
    }),
  };
}

export interface Summary {
  errors: number;
  warnings: number;
  notShown: number;
}

export function renderJson(diags: readonly Diagnostic[], files: string[], summary: Summary): string {
  return `${JSON.stringify(
    {
      version: 1,
      files,
      summary,
      diagnostics: diags.map(diagnosticJson),
    },
    null,
    2,
  )}\n`;
}

function uri(path: string): string {
  return encodeURI(path.replace(/\\/g, "/"));
}

function region(s: Span) {
  const p = pos(s);
  return {
    startLine: p.line,
    startColumn: p.col,
    endLine: p.endLine,
    endColumn: Math.max(p.endCol, p.line === p.endLine ? p.col + 1 : p.endCol),
  };
}

/**
 * SARIF 2.1.0. `docs` is the absolute URL of docs/diagnostics.md: each rule's helpUri is its section there
 * (`#fwc515`), which code scanning and editors link to.
 */
export function renderSarif(diags: readonly Diagnostic[], version: string, docs?: string): string {
  const used = [...new Set(diags.map((d) => d.code))].sort();
  const rules = used.map((id) => {
    const c = CODES[id as keyof typeof CODES];
    const helpUri = docs === undefined ? undefined : `${docs}#${id.toLowerCase()}`;
    return {
      id,
      name: c.title.replace(/[^A-Za-z0-9]+(.)?/g, (_m, ch: string | undefined) => (ch ?? "").toUpperCase()),
      shortDescription: { text: c.title },
      fullDescription: { text: c.explain },
      defaultConfiguration: { level: c.severity },
      ...(helpUri === undefined
        ? {}
        : { helpUri, help: { text: `${c.explain} (fwc explain ${id})`, markdown: `${c.explain} [More](${helpUri})` } }),
    };
  });
  const results = diags.map((d) => ({
    ruleId: d.code,
    ruleIndex: used.indexOf(d.code),
    level: d.severity,
    message: { text: d.help === undefined ? d.message : `${d.message}\nhelp: ${d.help}` },
    locations: [{ physicalLocation: { artifactLocation: { uri: uri(d.span.file.path) }, region: region(d.span) } }],
    ...(d.related !== undefined && d.related.length > 0
      ? {
          relatedLocations: d.related.map((r, i) => ({
            id: i,
            message: { text: r.message },
            physicalLocation: { artifactLocation: { uri: uri(r.span.file.path) }, region: region(r.span) },
          })),
        }
      : {}),
  }));
  const log = {
    $schema: "https://json.schemastore.org/sarif-2.1.0.json",
    version: "2.1.0",
    runs: [
      {
        tool: { driver: { name: "fwc", version, rules } },
        columnKind: "utf16CodeUnits",
        results,
      },
    ],
  };
  return `${JSON.stringify(log, null, 2)}\n`;
}
