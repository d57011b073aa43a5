// Bundles the CLI with esbuild (docs/architecture.md, "Bundles"): a small main file, and one file per group of
// commands, each loaded only when one of its commands runs.
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readdirSync } from "node:fs";
import { build } from "esbuild";

const common = {
  bundle: true,
  platform: "node",
  target: "node20",
  format: "cjs",
  legalComments: "none",
  logLevel: "warning",
  // Loaded from node_modules at run time (both are dependencies of the package): a native addon, and Graphviz
  // in WebAssembly (1.2 MB, needed only to draw the exposure diagram, which loads it then).
  // etcd3 (gRPC) is loaded by the commands that use etcd only.
  external: ["better-sqlite3", "@viz-js/viz", "etcd3"],
};
await Promise.all([
  build({ ...common, entryPoints: ["src/cli/launch.ts"], outfile: "dist/fwc.cjs" }),
  build({
    ...common,
    entryPoints: ["src/cli/main.ts"],
    outfile: "dist/fwc-main.cjs",
    define: { "process.env.FWC_SPLIT_BUNDLE": '"1"' },
    minifySyntax: true,
  }),
  build({ ...common, entryPoints: ["src/cli/front.ts"], outfile: "dist/fwc-front.cjs" }),
  build({ ...common, entryPoints: ["src/cli/lazy.ts"], outfile: "dist/fwc-compile.cjs" }),
  build({ ...common, entryPoints: ["src/cli/deploy.ts"], outfile: "dist/fwc-deploy.cjs" }),
  build({ ...common, entryPoints: ["src/cli/serve.ts"], outfile: "dist/fwc-serve.cjs" }),
  build({ ...common, entryPoints: ["src/cli/agent.ts"], outfile: "dist/fwc-agent.cjs" }),
]);

// The web page of fwc serve: its files as they are (no framework, nothing fetched from elsewhere).
mkdirSync("dist/web", { recursive: true });
if (existsSync("src/service/web"))
  for (const f of readdirSync("src/service/web")) copyFileSync(`src/service/web/${f}`, `dist/web/${f}`);

// V8 code caches for the command bundles (src/cli/codecache.ts), made with the flags of fwc's #! line: V8
// rejects a cache made under other flags.
for (const b of ["fwc-main", "fwc-front", "fwc-compile", "fwc-deploy"])
  execFileSync(
    process.execPath,
    ["--max-semi-space-size=2", "--stack-size=3900", "scripts/v8cache.cjs", `dist/${b}.cjs`],
    {
      stdio: "inherit",
    },
  );
