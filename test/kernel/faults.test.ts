/**
 * Injected faults on a real gateway: an invalid ruleset, nft missing, fwc killed after writing its pending
 * record and after changing the kernel, a full disk for the state directory, a store held by another fwc (and
 * one whose holder died), and every file of the store deleted, truncated or garbled. After each, the gateway
 * passes exactly the traffic it passed before (real packets), and the store is consistent with the kernel
 * (`fwc status`), at once, after the next command put the gateway back, or after a backup was restored.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import {
  closeSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseListing } from "../../src/deploy/nft.js";
import { FWC, fwcOn, TESTBED_YAML } from "./deploy-helpers.js";
import { canRunKernelTests, Lab } from "./lab.js";

const E1 = `set ns [new Simulator]
source tb_compat.tcl
set web [$ns node]
set db [$ns node]
tb-allow-external $web shared rdr "web/80"
$ns run
`;

describe.skipIf(!canRunKernelTests())("faults leave the gateway as it was", () => {
  const lab = new Lab("faults");
  const dir = mkdtempSync(join(tmpdir(), "fwc-faults-"));
  const state = join(dir, "state");
  const fwc = fwcOn(lab, dir, state, ["--wait", "1"]);
  // What the gateway passes: the granted redirect, and the port the next grant would get (nothing there yet).
  const traffic = () => [
    lab.send("inet", "tcp", "198.51.100.1", 20000),
    lab.send("inet", "tcp", "198.51.100.1", 20001),
  ];
  const baseline = ["web:80 198.51.100.2", "REFUSED"];
  const inStep = () => {
    const r = fwc(["status"]);
    expect([r.code, r.err]).toEqual([0, ""]);
    expect(r.out).toContain("The gateway is in step with the state.");
    expect(fwc(["status", "--exp", "proj/e1", "--json"]).out).not.toContain('"node": "db"');
  };

  beforeAll(async () => {
    writeFileSync(join(dir, "testbed.yaml"), TESTBED_YAML);
    writeFileSync(join(dir, "e1.ns"), E1);
    writeFileSync(join(dir, "e1.json"), JSON.stringify({ web: { ipv4: "10.1.1.3" }, db: { ipv4: "10.1.1.4" } }));
    writeFileSync(
      join(dir, "e2.ns"),
      'set ns [new Simulator]\nsource tb_compat.tcl\nset x [$ns node]\ntb-allow-external $x shared rdr "x/22"\n$ns run\n',
    );
    writeFileSync(join(dir, "e2.json"), JSON.stringify({ x: { ipv4: "10.1.1.9" } }));
    // The state directory lives on a small file system of its own, to be filled up later.
    mkdirSync(state);
    lab.sh(["mount", "-t", "tmpfs", "-o", "size=2m", "fwc-test", state]);
    for (const ns of ["inet", "gw", "web", "db"]) lab.addNamespace(ns);
    lab.link("inet", "inet0", ["198.51.100.2/24"], "gw", "eth0", ["198.51.100.1/24"]);
    lab.insideLan(
      ["10.1.1.1/24"],
      [
        ["web", ["10.1.1.3/24"]],
        ["db", ["10.1.1.4/24"]],
      ],
      "10.1.1.1",
    );
    lab.exec("gw", ["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
    await lab.listen("web", "tcp", "10.1.1.3", 80, "web:80");
    await lab.listen("db", "tcp", "10.1.1.4", 5432, "db:5432");
    const r = fwc(["swapin", join(dir, "e1.ns"), "--exp", "proj/e1", "--nodes", join(dir, "e1.json")]);
    expect([r.code, r.err]).toEqual([0, ""]);
    expect(traffic()).toEqual(baseline);
  }, 60_000);

  afterAll(() => {
    lab.destroy();
    spawnSync("umount", [state]);
    rmSync(dir, { recursive: true, force: true });
  });

  const open = ["open", "--exp", "proj/e1", "--rdr", "db/5432"];

  it("an invalid ruleset: nft refuses the whole transaction, nothing changes", () => {
    const r = fwc(open, { FWC_FAILPOINT: "invalid-ruleset" });
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/error\[FWC803\]: nft refused the change \(nothing was applied\)/);
    expect(traffic()).toEqual(baseline);
    inStep();
  });

  it("nft missing: a clear error, nothing changes", () => {
    const path = join(dir, "bin");
    mkdirSync(path, { recursive: true });
    for (const [name, target] of [
      ["ip", lab.sh(["which", "ip"]).trim()],
      ["node", process.execPath],
    ] as const)
      symlinkSync(target, join(path, name));
    const r = fwc(open, { PATH: path });
    expect(r.code).toBe(1);
    expect(r.err).toContain("error[FWC803]: nft is not installed on the gateway");
    expect(traffic()).toEqual(baseline);
    inStep();
  });

  it("killed after writing its pending record: the kernel is untouched, the next command finds nothing to undo", () => {
    const r = fwc(open, { FWC_FAILPOINT: "after-pending" });
    expect(r.signal).toBe("SIGKILL");
    expect(traffic()).toEqual(baseline);
    const s = fwc(["status"]);
    expect(s.code).toBe(1);
    expect(s.err).toContain("an unfinished `open` of proj/e1");
    // The dead process's lock went with it; the change is undone.
    const rec = fwc(["reconcile"]);
    expect(rec.code).toBe(0);
    expect(rec.err).toContain("warning[FWC808]: the store does not have the last change, `open` of proj/e1");
    expect(traffic()).toEqual(baseline);
    inStep();
  });

  it("killed after changing the kernel: status finds it, the next command rolls it back", () => {
    const r = fwc(open, { FWC_FAILPOINT: "after-nft" });
    expect(r.signal).toBe("SIGKILL");
    // The kernel has the new grant, the state does not: that is drift, and status says so.
    expect(lab.send("inet", "tcp", "198.51.100.1", 20001)).toBe("db:5432 198.51.100.2");
    const s = fwc(["status"]);
    expect(s.code).toBe(1);
    expect(s.err).toContain("error[FWC810]");
    // The element is no experiment's in the state: it is a stray, whatever its comment says.
    expect(s.err).toMatch(/fwc's tables hold 1 element the state does not, e\.g\. rdr4 .* "proj\/e1 open/);
    // Any next command first rolls back; here an unrelated status-changing one.
    const o = fwc(["open", "--exp", "proj/e1", "--nat", "192.0.2.1/53/udp"]);
    expect(o.code).toBe(0);
    expect(o.err).toContain("the store does not have the last change, `open` of proj/e1");
    expect(traffic()).toEqual(baseline);
    expect(fwc(["close", "--exp", "proj/e1", "--all"]).code).toBe(0);
    inStep();
  });

  it("a full disk for the state directory: nothing changes, and the error says why", () => {
    // Fill the state's file system to the last byte.
    spawnSync("dd", ["if=/dev/zero", `of=${join(state, "filler")}`, "bs=4k"], { encoding: "utf8" });
    const r = fwc(open);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(
      /error\[FWC802\]: .*((fwc|pending)\.db: (the disk is full|an I\/O error)|cannot (write|use) the state( directory)?: ENOSPC)/,
    );
    expect(r.err).not.toContain("internal error");
    expect(traffic()).toEqual(baseline);
    rmSync(join(state, "filler"));
    inStep();
  });

  // ---- damage to the store: each file deleted, truncated or garbled ----

  const holders: ChildProcess[] = [];
  afterAll(() => {
    for (const h of holders) h.kill("SIGKILL");
  });
  /** Another process with the database open ("open"), or holding its write lock until it is killed ("lock"). */
  const holdDb = (mode: "open" | "lock") =>
    new Promise<ChildProcess>((resolve, reject) => {
      const mod = createRequire(import.meta.url).resolve("better-sqlite3");
      const c = spawn(process.execPath, [
        "-e",
        `const D = require(${JSON.stringify(mod)}); const d = new D(${JSON.stringify(db)}); ${mode === "lock" ? 'd.exec("BEGIN IMMEDIATE");' : 'd.prepare("SELECT 1").get();'} process.stdout.write("held\\n"); setInterval(() => {}, 1000);`,
      ]);
      holders.push(c);
      c.stdout!.once("data", () => resolve(c));
      c.once("exit", (code) => reject(new Error(`the holder exited with ${code}`)));
    });

  const db = join(state, "fwc.db");
  const files = ["fwc.db", "fwc.db-wal", "fwc.db-shm", "pending.db"];
  const backup = join(dir, "backup");
  /** A copy of the store taken while no command runs (the operator's backup). */
  const takeBackup = () => {
    mkdirSync(backup, { recursive: true });
    for (const f of files)
      if (existsSync(join(state, f))) copyFileSync(join(state, f), join(backup, f));
      else rmSync(join(backup, f), { force: true });
  };
  const restore = () => {
    for (const f of files)
      if (existsSync(join(backup, f))) copyFileSync(join(backup, f), join(state, f));
      else rmSync(join(state, f), { force: true });
  };
  /** A change command is refused with FWC802 naming `what`, and nothing changes on the gateway. */
  const swapin2 = ["swapin", join(dir, "e2.ns"), "--exp", "proj/e2", "--nodes", join(dir, "e2.json")];
  const refused = (what: RegExp, commands = [open, swapin2]) => {
    for (const args of commands) {
      const r = fwc(args);
      expect(r.code, r.err).toBe(1);
      expect(r.err).toMatch(/error\[FWC802\]/);
      expect(r.err).toMatch(what);
      expect(r.err).not.toMatch(/internal error|SqliteError| {4}at /);
    }
    expect(traffic()).toEqual(baseline);
  };
  const garble = (path: string, at: number, bytes: number) => {
    const fd = openSync(path, "r+");
    writeSync(fd, Buffer.alloc(bytes, 0xa5), 0, bytes, at);
    closeSync(fd);
  };

  it("the database deleted: refused, never taken as an empty state; the backup brings it back", () => {
    takeBackup();
    for (const f of ["fwc.db", "fwc.db-wal", "fwc.db-shm"]) rmSync(join(state, f), { force: true });
    // An empty store would give proj/e1's port 20000 to proj/e2.
    refused(/fwc\.db is missing, but .*pending\.db shows it existed/);
    // With pending.db gone too, the gateway's own tables still say a state existed.
    rmSync(join(state, "pending.db"));
    refused(/holds no state, but the gateway has fwc's tables/);
    restore();
    inStep();
  });

  it("the database truncated or emptied: refused; garbled: refused with what SQLite found", () => {
    takeBackup();
    truncateSync(db, 0);
    rmSync(join(state, "fwc.db-wal"), { force: true });
    refused(/has no tables, but .* shows it had: it was emptied or truncated/);
    // Without pending.db, the gateway's tables still say the store had experiments.
    rmSync(join(state, "pending.db"));
    refused(/holds no state, but the gateway has fwc's tables/);
    restore();
    truncateSync(db, 3000);
    refused(/fwc\.db: (the database is damaged|not an SQLite database)/);
    restore();
    garble(db, 0, 100);
    refused(/fwc\.db: not an SQLite database/);
    restore();
    inStep();
  });

  it("the -wal file deleted after a change while another process had the database open: nothing is lost", async () => {
    // With another connection open, fwc's own close does not fold the WAL into the database: its checkpoint
    // after each commit does.
    const reader = await holdDb("open");
    const o = fwc([...open, "--json"]);
    expect(o.code, o.err).toBe(0);
    expect(o.out).toContain('"port": 20001');
    expect(existsSync(join(state, "fwc.db-wal"))).toBe(true);
    reader.kill("SIGKILL");
    await new Promise((r) => reader.once("exit", r));
    for (const f of ["fwc.db-wal", "fwc.db-shm"]) rmSync(join(state, f), { force: true });
    const s = fwc(["status", "--exp", "proj/e1", "--json"]);
    expect([s.code, s.err]).toEqual([0, ""]);
    expect(s.out).toContain('"port": 20001');
    expect(fwc(["close", "--exp", "proj/e1", "--all"]).code).toBe(0);
    inStep();
  });

  it("an experiment's record edited into garbage: refused and named; reconcile keeps its ports held", () => {
    takeBackup();
    const d = new Database(db);
    d.prepare("UPDATE experiments SET state = '{\"version\": 1, garbage' WHERE name = 'proj/e1'").run();
    d.close();
    // Commands on proj/e1 are refused; others go on (the ports it holds are rows of their own, intact).
    refused(/experiment proj\/e1 is not JSON/, [open, ["close", "--exp", "proj/e1", "--all"]]);
    const r = fwc(["reconcile"]);
    expect(r.code, r.err + r.out).toBe(1);
    expect(r.err).toContain("warning[FWC815]");
    expect(r.err).toMatch(/experiment proj\/e1 is not JSON.*what it holds stays held/);
    expect(r.err).toContain("the gateway's tables are left as they are");
    expect(traffic()).toEqual(baseline);
    restore();
    inStep();
  });

  it("pending.db deleted: nothing is lost; garbled: refused, and reconcile makes a new one", () => {
    rmSync(join(state, "pending.db"));
    expect(fwc(open).code).toBe(0);
    expect(fwc(["close", "--exp", "proj/e1", "--all"]).code).toBe(0);
    inStep();
    garble(join(state, "pending.db"), 0, 64);
    refused(/pending\.db: not an SQLite database/);
    const r = fwc(["reconcile"]);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(/warning\[FWC815\]: .*pending\.db: not an SQLite database.*replaced with an empty one/);
    inStep();
  });

  it("the database a symbolic link: refused without reading what it points to", () => {
    takeBackup();
    rmSync(db);
    symlinkSync("/etc/shadow", db);
    refused(/fwc\.db: not a regular file \(a symbolic link\)/);
    rmSync(db);
    restore();
    inStep();
  });

  it("the audit log a symbolic link: the change is made and reported as not audited; the link is not written through", () => {
    const target = join(dir, "not-the-audit-log");
    writeFileSync(target, "untouched\n");
    rmSync(join(state, "audit.jsonl"), { force: true });
    symlinkSync(target, join(state, "audit.jsonl"));
    const r = fwc(open);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(/warning\[FWC816\]: the change was made, but not written to the audit log: .*symbolic link/);
    expect(readFileSync(target, "utf8")).toBe("untouched\n");
    rmSync(join(state, "audit.jsonl"));
    expect(fwc(["close", "--exp", "proj/e1", "--all"]).code).toBe(0);
    expect(readFileSync(join(state, "audit.jsonl"), "utf8")).toMatch(/"command":"close","experiment":"proj\/e1"/);
    inStep();
  });

  // ---- changes in flight: paused at a failpoint while the test acts ----

  /** Starts `args` paused at `point` (pause-<point>); resolves once it is there, with what releases it. */
  const paused = async (args: string[], point: string) => {
    const release = join(dir, `release-${Date.now()}`);
    const c = spawn(
      FWC,
      [...args, "--state", state, "--testbed", join(dir, "testbed.yaml"), "--netns", lab.name("gw"), "--wait", "1"],
      {
        env: { ...process.env, FWC_FAILPOINT: `pause-${point}`, FWC_FAILPOINT_RELEASE: release },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    holders.push(c);
    let err = "";
    c.stderr!.on("data", (d: Buffer) => {
      err += String(d);
    });
    const done = new Promise<{ code: number | null; err: string }>((r) => c.once("exit", (code) => r({ code, err })));
    for (let i = 0; i < 200 && !existsSync(`${release}.paused`); i++) await new Promise((r) => setTimeout(r, 50));
    expect(existsSync(`${release}.paused`), err).toBe(true);
    return { done, go: () => writeFileSync(release, "") };
  };

  /** Released, the paused change finds its files replaced: refused, the gateway as it was. */
  const refusedAsReplaced = async (p: Awaited<ReturnType<typeof paused>>) => {
    p.go();
    const r = await p.done;
    expect(r.code, r.err).toBe(1);
    expect(r.err).toMatch(/error\[FWC802\]: .*was deleted or replaced while fwc ran/);
    expect(traffic()).toEqual(baseline);
    inStep();
  };

  it("the -wal and -shm files deleted under a running change: it is refused, not applied beside another", async () => {
    // The reviewer's reproduction: two commands both ran, both given 20001, one of them lost by the store.
    const p = await paused(open, "after-pending");
    for (const f of ["fwc.db-wal", "fwc.db-shm"]) rmSync(join(state, f), { force: true });
    await refusedAsReplaced(p);
  });

  it("the database file moved aside and copied back under a running change: refused too", async () => {
    const p = await paused(open, "after-pending");
    rmSync(join(dir, "fwc.db.old"), { force: true });
    // A copy of the store under its name: another command would take a lock on the copy and not wait.
    copyFileSync(db, join(dir, "fwc.db.old"));
    rmSync(db);
    copyFileSync(join(dir, "fwc.db.old"), db);
    await refusedAsReplaced(p);
  });

  it("nft killed after the kernel took the change: the record stays, and the next command puts the gateway back", () => {
    const path = join(dir, "killbin");
    mkdirSync(path, { recursive: true });
    const nft = lab.sh(["which", "nft"]).trim();
    // nft applies the transaction, then dies as if killed (the OOM killer, the 120 s timeout).
    writeFileSync(join(path, "nft"), `#!/bin/sh\n[ "$1" = "-f" ] || exec ${nft} "$@"\n${nft} "$@"\nexit 137\n`, {
      mode: 0o755,
    });
    const r = fwc(open, { PATH: `${path}:${process.env.PATH}` });
    expect(r.code).toBe(1);
    expect(r.err).toContain("error[FWC803]: nft did not finish");
    const s = fwc(["status"]);
    expect(s.code).toBe(1);
    expect(s.err).toContain("an unfinished `open` of proj/e1");
    const o = fwc(["reconcile"]);
    expect(o.code, o.err).toBe(0);
    expect(o.err).toContain("the store does not have the last change, `open` of proj/e1");
    expect(traffic()).toEqual(baseline);
    inStep();
  });

  it("status while a change is in flight waits for it instead of reporting its elements as drift", async () => {
    const p = await paused(open, "after-nft");
    // The kernel has the new redirect, the store not yet.
    const rdr = () => parseListing(lab.exec("gw", ["nft", "list", "map", "inet", "fwc", "rdr4"])).rdr4 ?? [];
    try {
      expect(rdr().some((e) => e.key.endsWith(": 10.1.1.4 . 5432"))).toBe(true);
    } catch (e) {
      p.go();
      throw e;
    }
    const s = spawn(
      FWC,
      ["status", "--state", state, "--testbed", join(dir, "testbed.yaml"), "--netns", lab.name("gw")],
      {
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let err = "";
    let out = "";
    s.stderr!.on("data", (d: Buffer) => {
      err += String(d);
    });
    s.stdout!.on("data", (d: Buffer) => {
      out += String(d);
    });
    const sd = new Promise<number | null>((r) => s.once("exit", r));
    await new Promise((r) => setTimeout(r, 600));
    p.go();
    expect((await p.done).code).toBe(0);
    expect([await sd, err]).toEqual([0, ""]);
    expect(out).toContain("The gateway is in step with the state.");
    expect(fwc(["close", "--exp", "proj/e1", "--all"]).code).toBe(0);
    inStep();
  });

  it("a damaged page of the experiments table: swapin of a hidden experiment is refused, never a second copy", () => {
    takeBackup();
    const d = new Database(db, { readonly: true });
    const root = d.prepare("SELECT rootpage FROM sqlite_master WHERE name = 'experiments'").pluck().get() as number;
    const size = d.pragma("page_size", { simple: true }) as number;
    d.close();
    garble(db, (root - 1) * size, 64);
    const r = fwc(["swapin", join(dir, "e1.ns"), "--exp", "proj/e1", "--nodes", join(dir, "e1.json")]);
    expect(r.code, r.err).toBe(1);
    expect(r.err).toMatch(/error\[FWC802\]: .*fwc\.db: (the database is damaged|not an SQLite database)/);
    expect(r.err).not.toMatch(/internal error| {4}at /);
    const st = fwc(["status"]);
    expect(st.code).toBe(1);
    expect(st.err).toMatch(/the database is damaged/);
    expect(traffic()).toEqual(baseline);
    restore();
    inStep();
  });

  // ---- the write lock: the kernel's, held by a process and gone with it ----

  it("one fwc at a time: a held store is waited for, then named; a killed holder's lock is gone at once", async () => {
    const holder = await holdDb("lock");
    const t = Date.now();
    const r = fwc(open);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/error\[FWC804\]: another fwc holds the write lock of .*fwc\.db; waited 1 s/);
    expect(Date.now() - t).toBeGreaterThanOrEqual(1000);
    expect(traffic()).toEqual(baseline);
    // The holder dies without releasing anything: the kernel drops its lock, and no file names its pid.
    holder.kill("SIGKILL");
    await new Promise((r) => holder.once("exit", r));
    const o = fwc(open);
    expect(o.code, o.err).toBe(0);
    expect(fwc(["close", "--exp", "proj/e1", "--all"]).code).toBe(0);
    expect(existsSync(join(state, "lock"))).toBe(false);
    inStep();
  });
});
