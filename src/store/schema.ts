/**
 * What the store keeps (docs/deploy.md, "The state"): an experiment's record, the gateway-wide index of ports and
 * addresses in use, the operator's blocklist, and the change under way. zod schemas: every record read back is
 * checked, so a damaged store is refused with the record and the field, never taken for something it is not.
 */
import { lstatSync, type Stats } from "node:fs";
import * as z from "zod/mini";
import { AccessPolicy, InboundGrant, Open6Grant, OutboundGrant } from "../access/policy.js";
import { DnsRecord } from "../backends/dns/records.js";
import { PortAllocation, portBitmap, portRanges, ReleasedPorts } from "../plan/allocations.js";
import "../schema.js";
import { NodeAddresses } from "../testbed/config.js";

const Element = z.object({ key: z.string(), comment: z.string() });
export const ElementSetSchema = z.record(z.string(), z.array(Element));

export const ExperimentState = z.object({
  version: z.literal(1),
  experiment: z.string(),
  /** The NS file of the last swapin or modify. */
  file: z.string(),
  /** The grants of the NS file. */
  policy: AccessPolicy,
  /** Grants added to the running experiment (`fwc open`). */
  dynamic: z.object({
    outbound: z.array(OutboundGrant),
    inbound: z.array(InboundGrant),
    open6: z.array(Open6Grant),
    dns: AccessPolicy.shape.dns,
  }),
  nodes: NodeAddresses,
  allocations: z.object({
    ports: z.array(PortAllocation),
    dedicated: z.array(z.object({ node: z.string(), address: z.string() })),
  }),
  /** What is on the gateway and in DNS for this experiment. */
  applied: z.object({ elements: ElementSetSchema, records: z.array(DnsRecord) }),
  updated: z.string(),
});
export type ExperimentState = z.infer<typeof ExperimentState>;

const Range = z.object({ port: z.int(), portEnd: z.int() });

export const Index = z.object({
  version: z.literal(1),
  /** sha256 of the table skeleton on the gateway (sets, chains, rules), or null before the first apply. */
  base: z.nullable(z.string()),
  /** Ports in use by all experiments, as ranges. */
  ports: z.array(Range),
  /** Dedicated addresses in use, and by whom. */
  dedicated: z.record(z.string(), z.string()),
  /** Released ports, oldest first (quarantine), with when and by whom. */
  released: z.array(ReleasedPorts),
  zone: z.optional(z.object({ name: z.string(), serial: z.int(), digest: z.string() })),
});
export type Index = z.infer<typeof Index>;

export const emptyIndex = (): Index => ({
  version: 1,
  base: null,
  ports: [],
  dedicated: {},
  released: [],
});

/** One entry of the operator's blocklist (`fwc block`): a network, optionally one protocol and port range. */
export const BlockEntry = z.object({
  /** The network in canonical form (network address / length). */
  cidr: z.string(),
  /** Absent: every protocol. */
  proto: z.optional(z.enum(["tcp", "udp", "tcp+udp"])),
  /** With proto: the service port range; absent: every port of the protocol. */
  port: z.optional(z.int().check(z.minimum(1), z.maximum(65535))),
  portEnd: z.optional(z.int().check(z.minimum(1), z.maximum(65535))),
  reason: z.string(),
  /** Who added it: `cli:<unix user>` or the service user's name. */
  by: z.string(),
  at: z.string(),
});
export type BlockEntry = z.infer<typeof BlockEntry>;

export const Blocks = z.object({ version: z.literal(1), entries: z.array(BlockEntry) });

export type Blocks = z.infer<typeof Blocks>;

/** The index as the experiments' own records give it (ports and dedicated addresses in use; no quarantine). */
export function indexOf(states: ExperimentState[]): Index {
  const used = portBitmap(states.flatMap((s) => s.allocations.ports));
  const dedicated: Index["dedicated"] = {};
  for (const s of states) for (const d of s.allocations.dedicated) dedicated[d.address] = s.experiment;
  const ports = portRanges(used);
  return { ...emptyIndex(), ports, dedicated };
}

/**
 * The change under way (`DIR/pending.db`), written before the gateway or DNS is touched and dropped after the
 * store committed it. A command that finds one whose generation the store never reached knows that the gateway
 * and DNS may hold a change the store does not, and puts them back to what the store says.
 */
export const Pending = z.object({
  version: z.literal(1),
  command: z.string(),
  /** The experiment changed, or "(blocklist)". */
  experiment: z.string(),
  /** The store's generation once the change commits. */
  generation: z.int(),
  /** Every DNS record the change may have put on the server (before and after). */
  records: z.array(DnsRecord),
  /** A batch of changes (the service): each experiment's records, for putting its names back. */
  batch: z.optional(z.array(z.object({ experiment: z.string(), records: z.array(DnsRecord) }))),
  started: z.string(),
});
export type Pending = z.infer<typeof Pending>;

const LABEL = "[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?";
const EXPERIMENT = new RegExp(`^${LABEL}/${LABEL}$`);

/** Whether `s` is PID/EID, each a DNS label (the names experiments are kept under). */
export const isExperimentName = (s: string): boolean => EXPERIMENT.test(s);

/** A state file that cannot be read as what it should be: the message says which file and why. */
export class StateError extends Error {}

/**
 * A state file's status, or null when there is none. A link or anything but a regular file is refused: it could
 * point anywhere, and an error quoting the file would show what is there; fwc makes its files itself.
 */
export function stateFile(path: string): Stats | null {
  let st: Stats;
  try {
    st = lstatSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw e;
  }
  if (!st.isFile())
    throw new StateError(
      `${path}: not a regular file (${st.isSymbolicLink() ? "a symbolic link" : "a directory or device"}); fwc makes its state files itself: remove it`,
    );
  return st;
}
