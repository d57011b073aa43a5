/**
 * The package a testbed installs: `npm pack` gives a tarball that `npm install -g` makes a working fwc, with the
 * built bundles, the docs, the man page and the examples, and without the sources, the tests or any development
 * dependency. The installed fwc then runs each kind of command from its own files: the NS front end, compile
 * with the diagram (Graphviz), init (SQLite), check's SARIF links into its own docs, and the service (fastify).
 */
import { spawn, spawnSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { canRunKernelTests, Lab } from "./kernel/lab.js";

const root = join(import.meta.dirname, "..");
const dir = mkdtempSync(join(tmpdir(), "fwc-pkg-"));
const prefix = join(dir, "prefix");
const installed = join(prefix, "lib", "node_modules", "fwc");
const fwc = join(prefix, "bin", "fwc");
const version = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).version as string;
let listing: string[] = [];
const lab = canRunKernelTests() ? new Lab("pkg") : null;

const run = (args: string[]) => {
  const r = spawnSync(fwc, args, {
    encoding: "utf8",
    cwd: dir,
    timeout: 30_000,
    env: { ...process.env, NO_COLOR: "1" },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
};

beforeAll(() => {
  lab?.addNamespace("gw");
  // dist/ is built by the test command; packing does not build again.
  const pack = spawnSync("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", dir], {
    cwd: root,
    encoding: "utf8",
    timeout: 60_000,
  });
  expect(pack.status, pack.stderr).toBe(0);
  const [info] = JSON.parse(pack.stdout) as { filename: string; files: { path: string }[] }[];
  listing = info!.files.map((f) => f.path);
  // The install fetches the run-time dependencies (from npm's cache when it has them) and builds SQLite's addon.
  const inst = spawnSync(
    "npm",
    ["install", "-g", "--prefix", prefix, "--prefer-offline", "--no-audit", "--no-fund", join(dir, info!.filename)],
    { cwd: dir, encoding: "utf8", timeout: 400_000 },
  );
  expect(inst.status, inst.stderr).toBe(0);
}, 480_000);

afterAll(() => {
  lab?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

describe("the npm package", () => {
  it("holds the bundles, docs, man page, completions, units and examples, and no sources or tests", () => {
    for (const f of [
      "dist/fwc.cjs",
      "dist/fwc-main.cjs",
      "dist/fwc-serve.cjs",
      "dist/web/index.html",
      "docs/diagnostics.md",
      "man/fwc.1",
      "completions/fwc.bash",
      "contrib/systemd/fwc-reconcile.service",
      "examples/web-lab.ns",
      "README.md",
    ])
      expect(listing, f).toContain(f);
    expect(listing.filter((f) => /^(src|test|bench|scripts|dist\/(src|test|bench|scripts))\//.test(f))).toEqual([]);
  });

  it("installs with npm install -g: fwc on the PATH, its man page, and no development dependency", () => {
    expect(run(["--version"]).out.trim()).toBe(version);
    expect(existsSync(join(prefix, "share", "man", "man1", "fwc.1"))).toBe(true);
    expect(readdirSync(join(installed, "node_modules")).length).toBeGreaterThan(0);
    // The build and test tools (@types/node may come with a run-time dependency: protobufjs has it).
    const dev = Object.keys(JSON.parse(readFileSync(join(root, "package.json"), "utf8")).devDependencies);
    for (const tool of dev.filter((d) => d !== "@types/node"))
      expect(existsSync(join(installed, "node_modules", tool)), tool).toBe(false);
  });

  it("runs the front end, compile with the diagram, init with SQLite, and SARIF with links to its own docs", () => {
    const ex = join(installed, "examples");
    expect(run(["check", join(ex, "web-lab.ns")]).code).toBe(0);
    const svg = run([
      "compile",
      join(ex, "web-lab.ns"),
      "--exp",
      "p/e",
      "--testbed",
      join(ex, "testbed.yaml"),
      "--nodes",
      join(ex, "web-lab.nodes.json"),
      "--emit",
      "svg",
    ]);
    expect([svg.code, svg.err]).toEqual([0, ""]);
    expect(svg.out).toMatch(/^<svg|<\?xml/);
    // init asks the gateway (nft) whether it has fwc's tables: a namespace of its own stands for it.
    if (lab !== null) {
      const init = run(["init", "--state", join(dir, "state"), "--netns", lab.name("gw")]);
      expect([init.code, init.err]).toEqual([0, ""]);
      expect(existsSync(join(dir, "state", "fwc.db"))).toBe(true);
    } else {
      mkdirSync(join(dir, "state"));
      copyFileSync(join(ex, "testbed.yaml"), join(dir, "state", "testbed.yaml"));
    }
    const sarif = JSON.parse(run(["check", "--format", "sarif", join(ex, "broken.ns")]).out);
    const uri = sarif.runs[0].tool.driver.rules[0].helpUri as string;
    expect(uri.startsWith(`file://${join(installed, "docs", "diagnostics.md")}#fwc`)).toBe(true);
  });

  it("serves: fwc serve answers /healthz and /openapi.json from the installed files", async () => {
    writeFileSync(join(dir, "users.yaml"), "users: []\n", { mode: 0o600 });
    const child = spawn(
      fwc,
      ["serve", "--listen", "127.0.0.1:0", "--state", join(dir, "state"), "--users", join(dir, "users.yaml")],
      { cwd: dir, stdio: ["ignore", "pipe", "pipe"] },
    );
    try {
      const address = await new Promise<string>((resolve, reject) => {
        let text = "";
        const timer = setTimeout(() => reject(new Error(`no address in: ${text}`)), 20_000);
        const look = (b: Buffer) => {
          text += b.toString();
          const m = /http:\/\/127\.0\.0\.1:[0-9]+/.exec(text);
          if (m !== null) {
            clearTimeout(timer);
            resolve(m[0]);
          }
        };
        child.stdout.on("data", look);
        child.stderr.on("data", look);
      });
      const health = await fetch(`${address}/healthz`);
      expect(health.status).toBeLessThan(600);
      const api = await fetch(`${address}/openapi.json`);
      expect(api.status).toBe(200);
      expect(((await api.json()) as { openapi: string }).openapi).toMatch(/^3\./);
    } finally {
      child.kill("SIGTERM");
    }
  }, 30_000);
});
