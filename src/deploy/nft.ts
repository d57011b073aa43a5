/**
 * Talking to the gateway's nftables: `nft` (inside `ip netns exec NAME` with --netns), transactions checked with
 * `nft -c` before they are applied, and the table's elements read back (for status, reconcile and recovery).
 */
import { spawnSync } from "node:child_process";
import ipaddr from "ipaddr.js";
import { type ElementSet, TABLE } from "../backends/nftables/render.js";

export class NftError extends Error {}

export interface Gateway {
  netns?: string;
}

function run(gw: Gateway, args: string[], input?: string): { ok: boolean; out: string; err: string } {
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
  return { ok: r.status === 0, out: r.stdout, err };
}

/** Checks a transaction with `nft -c`, then applies it; throws with nft's own words when either refuses. */
export function applyTransaction(gw: Gateway, text: string): void {
  const c = run(gw, ["-c", "-f", "-"], text);
  if (!c.ok) throw new NftError(`nft refused the change (nothing was applied): ${firstLines(c.err)}`);
  const a = run(gw, ["-f", "-"], text);
  if (!a.ok) throw new NftError(`nft refused the change (nothing was applied): ${firstLines(a.err)}`);
}

const firstLines = (s: string) => s.split("\n").slice(0, 4).join(" / ");

export function tableExists(gw: Gateway): boolean {
  const r = run(gw, ["list", "tables", "inet"]);
  if (!r.ok) throw new NftError(`nft list tables failed: ${firstLines(r.err)}`);
  return new RegExp(`^table inet ${TABLE}$`, "m").test(r.out);
}

/** The rules of the table as nft prints them (for comparing the skeleton), or null when there is no table. */
export function listTable(gw: Gateway): { elements: ElementSet; chains: string } | null {
  const r = run(gw, ["-j", "list", "table", "inet", TABLE]);
  if (!r.ok) {
    if (/No such file or directory/.test(r.err)) return null;
    throw new NftError(`nft list table failed: ${firstLines(r.err)}`);
  }
  const doc = JSON.parse(r.out) as { nftables: Record<string, Record<string, unknown>>[] };
  const elements: ElementSet = {};
  const rules: string[] = [];
  for (const item of doc.nftables) {
    const s = (item.set ?? item.map) as { name: string; elem?: unknown[] } | undefined;
    if (s !== undefined) {
      elements[s.name] = (s.elem ?? []).map((e) => {
        const [k, v] = Array.isArray(e) ? [e[0], e[1]] : [e, undefined];
        const inner = (k as { elem?: { val: unknown; comment?: string } }).elem;
        const key = atomsText(inner === undefined ? k : inner.val);
        return {
          key: v === undefined ? key : `${key} : ${atomsText(v)}`,
          comment: inner?.comment ?? "",
        };
      });
    }
    const rule = item.rule as { chain: string; expr: unknown } | undefined;
    if (rule !== undefined) rules.push(`${rule.chain} ${JSON.stringify(rule.expr)}`);
  }
  return { elements, chains: rules.join("\n") };
}

function atomsText(x: unknown): string {
  if (typeof x === "object" && x !== null && "concat" in x) return (x.concat as unknown[]).map(atomText).join(" . ");
  return atomText(x);
}

function atomText(x: unknown): string {
  if (typeof x === "number") return String(x);
  if (typeof x === "string") return x;
  const o = x as { prefix?: { addr: string; len: number }; range?: [unknown, unknown] };
  if (o.prefix !== undefined) return `${o.prefix.addr}/${o.prefix.len}`;
  if (o.range !== undefined) return `${atomText(o.range[0])}-${atomText(o.range[1])}`;
  return JSON.stringify(x);
}

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
          const m = /^([0-9]+)-([0-9]+)$/.exec(a);
          if (m) return m[1] === m[2] ? m[1]! : a;
          const [addr, len] = a.split("/");
          if (addr !== undefined && ipaddr.isValid(addr)) {
            const p = ipaddr.parse(addr);
            const text = p.kind() === "ipv6" ? (p as ipaddr.IPv6).toRFC5952String() : p.toString();
            const full = p.kind() === "ipv6" ? 128 : 32;
            return len === undefined || Number(len) === full ? text : `${text}/${len}`;
          }
          return a;
        })
        .join(" . "),
    )
    .join(" : ");
}
