/**
 * What docs/ci.md and .pre-commit-hooks.yaml promise CI users, run as written with the real binary: the hooks'
 * entries on NS files, and the GitHub workflow's fwc steps in a git repository of NS files (the SARIF step
 * survives files with errors and writes a report that code scanning takes; the last step fails the job).
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parse } from "yaml";

const root = join(import.meta.dirname, "..");
const bin = join(root, "dist", "fwc.cjs");
const dir = mkdtempSync(join(tmpdir(), "fwc-cidocs-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// `fwc` on the PATH, as npm install -g puts it.
const binDir = join(dir, "bin");
mkdirSync(binDir);
symlinkSync(bin, join(binDir, "fwc"));
const PATH = `${binDir}:${process.env.PATH}`;

// A repository of NS files: one good, one with errors, and a file that is no NS file.
const repo = join(dir, "repo");
mkdirSync(repo);
for (const f of ["web-lab.ns", "broken.ns", "testbed.yaml"]) copyFileSync(join(root, "examples", f), join(repo, f));
const git = (args: string[]) => spawnSync("git", args, { cwd: repo, encoding: "utf8" });
git(["init", "-q"]);
git(["add", "."]);

const sh = (script: string, env: Record<string, string> = {}) => {
  const r = spawnSync("bash", ["-eo", "pipefail", "-c", script], {
    cwd: repo,
    encoding: "utf8",
    timeout: 60_000,
    env: { ...process.env, PATH, NO_COLOR: "1", ...env },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
};

interface Hook {
  id: string;
  name: string;
  entry: string;
  language: string;
  files: string;
}

describe(".pre-commit-hooks.yaml", () => {
  const hooks = parse(readFileSync(join(root, ".pre-commit-hooks.yaml"), "utf8")) as Hook[];

  it("has fwc-check and fwc-check-strict, hooks on .ns files", () => {
    expect(hooks.map((h) => h.id)).toEqual(["fwc-check", "fwc-check-strict"]);
    for (const h of hooks) {
      // The fwc on the PATH: npm cannot build fwc when it installs it from git (docs/ci.md).
      expect(h.language).toBe("system");
      const files = new RegExp(h.files);
      expect(files.test("exp/web-lab.ns")).toBe(true);
      expect(files.test("testbed.yaml")).toBe(false);
    }
  });

  it.skipIf(spawnSync("pre-commit", ["--version"]).status !== 0)(
    "pre-commit runs them from fwc's repository: a commit of a file with errors is stopped, a good one passes",
    () => {
      const tryRepo = (hook: string, files: string[]) =>
        spawnSync("pre-commit", ["try-repo", root, hook, "--files", ...files], {
          cwd: repo,
          encoding: "utf8",
          timeout: 120_000,
          env: { ...process.env, PATH, NO_COLOR: "1", PRE_COMMIT_HOME: join(dir, "pre-commit-home") },
        });
      const good = tryRepo("fwc-check", ["web-lab.ns", "testbed.yaml"]);
      expect(good.status, good.stdout + good.stderr).toBe(0);
      expect(good.stdout).toMatch(/fwc check \(Emulab NS files\)\.+Passed/);
      const bad = tryRepo("fwc-check", ["web-lab.ns", "broken.ns"]);
      expect(bad.status).toBe(1);
      expect(bad.stdout).toMatch(/fwc check \(Emulab NS files\)\.+Failed/);
      expect(bad.stdout).toMatch(/broken\.ns:[0-9]+:[0-9]+: error\[FWC[0-9]{3}\]/);
    },
  );

  it("each entry, given the files as pre-commit gives them, passes good files and stops a file with errors", () => {
    for (const h of hooks) {
      expect(sh(`${h.entry} web-lab.ns`).code, h.id).toBe(0);
      const bad = sh(`${h.entry} web-lab.ns broken.ns`);
      expect(bad.code, h.id).toBe(1);
      expect(bad.out).toMatch(/^broken\.ns:[0-9]+:[0-9]+: error\[FWC[0-9]{3}\]/m);
    }
  });
});

describe("docs/ci.md's GitHub workflow", () => {
  const text = readFileSync(join(root, "docs", "ci.md"), "utf8");
  const block = [...text.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!).find((b) => b.includes("upload-sarif"));
  const workflow = parse(block!) as {
    permissions: Record<string, string>;
    jobs: { fwc: { steps: { name?: string; run?: string; uses?: string; env?: Record<string, string> }[] } };
  };
  const steps = workflow.jobs.fwc.steps;

  it("may upload SARIF, and uploads the file the check writes", () => {
    expect(workflow.permissions["security-events"]).toBe("write");
    const upload = steps.find((s) => s.uses?.startsWith("github/codeql-action/upload-sarif"));
    expect((upload as { with: { sarif_file: string } }).with.sarif_file).toBe("fwc.sarif");
  });

  it("its SARIF step succeeds on files with errors and writes a report with their lines and help links", () => {
    const step = steps.find((s) => s.name === "fwc check (SARIF)")!;
    const r = sh(step.run!, step.env);
    expect([r.code, r.err]).toEqual([0, ""]);
    const log = JSON.parse(readFileSync(join(repo, "fwc.sarif"), "utf8"));
    expect(log.version).toBe("2.1.0");
    const results = log.runs[0].results as {
      level: string;
      locations: { physicalLocation: { artifactLocation: { uri: string } } }[];
    }[];
    const uri = (x: (typeof results)[number]) => x.locations[0]!.physicalLocation.artifactLocation.uri;
    // Paths as git gives them, relative to the repository's root: what code scanning needs. The errors are
    // broken.ns's; the good file has at most notes (what fwc did not check without a catalog).
    expect(new Set(results.filter((x) => x.level === "error").map(uri))).toEqual(new Set(["broken.ns"]));
    expect(results.filter((x) => uri(x) === "web-lab.ns").every((x) => x.level === "note")).toBe(true);
    expect(new Set(results.map(uri))).toEqual(new Set(["broken.ns", "web-lab.ns"]));
    for (const rule of log.runs[0].tool.driver.rules as { id: string; helpUri: string }[])
      expect(rule.helpUri).toBe(`${step.env!.FWC_DOCS_URL}#${rule.id.toLowerCase()}`);
    // A usage error is not taken for a report: the step fails.
    expect(sh(step.run!, { FWC_DOCS_URL: "not a url" }).code).not.toBe(0);
  });

  it("its last step fails the job on a file with errors, and passes when they are fixed", () => {
    const last = steps[steps.length - 1]!;
    expect(sh(last.run!).code).toBe(1);
    git(["rm", "-q", "--cached", "broken.ns"]);
    expect(sh(last.run!).code).toBe(0);
  });
});
