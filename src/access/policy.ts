/**
 * The AccessPolicy: the one description of an experiment's external access that every backend reads. Every
 * grant carries its expanded meaning and where it came from. Validated with zod wherever it enters or leaves.
 */
import * as z from "zod/mini";
import "../schema.js";

const Cidr = z.string().check(z.regex(/^[0-9a-fA-F:.]+\/[0-9]{1,3}$/, "an address in CIDR form"));
const Port = z.int().check(z.minimum(0), z.maximum(65535));

export const Origin = z.object({
  /** "nsfile" for grants from the NS file; "dynamic" for grants added to a running experiment. */
  source: z.enum(["nsfile", "dynamic"]),
  file: z.string(),
  line: z.int().check(z.minimum(1)),
  column: z.int().check(z.minimum(1)),
  /** The target as written. */
  text: z.string(),
  /** The tb-allow-external call it belongs to. */
  call: z.object({ line: z.int().check(z.minimum(1)), column: z.int().check(z.minimum(1)) }),
  /** A dynamic grant given for a time (`fwc open --for`): when it ends (ISO time). */
  expires: z.optional(z.string()),
});

export const DedicatedGrant = z.object({ node: z.string(), origin: Origin });

/** Any node of the experiment may open connections to host:port (the gateway NATs them). */
export const OutboundGrant = z.object({
  host: Cidr,
  family: z.union([z.literal(4), z.literal(6)]),
  proto: z.enum(["tcp", "udp", "tcp+udp", "all"]),
  /** 0 (with portEnd 0) means any port. */
  port: Port,
  portEnd: Port,
  origin: Origin,
});

/** The Internet may reach node:port through an address and port of the shared gateway. */
export const InboundGrant = z.object({
  node: z.string(),
  proto: z.enum(["tcp", "udp", "tcp+udp"]),
  port: z.int().check(z.minimum(1), z.maximum(65535)),
  portEnd: z.int().check(z.minimum(1), z.maximum(65535)),
  /** Sources allowed; empty means any. */
  sources: z.array(Cidr),
  /** The external port equals the internal one (Globus port ranges). */
  identity: z.boolean(),
  origin: Origin,
});

/** Direct IPv6 opening to a node's global address (Grid'5000 style): no NAT; ICMPv6 to the node is allowed too. */
export const Open6Grant = z.object({
  node: z.string(),
  proto: z.enum(["tcp", "udp", "tcp+udp", "all"]),
  port: Port,
  portEnd: Port,
  sources: z.array(Cidr),
  origin: Origin,
});

export const AccessPolicy = z.object({
  version: z.literal(1),
  file: z.string(),
  /** Every node of the experiment: outbound grants apply to each. */
  nodes: z.array(z.string()),
  /** Whether the file has any tb-allow-external call (then a swap-modify overrules dynamic grants). */
  hasCalls: z.boolean(),
  dedicated: z.array(DedicatedGrant),
  outbound: z.array(OutboundGrant),
  inbound: z.array(InboundGrant),
  open6: z.array(Open6Grant),
  /** Nodes that get a CNAME to the gateway: every node named in a call and every inbound target. */
  dns: z.array(z.object({ node: z.string(), reason: z.enum(["named", "inbound"]), origin: Origin })),
});

export type Origin = z.infer<typeof Origin>;
export type OutboundGrant = z.infer<typeof OutboundGrant>;
export type InboundGrant = z.infer<typeof InboundGrant>;
export type Open6Grant = z.infer<typeof Open6Grant>;
export type DedicatedGrant = z.infer<typeof DedicatedGrant>;
export type AccessPolicy = z.infer<typeof AccessPolicy>;
