/** The endpoint listing shown on the experiment page: JSON (the contract in docs/cli.md) or a table. */
import type { Origin } from "../../access/policy.js";
import type { Plan } from "../../plan/plan.js";

const range = (port: number, portEnd: number) => (port === portEnd ? {} : { portEnd });
const location = (o: Origin) => ({ file: o.file, line: o.line, column: o.column });
/** A grant given for a time: when it ends. */
const expires = (o: Origin) => (o.expires === undefined ? {} : { expires: o.expires });
const until = (o: Origin) =>
  o.expires === undefined ? "" : `  until ${o.expires.replace("T", " ").replace(/\.[0-9]+Z$/, "Z")}`;

export function endpointsJson(plan: Plan) {
  return {
    experiment: plan.experiment,
    gateway: plan.gateway,
    inbound: plan.inbound.map((e) => ({
      node: e.node,
      proto: e.proto,
      port: e.port,
      ...range(e.port, e.portEnd),
      external: { address: e.external.address, port: e.external.port, ...range(e.external.port, e.external.portEnd) },
      sources: e.sources,
      origin: e.origin.source,
      ...expires(e.origin),
      location: location(e.origin),
    })),
    outbound: plan.outbound.map((e) => ({
      host: e.host,
      proto: e.proto,
      port: e.port,
      ...range(e.port, e.portEnd),
      origin: e.origin.source,
      ...expires(e.origin),
      location: location(e.origin),
    })),
    open6: plan.open6.map((e) => ({
      node: e.node,
      address: e.nodeAddress,
      proto: e.proto,
      port: e.port,
      ...range(e.port, e.portEnd),
      sources: e.sources,
      origin: e.origin.source,
      ...expires(e.origin),
      location: location(e.origin),
    })),
    dedicated: plan.dedicated.map((d) => ({
      node: d.node,
      address: d.address,
      origin: d.origin.source,
      location: location(d.origin),
    })),
    dns: plan.dns.map((d) => ({ name: d.name, type: d.type, target: d.target })),
  };
}

/** The endpoint listing (JSON contract). */
export type EndpointListing = ReturnType<typeof endpointsJson>;

const ports = (p: number, e: number) => (p === 0 && e === 0 ? "any port" : p === e ? String(p) : `${p}..${e}`);

/** How a person reaches a redirected service: ssh for 22, a URL for 80 and 443 (TCP, one port). */
function hint(gateway: string, e: Plan["inbound"][number]): string {
  if (e.proto !== "tcp" || e.portEnd !== e.port) return "";
  const ext = e.external.port;
  if (e.port === 22) return `ssh -p ${ext} USER@${gateway}`;
  if (e.port === 80) return `http://${gateway}:${ext}/`;
  if (e.port === 443) return `https://${gateway}:${ext}/`;
  return "";
}

/** Where a grant comes from: a line of the NS file, or fwc open. */
const whence = (o: Origin): string => (o.source === "nsfile" ? `${o.file}:${o.line}` : "fwc open");

/**
 * The endpoint listing for people: inbound rows in the order of their gateway ports, each with where it comes
 * from and, for ssh and the web, how to reach it. `color` makes headings bold and the notes dim (a terminal
 * only; the caller decides, honouring NO_COLOR).
 */
export function endpointsTable(plan: Plan, color = false): string {
  const bold = (s: string) => (color ? `\u001b[1m${s}\u001b[0m` : s);
  const dim = (s: string) => (s === "" ? "" : color ? `\u001b[2m${s}\u001b[0m` : s);
  const gw = plan.gateway.name.replace(/\.$/, "");
  const out = [
    bold(
      `Experiment ${plan.experiment}, gateway ${plan.gateway.name} (${plan.gateway.ipv4}${plan.gateway.ipv6 ? `, ${plan.gateway.ipv6}` : ""})`,
    ),
  ];
  out.push("", bold("Inbound: connect to the gateway address and port on the left"));
  if (plan.inbound.length === 0) out.push("  (none)");
  const inbound = [...plan.inbound].sort((a, b) => a.external.port - b.external.port || a.proto.localeCompare(b.proto));
  for (const e of inbound) {
    const h = hint(gw, e);
    out.push(
      `  ${e.external.address}:${ports(e.external.port, e.external.portEnd)}/${e.proto} -> ${e.node}:${ports(e.port, e.portEnd)}${e.sources.length > 0 ? `  from ${e.sources.join(", ")}` : ""}${until(e.origin)}  ${dim(`(${whence(e.origin)})`)}${h === "" ? "" : `  ${h}`}`,
    );
  }
  if (plan.open6.length > 0) {
    out.push("", bold("Direct IPv6 (no translation)"));
    for (const e of plan.open6)
      out.push(
        `  [${e.nodeAddress}] ${e.proto === "all" ? "all protocols" : `${ports(e.port, e.portEnd)}/${e.proto}`} (${e.node})${e.sources.length > 0 ? `  from ${e.sources.join(", ")}` : ""}${until(e.origin)}  ${dim(`(${whence(e.origin)})`)}`,
      );
  }
  if (plan.dedicated.length > 0) {
    out.push("", bold("Dedicated addresses"));
    for (const d of plan.dedicated) out.push(`  ${d.address} <-> ${d.node} (${d.nodeAddress})`);
  }
  out.push("", bold("Outbound: any node of the experiment may reach"));
  if (plan.outbound.length === 0) out.push("  (none)");
  for (const e of plan.outbound)
    out.push(
      `  ${e.host} ${e.proto === "all" ? "all protocols" : `${ports(e.port, e.portEnd)}/${e.proto}`}${until(e.origin)}  ${dim(`(${whence(e.origin)})`)}`,
    );
  out.push("", bold("DNS"));
  if (plan.dns.length === 0) out.push("  (none)");
  for (const d of plan.dns) out.push(`  ${d.name} ${d.type} ${d.target}`);
  return `${out.join("\n")}\n`;
}
