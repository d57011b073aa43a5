/**
 * The etcd store against a real etcd (started by the test on loopback with a temporary data directory): the
 * commands' own code (swapin, open, close) run by controllers at once, in one process, each with its own etcd
 * client. Two controllers racing for a small pool of gateway ports never hand one port to two experiments (a
 * property test); a change is one transaction; damaged keys are refused with their key.
 */
import { Etcd3 } from "etcd3";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AccessPolicy } from "../../src/access/policy.js";
import * as cmd from "../../src/deploy/commands.js";
import { claimsOf, type DeployContext } from "../../src/deploy/lifecycle.js";
import { DiagnosticBag } from "../../src/diagnostics/diagnostic.js";
import { SourceFile } from "../../src/diagnostics/source.js";
import { connectEtcd, EtcdStore, etcdSettingsOf } from "../../src/store/etcd.js";
import { loadTestbed, type TestbedConfig } from "../../src/testbed/config.js";
import { emptyPolicy } from "../helpers.js";
import { canRunEtcd, type Etcd, startEtcd } from "./etcd-helpers.js";

/** A testbed with a pool of 12 gateway ports, no quarantine, and its state in etcd under `prefix`. */
const testbed = (url: string, prefix: string): TestbedConfig => {
  const bag = new DiagnosticBag();
  const t = loadTestbed(
    new SourceFile(
      "testbed.yaml",
      `domain: testbed.example.net
gateway: {name: gw.testbed.example.net, ipv4: 198.51.100.1, outside: eth0, inside: [eth1]}
ports: 20000-20011
quarantine: 0
store: {etcd: {endpoints: ["${url}"], prefix: ${prefix}}}
`,
    ),
    bag,
  );
  expect(bag.items).toEqual([]);
  return t!;
};

const policy = (nodes: string[]): AccessPolicy => emptyPolicy(nodes);

/** Swaps in `exp`, one node n at `ipv4`, with no grants, through the real command. */
const swapIn = (c: DeployContext, exp: string, ipv4: string) =>
  cmd.swapin(c, exp, new SourceFile("x.ns", ""), policy(["n"]), { n: { ipv4 } }, { json: true });

describe.skipIf(!canRunEtcd())("the etcd store", () => {
  let etcd: Etcd;
  let client: Etcd3;
  beforeAll(async () => {
    etcd = await startEtcd();
    client = new Etcd3({ hosts: etcd.url });
  }, 30_000);
  afterAll(async () => {
    client?.close();
    await etcd?.stop();
  });

  const context = (t: TestbedConfig): DeployContext => ({
    stateDir: "/nonexistent",
    testbed: t,
    gw: {},
    dryRun: false,
    waitMs: 0,
    bag: new DiagnosticBag(),
    out: [],
  });

  /** Every experiment's ports as etcd holds them. */
  const held = async (t: TestbedConfig) => {
    const s = etcdSettingsOf(t)!;
    const store = await EtcdStore.open(client, s, claimsOf);
    try {
      return store.listExperiments().map((e) => ({
        exp: e.experiment,
        ports: e.allocations.ports.flatMap((p) => Array.from({ length: p.portEnd - p.port + 1 }, (_, i) => p.port + i)),
      }));
    } finally {
      store.close();
    }
  };

  it("two controllers racing for a small pool never hand one port to two experiments (property)", async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        // Experiment i opens sets[i] (node ports), through controller i % 2, all at once.
        fc.array(fc.uniqueArray(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 5 }), {
          minLength: 2,
          maxLength: 6,
        }),
        async (sets) => {
          const t = testbed(etcd.url, `/race${run++}/`);
          for (const [i] of sets.entries()) {
            const c = context(t);
            const ok = await swapIn(c, `p/e${i}`, `10.1.1.${i + 2}`);
            // No agent runs here: every change is pending (FWC832), which is not a failure.
            expect([ok, c.bag.items.map((d) => d.code)]).toEqual([true, ["FWC832"]]);
          }
          const results = await Promise.all(
            sets.map(async (ports, i) => {
              const c = context(t);
              const ok = await cmd.open(c, `p/e${i}`, { rdr: ports.map((p) => `n/${p}`).join(" ") }, { json: true });
              return { ok, codes: c.bag.items.map((d) => d.code) };
            }),
          );
          // A refusal is for want of ports (the pool of 12 runs out), never an etcd or internal problem.
          for (const r of results) if (!r.ok) expect(r.codes).toEqual(["FWC701"]);
          const owner = new Map<number, string>();
          for (const h of await held(t))
            for (const port of h.ports) {
              expect(owner.get(port), `port ${port} held by ${owner.get(port)} and ${h.exp}`).toBeUndefined();
              owner.set(port, h.exp);
            }
          // Every experiment that was told yes holds its grants.
          const after = await held(t);
          for (const [i, r] of results.entries())
            if (r.ok) expect(after.find((h) => h.exp === `p/e${i}`)!.ports.length).toBe(sets[i]!.length);
          expect(results.some((r) => r.ok)).toBe(true);
        },
      ),
      { numRuns: 25 },
    );
  }, 120_000);

  it("a change is one transaction: its record, the generation and its audit line, or nothing", async () => {
    const t = testbed(etcd.url, "/one/");
    const c = context(t);
    expect(await swapIn(c, "p/a", "10.1.1.2")).toBe(true);
    const rev1 = await client.get("/one/generation").exec();
    expect(rev1.kvs[0]!.value.toString()).toMatch(/^1 [0-9a-f-]{36}$/);
    const audit = await client.getAll().prefix("/one/audit/").strings();
    expect(Object.keys(audit)).toEqual(["/one/audit/000000000001"]);
    expect(JSON.parse(audit["/one/audit/000000000001"]!)).toMatchObject({ command: "swapin", experiment: "p/a" });
    // The record and the generation changed in the same revision.
    const rec = await client.get("/one/experiments/p/a").exec();
    expect(rec.kvs[0]!.mod_revision).toBe(rev1.kvs[0]!.mod_revision);
  });

  it("damaged keys are refused with the key, never taken for data, and nothing is changed", async () => {
    const t = testbed(etcd.url, "/bad/");
    await client.put("/bad/experiments/p/x").value("{not json");
    const c = context(t);
    expect(await cmd.open(c, "p/x", { rdr: "n/22" }, { json: true })).toBe(false);
    expect(c.bag.items.map((d) => [d.code, d.message])).toEqual([
      ["FWC802", expect.stringContaining("/bad/experiments/p/x is not JSON")],
    ]);
    await client.put("/bad/experiments/p/x").value(JSON.stringify({ version: 1, experiment: "p/y" }));
    const c2 = context(t);
    expect(await cmd.status(c2, undefined, { json: true })).toBe(false);
    expect(c2.bag.items[0]!.message).toMatch(/\/bad\/experiments\/p\/x: /);
    expect(await client.get("/bad/generation").string()).toBeNull();
  });

  it("etcd unreachable: a clear diagnostic, not a stack trace, and nothing changed", async () => {
    const t = testbed("http://127.0.0.1:1", "/gone/");
    const c = context(t);
    expect(await cmd.open(c, "p/x", { rdr: "n/22" }, { json: true })).toBe(false);
    expect(c.bag.items.map((d) => d.code)).toEqual(["FWC830"]);
    expect(c.bag.items[0]!.message).toContain("cannot use etcd at http://127.0.0.1:1");
  }, 30_000);

  it("a write whose answer is lost is read back: made (done), never made (nothing changed), or unknown (said so)", async () => {
    const t = testbed(etcd.url, "/lost/");
    const c0 = context(t);
    expect(await swapIn(c0, "p/a", "10.1.1.2")).toBe(true);
    const settings = etcdSettingsOf(t)!;
    const other = new Etcd3({ hosts: etcd.url });
    /** A controller whose writes reach etcd (or not) and whose answers are lost. */
    const lossy = async (mode: "applied" | "overtaken" | "lost") => {
      const c = await connectEtcd(settings);
      const realIf = c.if.bind(c);
      c.if = ((...a: Parameters<typeof c.if>) => {
        const b = realIf(...a);
        const commit = b.commit.bind(b);
        b.commit = async () => {
          if (mode === "applied") await commit();
          if (mode === "overtaken") await other.put("/lost/generation").value("99 someone-else");
          throw new Error("4 DEADLINE_EXCEEDED: Deadline exceeded");
        };
        return b;
      }) as typeof c.if;
      return { store: await EtcdStore.open(c, settings, claimsOf), client: c };
    };
    const grantOf = async () => (await client.get("/lost/experiments/p/a").string()) ?? "";

    const applied = await lossy("applied");
    const c1 = { ...context(t), etcdCache: { store: applied.store } };
    expect(await cmd.open(c1, "p/a", { rdr: "n/22" }, { json: true })).toBe(true);
    expect(c1.bag.items.map((d) => d.code)).toEqual(["FWC832"]);
    expect(await grantOf()).toContain('"port":22');

    const lost = await lossy("lost");
    const c2 = { ...context(t), etcdCache: { store: lost.store } };
    expect(await cmd.open(c2, "p/a", { rdr: "n/80" }, { json: true })).toBe(false);
    expect(c2.bag.items.map((d) => [d.code, d.message.slice(0, 60)])).toEqual([
      ["FWC830", "etcd did not confirm the write, which may or may not have be"],
    ]);

    const overtaken = await lossy("overtaken");
    const c3 = { ...context(t), etcdCache: { store: overtaken.store } };
    expect(await cmd.open(c3, "p/a", { rdr: "n/443" }, { json: true })).toBe(false);
    expect(c3.bag.items.map((d) => d.code)).toEqual(["FWC830"]);
    expect(c3.bag.items[0]!.help).toContain("nothing was changed");
    expect(await grantOf()).not.toContain('"port":443');
    for (const x of [applied, lost, overtaken]) {
      x.store.close();
      x.client.close();
    }
    other.close();
  });
});
