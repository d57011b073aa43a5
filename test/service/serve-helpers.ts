/** What the service's tests share: the users and their tokens, starting the real fwc binary as `fwc serve`. */
import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { FWC, gatewayArgs } from "../kernel/deploy-helpers.js";
import { type Lab, lineReader } from "../kernel/lab.js";

export const sha = (t: string) => createHash("sha256").update(t).digest("hex");

/** The tests' users: alice of proj1, bob of proj2, and ops, an admin. */
export const TOKENS = { alice: "alice-token-0123456789", bob: "bob-token-0123456789", ops: "ops-token-0123456789" };
export type Who = keyof typeof TOKENS | null;

export const USERS_YAML = `users:
  - name: alice
    token_sha256: "${sha(TOKENS.alice)}"
    projects: [proj1]
  - name: bob
    token_sha256: "${sha(TOKENS.bob)}"
    projects: [proj2]
  - name: ops
    token_sha256: "${sha(TOKENS.ops)}"
    admin: true
`;

/** The options of a service on the lab's gateway, with the users file and testbed of `dir`. */
export const serveArgs = (dir: string, state: string, lab: Lab) => [
  "--users",
  join(dir, "users.yaml"),
  ...gatewayArgs(dir, state, lab),
];

export interface Server {
  url: string;
  child: ChildProcess;
  lines: ReturnType<typeof lineReader>;
  /** Everything the server wrote on standard error so far. */
  err: () => string;
}

/** A running `fwc serve`, or its exit code and output when it refused to start. */
export async function tryServer(
  args: string[],
  env: Record<string, string> = {},
): Promise<Server | { code: number | null; err: string }> {
  const child = spawn(FWC, ["serve", "--listen", "127.0.0.1:0", ...args], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let err = "";
  child.stderr!.on("data", (d) => {
    err += String(d);
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const lines = lineReader(child);
  const first = await Promise.race([lines.next(20_000), exited.then(() => "EXITED")]);
  const m = /listening on (http:\/\/\S+) /.exec(first);
  if (m === null) {
    const code = await Promise.race([exited, new Promise<null>((r) => setTimeout(() => r(null), 2000))]);
    child.kill("SIGKILL");
    return { code, err };
  }
  return { url: m[1]!, child, lines, err: () => err };
}

/** A running `fwc serve` (it throws when the server does not start). */
export async function startServer(args: string[], env: Record<string, string> = {}): Promise<Server> {
  const s = await tryServer(args, env);
  if (!("url" in s)) throw new Error(`fwc serve did not start (exit ${s.code}): ${s.err}`);
  return s;
}
