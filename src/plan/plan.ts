/**
 * The planner: AccessPolicy + testbed configuration + node addresses + earlier allocations -> a Plan of concrete
 * endpoints (addresses and ports on both sides), and the new allocations. Pure; problems are diagnostics.
 */

import ipaddr from "ipaddr.js";
import { canonicalAddress } from "../access/address.js";
import type { AccessPolicy, Origin } from "../access/policy.js";
import {
  absolute,
  checkRecords,
  type DnsRecord,
  dnsSettings,
  experimentRecords,
  infrastructureRecords,
} from "../backends/dns/records.js";
import type { DiagnosticBag } from "../diagnostics/diagnostic.js";
import { SourceFile, span } from "../diagnostics/source.js";
import { didYouMean } from "../diagnostics/suggest.js";
import { DEFAULT_EXPERIMENT_LIMITS, type NodeAddresses, type TestbedConfig } from "../testbed/config.js";
import { type Allocations, allocatePorts, type PortRequest } from "./allocations.js";

export type L4 = "tcp" | "udp";

export interface InboundEndpoint {
  node: string;
  nodeAddress: string;
  proto: L4;
  port: number;
  portEnd: number;
  external: { address: string; port: number; portEnd: number };
  sources: string[];
  identity: boolean;
  origin: Origin;
}

export interface OutboundEndpoint {
  host: string;
  family: 4 | 6;
  proto: L4 | "all";
  port: number;
  portEnd: number;
  origin: Origin;
}

export interface Open6Endpoint {
  node: string;
  nodeAddress: string;
  proto: L4 | "all";
  port: number;
  portEnd: number;
  sources: string[];
  origin: Origin;
}

export interface Plan {
  experiment: string;
  gateway: { name: string; ipv4: string; ipv6?: string };
  /**
   * Every node of the experiment with its addresses (the sources outbound grants apply to) and, where the node
   * addresses give them, its MAC and the gateway's bridge port it sits behind (anti-spoofing).
   */
  nodes: { node: string; ipv4?: string; ipv6?: string; mac?: string; port?: string }[];
  inbound: InboundEndpoint[];
  outbound: OutboundEndpoint[];
  open6: Open6Endpoint[];
  dedicated: { node: string; nodeAddress: string; address: string; origin: Origin }[];
  /** The experiment's DNS records (docs/dns.md). */
  dns: DnsRecord[];
}

const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const split = (proto: "tcp" | "udp" | "tcp+udp"): L4[] => (proto === "tcp+udp" ? ["tcp", "udp"] : [proto]);

export interface PlanInput {
  policy: AccessPolicy;
  experiment: string;
  testbed: TestbedConfig;
  nodes: NodeAddresses;
  allocations: Allocations;
  /** Where problems are reported: the NS file (grant origins are positions in it). */
  file: SourceFile;
  /** Records other experiments have in the zone (from the DNS state), checked for collisions. */
  dnsExisting?: { record: DnsRecord; owner: string }[];
  /** Where problems with node addresses are reported (the node addresses file); default: `file`. */
  nodesFile?: SourceFile;
  /** The time of planning (ms since the epoch), for the port quarantine. */
  now?: number;
}

/**
 * What an experiment's nodes claim on the gateway, each in one spelling: their addresses, and the bridge ports
 * and MACs the anti-spoofing binds to them. `address` is the claim as the index keys it (an address, or
 * `port NAME`, `mac MAC`); `family` is 4 or 6 for addresses.
 */
export function nodeAddresses(
  names: string[],
  nodes: NodeAddresses,
): { node: string; family?: 4 | 6; what: string; address: string }[] {
  const out: { node: string; family?: 4 | 6; what: string; address: string }[] = [];
  for (const node of names) {
    const a = Object.hasOwn(nodes, node) ? nodes[node] : undefined;
    if (a?.ipv4 !== undefined) out.push({ node, family: 4, what: "address", address: canonicalAddress(a.ipv4) });
    if (a?.ipv6 !== undefined) out.push({ node, family: 6, what: "address", address: canonicalAddress(a.ipv6) });
    if (a?.port !== undefined) out.push({ node, what: "bridge port", address: `port ${a.port}` });
    if (a?.mac !== undefined) out.push({ node, what: "MAC", address: `mac ${a.mac.toLowerCase()}` });
  }
  return out;
}

const inCidr = (address: string, cidr: string): boolean => {
  const [net, len] = cidr.includes("/") ? ipaddr.parseCIDR(cidr) : [ipaddr.parse(cidr), cidr.includes(":") ? 128 : 32];
  const a = ipaddr.parse(address);
  return a.kind() === net.kind() && a.match(net, len);
};

/**
 * Addresses a node may not have: one held by another node of the experiment, the gateway's own, the testbed's
 * servers (exempt from default deny: a node there would pass everything) and the dedicated public pool.
 */
/** A node addresses file checked against the testbed alone (fwc check-config): every node it lists. */
export function checkNodeAddressFile(
  testbed: TestbedConfig,
  nodes: NodeAddresses,
  report: (message: string, help: string) => void,
): void {
  checkNodeAddresses(testbed, Object.keys(nodes), nodes, report);
}

function checkNodeAddresses(
  testbed: TestbedConfig,
  names: string[],
  nodes: NodeAddresses,
  report: (message: string, help: string) => void,
): void {
  const seen = new Map<string, string>();
  for (const { node, family, what, address } of nodeAddresses(names, nodes)) {
    const other = seen.get(address);
    if (other !== undefined)
      report(
        `nodes ${other} and ${node} both have the ${what} ${address.replace(/^(port|mac) /, "")}`,
        "each node needs addresses of its own: the gateway tells experiments and nodes apart by address",
      );
    seen.set(address, node);
    if (family === undefined) continue;
    const gw = family === 4 ? testbed.gateway.ipv4 : testbed.gateway.ipv6;
    if (gw !== undefined && canonicalAddress(gw) === address)
      report(`node ${node}'s address ${address} is the gateway's own address`, "fix the node addresses file");
    const infra = (testbed.gateway.infrastructure ?? []).find((c) => inCidr(address, c));
    if (infra !== undefined)
      report(
        `node ${node}'s address ${address} lies in the testbed's infrastructure ${infra} (gateway.infrastructure)`,
        "infrastructure passes the gateway unfiltered: an experiment node must never have such an address",
      );
    if (family === 4 && testbed.dedicated !== undefined && inCidr(address, testbed.dedicated))
      report(
        `node ${node}'s address ${address} lies in the dedicated public pool ${testbed.dedicated}`,
        "the dedicated pool holds the gateway's public addresses; fix the node addresses file",
      );
  }
}

export function planAccess(input: PlanInput, bag: DiagnosticBag): { plan: Plan; allocations: Allocations } | null {
  const { policy, testbed, nodes, file } = input;
  const at = (o: Origin) => {
    // A dynamic grant's origin is a column in the option's text (`--rdr`); it is its own small file.
    if (o.source === "dynamic") {
      const f = new SourceFile(o.file, `${" ".repeat(o.column - 1)}${o.text}`);
      return span(f, o.column - 1, o.column - 1 + Math.max(1, o.text.length));
    }
    // Origins carry line and column; find the offset back for the report.
    let offset = 0;
    for (let l = 1; l < o.line; l++) offset = file.text.indexOf("\n", offset) + 1;
    return span(file, offset + o.column - 1, offset + o.column - 1 + Math.max(1, o.text.length));
  };
  const errorsBefore = bag.errorCount;
  const [pid, eid] = input.experiment.toLowerCase().split("/");
  if (
    pid === undefined ||
    eid === undefined ||
    !LABEL.test(pid) ||
    !LABEL.test(eid) ||
    input.experiment.split("/").length !== 2
  ) {
    bag.add(
      "FWC703",
      span(file, 0, 0),
      `experiment "${input.experiment}" is not PID/EID made of two DNS labels`,
      "pass --exp like myproject/myexp (letters, digits, inner hyphens)",
    );
    return null;
  }
  const v4 = (node: string, o: Origin, what: string): string | null => {
    const a = nodes[node]?.ipv4;
    if (a === undefined) {
      // A name of the addresses file that is no node of the experiment is most likely this one misspelled.
      const typo =
        nodes[node] === undefined
          ? didYouMean(
              node,
              Object.keys(nodes).filter((n) => !policy.nodes.includes(n)),
            )
          : undefined;
      bag.add(
        "FWC700",
        at(o),
        `node "${node}" has no IPv4 address in the node addresses, but ${what} needs one`,
        typo !== undefined
          ? `the node addresses file has ${typo.replace(/^did you mean /, "").replace(/\?$/, "")}, which is no node of the experiment: correct the spelling in one of the two files`
          : "add it to the node addresses file, or remove the grant",
      );
      return null;
    }
    return a;
  };

  const nodesFile = input.nodesFile ?? file;
  checkNodeAddresses(input.testbed, input.policy.nodes, input.nodes, (message, help) =>
    bag.add("FWC711", span(nodesFile, 0, 0), message, help),
  );
  if (bag.errorCount > errorsBefore) return null;
  const limits = { ...DEFAULT_EXPERIMENT_LIMITS, ...testbed.limits };

  // Inbound: one allocation per target; tcp+udp targets get the same external ports for both protocols.
  const requests: PortRequest[] = [];
  const keyOf = (g: AccessPolicy["inbound"][number]) => `${g.proto} ${g.node} ${g.port}-${g.portEnd}`;
  let wanted = 0;
  for (const g of policy.inbound) {
    const size = g.portEnd - g.port + 1;
    wanted += size;
    // Checked before allocating: a grant of 65,535 ports is refused at once, not after it took the pool.
    if (wanted > limits.ports) {
      bag.add(
        "FWC710",
        at(g.origin),
        `the experiment would hold ${wanted}${wanted === size ? "" : " or more"} external ports; the limit per experiment is ${limits.ports}`,
        "grant fewer or smaller redirects, or ask the operators to raise limits.ports in the testbed configuration",
      );
      return null;
    }
    requests.push(g.identity ? { key: keyOf(g), size, exact: g.port } : { key: keyOf(g), size });
  }
  const alloc = allocatePorts(input.allocations, input.experiment, testbed.ports, requests, {
    ...(input.now !== undefined ? { now: input.now } : {}),
    ...(testbed.quarantine !== undefined ? { quarantineSeconds: testbed.quarantine } : {}),
  });
  if (!alloc.ok) {
    const g = policy.inbound.find((x) => keyOf(x) === alloc.key)!;
    bag.add("FWC701", at(g.origin), alloc.message, alloc.help);
    return null;
  }
  const inbound: InboundEndpoint[] = [];
  for (const g of policy.inbound) {
    const addr = v4(g.node, g.origin, "a redirect");
    if (addr === null) continue;
    const ext = alloc.ports.get(keyOf(g))!;
    for (const proto of split(g.proto))
      inbound.push({
        node: g.node,
        nodeAddress: addr,
        proto,
        port: g.port,
        portEnd: g.portEnd,
        external: { address: testbed.gateway.ipv4, port: ext.port, portEnd: ext.portEnd },
        sources: g.sources,
        identity: g.identity,
        origin: g.origin,
      });
  }

  const outbound: OutboundEndpoint[] = [];
  for (const g of policy.outbound) {
    if (g.family === 6 && testbed.gateway.ipv6 === undefined) {
      bag.add(
        "FWC704",
        at(g.origin),
        `outbound grant to ${g.host} needs IPv6 on the gateway`,
        "add gateway.ipv6 to the testbed configuration",
      );
      continue;
    }
    for (const proto of g.proto === "all" ? (["all"] as const) : split(g.proto))
      outbound.push({ host: g.host, family: g.family, proto, port: g.port, portEnd: g.portEnd, origin: g.origin });
  }

  const open6: Open6Endpoint[] = [];
  for (const g of policy.open6) {
    const a = nodes[g.node]?.ipv6;
    if (a === undefined || ipaddr.IPv6.parse(a).range() !== "unicast") {
      bag.add(
        "FWC700",
        at(g.origin),
        a === undefined
          ? `node "${g.node}" has no IPv6 address for its open6 grant`
          : `node "${g.node}"'s IPv6 address ${a} is not a global address`,
        "open6 grants go to a node's global IPv6 address; give the node one in the node addresses file",
      );
      continue;
    }
    for (const proto of g.proto === "all" ? (["all"] as const) : split(g.proto))
      open6.push({
        node: g.node,
        nodeAddress: a,
        proto,
        port: g.port,
        portEnd: g.portEnd,
        sources: g.sources,
        origin: g.origin,
      });
  }

  // Dedicated addresses (legacy form): stable per node, lowest free host address of the pool.
  const dedicated: Plan["dedicated"] = [];
  const prevDedicated = new Map(
    (input.allocations.experiments[input.experiment]?.dedicated ?? []).map((d) => [d.node, d.address]),
  );
  const usedElsewhere = new Set(
    Object.entries(alloc.allocations.experiments)
      .filter(([e]) => e !== input.experiment)
      .flatMap(([, x]) => x.dedicated.map((d) => d.address)),
  );
  const given: { node: string; address: string }[] = [];
  for (const d of policy.dedicated) {
    const addr = v4(d.node, d.origin, "a dedicated external address");
    if (addr === null) continue;
    if (given.length >= limits.dedicated) {
      bag.add(
        "FWC710",
        at(d.origin),
        `the experiment would hold more than ${limits.dedicated} dedicated addresses, the limit per experiment`,
        "use `tb-allow-external $node shared ...` (the shared gateway), or ask the operators to raise limits.dedicated",
      );
      break;
    }
    let pub = prevDedicated.get(d.node);
    if (pub === undefined || usedElsewhere.has(pub)) pub = nextAddress(testbed.dedicated, usedElsewhere, given);
    if (pub === undefined) {
      bag.add(
        "FWC702",
        at(d.origin),
        testbed.dedicated === undefined
          ? "the testbed has no `dedicated` address pool for the legacy form"
          : `no dedicated address left in ${testbed.dedicated}`,
        "use `tb-allow-external $node shared ...` (the shared gateway), or ask the operators for a larger pool",
      );
      continue;
    }
    given.push({ node: d.node, address: pub });
    dedicated.push({ node: d.node, nodeAddress: addr, address: pub, origin: d.origin });
  }

  // What the grants will cost on the gateway, counted before anything expands them (a range is one element per
  // port and source, an outbound grant one per node): a request over the limit is refused at once.
  const perFamily = (f: 4 | 6) => policy.nodes.filter((n) => (f === 4 ? nodes[n]?.ipv4 : nodes[n]?.ipv6)).length;
  let elements = policy.nodes.length * 3 + dedicated.length * 3;
  const over = (n: number, o: Origin) => {
    elements += n;
    if (elements <= limits.elements) return false;
    bag.add(
      "FWC710",
      at(o),
      `the experiment would hold more than ${limits.elements} nftables elements on the gateway, the limit per experiment`,
      "grant fewer ports, sources, hosts or nodes (a range is one element per port and source, an outbound grant one per node), or ask the operators to raise limits.elements",
    );
    return true;
  };
  const counted =
    inbound.some((e) => over((e.portEnd - e.port + 1) * Math.max(1, e.sources.length), e.origin)) ||
    outbound.some((g) => over(perFamily(g.family), g.origin)) ||
    open6.some((o) => over(1 + o.sources.length, o.origin));
  if (counted || bag.errorCount > errorsBefore) return null;
  const allocations: Allocations = {
    ...alloc.allocations,
    experiments: {
      ...alloc.allocations.experiments,
      [input.experiment]: { ports: alloc.allocations.experiments[input.experiment]!.ports, dedicated: given },
    },
  };
  const settings = dnsSettings(testbed);
  const dns = experimentRecords({
    experimentZone: `${eid}.${pid}.${absolute(testbed.domain)}`,
    gateway: testbed.gateway,
    ttl: settings.ttl,
    named: policy.dns,
    dedicated: dedicated.map((d) => ({ node: d.node, address: d.address, origin: d.origin })),
    // One AAAA per node: its address is the same for all of its openings.
    open6: [
      ...new Map(open6.map((o) => [o.node, { node: o.node, address: o.nodeAddress, origin: o.origin }])).values(),
    ],
  });
  const existing = [
    ...infrastructureRecords(testbed, settings).map((record) => ({ record, owner: "the testbed" })),
    ...(input.dnsExisting ?? []),
  ];
  checkRecords(dns, existing, settings, (code, r, message, help) =>
    bag.add(code, r.origin === undefined ? span(file, 0, 0) : at(r.origin), message, help),
  );
  if (bag.errorCount > errorsBefore) return null;
  const plan: Plan = {
    experiment: input.experiment,
    gateway:
      testbed.gateway.ipv6 === undefined
        ? { name: testbed.gateway.name, ipv4: testbed.gateway.ipv4 }
        : { name: testbed.gateway.name, ipv4: testbed.gateway.ipv4, ipv6: testbed.gateway.ipv6 },
    nodes: policy.nodes.map((n) => ({ node: n, ...nodes[n] })),
    inbound,
    outbound,
    open6,
    dedicated,
    dns,
  };
  return { plan, allocations };
}

/** The lowest host address of `pool` not used elsewhere nor given in this run (network and broadcast excluded). */
function nextAddress(
  pool: string | undefined,
  usedElsewhere: Set<string>,
  given: { address: string }[],
): string | undefined {
  if (pool === undefined) return undefined;
  const [, len] = ipaddr.parseCIDR(pool);
  const base = ipaddr.IPv4.networkAddressFromCIDR(pool)
    .toByteArray()
    .reduce((a, b) => a * 256 + b, 0);
  const size = 2 ** (32 - len);
  for (let i = size > 2 ? 1 : 0; i < (size > 2 ? size - 1 : size); i++) {
    const n = base + i;
    const a = [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
    if (!usedElsewhere.has(a) && !given.some((g) => g.address === a)) return a;
  }
  return undefined;
}
