/**
 * The etcd store's allocation against a real etcd: an experiment's ports, addresses and claims are written with
 * its record in one transaction that compares the revision of every key read, so two controllers racing for
 * the same ports never both get one (a property test), a taken port is refused with its holder, and giving
 * ports up frees them.
 */
import { Etcd3 } from "etcd3";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { claim, type Holdings } from "../../src/store/etcd-claims.js";
import { canRunEtcd, type Etcd, startEtcd } from "./etcd-helpers.js";

const none: Holdings = { ports: [], dedicated: [], claims: [] };

describe.skipIf(!canRunEtcd())("allocation in etcd transactions", () => {
  let etcd: Etcd;
  let a: Etcd3;
  let b: Etcd3;
  beforeAll(async () => {
    etcd = await startEtcd();
    a = new Etcd3({ hosts: etcd.url });
    b = new Etcd3({ hosts: etcd.url });
  }, 30_000);
  afterAll(async () => {
    a?.close();
    b?.close();
    await etcd?.stop();
  });

  it("a taken port is refused with its holder; given-up ports are free again", async () => {
    const p = "/t1/";
    const want = {
      ports: [20000, 20001],
      dedicated: ["198.51.100.130"],
      claims: ["10.1.1.3", "mac 02:00:00:00:00:01"],
    };
    expect((await claim(a, p, "p/one", none, want, "{}")).ok).toBe(true);
    const r = await claim(b, p, "p/two", none, { ...none, ports: [20001, 20002] }, "{}");
    expect(r).toEqual({ ok: false, taken: [{ key: "ports/20001", holder: "p/one" }] });
    // Nothing of the refused change was written.
    expect(await a.get(`${p}ports/20002`).string()).toBeNull();
    expect(await a.get(`${p}experiments/p/two`).string()).toBeNull();
    // p/one gives 20001 up and keeps 20000; p/two can then have 20001.
    expect((await claim(a, p, "p/one", want, { ...want, ports: [20000] }, "{}")).ok).toBe(true);
    expect((await claim(b, p, "p/two", none, { ...none, ports: [20001, 20002] }, "{}")).ok).toBe(true);
    expect(await a.get(`${p}ports/20001`).string()).toBe("p/two");
    // Swapout: the record and everything held go.
    expect((await claim(a, p, "p/one", { ...want, ports: [20000] }, none, null)).ok).toBe(true);
    expect(await a.getAll().prefix(`${p}`).keys()).toEqual(
      expect.arrayContaining([`${p}ports/20001`, `${p}ports/20002`, `${p}experiments/p/two`]),
    );
    expect((await a.getAll().prefix(`${p}`).keys()).length).toBe(3);
  });

  it("two controllers racing for the same ports never both get one (property)", async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.uniqueArray(fc.integer({ min: 1, max: 12 }), { minLength: 1, maxLength: 4 }), {
          minLength: 2,
          maxLength: 8,
        }),
        async (sets) => {
          const p = `/race${run++}/`;
          // Experiment i asks for sets[i], through controller a or b, all at once.
          const results = await Promise.all(
            sets.map((ports, i) => claim(i % 2 === 0 ? a : b, p, `p/e${i}`, none, { ...none, ports }, `{"i":${i}}`)),
          );
          const owner = new Map<number, string>();
          for (const [i, r] of results.entries()) {
            if (!r.ok) {
              // Refused only because another experiment holds one of its ports.
              expect("taken" in r).toBe(true);
              continue;
            }
            for (const port of sets[i]!) {
              expect(owner.get(port), `port ${port} given to two experiments`).toBeUndefined();
              owner.set(port, `p/e${i}`);
            }
          }
          // etcd holds exactly what the successful changes say.
          const held = await a.getAll().prefix(`${p}ports/`).strings();
          expect(
            Object.fromEntries(Object.entries(held).map(([k, v]) => [Number(k.slice(`${p}ports/`.length)), v])),
          ).toEqual(Object.fromEntries(owner));
          // At least one change of every batch went through.
          expect(results.some((r) => r.ok)).toBe(true);
        },
      ),
      { numRuns: 40 },
    );
  }, 60_000);
});
