/**
 * Loading a bundle with V8's code cache: `dist/X.cjs` is compiled with the cached code of `dist/X.cjs.v8cache`
 * (written at build time by scripts/bundle.mjs), which halves the time to load it, a large part of a short
 * command's run. A missing or rejected cache (another V8, other flags) only costs that time back.
 */
import { existsSync, readFileSync } from "node:fs";
import { createRequire, Module } from "node:module";
import { dirname } from "node:path";
import { Script } from "node:vm";

export function requireCached(path: string): unknown {
  const cachePath = `${path}.v8cache`;
  const cachedData = existsSync(cachePath) ? readFileSync(cachePath) : undefined;
  const wrapper = (Module as unknown as { wrap(s: string): string }).wrap(readFileSync(path, "utf8"));
  const script = new Script(wrapper, { filename: path, ...(cachedData ? { cachedData } : {}) });
  const m = { exports: {} as unknown, filename: path };
  const fn = script.runInThisContext() as (...a: unknown[]) => void;
  fn.call(m.exports, m.exports, createRequire(path), m, path, dirname(path));
  return m.exports;
}
