/** The evaluated topology as JSON: the `fwc inspect --json` contract (docs/cli.md). */
import type { Span } from "../diagnostics/source.js";
import type { Experiment } from "./model/experiment.js";

export interface Location {
  file: string;
  line: number;
  column: number;
  endLine: number;
  endColumn: number;
}

export function location(s: Span): Location {
  const a = s.file.position(s.start);
  const b = s.file.position(s.end);
  return { file: s.file.path, line: a.line, column: a.col, endLine: b.line, endColumn: b.col };
}

const settings = (m: Map<string, string[]>): Record<string, string[]> => Object.fromEntries(m);

export function inspectJson(x: Experiment) {
  return {
    nodes: x.nodes.map((n) => ({
      name: n.name,
      kind: n.kind,
      hardware: n.hardware,
      os: n.os,
      ips: [...n.ips].map(([on, ip]) => ({ on: on?.name ?? null, ip })),
      settings: settings(n.settings),
      internalName: n.internal,
      location: location(n.namedAt ?? n.created),
    })),
    lans: x.lans.map((l) => ({
      name: l.name,
      members: l.members.map((m) => m.name),
      bandwidthKbps: l.bandwidth === "*" ? null : l.bandwidth,
      delayMs: l.delay,
      cloud: l.cloud,
      internalName: l.internal,
      location: location(l.namedAt ?? l.created),
    })),
    links: x.links.map((l) => ({
      name: l.name,
      endpoints: l.ends.map((e) => e.name),
      bandwidthKbps: l.bandwidth === "*" ? null : l.bandwidth,
      delayMs: l.delay,
      queue: l.queue,
      internalName: l.internal,
      location: location(l.namedAt ?? l.created),
    })),
    external: x.external.map((e) => ({
      node: e.node.name,
      args: e.args,
      location: location(e.location),
      argLocations: e.argLocations.map(location),
      argTextStart: e.argTextStart.map((o) =>
        o === null ? null : location({ file: e.location.file, start: o, end: o }),
      ),
    })),
    rtproto: x.rtproto,
    events: x.events.map((e) => ({
      time: e.time,
      event: e.event,
      ...(e.holder === null ? {} : { in: e.holder.name }),
      location: location(e.location),
    })),
    tbCommands: x.tbCalls.map((c) => ({ command: c.command, args: c.args, location: location(c.location) })),
    ran: x.ranAt !== null,
  };
}

export type InspectJson = ReturnType<typeof inspectJson>;
