/**
 * Pushing DNS changes: the nsupdate script (RFC 2136) goes to the server with `nsupdate -k KEYFILE`, and then
 * every changed name is queried. A server may accept an update and still not apply part of it (a CNAME added
 * beside other data is ignored with NOERROR, RFC 2136 §3.4.2.2), so only the answers after the update say
 * whether DNS holds what fwc wanted.
 */
import { spawnSync } from "node:child_process";
import { promises as dns } from "node:dns";
import { canonicalAddress } from "../access/address.js";
import type { DnsRecord } from "../backends/dns/records.js";
import type { RrsetChange } from "../backends/dns/zone.js";

export interface DnsServer {
  address: string;
  port: number;
  /** TSIG key file, as written by tsig-keygen. */
  key?: string;
}

export interface PushResult {
  ok: boolean;
  /** What went wrong, one sentence each, for people. */
  problems: string[];
}

/** Runs nsupdate with the script; the problem, if any, in words. */
export function runNsupdate(script: string, server: DnsServer, timeoutSeconds = 10): string | null {
  const args = ["-t", String(timeoutSeconds), ...(server.key === undefined ? [] : ["-k", server.key])];
  const withServer = /^server /m.test(script)
    ? script
    : script.replace(/^zone /m, `server ${server.address} ${server.port}\nzone `);
  const r = spawnSync("nsupdate", args, {
    input: withServer,
    encoding: "utf8",
    timeout: (timeoutSeconds + 5) * 1000,
  });
  if (r.error !== undefined) {
    const e = r.error as NodeJS.ErrnoException;
    return e.code === "ENOENT"
      ? "nsupdate is not installed (Debian: apt-get install bind9-dnsutils)"
      : `nsupdate did not finish: ${e.message}`;
  }
  if (r.status === 0) return null;
  const text = `${r.stderr}${r.stdout}`.trim();
  const rcode = /update failed: ([A-Z]+)/.exec(text)?.[1];
  if (rcode === "NXRRSET" || rcode === "YXRRSET" || rcode === "NXDOMAIN" || rcode === "YXDOMAIN")
    return `the server refused the update (${rcode}): DNS no longer holds what fwc deployed, so nothing was changed; compare with \`fwc status\` and reconcile`;
  if (rcode === "REFUSED" || rcode === "NOTAUTH")
    return `the server refused the update (${rcode}): check the TSIG key and the zone's allow-update or update-policy`;
  return `nsupdate failed: ${text.split("\n").slice(-3).join(" ")}`;
}

/** The records of one name and type that the server answers with, or an error text. */
async function lookup(r: dns.Resolver, name: string, type: DnsRecord["type"]): Promise<string[] | string> {
  try {
    if (type === "CNAME") return (await r.resolveCname(name)).map((t) => `${t.toLowerCase()}.`);
    if (type === "A") return await r.resolve4(name);
    return (await r.resolve6(name)).map(canonicalAddress);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENODATA" || code === "ENOTFOUND") return [];
    return `the query for ${name} ${type} failed (${code})`;
  }
}

/**
 * Checks by query that every changed RRset now holds exactly the wanted records; explains the silent CNAME
 * refusal when that is what happened.
 */
export async function verifyChanges(changes: RrsetChange[], server: DnsServer, timeoutMs = 2000): Promise<string[]> {
  const r = new dns.Resolver({ timeout: timeoutMs, tries: 2 });
  r.setServers([
    server.address.includes(":") ? `[${server.address}]:${server.port}` : `${server.address}:${server.port}`,
  ]);
  const problems: string[] = [];
  for (const c of changes) {
    const want = c.wanted.map((w) => (w.type === "AAAA" ? canonicalAddress(w.target) : w.target)).sort();
    // A name with a CNAME answers A and AAAA queries with the CNAME's target's addresses: look at CNAME first.
    const cname = await lookup(r, c.name, "CNAME");
    if (typeof cname === "string") {
      problems.push(cname);
      continue;
    }
    let got: string[] | string;
    if (c.type === "CNAME") got = cname;
    else got = cname.length > 0 ? [] : await lookup(r, c.name, c.type);
    if (typeof got === "string") {
      problems.push(got);
      continue;
    }
    got = [...got].sort();
    if (got.join(" ") === want.join(" ")) continue;
    if (c.type === "CNAME" && want.length > 0 && got.length === 0) {
      const a = await lookup(r, c.name, "A");
      const aaaa = await lookup(r, c.name, "AAAA");
      const others = [...(Array.isArray(a) ? a : []), ...(Array.isArray(aaaa) ? aaaa : [])];
      problems.push(
        others.length > 0
          ? `${c.name} should be a CNAME to ${want.join(", ")}, but the server kept its other records (${others.join(", ")}) and ignored the CNAME without an error (RFC 2136 skips a CNAME added beside other data): remove those records or rename the node`
          : `${c.name} should be a CNAME to ${want.join(", ")}, but the server has no CNAME for it`,
      );
      continue;
    }
    problems.push(
      `${c.name} ${c.type} should be ${want.length === 0 ? "absent" : want.join(", ")} after the update, but the server answers ${got.length === 0 ? "nothing" : got.join(", ")}`,
    );
  }
  return problems;
}

/** Sends the changes and checks them by query. */
export async function pushDns(script: string, changes: RrsetChange[], server: DnsServer): Promise<PushResult> {
  if (changes.length === 0) return { ok: true, problems: [] };
  const failed = runNsupdate(script, server);
  if (failed !== null) return { ok: false, problems: [failed] };
  const problems = await verifyChanges(changes, server);
  return { ok: problems.length === 0, problems };
}
