import { DEFAULT_LIMITS, type Limits } from "../ns/limits.js";

export interface LimitOptions {
  maxSteps?: number;
  maxDepth?: number;
  maxString?: number;
  maxSeconds?: number;
  maxMemory?: number;
}

export function limitsFrom(o: LimitOptions): Limits {
  return {
    maxSteps: o.maxSteps ?? DEFAULT_LIMITS.maxSteps,
    maxDepth: o.maxDepth ?? DEFAULT_LIMITS.maxDepth,
    maxString: o.maxString ?? DEFAULT_LIMITS.maxString,
    maxSeconds: o.maxSeconds ?? DEFAULT_LIMITS.maxSeconds,
    maxMemoryMb: o.maxMemory ?? DEFAULT_LIMITS.maxMemoryMb,
  };
}

export function useColor(mode: string | undefined, stream: NodeJS.WriteStream): boolean {
  if (mode === "always") return true;
  if (mode === "never") return false;
  return stream.isTTY === true && process.env.NO_COLOR === undefined && process.env.TERM !== "dumb";
}
