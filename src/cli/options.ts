import { InvalidArgumentError } from "commander";
import { DEFAULT_LIMITS, type Limits } from "../ns/index.js";

export function positiveInt(v: string): number {
  if (!/^\d+$/.test(v) || Number(v) <= 0) throw new InvalidArgumentError("expected a positive integer");
  return Number(v);
}

export interface LimitOptions {
  maxSteps?: number;
  maxDepth?: number;
  maxString?: number;
}

export function limitsFrom(o: LimitOptions): Limits {
  return {
    maxSteps: o.maxSteps ?? DEFAULT_LIMITS.maxSteps,
    maxDepth: o.maxDepth ?? DEFAULT_LIMITS.maxDepth,
    maxString: o.maxString ?? DEFAULT_LIMITS.maxString,
  };
}

export function useColor(mode: string | undefined, stream: NodeJS.WriteStream): boolean {
  if (mode === "always") return true;
  if (mode === "never") return false;
  return stream.isTTY === true && process.env.NO_COLOR === undefined && process.env.TERM !== "dumb";
}
