/** How much an NS file may make the evaluator do (a module of its own: the CLI reads it without the evaluator). */
export interface Limits {
  /** Commands evaluated (loop iterations count as commands too). */
  maxSteps: number;
  /** Nesting of proc calls and command substitutions. */
  maxDepth: number;
  /** Characters in any one value. */
  maxString: number;
  /** Wall-clock seconds the evaluation may take. */
  maxSeconds: number;
  /** Megabytes of JavaScript heap the evaluation may use (the values it holds, and what it builds). */
  maxMemoryMb: number;
}

export const DEFAULT_LIMITS: Limits = {
  maxSteps: 5_000_000,
  maxDepth: 1000,
  maxString: 16 * 1024 * 1024,
  maxSeconds: 5,
  maxMemoryMb: 1024,
};
