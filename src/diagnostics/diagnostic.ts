import { CODES, type DiagnosticCode } from "./codes.js";
import type { Span } from "./source.js";

export type Severity = "error" | "warning" | "note";

export interface Related {
  message: string;
  span: Span;
}

export interface Diagnostic {
  code: DiagnosticCode;
  severity: Severity;
  message: string;
  span: Span;
  /** How to fix it, one sentence. */
  help?: string;
  related?: Related[];
}

/** The longest message or help a diagnostic keeps: the head, and how much was cut. */
export const MESSAGE_LIMIT = 600;

/** `s` cut to `limit` characters, saying how many were cut (a message can quote hostile input or a tool's output). */
export function capText(s: string, limit = MESSAGE_LIMIT): string {
  const t = s.length <= limit ? s : `${s.slice(0, limit)}... (${s.length - limit} more characters cut)`;
  return visible(t);
}

/**
 * Control characters (an escape sequence that would recolour or clear the terminal, a carriage return that
 * would hide a line) written as \xNN; a message may quote a name or a key from a hostile file. Line breaks stay.
 */
export const visible = (s: string): string =>
  s.replace(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);

/** Collects diagnostics; deduplicates identical reports (a loop body re-evaluated reports once) and caps the count. */
export class DiagnosticBag {
  readonly items: Diagnostic[] = [];
  private readonly seen = new Set<string>();
  private dropped = 0;
  private droppedErrors = 0;
  private droppedNotes = 0;

  static readonly LIMIT = 200;

  constructor(readonly limit = DiagnosticBag.LIMIT) {}

  add(code: DiagnosticCode, span: Span, message: string, help?: string, related?: Related[]): void {
    const key = `${code}\0${span.file.path}\0${span.start}\0${capText(message)}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    if (this.items.length >= this.limit) {
      this.dropped++;
      if (CODES[code].severity === "error") this.droppedErrors++;
      if (CODES[code].severity === "note") this.droppedNotes++;
      return;
    }
    const d: Diagnostic = { code, severity: CODES[code].severity, message: capText(message), span };
    if (help !== undefined) d.help = capText(help);
    if (related !== undefined && related.length > 0) d.related = related;
    this.items.push(d);
  }

  /** Drops what was added after the first `n` items (a change planned again on a fresh read of the state). */
  truncate(n: number): void {
    for (const d of this.items.splice(n))
      this.seen.delete(`${d.code}\0${d.span.file.path}\0${d.span.start}\0${d.message}`);
  }

  get droppedCount(): number {
    return this.dropped;
  }

  /** Errors found, including those past the report limit. */
  get errorCount(): number {
    return this.items.filter((d) => d.severity === "error").length + this.droppedErrors;
  }

  get warningCount(): number {
    return (
      this.items.filter((d) => d.severity === "warning").length + this.dropped - this.droppedErrors - this.droppedNotes
    );
  }

  sorted(): Diagnostic[] {
    return [...this.items].sort(
      (a, b) =>
        a.span.file.path.localeCompare(b.span.file.path) || a.span.start - b.span.start || a.code.localeCompare(b.code),
    );
  }
}
