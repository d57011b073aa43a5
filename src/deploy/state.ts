/**
 * The state store: a directory, written crash-safely (docs/deploy.md).
 *
 *   DIR/index.json                  ports and dedicated addresses in use, the quarantine queue, the deployed
 *                                   table skeleton's digest, the zone serial
 *   DIR/experiments/PID/EID.json    one experiment: static policy, dynamic grants, node addresses, its
 *                                   allocations, and what was applied (elements, DNS records)
 *   DIR/intent.json                 present only while a command changes the gateway: the experiment's state
 *                                   and the index before and after. A command that did not finish is rolled
 *                                   back from it by the next one (or `fwc reconcile`).
 *   DIR/blocks.json                 the operator's blocklist: networks, protocols and ports, reason, who, when
 *   DIR/claims.json                 node addresses, bridge ports and MACs, and the experiment holding each
 *   DIR/lock                        the pid of the fwc that holds the directory
 *
 * Every file is written to a temporary name, flushed to disk and renamed, so a reader sees the old or the new
 * content, never a part. A command reads the index and its experiment's file only, so its cost does not grow
 * with the number of experiments.
 */
import {
  closeSync,
  existsSync,
  fsyncSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { dirname, join } from "node:path";
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

const Claims = z.record(z.string(), z.string());
export type Blocks = z.infer<typeof Blocks>;

/** The index as the experiments' own records give it (ports and dedicated addresses in use; no quarantine). */
export function indexOf(states: ExperimentState[]): Index {
  const used = portBitmap(states.flatMap((s) => s.allocations.ports));
  const dedicated: Index["dedicated"] = {};
  for (const s of states) for (const d of s.allocations.dedicated) dedicated[d.address] = s.experiment;
  const ports = portRanges(used);
  return { ...emptyIndex(), ports, dedicated };
}

export const Intent = z.object({
  version: z.literal(1),
  command: z.string(),
  /** The experiment changed, or "(blocklist)" for block and unblock. */
  experiment: z.string(),
  previous: z.nullable(ExperimentState),
  next: z.nullable(ExperimentState),
  indexPrevious: Index,
  indexNext: Index,
  /** For block and unblock: the blocklist before and after. */
  blocks: z.optional(z.object({ previous: Blocks, next: Blocks })),
  started: z.string(),
});
export type Intent = z.infer<typeof Intent>;

const LABEL = "[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?";
const EXPERIMENT = new RegExp(`^${LABEL}/${LABEL}$`);

/** Whether `s` is PID/EID, each a DNS label (the names experiments are kept under). */
export const isExperimentName = (s: string): boolean => EXPERIMENT.test(s);

/** A state file that cannot be read as what it should be: the message says which file and why. */
export class StateError extends Error {}

/** Writes `path` crash-safely: a temporary file, flushed, renamed over the old one, the directory flushed. */
export function writeFileAtomic(path: string, content: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp${process.pid}`;
  let fd: number | null = null;
  try {
    fd = openSync(tmp, "w", 0o644);
    const buf = Buffer.from(content);
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    fsyncSync(fd);
    closeSync(fd);
    fd = null;
    renameSync(tmp, path);
  } catch (e) {
    if (fd !== null) closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  syncDir(dirname(path));
}

function syncDir(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** State files are fwc's own and small; anything bigger was not written by fwc. */
const MAX_STATE_BYTES = 256 * 1024 * 1024;

function readJson<T extends z.ZodMiniType>(path: string, schema: T): z.infer<T> | null {
  let st: ReturnType<typeof lstatSync>;
  try {
    st = lstatSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw e;
  }
  // A link could point anywhere (and an error quoting the file would show what is there): fwc's files are files.
  if (!st.isFile())
    throw new StateError(
      `${path}: not a regular file (${st.isSymbolicLink() ? "a symbolic link" : "a directory or device"}); fwc writes its state files itself: remove it`,
    );
  if (st.size > MAX_STATE_BYTES) throw new StateError(`${path}: ${st.size} bytes, not a state file fwc wrote`);
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    // The parser's message quotes the file's content: only where it failed is reported.
    const at = /position ([0-9]+)/.exec((e as Error).message)?.[1];
    throw new StateError(
      `${path}: not JSON${at !== undefined ? ` (at byte ${at})` : ""}; restore it from a backup or run fwc reconcile`,
    );
  }
  const r = schema.safeParse(data);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new StateError(`${path}: ${i.path.join(".") || "(top level)"}: ${i.message}`);
  }
  return r.data;
}

export class StateStore {
  constructor(readonly dir: string) {}

  /** The experiment's file; its name is two DNS labels, so it can never point outside the directory. */
  private expPath(exp: string): string {
    if (!isExperimentName(exp)) throw new StateError(`"${exp}" is not PID/EID made of two DNS labels`);
    const [pid, eid] = exp.toLowerCase().split("/");
    return join(this.dir, "experiments", pid!, `${eid}.json`);
  }

  get intentPath(): string {
    return join(this.dir, "intent.json");
  }

  /**
   * The index. A missing one is rebuilt from the experiments' own allocations, never taken as empty (that would
   * hand out ports and addresses that experiments still hold); the quarantine queue is what is lost then.
   */
  readIndex(): Index {
    return readJson(join(this.dir, "index.json"), Index) ?? indexOf(this.listExperiments());
  }

  readExperiment(exp: string): ExperimentState | null {
    return readJson(this.expPath(exp), ExperimentState);
  }

  /** Every experiment in the store (reads every file: for status, reconcile and full syncs). */
  listExperiments(): ExperimentState[] {
    const root = join(this.dir, "experiments");
    if (!existsSync(root)) return [];
    const out: ExperimentState[] = [];
    for (const pid of readdirSync(root).sort())
      for (const f of readdirSync(join(root, pid)).sort())
        if (f.endsWith(".json")) {
          const s = readJson(join(root, pid, f), ExperimentState);
          if (s !== null) out.push(s);
        }
    return out;
  }

  /**
   * Node addresses, bridge ports and MACs (`DIR/claims.json`) and the experiment holding each; null when the
   * file is absent (a state directory of an older fwc, or one to rebuild). Read only by commands that change an
   * experiment's claims, so that `open` and `close` do not pay for it.
   */
  readClaims(): Record<string, string> | null {
    return readJson(join(this.dir, "claims.json"), Claims);
  }

  putClaims(claims: Record<string, string>): void {
    writeFileAtomic(join(this.dir, "claims.json"), JSON.stringify(claims));
  }

  /** The operator's blocklist (`DIR/blocks.json`); empty when there is none. */
  readBlocks(): Blocks {
    return readJson(join(this.dir, "blocks.json"), Blocks) ?? { version: 1, entries: [] };
  }

  putBlocks(blocks: Blocks): void {
    writeFileAtomic(join(this.dir, "blocks.json"), JSON.stringify(blocks));
  }

  readIntent(): Intent | null {
    return readJson(this.intentPath, Intent);
  }

  /** The commit point of a change: from here until `finish`, the next command rolls the change back. */
  writeIntent(intent: Intent): void {
    writeFileAtomic(this.intentPath, JSON.stringify(intent));
  }

  /** Puts an experiment's state (null: removes it) and the index in place, then drops the intent. */
  finish(exp: string, state: ExperimentState | null, index: Index): void {
    this.put(exp, state, index);
    if (existsSync(this.intentPath)) {
      unlinkSync(this.intentPath);
      syncDir(this.dir);
    }
  }

  /** Writes an experiment's state and the index (without touching the intent). */
  put(exp: string, state: ExperimentState | null, index: Index): void {
    const p = this.expPath(exp);
    if (state === null) {
      if (existsSync(p)) {
        unlinkSync(p);
        syncDir(dirname(p));
      }
    } else writeFileAtomic(p, JSON.stringify(state));
    writeFileAtomic(join(this.dir, "index.json"), JSON.stringify(index));
  }

  putIndex(index: Index): void {
    writeFileAtomic(join(this.dir, "index.json"), JSON.stringify(index));
  }

  dropIntent(): void {
    if (existsSync(this.intentPath)) {
      unlinkSync(this.intentPath);
      syncDir(this.dir);
    }
  }
}
