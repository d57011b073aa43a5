/** The project's docs stand alone: they name no file outside the repository, and every relative link resolves. */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "..");
const docs = [
  join(root, "README.md"),
  ...readdirSync(join(root, "docs"))
    .filter((f) => f.endsWith(".md"))
    .map((f) => join(root, "docs", f)),
];

describe("the docs", () => {
  it("name no file outside the repository (no ../shared, no design notes that are not in it)", () => {
    for (const f of docs) {
      const text = readFileSync(f, "utf8");
      expect(text, f).not.toMatch(/\.\.\/shared|FACTS(\.md| §)|DESIGN\.md|STYLE\.md|seeds\//);
    }
  });

  it("link only to files that exist in the repository", () => {
    const broken: string[] = [];
    let links = 0;
    for (const f of docs) {
      const text = readFileSync(f, "utf8");
      for (const m of text.matchAll(/\]\(([^)\s#]+)(#[^)]*)?\)/g)) {
        const target = m[1]!;
        if (/^[a-z]+:/.test(target)) continue;
        links++;
        const path = resolve(dirname(f), target);
        if (!path.startsWith(root) || !existsSync(path)) broken.push(`${f.slice(root.length + 1)} -> ${target}`);
      }
    }
    expect(broken).toEqual([]);
    expect(docs.length).toBeGreaterThan(10);
    expect(links).toBeGreaterThan(20);
  });
});
