/**
 * The embedded store without a gateway: transactions and the write lock (across processes, and gone with a
 * killed holder), the database refusing a port, address or node held by another experiment, readers that never
 * wait, the rebuild of reconcile, and the migration of a state directory of the old layout (test/kernel/faults
 * damages the store on a real gateway).
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { claimsOf } from "../../src/deploy/lifecycle.js";
import { DiagnosticBag } from "../../src/diagnostics/diagnostic.js";
import { SourceFile, span } from "../../src/diagnostics/source.js";
import { type ExperimentState, StateError } from "../../src/store/schema.js";
import { openReader, SqliteStore } from "../../src/store/sqlite.js";
import { LockError } from "../../src/store/store.js";

const fresh = () => mkdtempSync(join(tmpdir(), "fwc-store-"));
const open = (dir: string, waitMs = 0) => SqliteStore.open(dir, claimsOf, { create: true, waitMs })!;

function experiment(
  name: string,
  ports: [number, number][],
  address: string,
  dedicated: string[] = [],
): ExperimentState {
  return {
    version: 1,
    experiment: name,
    file: "x.ns",
    policy: {
      version: 1,
      file: "x.ns",
      nodes: ["a"],
      hasCalls: true,
      dedicated: [],
      outbound: [],
      inbound: [],
      open6: [],
      dns: [],
    },
    dynamic: { outbound: [], inbound: [], open6: [], dns: [] },
    nodes: { a: { ipv4: address } },
    allocations: {
      ports: ports.map(([port, portEnd], i) => ({ key: `k${i}`, port, portEnd })),
      dedicated: dedicated.map((address) => ({ node: "a", address })),
    },
    applied: { elements: {}, records: [] },
    updated: "2026-11-27T00:00:00Z",
  } as ExperimentState;
}

const children: ReturnType<typeof spawn>[] = [];
afterAll(() => {
  for (const c of children) c.kill("SIGKILL");
});

describe("the embedded store", () => {
  it("one transaction per change: nothing is seen before commit, a rollback leaves nothing", () => {
    const dir = fresh();
    const s = open(dir);
    s.begin(0);
    s.putExperiment("p/a", experiment("p/a", [[20000, 20001]], "10.0.0.2"));
    const reader = openReader(dir, claimsOf);
    expect(reader.readExperiment("p/a")).toBeNull();
    s.rollback();
    expect(s.readExperiment("p/a")).toBeNull();
    s.begin(0);
    const g = s.generation();
    s.putExperiment("p/a", experiment("p/a", [[20000, 20001]], "10.0.0.2"));
    s.commit();
    expect(s.generation()).toBe(g + 1);
    expect(reader.readExperiment("p/a")?.allocations.ports).toHaveLength(1);
    expect(reader.readIndex().ports).toEqual([{ port: 20000, portEnd: 20001 }]);
    reader.close();
    s.close();
  });

  it("the ports in use seen inside a transaction follow its writes, savepoints and rollbacks (property)", () => {
    const dir = fresh();
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            exp: fc.integer({ min: 0, max: 5 }),
            ports: fc.array(fc.tuple(fc.integer({ min: 1000, max: 1100 }), fc.integer({ min: 0, max: 3 })), {
              maxLength: 3,
            }),
            remove: fc.boolean(),
            undo: fc.boolean(),
          }),
          { maxLength: 12 },
        ),
        (steps) => {
          const s = open(dir);
          try {
            s.begin(0);
            for (const st of steps) {
              const name = `p/e${st.exp}`;
              s.readIndex(); // the cached view is made before the write
              s.mark();
              try {
                s.putExperiment(
                  name,
                  st.remove
                    ? null
                    : experiment(
                        name,
                        st.ports.map(([p, n]) => [p, p + n]),
                        `10.0.0.${st.exp + 1}`,
                      ),
                );
                if (st.undo) s.undoToMark();
                else s.keepMark();
              } catch (e) {
                if (!(e instanceof StateError)) throw e;
                s.undoToMark(); // a port of another experiment: refused, nothing written
              }
              const cached = s.readIndex().ports;
              // The truth inside the transaction: the rows themselves.
              const rows = (s as unknown as { db: Database.Database }).db
                .prepare("SELECT port FROM ports ORDER BY port")
                .pluck()
                .all() as number[];
              expect(
                cached.flatMap((r) => Array.from({ length: r.portEnd - r.port + 1 }, (_, i) => r.port + i)),
              ).toEqual(rows);
            }
          } finally {
            s.rollback();
            s.close();
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it("a port, a dedicated address or a node held by one experiment is refused to another, by the database", () => {
    const dir = fresh();
    const s = open(dir);
    s.begin(0);
    s.putExperiment("p/a", experiment("p/a", [[20000, 20009]], "10.0.0.2", ["198.51.100.130"]));
    expect(() => s.putExperiment("p/b", experiment("p/b", [[20009, 20010]], "10.0.0.3"))).toThrow(
      /gateway port 20009 is held by experiment p\/a already/,
    );
    expect(() => s.putExperiment("p/c", experiment("p/c", [], "10.0.0.4", ["198.51.100.130"]))).toThrow(
      /dedicated address 198\.51\.100\.130 is held by experiment p\/a/,
    );
    expect(() => s.putExperiment("p/d", experiment("p/d", [], "10.0.0.2"))).toThrow(
      /node 10\.0\.0\.2 is held by experiment p\/a/,
    );
    expect(s.claimHolders(["10.0.0.2", "10.9.9.9"])).toEqual(new Map([["10.0.0.2", "p/a"]]));
    // The experiment itself may change what it holds: its rows are replaced.
    s.putExperiment("p/a", experiment("p/a", [[20005, 20006]], "10.0.0.2"));
    s.putExperiment("p/b", experiment("p/b", [[20000, 20001]], "10.0.0.3"));
    s.commit();
    expect(s.readIndex().ports).toEqual([
      { port: 20000, portEnd: 20001 },
      { port: 20005, portEnd: 20006 },
    ]);
    s.close();
  });

  it("the write lock is the kernel's: another process waits for it, and has it the moment its holder is killed", async () => {
    const dir = fresh();
    open(dir).close();
    const mod = createRequire(import.meta.url).resolve("better-sqlite3");
    const holder = spawn(process.execPath, [
      "-e",
      `const D = require(${JSON.stringify(mod)}); const d = new D(${JSON.stringify(join(dir, "fwc.db"))}); d.exec("BEGIN IMMEDIATE"); process.stdout.write("held\\n"); setInterval(() => {}, 1000);`,
    ]);
    children.push(holder);
    await new Promise((r) => holder.stdout!.once("data", r));
    const s = open(dir, 1000);
    const t = Date.now();
    expect(() => s.begin(300)).toThrow(LockError);
    expect(Date.now() - t).toBeGreaterThanOrEqual(250);
    // Readers never wait for the writer.
    expect(s.readExperiment("p/a")).toBeNull();
    holder.kill("SIGKILL");
    await new Promise((r) => holder.once("exit", r));
    s.begin(0);
    s.commit();
    s.close();
    // Nothing in the directory names a process: there is no pid to go stale or be reused.
    expect(readdirSync(dir).sort()).toEqual(["fwc.db", "pending.db"]);
  });

  it("reconcile's rebuild: rows of gone experiments go, an unreadable record keeps what it holds", () => {
    const dir = fresh();
    const s = open(dir);
    s.begin(0);
    s.putExperiment("p/a", experiment("p/a", [[20000, 20000]], "10.0.0.2"));
    s.putExperiment("p/b", experiment("p/b", [[20001, 20001]], "10.0.0.3"));
    s.commit();
    s.close();
    const db = new Database(join(dir, "fwc.db"));
    db.prepare("INSERT INTO ports (port, experiment) VALUES (20099, 'p/gone')").run();
    db.prepare("DELETE FROM ports WHERE experiment = 'p/a'").run();
    db.prepare("UPDATE experiments SET state = 'garbage' WHERE name = 'p/b'").run();
    db.close();
    const t = open(dir);
    t.begin(0);
    const r = t.rebuildIndex();
    t.commit();
    expect(r.experiments).toBe(1);
    expect(r.unreadable).toBe(1);
    expect(r.problems.join("\n")).toMatch(/experiment p\/b is not JSON.*what it holds stays held/);
    expect(t.readIndex().ports).toEqual([{ port: 20000, portEnd: 20001 }]);
    expect(() => t.readExperiment("p/b")).toThrow(StateError);
    t.close();
  });

  it("migrates a state directory of the old layout on first use, taking back an unfinished change", () => {
    const dir = fresh();
    const a = experiment("p/a", [[20000, 20000]], "10.0.0.2");
    const b = experiment("p/b", [[20001, 20001]], "10.0.0.3");
    const bNext = experiment("p/b", [[20001, 20002]], "10.0.0.3");
    mkdirSync(join(dir, "experiments", "p"), { recursive: true });
    writeFileSync(join(dir, "experiments", "p", "a.json"), JSON.stringify(a));
    // p/b's unfinished open: its file already has the new state, the intent the old one.
    writeFileSync(join(dir, "experiments", "p", "b.json"), JSON.stringify(bNext));
    const index = {
      version: 1,
      base: "abc",
      ports: [{ port: 20000, portEnd: 20002 }],
      dedicated: {},
      released: [{ port: 20005, portEnd: 20005, at: "2026-11-27T00:00:00Z", by: "p/c" }],
      zone: { name: "testbed.example.net.", serial: 2026112700, digest: "d" },
    };
    writeFileSync(join(dir, "index.json"), JSON.stringify(index));
    writeFileSync(
      join(dir, "intent.json"),
      JSON.stringify({
        version: 1,
        command: "open",
        experiment: "p/b",
        previous: b,
        next: bNext,
        indexPrevious: index,
        indexNext: index,
        started: "2026-11-27T01:00:00Z",
      }),
    );
    writeFileSync(
      join(dir, "blocks.json"),
      JSON.stringify({ version: 1, entries: [{ cidr: "192.0.2.0/24", reason: "scan", by: "cli:ops", at: "x" }] }),
    );
    writeFileSync(join(dir, "lock"), "4242 2026-11-27T00:00:00Z\n");
    // Read only before any change command: compile --state reads the old layout as it is.
    expect(openReader(dir, claimsOf).readExperiment("p/b")?.allocations.ports).toHaveLength(1);
    const s = open(dir);
    expect(s.listExperiments().map((x) => x.experiment)).toEqual(["p/a", "p/b"]);
    expect(s.readExperiment("p/b")?.allocations.ports).toEqual(b.allocations.ports);
    const i = s.readIndex();
    expect(i.ports).toEqual([{ port: 20000, portEnd: 20001 }]);
    expect(i.released).toEqual(index.released);
    expect(i.base).toBe("abc");
    expect(i.zone?.serial).toBe(2026112700);
    expect(s.readBlocks().entries.map((e) => e.cidr)).toEqual(["192.0.2.0/24"]);
    // The first change command puts the gateway and DNS back to the store (a generation never reached).
    const p = s.readPending();
    expect(p?.experiment).toBe("p/b");
    expect(p!.generation).toBeGreaterThan(s.generation());
    s.close();
    // The old files are kept aside, never read again.
    for (const f of ["index.json", "experiments", "intent.json", "blocks.json", "lock"])
      expect(existsSync(join(dir, f))).toBe(false);
    const aside = readdirSync(dir).filter((f) => f.startsWith("pre-store-"));
    expect(aside).toHaveLength(1);
    expect(readdirSync(join(dir, aside[0]!)).sort()).toEqual([
      "blocks.json",
      "experiments",
      "index.json",
      "intent.json",
      "lock",
    ]);
  });

  it("a state directory that is not one: a link, a newer schema, garbage in the old layout", () => {
    const dir = fresh();
    open(dir).close();
    const db = new Database(join(dir, "fwc.db"));
    db.prepare("UPDATE meta SET value = '9' WHERE key = 'schema'").run();
    db.close();
    expect(() => open(dir)).toThrow(/schema 9 is not one this fwc knows \(1\)/);
    const old = fresh();
    writeFileSync(join(old, "index.json"), '{"version": 1, "ports": [garb');
    mkdirSync(join(old, "experiments", "p"), { recursive: true });
    writeFileSync(join(old, "experiments", "p", "a.json"), "{not json");
    expect(() => open(old)).toThrow(/experiments\/p\/a\.json: not JSON/);
    // Nothing was made of it: the old files stay, and no half-made database is left to be taken as the truth.
    expect(existsSync(join(old, "experiments", "p", "a.json"))).toBe(true);
  });

  it("a command drops only its own pending record, never the one another command wrote meanwhile", () => {
    const dir = fresh();
    const a = open(dir);
    const b = open(dir);
    const rec = (generation: number) => ({
      version: 1 as const,
      command: "open",
      experiment: "p/a",
      generation,
      records: [],
      started: "2026-11-27T00:00:00Z",
    });
    a.writePending(rec(7));
    // b's change (generation 6) finished late: dropping its record must leave a's.
    b.dropPending(6);
    expect(a.readPending()?.generation).toBe(7);
    b.dropPending(7);
    expect(a.readPending()).toBeNull();
    a.close();
    b.close();
  });

  it("migration: a garbled index or intent is noted and rebuilt; two experiments on one port stop it, named", () => {
    const dir = fresh();
    mkdirSync(join(dir, "experiments", "p"), { recursive: true });
    writeFileSync(
      join(dir, "experiments", "p", "a.json"),
      JSON.stringify(experiment("p/a", [[20000, 20000]], "10.0.0.2")),
    );
    writeFileSync(join(dir, "index.json"), '{"version": 1,');
    writeFileSync(join(dir, "intent.json"), "{garbage");
    const s = open(dir);
    expect(s.notes.join("\n")).toMatch(
      /index\.json: not JSON.*quarantine of recently released ports starts again empty/,
    );
    expect(s.notes.join("\n")).toMatch(/intent\.json: not JSON.*makes the gateway's tables what the store says/);
    expect(s.readIndex().ports).toEqual([{ port: 20000, portEnd: 20000 }]);
    // The first command puts the gateway back to the store.
    expect(s.readPending()?.generation).toBeGreaterThan(s.generation());
    s.close();

    const two = fresh();
    mkdirSync(join(two, "experiments", "p"), { recursive: true });
    writeFileSync(
      join(two, "experiments", "p", "a.json"),
      JSON.stringify(experiment("p/a", [[20000, 20000]], "10.0.0.2")),
    );
    writeFileSync(
      join(two, "experiments", "p", "b.json"),
      JSON.stringify(experiment("p/b", [[20000, 20001]], "10.0.0.3")),
    );
    expect(() => open(two)).toThrow(
      /cannot move .*experiments\/p\/b\.json into the store: experiment p\/b: gateway port 20000 is held by experiment p\/a already.*move one of their files out/,
    );
    expect(existsSync(join(two, "experiments", "p", "b.json"))).toBe(true);
  });

  it("names and keys from a damaged store are shown without their control characters", () => {
    const dir = fresh();
    open(dir).close();
    const db = new Database(join(dir, "fwc.db"));
    db.prepare("INSERT INTO experiments (name, state) VALUES (?, 'x')").run(`\x1b[31mp/e${"A".repeat(5000)}`);
    db.close();
    const bag = new DiagnosticBag();
    const s = open(dir);
    try {
      s.listExperiments();
    } catch (e) {
      bag.add("FWC802", span(new SourceFile("s", ""), 0, 0), (e as Error).message);
    }
    s.close();
    const m = bag.items[0]!.message;
    expect(m).toContain("\\x1b[31mp/e");
    expect(m).not.toContain("\x1b");
    expect(m.length).toBeLessThan(700);
  });
});

describe("commands that must not make or change a store", () => {
  const FWC = join(import.meta.dirname, "..", "..", "dist", "fwc.cjs");
  const tb = join(fresh(), "testbed.yaml");
  writeFileSync(
    tb,
    "domain: testbed.example.net\ngateway:\n  name: gw.testbed.example.net\n  ipv4: 198.51.100.1\n  outside: eth0\n  inside: [eth1]\nports: 20000-29999\n",
  );
  const fwc = (args: string[]) => spawnSync(FWC, [...args, "--testbed", tb], { encoding: "utf8" });

  it("a dry run on a state directory of the old layout leaves it as it is", () => {
    const dir = fresh();
    mkdirSync(join(dir, "experiments", "p"), { recursive: true });
    writeFileSync(
      join(dir, "experiments", "p", "a.json"),
      JSON.stringify(experiment("p/a", [[20000, 20000]], "10.0.0.2")),
    );
    const r = fwc(["open", "--exp", "p/a", "--nat", "192.0.2.1/53/udp", "--dry-run", "--state", dir]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain("add element inet fwc");
    expect(readdirSync(dir).sort()).toEqual(["experiments"]);
  });

  it.skipIf(process.getuid?.() !== 0)("readers work on a read-only mount of the state directory", () => {
    const dir = fresh();
    const st = open(dir);
    st.begin(0);
    st.putExperiment("p/a", experiment("p/a", [[20000, 20000]], "10.0.0.2"));
    st.putBlocks({ version: 1, entries: [{ cidr: "192.0.2.0/24", reason: "scan", by: "cli:ops", at: "x" }] });
    st.commit();
    st.close();
    const ro = fresh();
    expect(spawnSync("mount", ["--bind", dir, ro]).status).toBe(0);
    try {
      expect(spawnSync("mount", ["-o", "remount,ro,bind", ro]).status).toBe(0);
      const r = fwc(["blocks", "--json", "--state", ro]);
      expect(r.status, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout).blocks[0].cidr).toBe("192.0.2.0/24");
    } finally {
      spawnSync("umount", [ro]);
    }
  });

  it("a change of an experiment in a state directory that does not exist makes no directory", () => {
    const dir = join(fresh(), "typo");
    const r = fwc(["open", "--exp", "p/a", "--nat", "192.0.2.1/53/udp", "--state", dir]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("error[FWC800]: p/a is not swapped in");
    expect(existsSync(dir)).toBe(false);
  });
});
