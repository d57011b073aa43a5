/** What the service's tests share: starting the real fwc binary as `fwc serve`. */
import { type ChildProcess, spawn } from "node:child_process";
import { FWC } from "../kernel/deploy-helpers.js";
import { lineReader } from "../kernel/lab.js";

/** A running `fwc serve`: its base URL, its process, and its output so far. */
export async function startServer(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ url: string; child: ChildProcess; lines: ReturnType<typeof lineReader> }> {
  const child = spawn(FWC, ["serve", "--listen", "127.0.0.1:0", ...args], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let err = "";
  child.stderr!.on("data", (d) => {
    err += String(d);
  });
  const lines = lineReader(child);
  const first = await lines.next(20_000);
  const m = /listening on (http:\/\/\S+) /.exec(first);
  if (m === null) throw new Error(`fwc serve did not start: ${first} ${err}`);
  return { url: m[1]!, child, lines };
}
