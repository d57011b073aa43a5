/**
 * `fwc serve --listen HOST:PORT --users USERS.yaml [deploy options]` (docs/service.md): the REST API and the web
 * page, in a bundle of its own (dist/fwc-serve.cjs). SIGTERM or SIGINT: requests in flight are answered, then it
 * exits 0. SIGHUP: the users file is read again (kept as it was if the new one has problems).
 */
import { statSync } from "node:fs";
import { join } from "node:path";
import { setFlagsFromString } from "node:v8";
import { DiagnosticBag } from "../diagnostics/diagnostic.js";
import { plural, renderText, summaryLine } from "../diagnostics/render.js";
import { span } from "../diagnostics/source.js";
import { buildServer } from "../service/server.js";
import { loadUsers, type Users } from "../service/users.js";
import { loadTestbed } from "../testbed/config.js";
import { readSource, TESTBED_MISSING } from "./input.js";
import { useColor } from "./options.js";
import { VERSION } from "./version.js";

export interface ServeCliOptions {
  listen?: string;
  users?: string;
  state?: string;
  testbed?: string;
  netns?: string;
  wait?: number;
  bodyLimit?: number;
  web?: string;
  color?: string;
}

/** HOST:PORT, [IPv6]:PORT; null when it is neither. */
export function parseListen(v: string): { host: string; port: number } | null {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+)):([0-9]{1,5})$/.exec(v);
  if (m === null || Number(m[3]) > 65535) return null;
  return { host: m[1] ?? m[2]!, port: Number(m[3]) };
}

export async function serveAction(opts: ServeCliOptions): Promise<number> {
  // fwc's #! line gives V8 a tiny young generation, right for a one-shot command; a long-running service
  // with many short-lived objects per request does better with the usual size (fewer scavenges).
  setFlagsFromString("--max-semi-space-size=16");
  const listen = parseListen(opts.listen ?? "127.0.0.1:8700");
  if (listen === null) {
    process.stderr.write(`fwc: --listen "${opts.listen}" is not HOST:PORT (127.0.0.1:8700, [::1]:8700)\n`);
    return 2;
  }
  if (opts.users === undefined) {
    process.stderr.write("fwc: serve needs --users FILE (see docs/service.md)\n");
    return 2;
  }
  const bag = new DiagnosticBag();
  const stateDir = opts.state ?? process.env.FWC_STATE ?? "/var/lib/fwc";
  const testbedPath = opts.testbed ?? join(stateDir, "testbed.yaml");
  const tbFile = readSource(testbedPath, bag, TESTBED_MISSING);
  const testbed = tbFile === null ? null : loadTestbed(tbFile, bag);
  const readUsers = (b: DiagnosticBag) => {
    const f = readSource(opts.users!, b);
    if (f === null) return null;
    // Whoever may write the file may make themselves an admin: it must be writable by its owner only.
    let mode = 0;
    try {
      mode = statSync(opts.users!).mode;
    } catch {
      // read a moment ago; a file gone since is refused by the next read
    }
    if ((mode & 0o022) !== 0) {
      b.add(
        "FWC820",
        span(f, 0, 0),
        `${opts.users} may be written by its group or by anyone (mode ${(mode & 0o777).toString(8)}): whoever writes it can make themselves an admin`,
        `chmod go-w ${opts.users} (and keep it owned by the service's operator)`,
      );
      return null;
    }
    return loadUsers(f, b);
  };
  const first = readUsers(bag);
  const color = useColor(opts.color, process.stderr);
  const problems = (b: DiagnosticBag, files: number) => {
    if (b.items.length > 0)
      process.stderr.write(`${renderText(b.sorted(), { color })}${summaryLine(b.errorCount, b.warningCount, files)}\n`);
  };
  if (testbed === null || first === null || bag.errorCount > 0) {
    problems(bag, 2);
    return 1;
  }
  let users: Users = first;
  const server = await buildServer({
    stateDir,
    testbed,
    gw: opts.netns === undefined ? {} : { netns: opts.netns },
    waitMs: (opts.wait ?? 10) * 1000,
    users: () => users,
    bodyLimit: opts.bodyLimit ?? 65536,
    // Graphviz (WebAssembly) is loaded from node_modules the first time a diagram is asked for.
    diagram: async (listing, blocks) =>
      (await import("../backends/diagram/diagram.js")).exposureSvg(listing, { blocks, now: new Date() }),
    webDir: opts.web ?? (typeof __dirname === "string" ? join(__dirname, "web") : undefined),
    version: VERSION,
    ...(process.env.FWC_EXPIRY_SCAN_MS ? { expiryScanMs: Number(process.env.FWC_EXPIRY_SCAN_MS) } : {}),
  });
  try {
    await server.app.listen({ host: listen.host, port: listen.port });
  } catch (e) {
    process.stderr.write(`fwc: cannot listen on ${opts.listen}: ${(e as Error).message}\n`);
    await server.stop();
    return 1;
  }
  const where = server.app.addresses()[0] as import("node:net").AddressInfo | undefined;
  process.stdout.write(
    `fwc serve: listening on http://${where?.family === "IPv6" ? `[${where.address}]` : where?.address}:${where?.port} (${plural(users.size, "user")}, state ${stateDir})\n`,
  );
  return new Promise((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      process.stdout.write(`fwc serve: ${signal}: finishing the requests in flight\n`);
      void server.stop().then(
        () => {
          process.stdout.write("fwc serve: stopped\n");
          resolve(0);
        },
        (e: Error) => {
          process.stderr.write(`fwc serve: stopping failed: ${e.message}\n`);
          resolve(1);
        },
      );
    };
    process.on("SIGTERM", () => stop("SIGTERM"));
    process.on("SIGINT", () => stop("SIGINT"));
    process.on("SIGHUP", () => {
      const b = new DiagnosticBag();
      const next = readUsers(b);
      if (next === null || b.errorCount > 0) {
        problems(b, 1);
        process.stderr.write("fwc serve: SIGHUP: the users file has problems; the previous users stay\n");
        return;
      }
      users = next;
      process.stdout.write(`fwc serve: SIGHUP: read ${plural(next.size, "user")}\n`);
    });
  });
}
