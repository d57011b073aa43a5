/** A source text with a lazily built line index, so offsets turn into line:col only when reported. */
export class SourceFile {
  private lineStarts: number[] | undefined;

  constructor(
    readonly path: string,
    readonly text: string,
  ) {}

  private starts(): number[] {
    if (this.lineStarts === undefined) {
      const starts = [0];
      const t = this.text;
      for (let i = 0; i < t.length; i++) if (t.charCodeAt(i) === 10) starts.push(i + 1);
      this.lineStarts = starts;
    }
    return this.lineStarts;
  }

  /** 1-based line and column (columns count UTF-16 code units, as editors and SARIF do by default). */
  position(offset: number): { line: number; col: number } {
    const starts = this.starts();
    const o = Math.max(0, Math.min(offset, this.text.length));
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= o) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, col: o - starts[lo]! + 1 };
  }

  lineText(line: number): string {
    const starts = this.starts();
    const s = starts[line - 1] ?? this.text.length;
    const e = starts[line] ?? this.text.length + 1;
    return this.text.slice(s, e - 1).replace(/\r$/, "");
  }

  get lineCount(): number {
    return this.starts().length;
  }
}

/** A half-open range [start, end) of offsets in one source file. */
export interface Span {
  file: SourceFile;
  start: number;
  end: number;
}

export function span(file: SourceFile, start: number, end: number = start + 1): Span {
  return { file, start, end: Math.max(end, start) };
}
