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
 * only; the caller decides, honouring NO_COLOR). `unpublished`: the gateway sends no DNS changes (no dns.server).
 */
export function endpointsTable(plan: Plan, color = false, opts: { unpublished?: boolean } = {}): string {
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
  // On a gateway whose testbed.yaml names no DNS server, the names are fwc's plan only: nobody can look them up.
  out.push("", bold(opts.unpublished === true ? "DNS (not published: testbed.yaml names no dns.server)" : "DNS"));
  if (plan.dns.length === 0) out.push("  (none)");
  for (const d of plan.dns) out.push(`  ${d.name} ${d.type} ${d.target}`);
  return `${out.join("\n")}\n`;
}

/**
 * One line per endpoint, the way a person compares them before and after a change (the dry run's preview):
 * `198.51.100.1:20007/tcp -> n-1:8080`; the other kinds carry a word in front (`ipv6`, `dedicated`, `outbound`,
 * `dns`). A grant given for a time shows its end, so that opening it again for longer shows as a change.
 */
export function endpointLines(plan: Plan): string[] {
  const from = (s: string[]) => (s.length > 0 ? `  from ${s.join(", ")}` : "");
  const what = (proto: string, p: number, e: number) => (proto === "all" ? "all protocols" : `${ports(p, e)}/${proto}`);
  const inbound = [...plan.inbound].sort((a, b) => a.external.port - b.external.port || a.proto.localeCompare(b.proto));
  return [
    ...inbound.map(
      (e) =>
        `${e.external.address}:${ports(e.external.port, e.external.portEnd)}/${e.proto} -> ${e.node}:${ports(e.port, e.portEnd)}${from(e.sources)}${until(e.origin)}`,
    ),
    ...plan.open6.map(
      (e) =>
        `ipv6 [${e.nodeAddress}] ${what(e.proto, e.port, e.portEnd)} (${e.node})${from(e.sources)}${until(e.origin)}`,
    ),
    ...plan.dedicated.map((d) => `dedicated ${d.address} <-> ${d.node} (${d.nodeAddress})`),
    ...plan.outbound.map((e) => `outbound ${e.host} ${what(e.proto, e.port, e.portEnd)}${until(e.origin)}`),
    ...plan.dns.map((d) => `dns ${d.name} ${d.type} ${d.target}`),
    // The nodes' addresses: a node moved to another address changes where its grants lead.
    ...plan.nodes.map(
      (n) =>
        `node ${n.node}${n.ipv4 ? ` ${n.ipv4}` : ""}${n.ipv6 ? ` ${n.ipv6}` : ""}${n.mac ? ` mac ${n.mac}` : ""}${n.port ? ` port ${n.port}` : ""}`,
    ),
  ];
}

/** What a change does to the endpoints: the lines that go (`- `) and the lines that come (`+ `), in order. */
export function endpointChange(before: string[], after: string[]): { remove: string[]; add: string[] } {
  const had = new Set(before);
  const has = new Set(after);
  return { remove: before.filter((l) => !has.has(l)), add: after.filter((l) => !had.has(l)) };
}

/**
 * The preview a dry run prints before its nft transaction: a heading, then `- ` and `+ ` lines. `what` names the
 * change (`swapin proj/exp`).
 */
export function previewText(
  what: string,
  change: { remove: string[]; add: string[]; exact?: boolean },
  unchanged: number,
  nothing = "no endpoint changes",
): string {
  const heading = what.replace(/[\x00-\x1f\x7f]/g, "_");
  // The "before" side is the state planned again: when that no longer gives what is on the gateway (the testbed
  // or the node addresses changed since), the lines cannot show everything; the transaction still is exact.
  const caveat =
    change.exact === false
      ? "\n! The experiment's state no longer plans to the rules it has on the gateway (the testbed configuration or the node addresses changed since it was applied): the lines above compare endpoints as planned now; the transaction below is exactly what changes."
      : "";
  if (change.remove.length + change.add.length === 0)
    return `Preview of ${heading} (dry run): ${nothing}${unchanged > 0 ? ` (${unchanged} stay)` : ""}.${caveat}\n\n`;
  const lines = [
    `Preview of ${heading} (dry run): ${change.add.length} to add, ${change.remove.length} to remove${unchanged > 0 ? `, ${unchanged} unchanged` : ""}`,
    ...change.remove.map((l) => `- ${l}`),
    ...change.add.map((l) => `+ ${l}`),
  ];
  return `${lines.join("\n")}${caveat}\n\n`;
}
