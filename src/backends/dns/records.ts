/**
 * The DNS records fwc publishes (docs/dns.md): per experiment, `<node>.<eid>.<pid>.<domain>.`
 * is a CNAME to the gateway's name for every node named in a `tb-allow-external` call and every redirect
 * target; a node with its own public address (the legacy dedicated form, IPv6 openings) gets A/AAAA records
 * instead. Names are lowercase and absolute. Pure: checks report through a callback with the record's origin.
 */

import * as z from "zod/mini";
import { canonicalAddress } from "../../access/address.js";
import { Origin } from "../../access/policy.js";
import type { DiagnosticCode } from "../../diagnostics/codes.js";
import "../../schema.js";
import type { TestbedConfig } from "../../testbed/config.js";

export const RrType = z.enum(["CNAME", "A", "AAAA"]);
export type RrType = z.infer<typeof RrType>;

export const DnsRecord = z.object({
  /** Absolute and lowercase: `web.exp.proj.testbed.example.net.` */
  name: z.string(),
  type: RrType,
  /** The CNAME target (absolute) or the address. */
  target: z.string(),
  ttl: z.int(),
  /** The node it names, and the grant that asked for it (for reports). */
  node: z.optional(z.string()),
  origin: z.optional(Origin),
});
export type DnsRecord = z.infer<typeof DnsRecord>;

export interface DnsSettings {
  /** Absolute, lowercase. */
  zone: string;
  ttl: number;
  nameservers: { name: string; ipv4?: string; ipv6?: string }[];
  contact: string;
  refresh: number;
  retry: number;
  expire: number;
  minimum: number;
  server?: string;
  port: number;
  key?: string;
}

/** A DNS name as fwc writes it: lowercase, with the trailing dot. */
export const absolute = (name: string): string => `${name.replace(/\.$/, "").toLowerCase()}.`;

/** The testbed's DNS settings with their defaults filled in. */
export function dnsSettings(testbed: TestbedConfig): DnsSettings {
  const d = testbed.dns ?? {};
  const zone = absolute(d.zone ?? testbed.domain);
  const gw = testbed.gateway;
  const nameservers = (
    d.nameservers ?? [
      gw.ipv6 === undefined ? { name: gw.name, ipv4: gw.ipv4 } : { name: gw.name, ipv4: gw.ipv4, ipv6: gw.ipv6 },
    ]
  ).map((n) => ({ ...n, name: absolute(n.name) }));
  const settings: DnsSettings = {
    zone,
    ttl: d.ttl ?? 300,
    nameservers,
    contact: absolute(d.contact ?? `hostmaster.${zone}`),
    refresh: d.refresh ?? 3600,
    retry: d.retry ?? 600,
    expire: d.expire ?? 1209600,
    minimum: d.minimum ?? 300,
    port: d.port ?? 53,
  };
  if (d.server !== undefined) settings.server = d.server;
  if (d.key !== undefined) settings.key = d.key;
  return settings;
}

export const inZone = (name: string, zone: string): boolean => name === zone || name.endsWith(`.${zone}`);

export interface RecordsInput {
  /** `<eid>.<pid>.<domain>.`, absolute and lowercase. */
  experimentZone: string;
  gateway: { name: string; ipv4: string };
  ttl: number;
  /** Nodes that need a name (named in a call, or a redirect target), with the grant that asked. */
  named: { node: string; origin: Origin }[];
  /** Nodes with their own public IPv4 address (legacy dedicated form). */
  dedicated: { node: string; address: string; origin: Origin }[];
  /** Nodes with IPv6 openings, and their global address. */
  open6: { node: string; address: string; origin: Origin }[];
}

/**
 * An experiment's records. A node with an own address gets A/AAAA: its dedicated IPv4 address, or the
 * gateway's IPv4 address when it also needs the gateway (a CNAME cannot sit beside the AAAA); its IPv6 address
 * when it has IPv6 openings. Every other node that needs a name gets a CNAME to the gateway.
 */
export function experimentRecords(input: RecordsInput): DnsRecord[] {
  const nodes = new Map<string, { origin: Origin; named: boolean; a?: string; aaaa?: string }>();
  const entry = (node: string, origin: Origin) => {
    let e = nodes.get(node);
    if (e === undefined) {
      e = { origin, named: false };
      nodes.set(node, e);
    }
    return e;
  };
  for (const n of input.named) entry(n.node, n.origin).named = true;
  for (const d of input.dedicated) entry(d.node, d.origin).a = d.address;
  for (const o of input.open6) entry(o.node, o.origin).aaaa = o.address;
  const target = absolute(input.gateway.name);
  const out: DnsRecord[] = [];
  for (const [node, e] of nodes) {
    const name = `${node.toLowerCase()}.${input.experimentZone}`;
    const rr = (type: RrType, value: string): DnsRecord => ({
      name,
      type,
      target: type === "CNAME" ? value : canonicalAddress(value),
      ttl: input.ttl,
      node,
      origin: e.origin,
    });
    if (e.a === undefined && e.aaaa === undefined) {
      out.push(rr("CNAME", target));
      continue;
    }
    const a = e.a ?? (e.named ? input.gateway.ipv4 : undefined);
    if (a !== undefined) out.push(rr("A", a));
    if (e.aaaa !== undefined) out.push(rr("AAAA", e.aaaa));
  }
  return out;
}

/** The zone's own records: the name servers' and the gateway's addresses, where they are inside the zone. */
export function infrastructureRecords(testbed: TestbedConfig, s: DnsSettings): DnsRecord[] {
  const out: DnsRecord[] = [];
  const hosts = [...s.nameservers];
  const gw = testbed.gateway;
  if (!hosts.some((h) => h.name === absolute(gw.name)))
    hosts.push(
      gw.ipv6 === undefined
        ? { name: absolute(gw.name), ipv4: gw.ipv4 }
        : { name: absolute(gw.name), ipv4: gw.ipv4, ipv6: gw.ipv6 },
    );
  for (const h of hosts) {
    if (!inZone(h.name, s.zone)) continue;
    if (h.ipv4 !== undefined) out.push({ name: h.name, type: "A", target: canonicalAddress(h.ipv4), ttl: s.ttl });
    if (h.ipv6 !== undefined) out.push({ name: h.name, type: "AAAA", target: canonicalAddress(h.ipv6), ttl: s.ttl });
  }
  return out;
}

export type Report = (code: DiagnosticCode, record: DnsRecord, message: string, help: string) => void;

/**
 * The checks of docs/dns.md on an experiment's records, against the zone and the records already there (the
 * zone's own, other experiments'): name length, inside the zone, no CNAME at the apex, no CNAME beside other
 * data and no name taken twice (names are compared without case; fwc writes them lowercase).
 */
export function checkRecords(
  records: DnsRecord[],
  existing: { record: DnsRecord; owner: string }[],
  s: DnsSettings,
  report: Report,
): void {
  const taken = new Map<string, { record: DnsRecord; owner: string }[]>();
  for (const x of existing) {
    const k = x.record.name.toLowerCase();
    taken.set(k, [...(taken.get(k) ?? []), x]);
  }
  const mine = new Map<string, DnsRecord[]>();
  for (const r of records) {
    const k = r.name.toLowerCase();
    mine.set(k, [...(mine.get(k) ?? []), r]);
  }
  for (const r of records) {
    const name = r.name.replace(/\.$/, "");
    if (name.length > 253) {
      report(
        "FWC705",
        r,
        `the DNS name ${r.name} is ${name.length} characters long; DNS allows 253`,
        "shorten the node name (or ask for shorter experiment and project names)",
      );
      continue;
    }
    if (!inZone(r.name, s.zone)) {
      report(
        "FWC708",
        r,
        `${r.name} is outside the zone ${s.zone}`,
        "set dns.zone in the testbed configuration to a zone that contains the testbed domain",
      );
      continue;
    }
    if (r.type === "CNAME" && r.name === s.zone) {
      report(
        "FWC707",
        r,
        `${r.name} is the zone apex and cannot be a CNAME`,
        "publish experiment names below the zone: dns.zone must be a parent of <eid>.<pid>.<domain>",
      );
      continue;
    }
    const other = taken.get(r.name.toLowerCase());
    if (other !== undefined) {
      report(
        "FWC706",
        r,
        `${r.name} ${r.type} collides with ${other[0]!.owner}'s ${other[0]!.record.type} record of the same name`,
        "rename the node: its name is taken in the zone",
      );
      continue;
    }
    const same = mine.get(r.name.toLowerCase())!;
    if (r.type === "CNAME" && same.length > 1) {
      report(
        "FWC706",
        r,
        `${r.name} would be a CNAME beside other records of the same name`,
        "give the node one kind of name: either its own addresses or the gateway's name",
      );
    }
    if (r.type === "CNAME" && r.target === r.name)
      report("FWC706", r, `${r.name} would be a CNAME to itself`, "the CNAME target must be the gateway's name");
  }
}
