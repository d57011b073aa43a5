/** The NS objects an evaluated file creates, and the topology they form. */
import type { Span } from "../../diagnostics/source.js";

interface Base {
  /** The object's current name: its Tcl command, and what variables holding it evaluate to. */
  name: string;
  /** The name it was created with (tbnode-n1, tblink-l2, Simulator1, ...). */
  internal: string;
  created: Span;
  /** The `set` that gave it its name, when one did. */
  namedAt: Span | null;
}

export interface NodeObj extends Base {
  cls: "Node";
  kind: "node" | "bridge";
  hardware: string | null;
  os: string | null;
  /** Addresses fixed by tb-set-ip*: key is the link or LAN object, or "" for tb-set-ip. */
  ips: Map<LanObj | LinkObj | null, string>;
  /** Every other tb-* setting, by command name, last call wins. */
  settings: Map<string, string[]>;
}

export interface LinkObj extends Base {
  cls: "Link";
  ends: [NodeObj, NodeObj];
  bandwidth: number | "*";
  delay: number;
  queue: string;
}

export interface LanObj extends Base {
  cls: "Lan";
  members: NodeObj[];
  bandwidth: number | "*";
  delay: number;
  cloud: boolean;
}

export interface OtherObj extends Base {
  cls: "Simulator" | "Path" | "Queue" | "Blockstore" | "Other";
  /** The NS class given to `new` (Agent/UDP, Program, ...). */
  nsClass: string;
  /** True when Emulab does not know the class (it makes a null object and warns). */
  unknownClass: boolean;
  settings: Map<string, string[]>;
  /** An EventGroup's members, and the class they all share (Emulab refuses a mix). */
  members?: NsObject[];
  memberClass?: string;
}

export type NsObject = NodeObj | LinkObj | LanObj | OtherObj;

export interface ExternalCall {
  node: NodeObj;
  /** The arguments after the node, evaluated. */
  args: string[];
  location: Span;
  argLocations: Span[];
  /**
   * For each argument, the file offset where its value appears verbatim (a literal without substitutions or
   * escapes, braced or quoted), or null: lets a diagnostic point at one target inside a string.
   */
  argTextStart: (number | null)[];
}

export interface TbCall {
  command: string;
  args: string[];
  location: Span;
}

export interface NsEvent {
  /** Seconds, `1h2m3s` or `swapout` for `$ns at`; "" for an event of a sequence. */
  time: string;
  event: string;
  location: Span;
  /** The sequence or timeline that holds it (its name may change later), or null for the Simulator's `$ns at`. */
  holder: OtherObj | null;
}
