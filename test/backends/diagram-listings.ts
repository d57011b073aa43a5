/** Endpoint listings for the exposure diagram's tests: a small lab with one of each kind, and 50 nodes. */
import type { EndpointListing } from "../../src/backends/endpoints/endpoints.js";
import type { BlockEntry } from "../../src/store/schema.js";

const at = { file: "lab.ns", line: 1, column: 1 };
const gateway = { name: "gw.testbed.example.net", ipv4: "198.51.100.1", ipv6: "2001:db8:100::1" };

type Inbound = EndpointListing["inbound"][number];
type Outbound = EndpointListing["outbound"][number];
type Open6 = EndpointListing["open6"][number];

function inbound(
  node: string,
  proto: "tcp" | "udp",
  port: number | [number, number],
  ext: number | [number, number],
  more: Partial<Inbound> = {},
): Inbound {
  const [p, pe] = typeof port === "number" ? [port, port] : port;
  const [x, xe] = typeof ext === "number" ? [ext, ext] : ext;
  return {
    node,
    proto,
    port: p,
    ...(pe === p ? {} : { portEnd: pe }),
    external: { address: gateway.ipv4, port: x, ...(xe === x ? {} : { portEnd: xe }) },
    sources: [],
    origin: "nsfile",
    location: at,
    ...more,
  };
}

function outbound(host: string, proto: Outbound["proto"], port: number, more: Partial<Outbound> = {}): Outbound {
  return { host, proto, port, origin: "nsfile", location: at, ...more };
}

function open6(node: string, address: string, proto: Open6["proto"], port: number, more: Partial<Open6> = {}): Open6 {
  return { node, address, proto, port, sources: [], origin: "nsfile", location: at, ...more };
}

/** A small lab: one of each kind of grant, a dynamic grant given for a time, and two blocked networks. */
export function smallListing(): EndpointListing {
  const until = "2026-11-27T18:00:00.000Z";
  return {
    experiment: "demo/weblab",
    gateway,
    inbound: [
      inbound("web", "tcp", 22, 20000),
      inbound("web", "tcp", 80, 20001),
      inbound("gridftp", "tcp", 2811, 20002, { sources: ["128.32.0.0/16"] }),
      inbound("gridftp", "tcp", [25000, 25100], [25000, 25100], { sources: ["128.32.0.0/16"] }),
      inbound("db", "tcp", 5432, 20003, { sources: ["203.0.113.7/32"], origin: "dynamic", expires: until }),
      inbound("web", "udp", 53, 20004),
      inbound("web", "tcp", 53, 20004),
    ],
    outbound: [
      outbound("128.32.112.228/32", "tcp", 80),
      outbound("192.154.6.22/32", "udp", 53),
      outbound("128.112.0.0/16", "tcp", 443),
      outbound("2620:0:e00::/48", "udp", 53),
      outbound("2620:0:e00::/48", "tcp", 53),
      outbound("0.0.0.0/0", "all", 0, { origin: "dynamic", expires: until }),
    ],
    open6: [
      open6("worker", "2001:db8:1::5", "tcp", 22),
      open6("worker", "2001:db8:1::5", "tcp", 8000, { portEnd: 8100 }),
      open6("worker", "2001:db8:1::5", "udp", 8000, { portEnd: 8100 }),
    ],
    dedicated: [{ node: "db", address: "198.51.100.129", origin: "nsfile", location: at }],
    dns: [{ name: "web.weblab.demo.testbed.example.net.", type: "CNAME", target: "gw.testbed.example.net." }],
  };
}

export const smallBlocks: BlockEntry[] = [
  { cidr: "203.0.113.0/24", reason: "scanning our ports", by: "cli:ops", at: "2026-11-20T09:30:00Z" },
  {
    cidr: "192.0.2.0/24",
    proto: "tcp",
    port: 22,
    reason: "ssh brute force",
    by: "cli:ops",
    at: "2026-11-21T10:00:00Z",
  },
];

/**
 * 50 nodes with ssh, http and https each; every fifth node also a range of 10 ports (as 10 adjacent entries);
 * a few sources, dynamic grants, IPv6 openings, dedicated addresses and outbound grants.
 */
export function largeListing(): EndpointListing {
  const listing: EndpointListing = {
    experiment: "bigproj/scale50",
    gateway,
    inbound: [],
    outbound: [
      outbound("128.32.112.228/32", "tcp", 80),
      outbound("128.32.112.228/32", "tcp", 443),
      outbound("192.154.6.22/32", "udp", 53),
      outbound("10.20.0.0/16", "tcp", 0),
      outbound("2620:0:e00::/48", "tcp", 443, { origin: "dynamic", expires: "2026-11-27T18:00:00Z" }),
    ],
    open6: [],
    dedicated: [
      { node: "node-7", address: "198.51.100.130", origin: "nsfile", location: at },
      { node: "node-31", address: "198.51.100.131", origin: "nsfile", location: at },
    ],
    dns: [],
  };
  let ext = 20000;
  for (let i = 0; i < 50; i++) {
    const node = `node-${i}`;
    const sources = i % 10 === 3 ? ["128.32.0.0/16", "169.229.0.0/16"] : [];
    const dyn = i % 12 === 5 ? { origin: "dynamic" as const, expires: "2026-11-27T18:00:00Z" } : {};
    listing.inbound.push(inbound(node, "tcp", 22, ext++, { sources }));
    listing.inbound.push(inbound(node, "tcp", 80, ext++, { sources, ...dyn }));
    listing.inbound.push(inbound(node, "tcp", 443, ext++, { sources }));
    if (i % 5 === 0) for (let p = 8000; p < 8010; p++) listing.inbound.push(inbound(node, "tcp", p, ext++));
    if (i % 5 === 2)
      listing.open6.push(open6(node, `2001:db8:1::${(i + 10).toString(16)}`, "tcp", 22, { sources: [] }));
  }
  return listing;
}
