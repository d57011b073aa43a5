/**
 * DNS outputs (docs/dns.md): a fragment for `$INCLUDE` (`--emit dns`), a complete zone around the records
 * (`--emit zone`) and an RFC 2136 script for nsupdate (`--emit nsupdate`) that changes what is deployed into
 * what is wanted, guarded by prerequisites.
 */
import { createHash } from "node:crypto";
import type { DnsRecord, DnsSettings } from "./records.js";

const line = (r: DnsRecord) => `${r.name} ${r.ttl} IN ${r.type} ${r.target}`;

const order = (a: DnsRecord, b: DnsRecord) =>
  a.name < b.name
    ? -1
    : a.name > b.name
      ? 1
      : a.type < b.type
        ? -1
        : a.type > b.type
          ? 1
          : a.target < b.target
            ? -1
            : 1;

export const sorted = (records: DnsRecord[]): DnsRecord[] => [...records].sort(order);

/**
 * Records for `$INCLUDE` in the testbed's zone: absolute names and explicit TTLs, no SOA, NS or `$TTL` (a
 * `$TTL` in an included file changes the default TTL of the rest of the parent zone).
 */
export function renderFragment(experiment: string, zone: string, records: DnsRecord[]): string {
  const head = [
    `; fwc: DNS records of experiment ${experiment}, for $INCLUDE in the zone ${zone}`,
    "; absolute names and explicit TTLs; no SOA, NS or $TTL.",
  ];
  return `${[...head, ...sorted(records).map(line)].join("\n")}\n`;
}

/** A digest of a zone's content (without its SOA), to tell whether the serial must change. */
export function zoneDigest(records: DnsRecord[]): string {
  return createHash("sha256").update(sorted(records).map(line).join("\n")).digest("hex").slice(0, 32);
}

/**
 * The serial rule of docs/dns.md: the next serial is max(deployed + 1, YYYYMMDD00), and only when the content
 * changed. `now` is UTC. Serials are 32-bit (RFC 1982); a deployed serial at the top wraps to 1.
 */
export function nextSerial(
  deployed: { serial: number; digest: string } | undefined,
  digest: string,
  now: Date,
): number {
  const day = now.getUTCFullYear() * 1000000 + (now.getUTCMonth() + 1) * 10000 + now.getUTCDate() * 100;
  if (deployed === undefined) return day;
  if (deployed.digest === digest) return deployed.serial;
  const next = deployed.serial >= 4294967295 ? 1 : deployed.serial + 1;
  return Math.max(next, day);
}

/** A complete zone: SOA, NS, the zone's own addresses and the records of every experiment. */
export function renderZone(s: DnsSettings, infrastructure: DnsRecord[], records: DnsRecord[], serial: number): string {
  const primary = s.nameservers[0]!.name;
  return `${[
    `; fwc: the zone ${s.zone} (for validation and small sites; large sites $INCLUDE the --emit dns fragments)`,
    `$ORIGIN ${s.zone}`,
    `$TTL ${s.ttl}`,
    `${s.zone} ${s.ttl} IN SOA ${primary} ${s.contact} ${serial} ${s.refresh} ${s.retry} ${s.expire} ${s.minimum}`,
    ...s.nameservers.map((n) => `${s.zone} ${s.ttl} IN NS ${n.name}`),
    ...sorted(infrastructure).map(line),
    ...sorted(records).map(line),
  ].join("\n")}\n`;
}

/** RRsets (records of one name and type) that differ between what is deployed and what is wanted. */
export interface RrsetChange {
  name: string;
  type: DnsRecord["type"];
  deployed: DnsRecord[];
  wanted: DnsRecord[];
}

export function diffRecords(deployed: DnsRecord[], wanted: DnsRecord[]): RrsetChange[] {
  const key = (r: DnsRecord) => `${r.name} ${r.type}`;
  const sets = new Map<string, RrsetChange>();
  const get = (r: DnsRecord) => {
    let c = sets.get(key(r));
    if (c === undefined) {
      c = { name: r.name, type: r.type, deployed: [], wanted: [] };
      sets.set(key(r), c);
    }
    return c;
  };
  for (const r of deployed) get(r).deployed.push(r);
  for (const r of wanted) get(r).wanted.push(r);
  const same = (a: DnsRecord[], b: DnsRecord[]) => sorted(a).map(line).join("\n") === sorted(b).map(line).join("\n");
  return [...sets.values()]
    .filter((c) => !same(c.deployed, c.wanted))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.type < b.type ? -1 : 1));
}

/**
 * An nsupdate script (RFC 2136) for the changes: one update message, so the server applies all of it or none.
 * Prerequisites say what fwc believes is there: each deployed RRset exactly as deployed (value-dependent
 * `yxrrset`), no RRset of a type it adds (`nxrrset`). If DNS was changed behind fwc's back the server refuses
 * the whole message. Deletions come before additions, so a name can change from CNAME to A in one message.
 * No TSIG secret is written into the script: nsupdate reads it with `-k KEYFILE`.
 */
export function renderNsupdate(
  s: DnsSettings,
  experiment: string,
  changes: RrsetChange[],
  options: { prerequisites?: boolean } = {},
): string {
  const out = [
    `; fwc: DNS changes for experiment ${experiment} in the zone ${s.zone}`,
    `; apply with: nsupdate ${s.key === undefined ? "-k KEYFILE" : `-k ${s.key}`} THIS-FILE`,
  ];
  if (changes.length === 0) return `${[...out, "; nothing to change"].join("\n")}\n`;
  if (s.server !== undefined) out.push(`server ${s.server} ${s.port}`);
  out.push(`zone ${s.zone}`);
  // Without prerequisites (rolling back, reconciling): whatever is there is replaced.
  const guarded = options.prerequisites !== false;
  if (guarded)
    for (const c of changes) {
      if (c.deployed.length === 0) out.push(`prereq nxrrset ${c.name} IN ${c.type}`);
      else for (const r of sorted(c.deployed)) out.push(`prereq yxrrset ${r.name} IN ${r.type} ${r.target}`);
    }
  for (const c of changes) if (c.deployed.length > 0 || !guarded) out.push(`update delete ${c.name} IN ${c.type}`);
  for (const c of changes) for (const r of sorted(c.wanted)) out.push(`update add ${line(r)}`);
  out.push("send");
  return `${out.join("\n")}\n`;
}
