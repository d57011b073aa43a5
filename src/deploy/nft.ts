/**
 * Talking to the gateway's nftables: `nft` (inside `ip netns exec NAME` with --netns), transactions applied with
 * one `nft -f` each, and listings parsed back (table.ts: status, reconcile and recovery).
 */
import { spawn, spawnSync } from "node:child_process";
import { canonicalAddress, isAddress } from "../access/address.js";
import { type ElementSet, FAMILIES, type Family, TABLE } from "../backends/nftables/render.js";

export class NftError extends Error {
  /** nft did not finish (killed, timed out): whether the kernel took the transaction is not known. */
  unknown = false;
}

export interface Gateway {
  netns?: string;
}

export function run(
  gw: Gateway,
  args: string[],
  input?: string,
): { ok: boolean; status: number | null; out: string; err: string } {
  const cmd = gw.netns === undefined ? ["nft", ...args] : ["ip", "netns", "exec", gw.netns, "nft", ...args];
  const r = spawnSync(cmd[0]!, cmd.slice(1), { input, encoding: "utf8", maxBuffer: 1 << 30, timeout: 120_000 });
  if (r.error !== undefined) {
    const code = (r.error as NodeJS.ErrnoException).code;
    throw new NftError(
      code === "ENOENT"
        ? `${cmd[0]} is not installed (Debian: apt-get install ${cmd[0] === "nft" ? "nftables" : "iproute2"})`
        : `${cmd[0]} did not finish: ${r.error.message}`,
    );
  }
  const err = r.stderr.trim();
  if (r.status !== 0 && /exec of "nft" failed|nft: (command )?not found/.test(err))
    throw new NftError("nft is not installed on the gateway (Debian: apt-get install nftables)");
  if (r.status !== 0 && /Cannot open network namespace/.test(err))
    throw new NftError(`no network namespace "${gw.netns}": ${err}`);
  return { ok: r.status === 0, status: r.status, out: r.stdout, err };
}

/** `run`, as a child that does not block the event loop (the same errors). */
function runAsync(gw: Gateway, args: string[], input: string): Promise<ReturnType<typeof run>> {
  const cmd = gw.netns === undefined ? ["nft", ...args] : ["ip", "netns", "exec", gw.netns, "nft", ...args];
  return new Promise((resolve, reject) => {
    const c = spawn(cmd[0]!, cmd.slice(1), { stdio: ["pipe", "pipe", "pipe"], timeout: 120_000 });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    c.stdout.on("data", (d: Buffer) => out.push(d));
    c.stderr.on("data", (d: Buffer) => err.push(d));
    c.stdin.on("error", () => {
      // nft exited before reading all of it: its status and message say why
    });
    c.on("error", (e: NodeJS.ErrnoException) =>
      reject(
        new NftError(
          e.code === "ENOENT"
            ? `${cmd[0]} is not installed (Debian: apt-get install ${cmd[0] === "nft" ? "nftables" : "iproute2"})`
            : `${cmd[0]} did not finish: ${e.message}`,
        ),
      ),
    );
    c.on("close", (status) => {
      const e = Buffer.concat(err).toString("utf8").trim();
      if (status !== 0 && /exec of "nft" failed|nft: (command )?not found/.test(e))
        reject(new NftError("nft is not installed on the gateway (Debian: apt-get install nftables)"));
      else if (status !== 0 && /Cannot open network namespace/.test(e))
        reject(new NftError(`no network namespace "${gw.netns}": ${e}`));
      else resolve({ ok: status === 0, status, out: Buffer.concat(out).toString("utf8"), err: e });
    });
    c.stdin.end(input);
  });
}

/**
 * Applies a transaction; throws with nft's own words when it refuses. `nft -f` sends the whole file to the kernel
 * as one batch, which takes effect entirely or not at all (a line nft cannot parse, an element that exists, a
 * set that does not: nothing is applied), so no separate `nft -c` pass is needed; that pass cost a process and
 * a transaction the kernel aborted, a third of an `open`'s time in the kernel.
 */
export function applyTransaction(gw: Gateway, text: string): void {
  settle(run(gw, ["-f", "-"], text));
}

/**
 * The same, without blocking the event loop while nft runs (the service: requests keep being read and queued
 * for the next round meanwhile).
 */
export async function applyTransactionAsync(gw: Gateway, text: string): Promise<void> {
  settle(await runAsync(gw, ["-f", "-"], text));
}

function settle(a: ReturnType<typeof run>): void {
  if (a.ok) return;
  // nft answers a refusal with exit status 1; anything else (a signal, a timeout) may come after the kernel
  // committed.
  if (a.status === 1) throw new NftError(`nft refused the change (nothing was applied): ${firstLines(a.err)}`);
  const e = new NftError(
    `nft did not finish (${a.status === null ? "killed or timed out" : `exit status ${a.status}`}): the gateway may or may not have the change: ${firstLines(a.err)}`,
  );
  e.unknown = true;
  throw e;
}

const firstLines = (s: string) => s.split("\n").slice(0, 4).join(" / ");

/** Which of fwc's tables (by family) the gateway has. */
function fwcTables(gw: Gateway): Family[] {
  const r = run(gw, ["list", "tables"]);
  if (!r.ok) throw new NftError(`nft list tables failed: ${firstLines(r.err)}`);
  return FAMILIES.filter((f) => new RegExp(`^table ${f} ${TABLE}$`, "m").test(r.out));
}

/** Whether both of fwc's tables exist (a gateway rebooted, or a table deleted by hand, has lost them). */
export const tableExists = (gw: Gateway): boolean => fwcTables(gw).length === FAMILIES.length;

/** Whether the gateway has any of fwc's tables. */
export const anyTable = (gw: Gateway): boolean => fwcTables(gw).length > 0;

/** The elements of every set and map in `nft list table` output. */
export function parseListing(text: string): ElementSet {
  const out: ElementSet = {};
  let name: string | null = null;
  // The lines of the element list being read, and whether the last one ended inside quotes: each line is
  // scanned once (a set of 100,000 elements is as many lines).
  let body: string[] | null = null;
  let quoted = false;
  for (const line of text.split("\n")) {
    const head = /^\t(?:set|map) (\S+) \{$/.exec(line);
    if (head) {
      name = head[1]!;
      out[name] = [];
      continue;
    }
    if (name === null) continue;
    let piece: string;
    if (body === null) {
      const at = line.indexOf("elements = {");
      if (at < 0) {
        if (line === "\t}") name = null;
        continue;
      }
      body = [];
      quoted = false;
      piece = line.slice(at + "elements = {".length);
    } else piece = ` ${line.trim()}`;
    // The list ends at a closing brace outside quotes.
    let end = -1;
    for (let i = 0; i < piece.length; i++) {
      const c = piece[i];
      if (c === '"') quoted = !quoted;
      else if (c === "}" && !quoted) {
        end = i;
        break;
      }
    }
    if (end < 0) {
      body.push(piece);
      continue;
    }
    body.push(piece.slice(0, end));
    out[name] = splitElements(body.join(""));
    body = null;
  }
  return out;
}

function splitElements(list: string): { key: string; comment: string }[] {
  const parts: string[] = [];
  let quoted = false;
  let from = 0;
  for (let i = 0; i <= list.length; i++) {
    const c = list[i];
    if (c === '"') quoted = !quoted;
    else if ((c === "," && !quoted) || i === list.length) {
      const p = list.slice(from, i).trim();
      if (p !== "") parts.push(p);
      from = i + 1;
    }
  }
  return parts.map((p) => {
    const m = /^(.*?)(?: comment "([^"]*)")?(?: : (.*))?$/.exec(p)!;
    return { key: m[3] === undefined ? m[1]! : `${m[1]} : ${m[3]}`, comment: m[2] ?? "" };
  });
}

const OCTET = "(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])";
const CANONICAL_V4 = new RegExp(`^${OCTET}(?:\\.${OCTET}){3}$`);
const CANONICAL_V4_NET = new RegExp(`^(${OCTET}(?:\\.${OCTET}){3})/([0-9]|[12][0-9]|3[0-2])$`);

/**
 * One spelling for an element key, for comparing what fwc wrote with what nft lists: canonical addresses, a
 * full-length prefix as the bare address, a one-port range as the port.
 */
export function normalizeKey(key: string): string {
  return key
    .split(" : ")
    .map((side) =>
      side
        .split(" . ")
        .map((a) => {
          // Most values are spelled one way already (IPv4 addresses, words, single ports): no parsing for them.
          if (CANONICAL_V4.test(a) || /^[a-z]+$|^"[^"]*"$|^[0-9]{1,5}$/.test(a)) return a;
          const v4net = CANONICAL_V4_NET.exec(a);
          if (v4net !== null) return v4net[2] === "32" ? v4net[1]! : a;
          const m = /^([0-9]+)-([0-9]+)$/.exec(a);
          if (m) return m[1] === m[2] ? m[1]! : a;
          const [addr, len] = a.split("/");
          if (addr !== undefined && isAddress(addr)) {
            const text = canonicalAddress(addr);
            const full = addr.includes(":") ? 128 : 32;
            return len === undefined || Number(len) === full ? text : `${text}/${len}`;
          }
          return a;
        })
        .join(" . "),
    )
    .join(" : ");
}
