/**
 * The embedded store (docs/deploy.md, "The state"): an SQLite database in the state directory, through
 * better-sqlite3.
 *
 *   DIR/fwc.db       the truth: experiments, the ports, dedicated addresses and claims each holds, the
 *                    blocklist, the quarantine queue and the deployed skeleton's digest. WAL mode: readers never
 *                    wait for a writer; a writer takes the database's write lock with BEGIN IMMEDIATE, which the
 *                    kernel releases when its process dies (no lock file, no pid to go stale or be reused).
 *   DIR/pending.db   the change under way (its DNS records and the generation it commits), so that the next
 *                    command can put the gateway and DNS back to what fwc.db says after a crash.
 *
 * Ports, dedicated addresses and claims are rows keyed by the port, the address or the claim: the database
 * itself refuses to give one to two experiments.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import * as z from "zod/mini";
import { portBitmap, type ReleasedPorts, ReleasedPorts as ReleasedSchema, withoutPorts } from "../plan/allocations.js";
import "../schema.js";
import { hasLegacyState, LEGACY_FILES, LegacyState } from "./legacy.js";
import {
  BlockEntry,
  type Blocks,
  ExperimentState,
  emptyIndex,
  type Index,
  isExperimentName,
  Pending,
  StateError,
  stateFile,
} from "./schema.js";
import { LockError, type Store, type StoreReader } from "./store.js";

export const DB_FILE = "fwc.db";
export const PENDING_FILE = "pending.db";
const SCHEMA = "1";

const SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS experiments (name TEXT PRIMARY KEY, state TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS ports (port INTEGER PRIMARY KEY, experiment TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS ports_by ON ports (experiment);
CREATE TABLE IF NOT EXISTS dedicated (address TEXT PRIMARY KEY, experiment TEXT NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS dedicated_by ON dedicated (experiment);
CREATE TABLE IF NOT EXISTS claims (claim TEXT PRIMARY KEY, experiment TEXT NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS claims_by ON claims (experiment);
CREATE TABLE IF NOT EXISTS blocks (seq INTEGER PRIMARY KEY, entry TEXT NOT NULL);
`;

type SqliteError = Error & { code?: string };

const isSqlite = (e: unknown): e is SqliteError =>
  e instanceof Error && typeof (e as SqliteError).code === "string" && (e as SqliteError).code!.startsWith("SQLITE_");

/** What an SQLite error code means for the person running fwc. */
function explain(path: string, e: SqliteError): string {
  const code = e.code!;
  const what =
    code === "SQLITE_NOTADB"
      ? "not an SQLite database (damaged or replaced)"
      : code.startsWith("SQLITE_CORRUPT")
        ? "the database is damaged"
        : code === "SQLITE_FULL"
          ? "the disk is full"
          : code.startsWith("SQLITE_READONLY") || code === "SQLITE_PERM" || code.startsWith("SQLITE_CANTOPEN")
            ? "cannot be opened for writing (permissions, or a read-only file system)"
            : code.startsWith("SQLITE_IOERR")
              ? "an I/O error while using it (a full disk, or a failing one)"
              : e.message;
  const help =
    code === "SQLITE_FULL" || code.startsWith("SQLITE_IOERR")
      ? "free space in the state directory and check the disk"
      : code.startsWith("SQLITE_READONLY") || code === "SQLITE_PERM" || code.startsWith("SQLITE_CANTOPEN")
        ? "run fwc as the owner of the state directory, on a writable file system"
        : "restore it from a backup";
  return `${path}: ${what} (${code}); ${help}`;
}

/** Runs `f`, turning SQLite's errors into state errors that name the database and say what to do. */
function guard<T>(path: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (isSqlite(e)) {
      if (e.code === "SQLITE_BUSY" || e.code === "SQLITE_LOCKED")
        throw new LockError(`another fwc is using ${path}; try again when it is done, or raise --wait`);
      throw new StateError(explain(path, e));
    }
    throw e;
  }
}

/** A record read back from the database, checked against its schema. */
function parseRow<T extends z.ZodMiniType>(path: string, what: string, text: string, schema: T): z.infer<T> {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new StateError(`${path}: ${what} is not JSON (the database was changed by hand?); restore it from a backup`);
  }
  const r = schema.safeParse(data);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new StateError(`${path}: ${what}: ${i.path.join(".") || "(top level)"}: ${i.message}`);
  }
  return r.data;
}

const Released = z.array(ReleasedSchema);
const Zone = z.nullable(z.object({ name: z.string(), serial: z.int(), digest: z.string() }));
const Base = z.nullable(z.string());

/** Whether a state file is there (a link or a directory is refused). */
const mustBeFile = (path: string): boolean => stateFile(path) !== null;

/** Where `p` is, or would go, in a sorted list. */
function lowerBound(list: number[], p: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (list[mid]! < p) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** A sorted list of distinct numbers less `gone`, plus `added` (a handful of ports each: binary searches). */
function patchSorted(list: number[], gone: number[], added: number[]): number[] {
  for (const p of gone) {
    const i = lowerBound(list, p);
    if (list[i] === p) list.splice(i, 1);
  }
  for (const p of added) {
    const i = lowerBound(list, p);
    if (list[i] !== p) list.splice(i, 0, p);
  }
  return list;
}

const expandPorts = (ports: { port: number; portEnd: number }[]): number[] => {
  const out: number[] = [];
  for (const p of ports) for (let x = p.port; x <= p.portEnd; x++) out.push(x);
  return out;
};

/** What an experiment claims: its nodes' addresses, bridge ports and MACs (computed by the caller). */
export type ClaimsOf = (s: ExperimentState) => string[];

export class SqliteStore implements Store {
  readonly location: string;
  private readonly db: Database.Database;
  private pendingDb: Database.Database | null = null;
  private dirty = false;

  private constructor(
    readonly dir: string,
    db: Database.Database,
    private readonly claimsOf: ClaimsOf,
  ) {
    this.location = join(dir, DB_FILE);
    this.db = db;
  }

  /** What opening the store found and dealt with (the migration's notes), for the command to report. */
  readonly notes: string[] = [];

  /**
   * Opens the store of DIR, creating it (and migrating a state directory of the old layout) when `create` is
   * set; null when there is none and `create` is not set. `readonly` opens an existing store for reading only
   * (it works on a read-only file system, or for a user who may not write the directory).
   */
  static open(
    dir: string,
    claimsOf: ClaimsOf,
    options: { create: boolean; waitMs: number; beforeCreate?: () => void; readonly?: boolean },
  ): SqliteStore | null {
    const path = join(dir, DB_FILE);
    const exists = mustBeFile(path);
    const hadPending = mustBeFile(join(dir, PENDING_FILE));
    // SQLite's own files beside them: a link there would make SQLite write where it points.
    for (const f of [`${DB_FILE}-wal`, `${DB_FILE}-shm`, `${PENDING_FILE}-wal`, `${PENDING_FILE}-shm`])
      mustBeFile(join(dir, f));
    if (!exists) {
      // pending.db is made with the database: alone, it says the database was deleted or moved.
      if (hadPending && !hasLegacyState(dir))
        throw new StateError(
          `${path} is missing, but ${join(dir, PENDING_FILE)} shows it existed: without it fwc does not know which ports and addresses experiments hold; restore it from a backup`,
        );
      if (!options.create) return null;
    }
    if (options.readonly === true) {
      let files = dir;
      let db: Database.Database;
      try {
        db = new Database(path, { readonly: true, fileMustExist: true, timeout: options.waitMs });
        db.pragma("schema_version"); // a WAL database is opened for real at its first read
      } catch (e) {
        if (!isSqlite(e) || !/^SQLITE_(CANTOPEN|READONLY)/.test(e.code!))
          throw new StateError(explain(path, e as SqliteError));
        // A reader that may not write the directory (a read-only mount, another user) cannot make SQLite's
        // -shm file: it reads a copy of the files instead.
        files = mkdtempSync(join(tmpdir(), "fwc-read-"));
        for (const f of [DB_FILE, `${DB_FILE}-wal`, PENDING_FILE, `${PENDING_FILE}-wal`])
          if (existsSync(join(dir, f))) copyFileSync(join(dir, f), join(files, f));
        db = guard(path, () => new Database(join(files, DB_FILE), { fileMustExist: true }));
      }
      const store = new SqliteStore(dir, db, claimsOf);
      store.readonly = true;
      store.files = files;
      try {
        if (store.schemaOf(hadPending) === null) {
          store.close();
          return null;
        }
      } catch (e) {
        store.close();
        throw e;
      }
      return store;
    }
    mkdirSync(dir, { recursive: true });
    const db = guard(path, () => new Database(path, { timeout: options.waitMs }));
    const store = new SqliteStore(dir, db, claimsOf);
    try {
      // A command that makes no store leaves a database without tables untouched.
      const empty = exists && store.schemaOf(hadPending) === null;
      if (empty && !options.create) {
        store.close();
        return null;
      }
      guard(path, () => {
        db.pragma("synchronous = FULL");
        // Damage inside a page is found when the page is read, not taken for data.
        db.pragma("cell_size_check = ON");
        // A database made by someone else, or damaged past its header, is found here rather than mid-change.
        if (db.pragma("journal_mode", { simple: true }) !== "wal") db.pragma("journal_mode = WAL");
      });
      if (!exists || empty) {
        options.beforeCreate?.();
        store.create(options.waitMs);
      }
    } catch (e) {
      store.close();
      throw e;
    }
    return store;
  }

  /**
   * A store in memory, for a dry run where none exists yet: empty, or what the old layout in DIR holds.
   * Nothing is written to DIR.
   */
  static scratch(dir: string, claimsOf: ClaimsOf): SqliteStore {
    const store = new SqliteStore(dir, new Database(":memory:"), claimsOf);
    store.inMemory = true;
    store.begin(0);
    try {
      guard(store.location, () => {
        store.db.exec(SCHEMA_SQL);
        store.setMeta("schema", SCHEMA);
        store.setMeta("generation", "0");
        if (hasLegacyState(dir)) store.migrate();
      });
      store.commit();
    } catch (e) {
      store.close();
      throw e;
    }
    return store;
  }

  private inMemory = false;

  /** A store in memory (a dry run, or no store in DIR): nothing it holds is written anywhere. */
  get scratch(): boolean {
    return this.inMemory;
  }
  private readonly = false;
  /** Where the files are: DIR, or the copy a reader made of them. */
  private files: string | null = null;

  /**
   * The schema of the database, or null when it has no tables: new, or being migrated (the old files are still
   * there). Refused: no tables beside a pending.db and nothing to migrate (it was emptied), or another schema.
   */
  private schemaOf(hadPending: boolean): string | null {
    const v = this.schemaVersion();
    if (v === null && hadPending && !hasLegacyState(this.dir))
      throw new StateError(
        `${this.location} has no tables, but ${join(this.dir, PENDING_FILE)} shows it had: it was emptied or truncated; restore it from a backup`,
      );
    if (v !== null && v !== SCHEMA)
      throw new StateError(
        `${this.location}: schema ${v} is not one this fwc knows (${SCHEMA}); use the fwc that wrote it`,
      );
    return v;
  }

  private schemaVersion(): string | null {
    return guard(this.location, () => {
      const t = this.st("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'meta'").get();
      if (t === undefined) return null;
      const r = this.st("SELECT value FROM meta WHERE key = 'schema'").get() as { value: string } | undefined;
      return r?.value ?? null;
    });
  }

  /** Makes the tables (under the write lock: of two first commands, one creates, the other finds them). */
  private create(waitMs: number): void {
    this.begin(waitMs);
    try {
      guard(this.location, () => {
        this.db.exec(SCHEMA_SQL);
        if (this.meta("schema") === null) {
          this.setMeta("schema", SCHEMA);
          this.setMeta("generation", "0");
          if (hasLegacyState(this.dir)) {
            const pending = this.migrate();
            // Written under the lock, before the commit: a crash in between leaves the old files in place and
            // the migration is done again.
            if (pending !== null) this.writePending(pending);
          }
        }
      });
      this.commit();
    } catch (e) {
      this.rollback();
      throw e;
    }
    // Made once the tables exist (from now on, a database without its tables was emptied, not new); never
    // emptied here, since another command may have written its record meanwhile.
    this.pending(true);
    this.moveLegacyAside();
  }

  /**
   * Reads a state directory of the old layout into the (empty) tables: see docs/deploy.md, "Upgrading". An
   * experiment's file that cannot be read, or two experiments holding one port or address, stop it (nothing is
   * changed); a damaged index or intent is noted and what it held is rebuilt or put back.
   */
  private migrate(): Pending | null {
    const legacy = new LegacyState(this.dir);
    let intent: ReturnType<LegacyState["readIntent"]> = null;
    let intentLost = false;
    try {
      intent = legacy.readIntent();
    } catch (e) {
      if (!(e instanceof StateError)) throw e;
      intentLost = true;
      this.notes.push(
        `${e.message}: the change an old fwc left unfinished is not known; this command makes the gateway's tables what the store says`,
      );
    }
    const states = legacy.listExperiments();
    let index: Index = emptyIndex();
    try {
      index = legacy.readIndex();
    } catch (e) {
      if (!(e instanceof StateError)) throw e;
      this.notes.push(
        `${e.message}: the ports in use are taken from the experiments' own records; the quarantine of recently released ports starts again empty`,
      );
    }
    let blocks = legacy.readBlocks();
    // An unfinished change is taken back: the experiment (or blocklist) before it, and the gateway and DNS are
    // put back to that by the first command (the pending record below).
    const byName = new Map(states.map((s) => [s.experiment.toLowerCase(), s]));
    if (intent !== null) {
      if (intent.blocks !== undefined) blocks = intent.blocks.previous;
      else if (intent.previous === null) byName.delete(intent.experiment.toLowerCase());
      else byName.set(intent.experiment.toLowerCase(), intent.previous);
    }
    for (const s of byName.values())
      try {
        this.putExperiment(s.experiment, s);
      } catch (e) {
        if (!(e instanceof StateError)) throw e;
        const [pid, eid] = s.experiment.toLowerCase().split("/");
        throw new StateError(
          `cannot move ${join(this.dir, "experiments", pid!, `${eid}.json`)} into the store: ${e.message}. The old fwc let two experiments take it; move one of their files out of ${join(this.dir, "experiments")} (then fwc reconcile removes its rules, and it can be swapped in again)`,
        );
      }
    this.putBlocks(blocks);
    const used = portBitmap([...byName.values()].flatMap((s) => s.allocations.ports));
    this.putIndexMeta({ base: index.base, released: withoutPorts(index.released, used) });
    if (index.zone !== undefined) this.setMeta("zone", JSON.stringify(index.zone));
    // A generation the store never reaches: the first command puts the gateway and DNS back to the store.
    if (intent === null && !intentLost) return null;
    return {
      version: 1,
      command: intent?.command ?? "(unknown)",
      experiment: intent?.experiment ?? "(unknown)",
      generation: Number.MAX_SAFE_INTEGER,
      records: [...(intent?.previous?.applied.records ?? []), ...(intent?.next?.applied.records ?? [])],
      started: intent?.started ?? "(unknown)",
    };
  }

  private moveLegacyAside(): void {
    if (!hasLegacyState(this.dir)) return;
    const aside = join(this.dir, `pre-store-${new Date().toISOString().replace(/[:.]/g, "")}`);
    mkdirSync(aside, { recursive: true });
    for (const f of LEGACY_FILES)
      if (existsSync(join(this.dir, f)))
        try {
          renameSync(join(this.dir, f), join(aside, f));
        } catch {
          // left in place: it is never read again once the database exists
        }
  }

  private readonly statements = new Map<string, Database.Statement>();
  /** A statement compiled once per connection (SQLite compiles each text once, not on every call). */
  private st(sql: string): Database.Statement {
    let s = this.statements.get(sql);
    if (s === undefined) {
      s = this.db.prepare(sql);
      this.statements.set(sql, s);
    }
    return s;
  }

  /**
   * The gateway ports in use, sorted, while a transaction is open: read once, then kept up to date by this
   * store's own writes (putExperiment), so that a batch of changes does not read every port row once per change.
   */
  private usedPorts: number[] | null = null;

  private meta(key: string): string | null {
    const r = this.st("SELECT value FROM meta WHERE key = ?").get(key) as { value: string } | undefined;
    return r?.value ?? null;
  }

  private setMeta(key: string, value: string): void {
    this.st("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value").run(
      key,
      value,
    );
    this.dirty = true;
  }

  get inTransaction(): boolean {
    return this.db.inTransaction;
  }

  begin(waitMs: number): void {
    guard(this.location, () => this.db.pragma(`busy_timeout = ${Math.max(0, Math.floor(waitMs))}`));
    try {
      this.db.exec("BEGIN IMMEDIATE");
    } catch (e) {
      if (isSqlite(e) && (e.code === "SQLITE_BUSY" || e.code === "SQLITE_LOCKED"))
        throw new LockError(
          `another fwc holds the write lock of ${this.location}; waited ${Math.round(waitMs / 1000)} s. Try again when it is done, or raise --wait`,
        );
      throw new StateError(explain(this.location, e as SqliteError));
    }
    this.dirty = false;
    this.usedPorts = null;
    this.held = this.identities();
  }

  commit(): void {
    guard(this.location, () => {
      if (this.dirty) this.setMeta("generation", String(this.generation() + 1));
      this.db.exec("COMMIT");
    });
    this.dirty = false;
    // The committed change goes into the database file at once, so that a lost -wal file loses nothing.
    try {
      this.db.pragma("wal_checkpoint(PASSIVE)");
    } catch {
      // a reader holds an older snapshot: the next commit's checkpoint catches up
    }
  }

  rollback(): void {
    this.usedPorts = null;
    if (this.db.inTransaction)
      try {
        this.db.exec("ROLLBACK");
      } catch {
        // SQLite rolled back already (I/O error); the database is as it was
      }
    this.dirty = false;
  }

  mark(): void {
    guard(this.location, () => this.db.exec("SAVEPOINT fwc_item"));
  }

  keepMark(): void {
    guard(this.location, () => this.db.exec("RELEASE fwc_item"));
  }

  undoToMark(): void {
    this.usedPorts = null;
    guard(this.location, () => this.db.exec("ROLLBACK TO fwc_item; RELEASE fwc_item"));
  }

  close(): void {
    this.rollback();
    this.pendingDb?.close();
    this.pendingDb = null;
    if (this.db.open) this.db.close();
    if (this.files !== null && this.files !== this.dir) rmSync(this.files, { recursive: true, force: true });
  }

  generation(): number {
    return guard(this.location, () => Number(this.meta("generation") ?? "0"));
  }

  readBase(): string | null {
    return guard(this.location, () =>
      parseRow(this.location, "the skeleton digest", this.meta("base") ?? "null", Base),
    );
  }

  private portsInUse(): number[] {
    if (this.usedPorts !== null && this.db.inTransaction) return this.usedPorts;
    const ports = this.st("SELECT port FROM ports ORDER BY port").pluck().all() as number[];
    this.usedPorts = this.db.inTransaction ? ports : null;
    return ports;
  }

  readIndex(): Index {
    return guard(this.location, () => {
      const ports = this.portsInUse();
      const ranges: { port: number; portEnd: number }[] = [];
      for (const p of ports) {
        const last = ranges[ranges.length - 1];
        if (last !== undefined && last.portEnd + 1 === p) last.portEnd = p;
        else ranges.push({ port: p, portEnd: p });
      }
      const dedicated: Index["dedicated"] = {};
      for (const r of this.st("SELECT address, experiment FROM dedicated").all() as {
        address: string;
        experiment: string;
      }[])
        dedicated[r.address] = r.experiment;
      const meta = (key: string) => this.meta(key);
      const released = parseRow(this.location, "the quarantine queue", meta("released") ?? "[]", Released);
      const base = this.readBase();
      const zone = parseRow(this.location, "the zone serial", meta("zone") ?? "null", Zone);
      return { version: 1, base, ports: ranges, dedicated, released, ...(zone === null ? {} : { zone }) };
    });
  }

  readExperiment(exp: string): ExperimentState | null {
    if (!isExperimentName(exp)) throw new StateError(`"${exp}" is not PID/EID made of two DNS labels`);
    const name = exp.toLowerCase();
    const r = guard(
      this.location,
      () => this.st("SELECT state FROM experiments WHERE name = ?").get(name) as { state: string } | undefined,
    );
    return r === undefined ? null : parseRow(this.location, `experiment ${name}`, r.state, ExperimentState);
  }

  listExpiring(): ExperimentState[] {
    // Only records that mention an end are read (a scan in SQLite, not 10,000 records parsed).
    const rows = guard(
      this.location,
      () =>
        this.st("SELECT name, state FROM experiments WHERE instr(state, '\"expires\"') > 0 ORDER BY name").all() as {
          name: string;
          state: string;
        }[],
    );
    return rows.map((r) => parseRow(this.location, `experiment ${r.name}`, r.state, ExperimentState));
  }

  listNames(): string[] {
    return guard(this.location, () => this.st("SELECT name FROM experiments ORDER BY name").pluck().all() as string[]);
  }

  listExperiments(): ExperimentState[] {
    const rows = guard(
      this.location,
      () => this.st("SELECT name, state FROM experiments ORDER BY name").all() as { name: string; state: string }[],
    );
    return rows.map((r) => parseRow(this.location, `experiment ${r.name}`, r.state, ExperimentState));
  }

  readBlocks(): Blocks {
    const rows = guard(
      this.location,
      () => this.st("SELECT seq, entry FROM blocks ORDER BY seq").all() as { seq: number; entry: string }[],
    );
    return {
      version: 1,
      entries: rows.map((r) => parseRow(this.location, `blocklist entry ${r.seq}`, r.entry, BlockEntry)),
    };
  }

  claimHolders(claims: string[]): Map<string, string> {
    return guard(this.location, () => {
      const q = this.st("SELECT experiment FROM claims WHERE claim = ?").pluck();
      const out = new Map<string, string>();
      for (const c of claims) {
        const holder = q.get(c) as string | undefined;
        if (holder !== undefined) out.set(c, holder);
      }
      return out;
    });
  }

  putExperiment(exp: string, state: ExperimentState | null): void {
    if (!isExperimentName(exp)) throw new StateError(`"${exp}" is not PID/EID made of two DNS labels`);
    const name = exp.toLowerCase();
    guard(this.location, () => {
      this.dirty = true;
      const old =
        this.usedPorts === null
          ? []
          : (this.st("SELECT port FROM ports WHERE experiment = ?").pluck().all(name) as number[]);
      for (const t of [
        "experiments WHERE name",
        "ports WHERE experiment",
        "dedicated WHERE experiment",
        "claims WHERE experiment",
      ])
        this.st(`DELETE FROM ${t} = ?`).run(name);
      const now = state === null ? [] : expandPorts(state.allocations.ports);
      if (state !== null) {
        this.st("INSERT INTO experiments (name, state) VALUES (?, ?)").run(name, JSON.stringify(state));
        this.insertRows(name, state);
      }
      if (this.usedPorts !== null) this.usedPorts = patchSorted(this.usedPorts, old, now);
    });
  }

  /** The experiment's ports, addresses and claims; one held by another experiment is refused by its key. */
  private insertRows(name: string, state: ExperimentState): void {
    const holder = (table: string, col: string, v: string | number) =>
      this.st(`SELECT experiment FROM ${table} WHERE ${col} = ?`).pluck().get(v) as string | undefined;
    const insert = (table: string, col: string, values: (string | number)[], what: string) => {
      const st = this.st(`INSERT INTO ${table} (${col}, experiment) VALUES (?, ?)`);
      for (const v of values)
        try {
          st.run(v, name);
        } catch (e) {
          if (isSqlite(e) && e.code!.startsWith("SQLITE_CONSTRAINT")) {
            const h = holder(table, col, v);
            if (h === name) continue; // the experiment names it twice: held once
            throw new StateError(`experiment ${name}: ${what} ${v} is held by experiment ${h} already`);
          }
          throw e;
        }
    };
    insert("ports", "port", expandPorts(state.allocations.ports), "gateway port");
    insert(
      "dedicated",
      "address",
      state.allocations.dedicated.map((d) => d.address),
      "dedicated address",
    );
    insert("claims", "claim", this.claimsOf(state), "node");
  }

  putIndexMeta(meta: { base?: string | null; released?: ReleasedPorts[] }): void {
    guard(this.location, () => {
      if (meta.base !== undefined) this.setMeta("base", JSON.stringify(meta.base));
      if (meta.released !== undefined) this.setMeta("released", JSON.stringify(meta.released));
    });
  }

  putBlocks(blocks: Blocks): void {
    guard(this.location, () => {
      this.dirty = true;
      this.st("DELETE FROM blocks").run();
      const st = this.st("INSERT INTO blocks (seq, entry) VALUES (?, ?)");
      for (const [i, e] of blocks.entries.entries()) st.run(i, JSON.stringify(e));
    });
  }

  rebuildIndex(): { experiments: number; unreadable: number; problems: string[] } {
    return guard(this.location, () => {
      const problems: string[] = [];
      const rows = this.st("SELECT name, state FROM experiments ORDER BY name").all() as {
        name: string;
        state: string;
      }[];
      this.dirty = true;
      // Rows of experiments that are gone go; an experiment whose record cannot be read keeps its rows (what it
      // holds stays held), the others' rows are made again from their records.
      for (const t of ["ports", "dedicated", "claims"])
        this.st(`DELETE FROM ${t} WHERE experiment NOT IN (SELECT name FROM experiments)`).run();
      const readable: [string, ExperimentState][] = [];
      for (const r of rows)
        try {
          readable.push([r.name, parseRow(this.location, `experiment ${r.name}`, r.state, ExperimentState)]);
        } catch (e) {
          if (!(e instanceof StateError)) throw e;
          problems.push(`${e.message}: what it holds stays held`);
        }
      for (const [name] of readable)
        for (const t of ["ports", "dedicated", "claims"]) this.st(`DELETE FROM ${t} WHERE experiment = ?`).run(name);
      let n = 0;
      for (const [name, s] of readable)
        try {
          this.insertRows(name, s);
          n++;
        } catch (e) {
          if (!(e instanceof StateError)) throw e;
          problems.push(`experiment ${name}: ${e.message}`);
        }
      const used = portBitmap(
        (this.st("SELECT port FROM ports").pluck().all() as number[]).map((p) => ({ port: p, portEnd: p })),
      );
      let released: ReleasedPorts[] = [];
      try {
        released = parseRow(this.location, "the quarantine queue", this.meta("released") ?? "[]", Released);
      } catch (e) {
        problems.push(`${(e as Error).message}: the quarantine starts again empty`);
      }
      this.setMeta("released", JSON.stringify(withoutPorts(released, used)));
      return { experiments: n, problems, unreadable: rows.length - readable.length };
    });
  }

  // ---- the change under way (DIR/pending.db) ----

  private pending(create: boolean): Database.Database | null {
    if (this.pendingDb !== null) return this.pendingDb;
    const path = join(this.files ?? this.dir, PENDING_FILE);
    if (!create && !mustBeFile(path)) return null;
    const db = guard(path, () => {
      if (this.readonly) {
        // A reader writes nothing, not even SQLite's bookkeeping: no table yet means no record.
        const copy = this.files !== null && this.files !== this.dir;
        const d = new Database(path, { readonly: !copy, fileMustExist: true, timeout: 1000 });
        const has = d.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'pending'").get();
        if (has === undefined) d.exec("CREATE TEMP TABLE pending (id INTEGER PRIMARY KEY, change TEXT NOT NULL)");
        return d;
      }
      const d = new Database(path, { timeout: 1000 });
      // One fsync per write, no journal file made and removed each time.
      if (d.pragma("journal_mode", { simple: true }) !== "wal") d.pragma("journal_mode = WAL");
      d.pragma("synchronous = FULL");
      d.exec("CREATE TABLE IF NOT EXISTS pending (id INTEGER PRIMARY KEY CHECK (id = 1), change TEXT NOT NULL)");
      return d;
    });
    this.pendingDb = db;
    return db;
  }

  readPending(): Pending | null {
    if (this.inMemory) return null;
    const path = join(this.dir, PENDING_FILE);
    const db = this.pending(false);
    if (db === null) return null;
    const r = guard(
      path,
      () => db.prepare("SELECT change FROM pending WHERE id = 1").get() as { change: string } | undefined,
    );
    return r === undefined ? null : parseRow(path, "the pending change", r.change, Pending);
  }

  writePending(p: Pending): void {
    if (this.inMemory) return;
    const db = this.pending(true)!;
    guard(join(this.dir, PENDING_FILE), () =>
      db.prepare("INSERT OR REPLACE INTO pending (id, change) VALUES (1, ?)").run(JSON.stringify(p)),
    );
  }

  /** Drops the pending record of generation `generation` (only that one: never another command's). */
  dropPending(generation: number): void {
    if (this.inMemory) return;
    const db = this.pending(true)!;
    guard(join(this.dir, PENDING_FILE), () =>
      db.prepare("DELETE FROM pending WHERE json_extract(change, '$.generation') = ?").run(generation),
    );
  }

  /** Replaces a damaged pending.db with an empty one (reconcile). */
  resetPending(): void {
    this.pendingDb?.close();
    this.pendingDb = null;
    for (const f of [PENDING_FILE, `${PENDING_FILE}-wal`, `${PENDING_FILE}-shm`, `${PENDING_FILE}-journal`])
      rmSync(join(this.dir, f), { force: true });
    this.pending(true);
  }

  /**
   * SQLite's check of every page of the database (about 10 ms for 10,000 experiments): run where damage would
   * pass for an answer (an experiment not found at swapin, FWC800, status and reconcile), not on every command.
   */
  check(): void {
    if (this.inMemory) return;
    const r = guard(this.location, () => this.db.pragma("quick_check", { simple: true }));
    if (r !== "ok")
      throw new StateError(
        `${this.location}: the database is damaged (SQLite's check: ${String(r)}); restore it from a backup`,
      );
  }

  /** The store's files as they were when this command took the lock (device and inode of each). */
  private held = new Map<string, string>();

  private identities(): Map<string, string> {
    const out = new Map<string, string>();
    for (const f of [DB_FILE, `${DB_FILE}-wal`, `${DB_FILE}-shm`]) {
      try {
        const st = statSync(join(this.dir, f));
        out.set(f, `${st.dev}:${st.ino}`);
      } catch {
        // not there (yet)
      }
    }
    return out;
  }

  /**
   * Whether the store's files were deleted, replaced or moved (the directory too) since this command took the
   * lock: its lock would then be on files no other command sees. Each file must still be the one it was, by
   * device and inode.
   */
  filesReplaced(): boolean {
    if (this.inMemory || this.readonly) return false;
    const now = this.identities();
    for (const [f, id] of this.held) if (now.get(f) !== id) return true;
    return false;
  }
}

/** A state directory of the old layout, read as a store (fwc compile --state before any change command). */
class LegacyReader implements StoreReader {
  readonly location: string;
  private readonly legacy: LegacyState;
  constructor(dir: string) {
    this.location = dir;
    this.legacy = new LegacyState(dir);
  }
  readIndex = () => this.legacy.readIndex();
  readExperiment = (exp: string) => this.legacy.readExperiment(exp);
  listExperiments = () => this.legacy.listExperiments();
  listNames = () => this.legacy.listExperiments().map((s) => s.experiment.toLowerCase());
  listExpiring = () => this.legacy.listExperiments().filter((s) => JSON.stringify(s).includes('"expires"'));
  readBlocks = () => this.legacy.readBlocks();
  close(): void {}
}

/** No store yet: nothing is held, nothing is swapped in. */
class EmptyReader implements StoreReader {
  constructor(readonly location: string) {}
  readIndex = () => emptyIndex();
  readExperiment = (exp: string): ExperimentState | null => {
    if (!isExperimentName(exp)) throw new StateError(`"${exp}" is not PID/EID made of two DNS labels`);
    return null;
  };
  listExperiments = (): ExperimentState[] => [];
  listNames = (): string[] => [];
  listExpiring = (): ExperimentState[] => [];
  readBlocks = (): Blocks => ({ version: 1, entries: [] });
  close(): void {}
}

/**
 * The store of DIR for reading, whatever it holds: the database (read only unless `lock`, which may take the
 * write lock), a directory of the old layout, or nothing.
 */
export function openReader(dir: string, claimsOf: ClaimsOf, options: { lock?: boolean } = {}): StoreReader {
  const s = SqliteStore.open(dir, claimsOf, { create: false, waitMs: 5000, readonly: options.lock !== true });
  // (A pending.db without its database was refused by open.)
  if (s !== null) return s;
  return hasLegacyState(dir) ? new LegacyReader(dir) : new EmptyReader(join(dir, DB_FILE));
}
