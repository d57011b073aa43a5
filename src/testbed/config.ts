/**
 * The testbed configuration (YAML) and node addresses (JSON), as docs/cli.md and docs/gateway.md describe them. Both are
 * read with the `yaml` parser (JSON is YAML), which keeps every key's position, and validated with zod, so a
 * problem is reported as file:line:col with the key path.
 */
import ipaddr from "ipaddr.js";
import { LineCounter, parseDocument } from "yaml";
import * as z from "zod/mini";
import { isAddress } from "../access/address.js";
import type { DiagnosticCode } from "../diagnostics/codes.js";
import type { DiagnosticBag } from "../diagnostics/diagnostic.js";
import { SourceFile, type Span, span } from "../diagnostics/source.js";
import { didYouMean } from "../diagnostics/suggest.js";
import "../schema.js";
import { CatalogSchema } from "./catalog-schema.js";

const DNS_NAME =
  /^(?=.{1,253}\.?$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;
const IFACE = /^[A-Za-z0-9_.:@-]{1,15}$/;

const DnsName = z.string().check(z.regex(DNS_NAME, "must be a DNS name such as testbed.example.net"));
const Ipv4 = z
  .string()
  .check(z.refine((s) => ipaddr.IPv4.isValidFourPartDecimal(s), "must be an IPv4 address such as 198.51.100.1"));
const Ipv6 = z
  .string()
  .check(
    z.refine(
      (s) => isAddress(s) && s.includes(":"),
      "must be an IPv6 address such as 2001:db8::1 (no prefix length, no %zone)",
    ),
  );
const Ipv4Cidr = z.string().check(
  z.refine((s) => {
    try {
      const [a] = ipaddr.parseCIDR(s);
      return a.kind() === "ipv4";
    } catch {
      return false;
    }
  }, "must be an IPv4 network in CIDR form such as 198.51.100.128/25"),
);
const Iface = z.string().check(z.regex(IFACE, "must be a network interface name (at most 15 characters)"));
/** An IPv4 or IPv6 network (or one address), as the operator names the testbed's own servers. */
const AnyCidr = z.string().check(
  z.refine((s) => {
    const [a, len, more] = s.split("/");
    if (more !== undefined || a === undefined || !isAddress(a)) return false;
    return len === undefined || (/^[0-9]{1,3}$/.test(len) && Number(len) <= (a.includes(":") ? 128 : 32));
  }, "must be an IPv4 or IPv6 address or network such as 10.0.0.0/24 or 2001:db8:1::/64 (no %zone)"),
);
const Mac = z
  .string()
  .check(z.regex(/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/, "must be a MAC address such as 02:00:00:00:01:03"));
/** A per-experiment limit: a whole number from 0 (nothing allowed) up. */
const Limit = z.int({ error: "must be a whole number" }).check(z.minimum(0, "must be 0 or more"));

/** What one experiment may hold on the gateway (docs/gateway.md); each has a default. */
const Limits = z.strictObject({
  /** External ports of the pool (a range counts each port). */
  ports: z.optional(Limit),
  /** nftables elements (grants expand: a range is one element per port, an outbound grant one per node). */
  elements: z.optional(Limit),
  /** Dedicated public addresses (the legacy form). */
  dedicated: z.optional(Limit),
});

export const DEFAULT_EXPERIMENT_LIMITS = { ports: 1024, elements: 20000, dedicated: 16 } as const;

const PortPool = z
  .pipe(
    z.string().check(z.regex(/^[0-9]{1,5}-[0-9]{1,5}$/, "must be a port range low-high such as 20000-29999")),
    z.transform((s: string) => {
      const [a, b] = s.split("-").map(Number) as [number, number];
      return { from: a, to: b };
    }),
  )
  .check(
    z.refine(
      (r) => r.from >= 1024 && r.to <= 65535 && r.from <= r.to,
      "must be low-high with 1024 <= low <= high <= 65535",
    ),
  );

/** Seconds; RFC 2181 allows 0..2^31-1. */
const Ttl = z.int({ error: "must be a whole number of seconds" }).check(
  z.refine((v) => v >= 0 && v <= 2147483647, {
    message: "must be between 0 and 2147483647 seconds (RFC 2181)",
    params: { code: "FWC604" },
  }),
);

const Nameserver = z.strictObject({ name: DnsName, ipv4: z.optional(Ipv4), ipv6: z.optional(Ipv6) });

/** How fwc publishes names (docs/dns.md); every key is optional. */
const DnsConfig = z.strictObject({
  /** The zone the records are published in; default: `domain`. */
  zone: z.optional(DnsName),
  /** TTL of every record fwc writes; default 300. */
  ttl: z.optional(Ttl),
  /** The zone's name servers (for `--emit zone`); default: the gateway. */
  nameservers: z.optional(z.array(Nameserver).check(z.minLength(1, "must list at least one name server"))),
  /** SOA RNAME, as a DNS name (hostmaster.testbed.example.net); default: hostmaster.<zone>. */
  contact: z.optional(DnsName),
  /** SOA timers, seconds. */
  refresh: z.optional(Ttl),
  retry: z.optional(Ttl),
  expire: z.optional(Ttl),
  /** SOA minimum: the negative-caching TTL. */
  minimum: z.optional(Ttl),
  /** Where nsupdate sends changes. */
  server: z.optional(z.string().check(z.refine((s) => isAddress(s), "must be the name server's IPv4 or IPv6 address"))),
  port: z.optional(z.int().check(z.minimum(1), z.maximum(65535))),
  /** TSIG key file for `nsupdate -k` (as written by tsig-keygen). */
  key: z.optional(z.string().check(z.minLength(1))),
});

/** Many gateways: the desired state in etcd (docs/etcd.md), one `fwc agent` per gateway. */
const EtcdConfig = z.strictObject({
  endpoints: z
    .array(
      z
        .string()
        .check(
          z.regex(
            /^https?:\/\/[A-Za-z0-9.:[\]-]+(:[0-9]{1,5})?\/?$/,
            "must be the URL of an etcd member, like http://127.0.0.1:2379",
          ),
        ),
    )
    .check(z.minLength(1, "must list at least one etcd member")),
  /** Where fwc's keys are: a path that starts and ends with "/". */
  prefix: z.optional(
    z
      .string()
      .check(
        z.regex(
          /^\/([A-Za-z0-9_.-]+\/)*$/,
          'must start and end with "/" and hold letters, digits, _ . - only, like /fwc/',
        ),
      ),
  ),
  /** Who writes DNS: each command (default), or the one agent started with --dns. */
  dns: z.optional(z.enum(["command", "agent"])),
});

export const TestbedConfig = z.strictObject({
  /** Experiment zone: <eid>.<pid>.<domain>. */
  domain: DnsName,
  gateway: z.strictObject({
    /** CNAME target. */
    name: DnsName.check(
      z.refine((s) => !isAddress(s.replace(/\.$/, "")), "must be a host name, not an address: it is the CNAME target"),
    ),
    ipv4: Ipv4,
    ipv6: z.optional(Ipv6),
    outside: Iface,
    inside: z.array(Iface).check(z.minLength(1, "must list at least one interface toward the experiment nodes")),
    /**
     * The testbed's own servers behind the inside interfaces: exempt from default deny (what passes for them is
     * the operator's policy, not fwc's), and never a node's address.
     */
    infrastructure: z.optional(z.array(AnyCidr)),
  }),
  /** External ports for shared redirects. */
  ports: PortPool,
  /** Seconds a port released by one experiment stays away from another experiment's identity range. */
  quarantine: z.optional(Limit),
  /** What one experiment may hold (defaults: DEFAULT_EXPERIMENT_LIMITS). */
  limits: z.optional(Limits),
  /** Public addresses for the legacy (non-shared) form. */
  dedicated: z.optional(Ipv4Cidr),
  dns: z.optional(DnsConfig),
  /** Where the state is: the embedded store in --state (default), or etcd. */
  store: z.optional(z.strictObject({ etcd: EtcdConfig })),
  /** The testbed catalog (docs/catalog.md), written here ... */
  catalog: z.optional(CatalogSchema),
  /** ... or in a file of its own (a relative path is taken from this file's directory). */
  catalog_file: z.optional(z.string().check(z.minLength(1, "must be the path of a catalog file"))),
});

export const NodeAddresses = z.record(
  z.string().check(z.regex(/^[-0-9A-Za-z]+$/, "node names contain only letters, digits and -")),
  z
    .strictObject({
      ipv4: z.optional(Ipv4),
      ipv6: z.optional(Ipv6),
      /** The node's MAC address: with `port`, the gateway binds it to the node's addresses (anti-spoofing). */
      mac: z.optional(Mac),
      /** The gateway's bridge port the node sits behind: only the node's addresses may come from it. */
      port: z.optional(Iface),
    })
    .check(
      z.refine(
        (n) => n.mac === undefined || n.port !== undefined,
        "mac needs port: the gateway's bridge port the node sits behind",
      ),
    ),
);

export type TestbedConfig = z.infer<typeof TestbedConfig>;
export type NodeAddresses = z.infer<typeof NodeAddresses>;

const CONFIG_KEYS: Record<string, string[]> = {
  "": ["domain", "gateway", "ports", "quarantine", "limits", "dedicated", "dns", "store", "catalog", "catalog_file"],
  catalog: ["hardware", "os", "storage_classes", "services"],
  store: ["etcd"],
  "store.etcd": ["endpoints", "prefix", "dns"],
  gateway: ["name", "ipv4", "ipv6", "outside", "inside", "infrastructure"],
  limits: ["ports", "elements", "dedicated"],
  "dns.nameservers.*": ["name", "ipv4", "ipv6"],
  dns: ["zone", "ttl", "nameservers", "contact", "refresh", "retry", "expire", "minimum", "server", "port", "key"],
};

/** Reads and validates a YAML or JSON file against `schema`; every problem becomes a positioned diagnostic. */
export function loadConfig<T extends z.ZodMiniType>(
  file: SourceFile,
  schema: T,
  bag: DiagnosticBag,
): z.infer<T> | null {
  const lc = new LineCounter();
  const doc = parseDocument(file.text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    for (const e of doc.errors) {
      const [start, end] = e.pos;
      bag.add(
        "FWC600",
        span(file, start, Math.max(end, start + 1)),
        `${file.path}: ${e.message.split("\n")[0]}`,
        "fix the YAML/JSON syntax at this point",
      );
    }
    return null;
  }
  let data: unknown;
  try {
    data = doc.toJS();
  } catch (e) {
    // An alias bomb (a few lines that expand to billions of nodes) stops here, not in memory.
    bag.add(
      "FWC600",
      span(file, 0, Math.min(1, file.text.length)),
      `${file.path}: ${(e as Error).message.split("\n")[0]}`,
      "write the values out instead of repeating them with YAML aliases (*name)",
    );
    return null;
  }
  const r = schema.safeParse(data);
  if (r.success) return r.data;
  for (const issue of r.error.issues) {
    const path = issue.path.map(String);
    const shown = path.length === 0 ? "(top level)" : path.join(".");
    const own = issue.code === "custom" ? (issue.params as { code?: DiagnosticCode } | undefined)?.code : undefined;
    let code: DiagnosticCode = own ?? "FWC601";
    let message = `${shown}: ${issue.message}`;
    let help: string | undefined;
    let at = nodeRange(doc, path, "value") ?? nodeRange(doc, path.slice(0, -1), "value") ?? [0, 1];
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) {
        const known =
          CONFIG_KEYS[path.map((p) => (typeof p === "number" || /^[0-9]+$/.test(p) ? "*" : p)).join(".")] ?? [];
        const keyAt = nodeRange(doc, [...path, key], "key") ?? at;
        bag.add(
          "FWC602",
          span(file, keyAt[0], keyAt[1]),
          `${path.length === 0 ? "" : `${shown}.`}${key}: unknown key`,
          didYouMean(key, known) ?? (known.length > 0 ? `known keys here: ${known.join(", ")}` : undefined),
        );
      }
      continue;
    }
    if (path.length === 0 && issue.code === "invalid_type") {
      // An empty file (or one holding a lone value): nothing to point at but the file.
      bag.add(
        "FWC603",
        span(file, 0, Math.min(1, file.text.length)),
        `${file.path} is ${file.text.trim() === "" ? "empty" : "not a mapping of keys"}: it must be a YAML (or JSON) mapping`,
        schema === (TestbedConfig as unknown)
          ? "fwc init --state DIR writes a commented one; domain:, gateway: and ports: are needed"
          : "write the keys this file takes, one per line (key: value)",
      );
      continue;
    }
    if (issue.code === "invalid_type" && nodeRange(doc, path, "value") === null) {
      code = "FWC603";
      message = `${shown}: missing (${issue.message.replace(/^Invalid input: /, "")})`;
      help = `add \`${path[path.length - 1]}:\` under ${path.length > 1 ? path.slice(0, -1).join(".") : "the top level"}`;
      at = nodeRange(doc, path.slice(0, -1), "value") ?? [0, 1];
      bag.add(code, span(file, at[0], Math.min(at[1], at[0] + 1)), message, help);
      continue;
    }
    bag.add(code, span(file, at[0], at[1]), message, help);
  }
  return null;
}

type Doc = ReturnType<typeof parseDocument>;

/**
 * Where the value at `path` (["gateway", "inside", "1"]) is written in a configuration file, for a report: the
 * nearest enclosing value written when it is not, else the file's start. The document is parsed again: only
 * reports need positions.
 */
export function configSpan(file: SourceFile, path: string[]): Span {
  const doc = parseDocument(file.text);
  for (let n = path.length; n >= 0; n--) {
    const r = nodeRange(doc, path.slice(0, n), "value");
    if (r !== null) return span(file, r[0], r[1]);
  }
  return span(file, 0, Math.min(1, file.text.length));
}

/** The [start, end) offsets of the value (or key) at `path`, or null when absent. */
function nodeRange(doc: Doc, path: string[], what: "value" | "key"): [number, number] | null {
  if (path.length === 0) {
    const r = doc.contents?.range;
    return r ? [r[0], r[1]] : null;
  }
  if (what === "key") {
    const parent = path.length === 1 ? doc.contents : doc.getIn(path.slice(0, -1), true);
    const items = (parent as { items?: { key?: { value?: unknown; range?: [number, number, number] } }[] } | null)
      ?.items;
    const pair = items?.find((p) => String(p.key?.value) === path[path.length - 1]);
    return pair?.key?.range ? [pair.key.range[0], pair.key.range[1]] : null;
  }
  const keys = path.map((p) => (/^[0-9]+$/.test(p) ? Number(p) : p));
  const node = doc.getIn(keys, true) as { range?: [number, number, number] } | undefined;
  return node?.range ? [node.range[0], node.range[1]] : null;
}

export function loadTestbed(file: SourceFile, bag: DiagnosticBag): TestbedConfig | null {
  const cfg = loadConfig(file, TestbedConfig, bag);
  if (cfg === null) return null;
  // Positions are needed only for a report: the document is parsed again then, not on every load.
  const at = (path: string[]) => configSpan(file, path);
  if (cfg.dedicated !== undefined && ipaddr.parse(cfg.gateway.ipv4).match(ipaddr.parseCIDR(cfg.dedicated))) {
    bag.add(
      "FWC601",
      at(["dedicated"]),
      `dedicated: ${cfg.dedicated} contains the gateway's own address ${cfg.gateway.ipv4}`,
      "keep the shared address out of the dedicated pool",
    );
    return null;
  }
  if (cfg.gateway.inside.includes(cfg.gateway.outside)) {
    // Every command's ruleset would drop the Internet's traffic as spoofed nodes': refused wherever it is read.
    const i = cfg.gateway.inside.indexOf(cfg.gateway.outside);
    bag.add(
      "FWC601",
      at(["gateway", "inside", String(i)]),
      `gateway.inside lists ${cfg.gateway.outside}, which is gateway.outside`,
      "the interface toward the Internet is never one toward the nodes: fix gateway.inside or gateway.outside",
    );
    return null;
  }
  if (cfg.catalog !== undefined && cfg.catalog_file !== undefined) {
    bag.add(
      "FWC601",
      at(["catalog_file"]),
      "catalog_file: the catalog is already written under catalog:",
      "keep one of catalog: and catalog_file:",
    );
    return null;
  }
  const ttl = cfg.dns?.ttl;
  if (ttl !== undefined && (ttl < 30 || ttl > 86400))
    bag.add(
      "FWC605",
      at(["dns", "ttl"]),
      ttl < 30
        ? `dns.ttl: ${ttl} s is so short that many resolvers raise it or query the server for every lookup`
        : `dns.ttl: ${ttl} s keeps names of swapped-out experiments in caches for ${Math.round(ttl / 3600)} hours`,
      "a TTL between 30 s and one day (86400) suits names that follow experiments; fwc's default is 300",
    );
  return cfg;
}

export function loadNodeAddresses(file: SourceFile, bag: DiagnosticBag): NodeAddresses | null {
  return loadConfig(file, NodeAddresses, bag);
}

export { SourceFile };
