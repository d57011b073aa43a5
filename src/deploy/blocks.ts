/**
 * The operator's blocklist (Nova's provider firewall): networks whose traffic the gateway drops in both
 * directions before any grant is looked at, established flows included. Entries live in the state
 * (`DIR/blocks.json`, with their reason, who added them and when); their elements are the gateway's `block4`,
 * `block6` (whole networks) and `block4p`, `block6p` (a protocol and service ports of a network).
 */
import { parseHost, parsePorts } from "../access/targets.js";
import { type Box, disjoint, type ElementSet, networks } from "../backends/nftables/render.js";
import type { BlockEntry } from "../store/schema.js";

const COMMENT = "block";

/** The gateway's elements for a blocklist (networks inside another of the same kind are merged away). */
export function blockElements(entries: BlockEntry[]): ElementSet {
  const whole = (v6: boolean) =>
    networks(entries.filter((e) => e.proto === undefined && e.cidr.includes(":") === v6).map((e) => e.cidr)).map(
      (key) => ({ key, comment: COMMENT }),
    );
  const ported = (v6: boolean) => {
    const boxes: Box[] = [];
    for (const e of entries.filter((x) => x.proto !== undefined && x.cidr.includes(":") === v6))
      for (const proto of e.proto === "tcp+udp" ? ["tcp", "udp"] : [e.proto!])
        boxes.push({
          group: proto,
          cidr: e.cidr,
          lo: e.port ?? 1,
          hi: e.portEnd ?? e.port ?? 65535,
          key: (h, ps) => `${h} . ${proto} . ${ps}`,
          comment: COMMENT,
        });
    return disjoint(boxes);
  };
  return { block4: whole(false), block6: whole(true), block4p: ported(false), block6p: ported(true) };
}

/** The identity of an entry: its network, protocol and ports (reason, who and when are not part of it). */
export const blockKey = (e: Pick<BlockEntry, "cidr" | "proto" | "port" | "portEnd">) =>
  `${e.cidr} ${e.proto ?? "all"} ${e.port ?? ""}-${e.portEnd ?? ""}`;

/** How an entry reads: `203.0.113.0/24`, `203.0.113.0/24 tcp 22`, `2001:db8::/32 tcp+udp 8000..8100`. */
export function blockText(e: Pick<BlockEntry, "cidr" | "proto" | "port" | "portEnd">): string {
  if (e.proto === undefined) return e.cidr;
  const ports = e.port === undefined ? "" : e.portEnd !== e.port ? ` ${e.port}..${e.portEnd}` : ` ${e.port}`;
  return `${e.cidr} ${e.proto}${ports}`;
}

export type BlockRequest = Pick<BlockEntry, "cidr" | "proto" | "port" | "portEnd">;

/**
 * Reads `CIDR` with optional `--proto` and `--port` into what the blocklist keys on; a problem names the part
 * that is wrong, with its offset in the argument.
 */
export function parseBlock(
  cidr: string,
  proto: string | undefined,
  port: string | undefined,
):
  | { ok: true; block: BlockRequest }
  | {
      ok: false;
      code: string;
      message: string;
      help: string;
      at: number;
      length: number;
      arg: "cidr" | "proto" | "port";
    } {
  try {
    if (cidr === "any" || !/^[0-9A-Fa-f:.]+(\/[0-9]{1,3})?$/.test(cidr))
      return {
        ok: false,
        code: "FWC511",
        message: `"${cidr}" is not an IP address or network`,
        help: "write an IPv4 or IPv6 address or a CIDR network such as 203.0.113.0/24",
        at: 0,
        length: Math.max(1, cidr.length),
        arg: "cidr",
      };
    const h = parseHost({ text: cidr, at: 0 });
    if (proto !== undefined && !["tcp", "udp", "tcp+udp"].includes(proto))
      return {
        ok: false,
        code: "FWC513",
        message: `"${proto}" is not a protocol a block can name`,
        help: "use tcp, udp or tcp+udp; leave --proto out to block every protocol",
        at: 0,
        length: Math.max(1, proto.length),
        arg: "proto",
      };
    if (port === undefined)
      return { ok: true, block: { cidr: h.cidr, ...(proto ? { proto: proto as BlockEntry["proto"] } : {}) } };
    const p = parsePorts({ text: port, at: 0 }, true);
    if (p.port === 0)
      return {
        ok: false,
        code: "FWC512",
        message: "port 0 is not a port a block can name",
        help: "leave --port out to block every port of the protocol",
        at: 0,
        length: port.length,
        arg: "port",
      };
    return {
      ok: true,
      block: { cidr: h.cidr, proto: (proto ?? "tcp+udp") as BlockEntry["proto"], port: p.port, portEnd: p.portEnd },
    };
  } catch (e) {
    const problem = (e as { problem?: { code: string; message: string; help: string; at: number; length: number } })
      .problem;
    if (problem === undefined) throw e;
    const arg = port !== undefined && problem.code !== "FWC511" ? "port" : "cidr";
    // The address parser's help mentions `any`, which a block does not take.
    const help =
      arg === "cidr" ? "write an IPv4 or IPv6 address or a CIDR network such as 203.0.113.0/24" : problem.help;
    return { ok: false, ...problem, help, arg };
  }
}
