/**
 * The store: where fwc keeps what each gateway should hold (docs/deploy.md, "The state"). One interface, so that
 * the commands do not know which store they run on: the embedded SQLite database (sqlite.ts, the default) today,
 * etcd for many gateways later.
 *
 * A change runs as one transaction: `begin` takes the store's write lock (waiting up to `--wait`), the command
 * reads, plans, writes its rows, changes the gateway and DNS, and `commit` makes it the truth. Until then no one
 * else sees any of it; a crash before `commit` leaves the store as it was, and the pending record
 * (`writePending`) tells the next command to put the gateway and DNS back to what the store says.
 */
import type { ReleasedPorts } from "../plan/allocations.js";
import type { Blocks, ExperimentState, Index, Pending } from "./schema.js";

/** What every command may read, in or out of a transaction. */
export interface StoreReader {
  /** Where the store is, for messages (a path or a URL). */
  readonly location: string;
  /** Ports and dedicated addresses in use, the quarantine queue, the skeleton digest, the zone serial. */
  readIndex(): Index;
  readExperiment(exp: string): ExperimentState | null;
  /** Every experiment (status, reconcile, whole-table writes). */
  listExperiments(): ExperimentState[];
  /** The experiments with a grant that has an end (fwc open --for): the service's expiry scan. */
  listExpiring(): ExperimentState[];
  /** The names of the experiments swapped in (lower case), without reading their records. */
  listNames(): string[];
  readBlocks(): Blocks;
  close(): void;
}

export interface Store extends StoreReader {
  /** Takes the write lock, waiting up to `waitMs` (LockError when another command keeps it longer). */
  begin(waitMs: number): void;
  /** Makes the transaction's writes the truth and releases the lock. */
  commit(): void;
  /** Drops the transaction's writes (nothing when none is open). */
  rollback(): void;
  readonly inTransaction: boolean;
  /**
   * A mark inside the transaction (the service's batches): `undoToMark` drops what was written since, so that one
   * request of a batch that cannot be written leaves the others' writes in place; `keepMark` keeps them.
   */
  mark(): void;
  keepMark(): void;
  undoToMark(): void;
  /** The digest of the tables' skeleton deployed on the gateway (null before the first write): the index's `base`. */
  readBase(): string | null;
  /** The number of changes committed so far. */
  generation(): number;
  /** Which experiment holds each of these claims (node addresses, bridge ports, MACs); absent ones are free. */
  claimHolders(claims: string[]): Map<string, string>;
  /**
   * Puts an experiment's record (null: removes it) and, in the same transaction, its ports, dedicated addresses
   * and claims. A port or address another experiment holds is refused (StateError), never shared.
   */
  putExperiment(exp: string, state: ExperimentState | null): void;
  putIndexMeta(meta: { base?: string | null; released?: ReleasedPorts[] }): void;
  putBlocks(blocks: Blocks): void;
  /** Rebuilds ports, addresses and claims from the experiments' records (reconcile); returns what it found. */
  rebuildIndex(): { experiments: number; unreadable: number; problems: string[] };
  readPending(): Pending | null;
  /** Written durably before the gateway changes; committed on its own, outside the transaction. */
  writePending(p: Pending): void;
  /** Drops the pending record of that generation only (never another command's). */
  dropPending(generation: number): void;
  /** Replaces a pending record that cannot be read with none (reconcile, which then syncs everything). */
  resetPending(): void;
  /** A full check of the store (damage found, not taken for data); StateError when it fails. */
  check(): void;
  /** Whether the store's files were deleted or replaced under this command (its lock is then worthless). */
  filesReplaced(): boolean;
  /** What opening the store dealt with (a migration's notes), for the command to report. */
  readonly notes: string[];
  /** A store in memory (a dry run, or no store in DIR): nothing it holds is written anywhere. */
  readonly scratch: boolean;
}

/** Another command holds the store's write lock for longer than `--wait`. */
export class LockError extends Error {}
