/** The syntax tree of a Tcl script. Offsets are absolute in the source file. */

export enum PartKind {
  Text = 0,
  Var = 1,
  Cmd = 2,
}

export type Part =
  | { k: PartKind.Text; v: string }
  | { k: PartKind.Var; name: string; index: Part[] | null; start: number; end: number }
  | { k: PartKind.Cmd; script: Script; start: number; end: number };

export interface Word {
  start: number;
  end: number;
  parts: Part[];
  /** The word's value when it has no substitutions (braced words always), else null. */
  lit: string | null;
  /** For a braced word: the offset of its first content character, so a body evaluated later keeps positions. */
  bodyStart: number;
  braced: boolean;
  /** `{*}word`: the word's value is a list whose elements become separate arguments. */
  expand?: boolean;
  /** Caches for a braced literal used as a script or an expression (filled by the evaluator). */
  body?: Script;
  expr?: unknown;
}

export interface Command {
  start: number;
  end: number;
  words: Word[];
}

export interface Script {
  commands: Command[];
}
